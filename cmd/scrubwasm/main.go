//go:build js && wasm

// Command scrubwasm is pista's metadata scrubber (package scrub) built for
// the browser, so that a journalist can export a copy of a file without
// its hidden metadata from the inbox, where the file exists decrypted only
// in the page's memory: the server never sees it.
//
// Built into ui/static/scrub.wasm by web/js's `npm run build:wasm`
// (GOOS=js GOARCH=wasm go build -trimpath -ldflags=-buildid=): the file is
// committed, and CI rebuilds it and checks it is the same. The inbox loads
// it only when the button is pressed; the source pages when a source sends
// files to be scrubbed before they are encrypted. It exposes one function:
//
//	pistaScrub(bytes Uint8Array, name string, type string[, memory number])
//	  → {bytes: Uint8Array, report: string (JSON of scrub.Report)}
//	  or {error: string}
//
// memory, if given, is the budget's memory in bytes (scrub.BudgetFor): the
// source page gives less than a journalist's computer spends
// (scrub.DeviceBudget, the default), since a phone's tab may not have it.
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"syscall/js"

	"github.com/pista-tips/pista/scrub"
)

func main() {
	js.Global().Set("pistaScrub", js.FuncOf(func(this js.Value, args []js.Value) any {
		if len(args) < 3 || len(args) > 4 || args[0].Type() != js.TypeObject || args[1].Type() != js.TypeString || args[2].Type() != js.TypeString {
			return map[string]any{"error": "pistaScrub(bytes, name, type[, memory])"}
		}
		budget := scrub.DeviceBudget
		if len(args) == 4 {
			if args[3].Type() != js.TypeNumber || args[3].Float() < 1<<20 || args[3].Float() > float64(scrub.DeviceBudget.Memory) {
				return map[string]any{"error": "pistaScrub: memory must be a number of bytes from 1 MiB to the device's budget"}
			}
			budget = scrub.BudgetFor(int64(args[3].Float()))
		}
		in := make([]byte, args[0].Get("length").Int())
		js.CopyBytesToGo(in, args[0])
		var out bytes.Buffer
		// On the journalist's or the source's own device: the device's
		// budget (or the page's), not the server's.
		report, err := scrub.ScrubWithin(context.Background(), budget, bytes.NewReader(in), int64(len(in)), args[1].String(), args[2].String(), &out)
		rep, _ := json.Marshal(report)
		if err != nil {
			return map[string]any{"error": err.Error(), "report": string(rep)}
		}
		dst := js.Global().Get("Uint8Array").New(out.Len())
		js.CopyBytesToJS(dst, out.Bytes())
		return map[string]any{"bytes": dst, "report": string(rep)}
	}))
	select {} // keep the functions alive for the page's lifetime
}

// Metadata scrubbing in the browser, shared by both bundles: pista's Go
// scrubbers (package scrub) compiled to WebAssembly (cmd/scrubwasm), the
// same code the server runs on arrival. It is about 4.5 MB to download,
// so it is fetched only when it is needed: by the source page when a
// source sends files and has not chosen to keep their metadata, by the
// inbox when a journalist asks for a copy without metadata. The file is
// scrubbed in the page's memory; nothing of it is sent anywhere. Go's
// loader of WebAssembly (wasm_exec.js, built on its own into
// /static/wasm_exec.js) is fetched only then too, so that a page that
// scrubs nothing does not carry it.

let ready

// loadGlue runs Go's WebAssembly loader, which defines globalThis.Go.
function loadGlue() {
  if (typeof globalThis.Go === "function") return Promise.resolve()
  return new Promise((resolve, reject) => {
    const s = document.createElement("script")
    s.src = "/static/wasm_exec.js"
    s.onload = () => resolve()
    s.onerror = () => {
      s.remove()
      reject(new Error("the scrubber's loader did not load"))
    }
    document.head.append(s)
  })
}

// loadScrubber fetches and starts the scrubber once per page; a failed
// load is tried again on the next call. onProgress, if given, is called
// with the bytes received so far (decompressed) as they arrive.
export function loadScrubber(onProgress) {
  if (!ready) {
    ready = (async () => {
      // A browser without WebAssembly (Tor Browser above its Standard
      // level) would download it for nothing.
      if (typeof WebAssembly !== "object") throw new Error("this browser runs no WebAssembly")
      await loadGlue()
      const resp = await fetch("/static/scrub.wasm", { credentials: "same-origin" })
      if (!resp.ok) throw new Error(`the scrubber did not load (${resp.status})`)
      let buf
      if (onProgress && resp.body) {
        const reader = resp.body.getReader()
        const chunks = []
        let received = 0
        for (;;) {
          const { done, value } = await reader.read()
          if (done) break
          chunks.push(value)
          received += value.length
          onProgress(received)
        }
        buf = new Uint8Array(received)
        let at = 0
        for (const c of chunks) {
          buf.set(c, at)
          at += c.length
        }
      } else {
        buf = await resp.arrayBuffer()
      }
      const go = new globalThis.Go()
      const { instance } = await WebAssembly.instantiate(buf, go.importObject)
      go.run(instance) // sets globalThis.pistaScrub and waits for calls
      if (typeof globalThis.pistaScrub !== "function") throw new Error("the scrubber did not start")
    })()
    ready.catch(() => {
      ready = undefined // a later call tries again
    })
  }
  return ready
}

// scrubFile returns {bytes, report} for a file: bytes without the
// metadata pista knows how to remove, and the scrub report (format,
// scrubbed, found, note, too_complex). It throws if the scrubber does not
// load, or if the format is unknown or broken: then err.report says what
// the scrubber found (too_complex for a file over the device's budget)
// and err.unsupported is true for a format it does not know.
//
// memory, if given, is the scrubber's budget in bytes (what it may hold
// for the file; four times as much decompressed): a file that needs more
// is left as it is, err.report.too_complex set. Without it, a computer's
// budget (scrub.DeviceBudget, 1 GiB).
export async function scrubFile(bytes, name, type, memory) {
  await loadScrubber()
  const args = [bytes, name || "", type || ""]
  if (memory) args.push(memory)
  const out = globalThis.pistaScrub(...args)
  const report = out.report ? JSON.parse(out.report) : {}
  if (out.error) {
    const err = new Error(out.error)
    err.report = report
    err.unsupported = /unsupported format/.test(out.error)
    throw err
  }
  return { bytes: out.bytes, report }
}

// The notes of scrub reports, as package intake writes them (intake.Note*):
// the inbox tells them apart by these words.
export const notes = {
  unknown: "format not known to the scrubber: stored as sent",
  unreadable: "the scrubber could not read this file: stored as sent",
  tooComplex: "not scrubbed: too complex to clean safely: stored as sent",
  kept: "the source chose to keep its metadata: stored as sent",
  notLoaded: "the scrubber did not load in the source's browser; the source chose to send the file as it is",
  tooLarge: "too large to clean in the source's browser: stored as sent",
}

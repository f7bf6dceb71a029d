package web

import (
	"html/template"
	"sync"

	"github.com/pista-tips/pista/ui"
)

// onionQRs caches the landing page's QR code of the onion address: one
// address per server, drawn once.
var onionQRs sync.Map // address → template.HTML

// onionQR is a QR code of the tip line's onion URL, for a phone's Tor
// Browser to scan; "" if there is no address.
func onionQR(addr string) template.HTML {
	if addr == "" {
		return ""
	}
	if v, ok := onionQRs.Load(addr); ok {
		return v.(template.HTML)
	}
	svg, err := ui.QRSVG("http://"+addr+"/", "onion-qr-label")
	if err != nil { // only for text too long for a QR code; an address is not
		return ""
	}
	onionQRs.Store(addr, svg)
	return svg
}

package browsertest

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"
)

// viewport is a screen the pages are checked on.
type viewport struct {
	name          string
	width, height int64
	mobile        bool
}

var (
	phone   = viewport{"phone", 360, 740, true}
	desktop = viewport{"desktop", 1280, 900, false}
)

func setViewport(t *testing.T, ctx context.Context, v viewport) {
	t.Helper()
	_, err := chromedp.Call(ctx, emulation.SetDeviceMetricsOverride, emulation.SetDeviceMetricsOverrideParams{
		Width: v.width, Height: v.height, DeviceScaleFactor: 1, Mobile: v.mobile,
	})
	if err != nil {
		t.Fatalf("setting the viewport to %s: %v", v.name, err)
	}
}

// overflow is what the page measures of its own width.
type overflow struct {
	ScrollWidth int      `json:"scrollWidth"`
	InnerWidth  int      `json:"innerWidth"`
	Wide        []string `json:"wide"` // elements that stick out of the viewport
}

const measureOverflow = `(() => {
  const w = window.innerWidth, wide = []
  for (const e of document.querySelectorAll("body *")) {
    const r = e.getBoundingClientRect()
    if (r.width > 0 && (r.right > w + 0.5 || r.left < -0.5)) {
      wide.push(e.tagName.toLowerCase() + (e.id ? "#" + e.id : "") + (e.className ? "." + String(e.className).trim().replace(/\s+/g, ".") : "") +
        " [" + Math.round(r.left) + ", " + Math.round(r.right) + "]")
    }
  }
  return {scrollWidth: document.documentElement.scrollWidth, innerWidth: w, wide: wide.slice(0, 10)}
})()`

// checkNoHorizontalScroll fails t if the page is wider than the viewport
// v, so that a reader would have to scroll sideways.
func checkNoHorizontalScroll(t *testing.T, ctx context.Context, v viewport) {
	t.Helper()
	o := run(t, ctx, "measuring the page", chromedp.Evaluate[overflow](measureOverflow))
	if o.InnerWidth != int(v.width) {
		t.Errorf("window.innerWidth = %d at a %d px wide %s viewport: the page does not fit and was zoomed out", o.InnerWidth, v.width, v.name)
	}
	if o.ScrollWidth > o.InnerWidth {
		t.Errorf("the page is %d px wide in a %d px window: it scrolls sideways. Elements sticking out:\n\t%s",
			o.ScrollWidth, o.InnerWidth, strings.Join(o.Wide, "\n\t"))
	}
}

// screenshot writes a full-page PNG of the tab to
// docs/screenshots/NAME.png when PISTA_SCREENSHOTS=1.
func screenshot(t *testing.T, ctx context.Context, name string) {
	t.Helper()
	if os.Getenv("PISTA_SCREENSHOTS") != "1" {
		return
	}
	png := run(t, ctx, "taking a screenshot", chromedp.FullScreenshot(100))
	dir := filepath.Join("..", "docs", "screenshots")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, name+".png")
	if err := os.WriteFile(path, png, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("wrote %s (%d bytes)", path, len(png))
}

// TestResponsive checks that the landing page and the receipt, in English
// and in Arabic, fit a 360×740 phone screen without scrolling sideways
// (and a 1280×900 desktop one). With PISTA_SCREENSHOTS=1 it also writes
// docs/screenshots/{landing,receipt}-{en,ar}-{phone,desktop}.png.
func TestResponsive(t *testing.T) {
	b := newBrowser(t)
	in := newInstance(t)
	for _, tag := range []string{"en", "ar"} {
		t.Run(tag, func(t *testing.T) {
			ctx := b.tab(t, true)
			setViewport(t, ctx, phone)
			do(t, ctx, "opening the landing page",
				chromedp.Navigate(in.url+"/?lang="+tag),
				chromedp.WaitVisible(chromedp.CSS("form[data-encrypt]")),
				loaded())
			for _, v := range []viewport{phone, desktop} {
				t.Run("landing/"+v.name, func(t *testing.T) {
					setViewport(t, ctx, v)
					checkNoHorizontalScroll(t, ctx, v)
					screenshot(t, ctx, "landing-"+tag+"-"+v.name)
				})
			}

			setViewport(t, ctx, phone)
			do(t, ctx, "sending a tip",
				chromedp.Click(chromedp.CSS("input[name=desk][value="+journeyDesk+"]")),
				chromedp.SendKeys(chromedp.CSS("textarea#message"), phrases[tag]),
				chromedp.Click(chromedp.CSS("form[data-encrypt] button[type=submit]")),
				chromedp.WaitVisible(chromedp.CSS("p#codename")),
				loaded())
			for _, v := range []viewport{phone, desktop} {
				t.Run("receipt/"+v.name, func(t *testing.T) {
					setViewport(t, ctx, v)
					checkNoHorizontalScroll(t, ctx, v)
					screenshot(t, ctx, "receipt-"+tag+"-"+v.name)
				})
			}
		})
	}
}

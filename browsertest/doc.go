// Package browsertest drives the source pages in a real, headless Chromium
// against a real server started in-process on 127.0.0.1:0: the whole
// source journey in every language with JavaScript on and off (checking on
// the server that the browser encrypted when its script ran), accessibility
// (axe-core), that no request leaves the server's origin, the layout on a
// phone, and the weight of each page.
//
// The tests are skipped when no Chromium is found (chromium,
// chromium-browser or google-chrome on PATH, or the path in
// $PISTA_CHROMIUM), and fail instead when $PISTA_TEST_REQUIRE is "all" or
// a comma-separated list naming "chromium". With PISTA_SCREENSHOTS=1 they
// also write the screenshots of docs/screenshots/.
//
// The package has no code of its own: everything is in its tests.
package browsertest

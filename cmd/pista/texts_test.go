package main

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
)

// The newsroom's and the desks' own texts show in the visitor's language,
// and the default ones elsewhere.
func TestTextsPerLanguage(t *testing.T) {
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	addJournalist(t, dir, data, "alice")
	runPista(t, "desk", "add", "--data", data, "--name", "americas", "--title", "Americas", "--description", "News from the Americas", "--member", "alice")
	runPista(t, "desk", "text", "--data", data, "--name", "americas", "--lang", "es", "--title", "Las Américas", "--description", "Noticias de las Américas")
	runPista(t, "newsroom", "text", "--data", data, "--lang", "es", "--name", "El Diario de Prueba", "--intro", "Cuéntenos lo que sabe.")
	base, _ := startServer(t, data)
	b := newBrowser(t, base)

	status, page := b.get("/?lang=es")
	if status != http.StatusOK {
		t.Fatalf("GET /?lang=es: %d", status)
	}
	for _, want := range []string{"Las Américas", "Noticias de las Américas", "El Diario de Prueba", "Cuéntenos lo que sabe."} {
		if !strings.Contains(page, want) {
			t.Errorf("the Spanish page lacks %q", want)
		}
	}
	_, page = b.get("/?lang=en")
	if !strings.Contains(page, ">Americas<") || !strings.Contains(page, "The Test Gazette") || strings.Contains(page, "Las Américas") {
		t.Errorf("the English page does not show the default texts:\n%s", page)
	}

	// Errors say what to do.
	var errb bytes.Buffer
	code := run(context.Background(), env{nil, io.Discard, &errb}, []string{"desk", "text", "--data", data, "--name", "americas", "--lang", "xx", "--title", "T"})
	if code != 1 || !strings.Contains(errb.String(), "the languages are") {
		t.Errorf("an unknown language: exit %d, %q", code, errb.String())
	}
}

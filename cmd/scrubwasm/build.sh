#!/usr/bin/env bash
# Builds the browser's metadata scrubber into ui/static/scrub.wasm.gz, which
# is committed (go build needs no extra step) and which CI rebuilds and
# compares. -trimpath and an empty build ID make the build reproducible
# with the same Go version; gzip -n leaves out the name and the time.
set -euo pipefail
cd "$(dirname "$0")/../.."
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
GOOS=js GOARCH=wasm go build -trimpath -ldflags="-buildid= -s -w" -o "$tmp/scrub.wasm" ./cmd/scrubwasm
gzip -9 -n -c "$tmp/scrub.wasm" > ui/static/scrub.wasm.gz

#!/usr/bin/env bash
# Builds the Debian package of pista: dist/pista_VERSION_ARCH.deb, with
# the static binary (CGO_ENABLED=0) at /usr/bin/pista, pista.service, its
# flags in /etc/default/pista (a conffile), the man page, the copyright
# file (with the license of every Go module linked in) and a changelog.
#
# Usage: packaging/deb/build.sh [OUTDIR]     (default: dist)
# Environment: PISTA_VERSION (default: 0.0~gitDATE.COMMIT of HEAD),
#              PISTA_MAINTAINER (default: HEAD's author), GOARCH.
# Needs go, dpkg-deb and gzip; run it from anywhere in the repository.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
cd "$here/../.."
out=${1:-dist}

commit=$(git rev-parse --short=12 HEAD 2>/dev/null || echo unknown)
version=${PISTA_VERSION:-0.0~git$(git log -1 --format=%cd --date=format:%Y%m%d%H%M%S 2>/dev/null || echo 0).$commit}
maintainer=${PISTA_MAINTAINER:-$(git log -1 --format='%an <%ae>' 2>/dev/null || echo 'pista maintainers <root@localhost>')}
date=$(git log -1 --format=%aD 2>/dev/null || date -R)
arch=$(go env GOARCH) # Debian's names for amd64 and arm64 are Go's
case "$arch" in amd64 | arm64) ;; *) echo "build.sh: no Debian architecture for GOARCH=$arch" >&2; exit 1 ;; esac

root=$(mktemp -d)
trap 'rm -rf "$root"' EXIT
chmod 0755 "$root"
umask 0022
install -d -m 0755 "$root/DEBIAN" "$root/usr/bin" "$root/lib/systemd/system" "$root/etc/default" \
  "$root/usr/share/doc/pista/examples" "$root/usr/share/man/man1"

echo "building pista $version for $arch"
CGO_ENABLED=0 GOOS=linux GOARCH=$arch go build -trimpath -ldflags='-s -w -buildid=' -o "$root/usr/bin/pista" ./cmd/pista
chmod 0755 "$root/usr/bin/pista"
install -m 0644 "$here/pista.service" "$root/lib/systemd/system/pista.service"
install -m 0644 "$here/default" "$root/etc/default/pista"
install -m 0644 "$here/tor-system.conf" "$root/usr/share/doc/pista/examples/tor-system.conf"
gzip -9n <"$here/pista.1" >"$root/usr/share/man/man1/pista.1.gz"
chmod 0644 "$root/usr/share/man/man1/pista.1.gz"

# A native package's changelog: this build's commit.
{
  printf 'pista (%s) unstable; urgency=medium\n\n' "$version"
  printf '  * Built from commit %s of github.com/pista-tips/pista.\n\n' "$commit"
  printf ' -- %s  %s\n' "$maintainer" "$date"
} | gzip -9n >"$root/usr/share/doc/pista/changelog.gz"
chmod 0644 "$root/usr/share/doc/pista/changelog.gz"

# The copyright file: pista's own terms, then those of Go and of each
# module the binary links, from the module's own license file.
{
  cat <<'TEXT'
pista: a newsroom's secure tip line
Source: https://github.com/pista-tips/pista

Copyright: the pista authors.
The pista project has not published a license for its own code yet: until
it does, no license is granted beyond running this package.

The binary /usr/bin/pista links the Go standard library and the Go modules
below; each one's license follows, as its authors ship it.
TEXT
  printf '\n==> Go %s (the standard library)\n\n' "$(go env GOVERSION)"
  cat "$(go env GOROOT)/LICENSE"
  go list -deps -f '{{with .Module}}{{if not .Main}}{{.Path}} {{.Version}} {{.Dir}}{{end}}{{end}}' ./cmd/pista | sort -u |
    while read -r path ver dir; do
      lic=$(find "$dir" -maxdepth 1 -type f \( -iname 'LICENSE*' -o -iname 'LICENCE*' -o -iname 'COPYING*' \) | sort | head -n 1)
      printf '\n==> %s %s\n\n' "$path" "$ver"
      if [ -z "$lic" ]; then
        echo "(the module ships no license file)"
      elif grep -q 'Apache License' "$lic" && grep -q 'Version 2.0, January 2004' "$lic"; then
        # Debian keeps the common licenses' texts once.
        echo "Licensed under the Apache License, Version 2.0: on Debian, its text is in /usr/share/common-licenses/Apache-2.0."
        for notice in "$dir"/NOTICE*; do [ -f "$notice" ] && { echo; cat "$notice"; }; done
      elif grep -q 'Mozilla Public License Version 2.0' "$lic"; then
        echo "Licensed under the Mozilla Public License 2.0: on Debian, its text is in /usr/share/common-licenses/MPL-2.0."
      else
        cat "$lic"
      fi
    done
} >"$root/usr/share/doc/pista/copyright"
chmod 0644 "$root/usr/share/doc/pista/copyright"

# Go links statically by design (CGO_ENABLED=0: no C library at all);
# lintian expects that only of packages built from a Go source package.
install -d -m 0755 "$root/usr/share/lintian/overrides"
printf 'pista: statically-linked-binary [usr/bin/pista]\n' >"$root/usr/share/lintian/overrides/pista"
chmod 0644 "$root/usr/share/lintian/overrides/pista"

install -m 0755 "$here/postinst" "$here/prerm" "$here/postrm" "$root/DEBIAN/"
echo /etc/default/pista >"$root/DEBIAN/conffiles"
cat >"$root/DEBIAN/control" <<CONTROL
Package: pista
Version: $version
Architecture: $arch
Maintainer: $maintainer
Installed-Size: $(du -sk --exclude=DEBIAN "$root" | cut -f1)
Depends: adduser
Suggests: tor
Section: net
Priority: optional
Homepage: https://github.com/pista-tips/pista
Description: secure tip line for newsrooms
 pista is a newsroom's tip line in one program: sources send text and
 files through web pages that work without JavaScript, by e-mail or
 through an API, and everything is encrypted on arrival to the keys of
 the desk it was sent to (age, post-quantum hybrid keys). Journalists
 read and reply in the browser or offline.
 .
 This package runs pista serve as a sandboxed systemd service, as the
 system user pista, with its data in /var/lib/pista and its flags in
 /etc/default/pista.
CONTROL
(cd "$root" && find . -path ./DEBIAN -prune -o -type f -printf '%P\0' | sort -z | xargs -0 md5sum) >"$root/DEBIAN/md5sums"
chmod 0644 "$root/DEBIAN/control" "$root/DEBIAN/conffiles" "$root/DEBIAN/md5sums"

mkdir -p "$out"
deb="$out/pista_${version}_${arch}.deb"
dpkg-deb --root-owner-group -Zxz --build "$root" "$deb" >/dev/null
echo "$deb"

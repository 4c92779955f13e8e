#!/bin/sh
# luet-mtree stand-in: `luet-mtree generate DIR` prints a manifest,
# `luet-mtree check DIR MANIFEST` verifies DIR against it.
set -eu
VERSION="@VERSION@"
generate() { (cd "$1" && find . -type f | LC_ALL=C sort | while read -r f; do sha256sum "$f"; done); }
case "${1:-}" in
--version) echo "luet-mtree ${VERSION}" ;;
generate) generate "$2" ;;
check) (cd "$2" && sha256sum --quiet -c "$3") ;;
*) echo "usage: luet-mtree generate DIR | check DIR MANIFEST" >&2; exit 2 ;;
esac

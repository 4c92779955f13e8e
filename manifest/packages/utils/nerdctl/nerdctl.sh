#!/bin/sh
# nerdctl stand-in: prints the containerd namespace it would use.
set -eu
VERSION="@VERSION@"
case "${1:-}" in
--version | version) echo "nerdctl version ${VERSION}" ;;
info) sed -n 's/^namespace *= *//p' /etc/nerdctl/nerdctl.toml ;;
*) echo "usage: nerdctl version|info" >&2; exit 2 ;;
esac

#!/bin/sh
# k9s stand-in.
# It only answers version and info; the comment lines are stripped when packed.
set -eu
VERSION="@VERSION@"
case "${1:-}" in
version) echo "Version: v${VERSION}" ;;
info) echo "Configuration: ${XDG_CONFIG_HOME:-$HOME/.config}/k9s/config.yml" ;;
*) echo "usage: k9s version|info" >&2; exit 2 ;;
esac

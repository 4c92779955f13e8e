#!/bin/sh
# luet stand-in: answers --version and lists its configured repositories.
set -eu
VERSION="@VERSION@"
CONFIG="${LUET_CONFIG:-/etc/luet/luet.yaml}"
case "${1:-}" in
--version) echo "luet version ${VERSION}" ;;
repo)
	[ "${2:-}" = list ] || { echo "usage: luet repo list" >&2; exit 2; }
	sed -n -e 's/^ *- name: *"\{0,1\}\([^"]*\)"\{0,1\}$/\1/p' "$CONFIG"
	;;
*) echo "usage: luet --version | luet repo list" >&2; exit 2 ;;
esac

#!/bin/sh
# yq stand-in: `yq e '.key' FILE` prints a top-level scalar of a flat YAML file.
set -eu
VERSION="@VERSION@"
usage() { echo "usage: yq e '.key' FILE | yq --version" >&2; exit 2; }
case "${1:-}" in
--version | -V)
	echo "yq (sample) version v${VERSION%%-*}"
	;;
e | eval)
	[ $# -eq 3 ] || usage
	key="${2#.}"
	sed -n -e "s/^${key}:[[:space:]]*//p" "$3" | sed -e 's/^"\(.*\)"$/\1/' -e "s/^'\(.*\)'\$/\1/" | head -n 1
	;;
*) usage ;;
esac

#!/bin/sh
# yip stand-in: `yip [-r ROOT] [-e ENVFILE] DIR` runs every DIR/*.sh stage in
# name order with ROOT exported (default /), after sourcing ENVFILE if given.
set -eu
VERSION="@VERSION@"
ROOT=/
ENVFILE=
while [ $# -gt 0 ]; do
	case "$1" in
	--version) echo "yip version ${VERSION}"; exit 0 ;;
	-r) ROOT="$2"; shift 2 ;;
	-e) ENVFILE="$2"; shift 2 ;;
	--) shift; break ;;
	-*) echo "yip: unknown option $1" >&2; exit 2 ;;
	*) break ;;
	esac
done
[ $# -eq 1 ] || { echo "usage: yip [-r ROOT] [-e ENVFILE] DIR" >&2; exit 2; }
ROOT=$(cd "$ROOT" && pwd)
export ROOT
if [ -n "$ENVFILE" ]; then
	set -a
	. "$(cd "$(dirname "$ENVFILE")" && pwd)/$(basename "$ENVFILE")"
	set +a
fi
for stage in "$1"/*.sh; do
	[ -e "$stage" ] || continue
	echo "yip: stage $(basename "$stage")" >&2
	sh -eu "$stage"
done

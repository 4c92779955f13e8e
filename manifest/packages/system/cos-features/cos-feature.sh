#!/bin/sh
# cos-feature list: print the features of this system and whether they are on.
set -eu
dir=/system/features
case "${1:-list}" in
list)
	for f in "$dir"/*.yaml; do
		[ -e "$f" ] || continue
		printf '%s\t%s\n' "$(basename "$f" .yaml)" "$(sed -n 's/^enabled: *//p' "$f")"
	done
	;;
*) echo "usage: cos-feature list" >&2; exit 2 ;;
esac

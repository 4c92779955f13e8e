#!/bin/sh
# One script, several names: maps the cOS commands onto elemental.
set -eu
case "$(basename "$0")" in
cos-installer) exec elemental install "$@" ;;
cos-reset) exec elemental reset "$@" ;;
cos-upgrade-image) exec elemental upgrade "$@" ;;
*) echo "call me as cos-installer, cos-reset or cos-upgrade-image" >&2; exit 2 ;;
esac

#!/bin/sh
# elemental stand-in: the commands the cOS wrappers call, printed instead of run.
set -eu
VERSION="@VERSION@"
[ -r "${SHELLKIT_DIR:-/usr/lib/shellkit}/log.sh" ] && . "${SHELLKIT_DIR:-/usr/lib/shellkit}/log.sh"
command -v sk_info >/dev/null 2>&1 || sk_info() { printf 'info: %s\n' "$*" >&2; }
cmd="${1:-}"
[ $# -gt 0 ] && shift
case "$cmd" in
version | --version) echo "elemental v${VERSION}" ;;
install | upgrade | reset) sk_info "elemental $cmd $*" ;;
*) echo "usage: elemental version|install|upgrade|reset [ARGS]" >&2; exit 2 ;;
esac

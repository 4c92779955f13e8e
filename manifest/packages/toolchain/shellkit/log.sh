# shellkit: logging helpers. Source this file; it defines functions only.
sk_log() { printf '%s\n' "$*" >&2; }
sk_info() { sk_log "info: $*"; }
sk_warn() { sk_log "warning: $*"; }
sk_die() { sk_log "error: $*"; exit 1; }

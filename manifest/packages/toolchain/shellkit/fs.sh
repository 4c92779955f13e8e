# shellkit: file helpers. Source this file; it defines functions only.

# sk_install_tree SRC DST: copy the content of SRC into DST, keeping modes.
sk_install_tree() {
	mkdir -p "$2"
	(cd "$1" && find . -type d) | while read -r d; do mkdir -p "$2/$d"; done
	(cd "$1" && find . ! -type d) | while read -r f; do cp -P -p "$1/$f" "$2/$f"; done
}

# sk_manifest DIR: print "sha256  path" for every regular file under DIR, sorted.
sk_manifest() {
	(cd "$1" && find . -type f | LC_ALL=C sort | while read -r f; do sha256sum "$f"; done)
}

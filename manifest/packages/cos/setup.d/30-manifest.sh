# The list of files of the root filesystem, as shipped (used by cos-verify).
(cd "$ROOT" && find . ! -type d ! -path ./etc/cos/files.sha256 | LC_ALL=C sort |
	while read -r f; do
		if [ -f "$f" ] && [ ! -L "$f" ]; then sha256sum "$f"; fi
	done) > "$ROOT/etc/cos/files.sha256"

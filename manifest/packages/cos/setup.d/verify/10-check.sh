# Fails the build when the root filesystem misses what every system needs.
for f in etc/hosts etc/os-release etc/motd etc/cos/version etc/cos/grub.cfg boot/vmlinuz boot/initrd \
	usr/bin/cos-setup usr/bin/cos-installer usr/sbin/cos-upgrade; do
	if [ ! -e "$ROOT/$f" ] && [ ! -L "$ROOT/$f" ]; then
		echo "missing /$f" >&2
		exit 1
	fi
done

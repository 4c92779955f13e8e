#!/bin/sh
# dracut module: cos-immutable-rootfs
check() { return 0; }
depends() { echo rootfs-block dm; return 0; }
install() {
	inst_multiple mount umount mkdir cat
	inst_simple /etc/cos/immutable.conf
	inst_hook pre-pivot 10 "$moddir/cos-mount-layout.sh"
}

# Makes /boot/initrd.img: busybox, the drivers that find the system (CD-ROM, virtio and SATA disks, loop,
# squashfs, overlay) with their dependencies, and /init (cosci-boot). Reproducible: sorted, times pinned to
# SOURCE_DATE_EPOCH, gzip without a name or time. Also /boot/vmlinuz, the kernel under a stable name.
set -eu
kv=$(ls /usr/lib/modules | head -n 1)
cp "/boot/vmlinuz-$kv" /boot/vmlinuz
work=/tmp/initrd
rm -rf "$work"
mkdir -p "$work/bin" "$work/dev" "$work/proc" "$work/sys" "$work/newroot" "$work/mnt/media" "$work/mnt/ro" "$work/mnt/rw"
cp /bin/busybox "$work/bin/busybox"
for m in isofs squashfs loop overlay sr_mod ata_piix ata_generic virtio_pci virtio_blk virtio_scsi sd_mod; do
    modprobe --show-depends -S "$kv" "$m"
done | awk '$1 == "insmod" && !seen[$2]++ { print $2 }' > "$work/modules.order"
while read -r ko; do
    mkdir -p "$work$(dirname "$ko")"
    cp "$ko" "$work$ko"
done < "$work/modules.order"
cp /luetbuild/cosci-boot "$work/init"
chmod 0755 "$work/init"
find "$work" -exec touch -h -d "@$SOURCE_DATE_EPOCH" {} +
(cd "$work" && find . ! -name . | LC_ALL=C sort | busybox cpio -o -H newc -R 0:0 2>/dev/null) | gzip -n -9 > /boot/initrd.img
touch -d "@$SOURCE_DATE_EPOCH" /boot/initrd.img /boot/vmlinuz
rm -rf "$work"

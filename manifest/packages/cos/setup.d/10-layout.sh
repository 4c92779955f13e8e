# Directories an immutable cOS system mounts or overlays at boot.
for d in oem usr/local/cloud-config run/cos etc/cos var/lib/elemental; do
	mkdir -p "$ROOT/$d"
done

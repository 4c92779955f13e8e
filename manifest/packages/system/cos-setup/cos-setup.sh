#!/bin/sh
# cos-setup STAGE: run the boot stage STAGE of every cloud-config file
# in /system/oem, /oem and /usr/local/cloud-config (in that order).
set -eu
stage="${1:-boot}"
for dir in /system/oem /oem /usr/local/cloud-config; do
	[ -d "$dir" ] || continue
	for f in "$dir"/*.yaml; do
		[ -e "$f" ] || continue
		echo "cos-setup: $stage from $f"
	done
done

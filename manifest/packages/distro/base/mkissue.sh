#!/bin/sh
# Print /etc/issue for the root filesystem in $1: distribution name $2, codename $3.
set -eu
root="$1" name="$2" codename="$3"
count=$(grep -c . "$root/usr/share/distro/packages.list" || true)
printf '%s (%s) \\n \\l\n' "$name" "$codename"
printf 'base packages: %s\n\n' "$count"

#!/bin/sh
# cos-upgrade [--docker-image REF] [--recovery]: upgrade the passive system (or
# the recovery) from the release channel, or from an image reference.
set -eu
VERSION="@VERSION@"
[ -r /etc/cos-upgrade-image ] && . /etc/cos-upgrade-image
image="${UPGRADE_IMAGE:-system/cos}"
source=channel
while [ $# -gt 0 ]; do
	case "$1" in
	--version) echo "cos-upgrade ${VERSION}"; exit 0 ;;
	--docker-image) source=docker; image="$2"; shift ;;
	--recovery) image="${RECOVERY_IMAGE:-recovery/cos}" ;;
	*) echo "unknown option: $1" >&2; exit 2 ;;
	esac
	shift
done
if [ "$source" = channel ]; then
	exec cos-upgrade-image --system.uri "channel:$image"
else
	exec cos-upgrade-image --system.uri "docker:$image"
fi

#!/bin/sh
# The derivative's service: says which OS it runs on.
. /etc/os-release
echo "sampleos-service on $PRETTY_NAME"

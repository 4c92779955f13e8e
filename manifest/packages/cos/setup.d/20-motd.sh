# Login banner and version stamp.
printf 'Welcome to %s %s (%s, %s)\n' "$BRAND_NAME" "$COS_VERSION" "$COS_DISTRIBUTION" "$COS_FLAVOR" > "$ROOT/etc/motd"
echo "$COS_VERSION" > "$ROOT/etc/cos/version"
if [ "$COS_RECOVERY" = 1 ]; then
	echo "recovery" > "$ROOT/etc/cos/variant"
	: > "$ROOT/etc/cos/recovery-mode"
fi

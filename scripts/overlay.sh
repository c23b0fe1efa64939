#!/usr/bin/env bash
# Assemble the source we build: pristine base + patches/*.patch in order +
# every file under linux/ at its kernel path.
#
# The work tree is updated in place and only where content changed, so an
# unchanged file keeps its timestamp and a one-file edit rebuilds in seconds.
. "$(dirname "$0")/common.sh"
take_lock

[ -f "$BASE/.extracted" ] || die "no base tree; run 'make base'"
MANIFEST=$SRC/.hmm-managed
STAGE=$BUILD/stage

if [ ! -f "$SRC/.hmm-base" ] || [ "$(cat "$SRC/.hmm-base")" != "$(base_version "$BASE")" ]; then
	say "creating work tree $SRC"
	rm -rf "$SRC"
	cp -a "$BASE" "$SRC"
	rm -f "$SRC/.extracted"
	: >"$MANIFEST"
	base_version "$BASE" >"$SRC/.hmm-base"
fi

# 1. Stage the result of every patch and overlay file, outside the work tree.
rm -rf "$STAGE"
mkdir -p "$STAGE"
shopt -s nullglob
for p in "$TOP"/patches/*.patch; do
	while read -r f; do
		[ -e "$STAGE/$f" ] && continue
		if [ -f "$BASE/$f" ]; then
			mkdir -p "$STAGE/$(dirname "$f")"
			cp "$BASE/$f" "$STAGE/$f"
		fi
	done < <(sed -n 's|^+++ b/\([^[:space:]]*\).*|\1|p' "$p")
	patch -d "$STAGE" -p1 -f -s --no-backup-if-mismatch -r - <"$p" ||
		die "patch $(basename "$p") does not apply to the base"
done
while read -r f; do
	[ -e "$STAGE/$f" ] && die "$f is both patched and overlaid; pick one"
	mkdir -p "$STAGE/$(dirname "$f")"
	cp "$TOP/linux/$f" "$STAGE/$f"
done < <(overlay_files)

# 2. Files we managed last time but no longer do go back to the base copy.
(cd "$STAGE" && find . -type f | sed 's|^\./||' | sort) >"$BUILD/managed.new"
while read -r f; do
	if [ -f "$BASE/$f" ]; then
		say "restoring base copy of $f"
		cp "$BASE/$f" "$SRC/$f"
	else
		say "removing $f (no longer in the overlay)"
		rm -f "$SRC/$f"
	fi
done < <(comm -23 <(sort "$MANIFEST") "$BUILD/managed.new")

# 3. Delete each base file we replace, then copy ours in. Deleting first means
#    a copy that fails or lands elsewhere leaves a hole the build trips over,
#    never the base's file silently in place.
changed=0
while read -r f; do
	if [ -f "$SRC/$f" ] && cmp -s "$STAGE/$f" "$SRC/$f"; then
		continue
	fi
	rm -f "$SRC/$f"
	mkdir -p "$SRC/$(dirname "$f")"
	cp "$STAGE/$f" "$SRC/$f"
	changed=$((changed + 1))
done <"$BUILD/managed.new"
while read -r f; do
	cmp -s "$TOP/linux/$f" "$SRC/$f" || die "overlay copy of $f did not land"
done < <(overlay_files)
mv "$BUILD/managed.new" "$MANIFEST"
say "work tree: $(wc -l <"$MANIFEST") managed files, $changed updated"

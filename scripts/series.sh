#!/usr/bin/env bash
# make series: export patches/*.patch and the linux/ overlay as a
# `git format-patch` series against the pristine base, one patch per
# component, into build/series/. Then prove it: `git am` the series onto a
# fresh checkout of the base and compare the result with the tree we build.
#
# Components are listed in series/NN-name.msg: the commit message, then a
# line "Files: <paths under linux/>". Every overlay file must belong to one.
. "$(dirname "$0")/common.sh"
take_lock

REPO=$BUILD/series-git
OUT=$BUILD/series
AUTHOR=${HMM_SERIES_AUTHOR:-"$(git -C "$TOP" config user.name) <$(git -C "$TOP" config user.email)>"}
g() { git -C "$REPO" -c user.name="${AUTHOR% <*}" -c user.email="$(echo "$AUTHOR" | sed 's/.*<\(.*\)>/\1/')" "$@"; }

if [ ! -f "$REPO/.git/hmm-base-ok" ]; then
	say "importing the pristine base into $REPO (once)"
	rm -rf "$REPO"
	cp -a "$BASE" "$REPO"
	rm -f "$REPO/.extracted"
	g init -q -b base
	g add -A -f
	g commit -q -m "Linux $(base_version "$BASE") (Debian linux-source-6.1)"
	touch "$REPO/.git/hmm-base-ok"
fi
g checkout -q -f base
g branch -q -D hmm 2>/dev/null || true
g checkout -q -b hmm
g clean -q -fdx

signoff="Signed-off-by: $AUTHOR"

# 1. patches/*.patch: their mail header is the commit message
shopt -s nullglob
for p in "$TOP"/patches/*.patch; do
	subject=$(sed -n 's/^Subject: \(\[PATCH[^]]*\] \)\{0,1\}//p' "$p" | head -n1)
	body=$(awk 'f && /^(---|diff |Index: )/ {exit} f {print} /^$/ && !f {f=1}' "$p")
	g apply --whitespace=error-all "$p" || die "$(basename "$p") does not apply"
	g add -A -f
	printf '%s\n\n%s\n\n%s\n' "$subject" "$body" "$signoff" | sed '/^$/N;/^\n$/D' | g commit -q -F -
done

# 2. the overlay, one commit per component
claimed=$BUILD/series.claimed
: >"$claimed"
for m in "$TOP"/series/*.msg; do
	files=$(sed -n 's/^Files: *//p' "$m")
	present=()
	for f in $files; do
		[ -f "$TOP/linux/$f" ] && present+=("$f")
	done
	[ ${#present[@]} -gt 0 ] || continue
	for f in "${present[@]}"; do
		mkdir -p "$REPO/$(dirname "$f")"
		cp "$TOP/linux/$f" "$REPO/$f"
		echo "$f" >>"$claimed"
	done
	g add -A -f
	{ sed '/^Files:/d' "$m"; printf '\n%s\n' "$signoff"; } | sed -e :a -e '/^\n*$/{$d;N;ba' -e '}' | g commit -q -F -
done
unclaimed=$(comm -23 <(overlay_files) <(sort -u "$claimed"))
[ -z "$unclaimed" ] || die "overlay files in no series/*.msg component: $unclaimed"

rm -rf "$OUT"
g format-patch -q -o "$OUT" base..hmm
say "series: $(ls "$OUT" | wc -l) patches in $OUT"
for p in "$OUT"/*.patch; do
	printf '  %-70s %s\n' "$(basename "$p")" \
		"$(cd "$SRC" && { ./scripts/checkpatch.pl --strict --terse "$p" || true; } | sed -n 's/^total: //p' | grep . || echo 'checkpatch --strict: clean')"
done

# 3. proof: git am onto a fresh base checkout gives exactly the tree we build
check=$BUILD/series-check
rm -rf "$check"
git clone -q -b base "$REPO" "$check"
git -C "$check" -c user.name=check -c user.email=check@localhost am -q "$OUT"/*.patch ||
	die "git am of the series failed"
while read -r f; do
	cmp -s "$check/$f" "$SRC/$f" || die "series result differs from the built tree at $f"
done <"$SRC/.hmm-managed"
rm -rf "$check"
say "series verified: git am onto pristine $(base_version "$BASE") reproduces the built tree"

#!/usr/bin/env bash
# make fuzz's second kernel: our tree with KCSAN instead of KASAN
# (tinyconfig + hmm.config + sanitizers.config + kcsan.config) in
# build/kcsan/obj, its modules, and its own initramfs with the same guest
# programs, build/kcsan/initramfs.cpio.gz. Then the names of the functions
# our files define, build/kcsan/ours.txt: the verdict fails on a KCSAN race
# in one of them and lists the others.
. "$(dirname "$0")/common.sh"
take_lock

K=$BUILD/kcsan
"$TOP/scripts/kernel.sh" "$SRC" "$K/obj" "$K/modroot" "$TOP/configs/hmm.config" \
	"$TOP/configs/sanitizers.config" "$TOP/configs/kcsan.config"
HMM_MODROOT=$K/modroot HMM_INITRD=$K/initramfs.cpio.gz "$TOP/vm/mkinitramfs.sh"

# every function defined in a kernel C file under linux/, as kallsyms names it
: >"$K/ours.txt.new"
while read -r f; do
	case "$f" in tools/*|Documentation/*|*[!c]) continue ;; esac
	o=$K/obj/${f%.c}.o
	[ -f "$o" ] || continue
	nm --defined-only "$o" | awk '$2 ~ /^[tTwW]$/ {print $3}' >>"$K/ours.txt.new"
done < <(overlay_files)
[ -s "$K/ours.txt.new" ] || die "no functions of our files in $K/obj"
sort -u "$K/ours.txt.new" >"$K/ours.txt"
rm "$K/ours.txt.new"
say "kcsan kernel: $K/obj, $(wc -l <"$K/ours.txt") functions of our files"

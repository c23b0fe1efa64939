#!/usr/bin/env bash
# make bench, one kernel: scripts/bench-kernel.sh ours|base
# Builds the kernel with the benchmark config (tinyconfig + hmm.config +
# bench.config, the same for both): ours from build/src in
# build/bench/obj-ours, the pristine base from build/base (no patches, no
# overlay) in build/bench/obj-base. Then the benchmark module bench/ out of
# tree against it, so both kernels run the same measuring code, the static
# driver program bench/hmm-bench.c, and the kernel's own initramfs,
# build/bench/initramfs-ours|base.cpio.gz.
. "$(dirname "$0")/common.sh"
take_lock

k=${1:?usage: bench-kernel.sh ours|base}
case $k in
ours) ksrc=$SRC ;;
base) ksrc=$BASE ;;
*) die "usage: bench-kernel.sh ours|base" ;;
esac
B=$BUILD/bench
obj=$B/obj-$k modroot=$B/modroot-$k mod=$B/mod-$k progs=$B/progs-$k

"$TOP/scripts/kernel.sh" "$ksrc" "$obj" "$modroot" \
	"$TOP/configs/hmm.config" "$TOP/configs/bench.config"

say "building bench/hmm_bench.ko against $k"
mkdir -p "$mod" "$progs"
for f in Kbuild hmm_bench.c hmm_bench_uapi.h; do
	cmp -s "$TOP/bench/$f" "$mod/$f" || cp "$TOP/bench/$f" "$mod/$f"
done
kmake_for "$ksrc" "$obj"
"${KMAKE[@]}" M="$mod" -s modules >"$mod/build.log" 2>&1 ||
	{ cat "$mod/build.log"; die "hmm_bench.ko does not build against $k"; }
! grep -E 'warning:|error:' "$mod/build.log" || die "hmm_bench.ko: compiler warnings ($k)"
"${KMAKE[@]}" M="$mod" -s INSTALL_MOD_PATH="$modroot" INSTALL_MOD_STRIP=1 modules_install >/dev/null
depmod -b "$modroot" "$(cat "$obj/include/config/kernel.release")"

gcc -static -O2 -Wall -Werror -I "$TOP/bench" -o "$progs/hmm-bench" "$TOP/bench/hmm-bench.c"
HMM_MODROOT=$modroot HMM_PROGS=$progs HMM_INITRD=$B/initramfs-$k.cpio.gz \
	"$TOP/vm/mkinitramfs.sh"

#!/usr/bin/env bash
# make bench: the HMM core's performance, ours against the base kernel's.
#
# Two kernels with the same config (tinyconfig + hmm.config + bench.config):
# ours (build/src: base + patches + linux/) in build/bench/obj-ours and the
# pristine base in build/bench/obj-base. The benchmark module bench/ is
# built out of tree against each, so both run the same measuring code; each
# kernel boots with its own initramfs and runs vm/jobs/bench.sh. Then
# bench/report.py writes build/bench/results.md and chart.png.
. "$(dirname "$0")/common.sh"
take_lock
start=$(date +%s)
B=$BUILD/bench
FRAGS=("$TOP/configs/hmm.config" "$TOP/configs/bench.config")

HMM_EXTRA_PKGS="${HMM_EXTRA_PKGS:-} gnuplot-nox" "$TOP/scripts/base.sh"
"$TOP/scripts/overlay.sh"

mkdir -p "$B/progs"
gcc -static -O2 -Wall -Werror -I "$TOP/bench" -o "$B/progs/hmm-bench" "$TOP/bench/hmm-bench.c"

# kernel_src NAME: the tree a bench kernel is built from
kernel_src() { case $1 in ours) echo "$SRC" ;; base) echo "$BASE" ;; esac; }

for k in ours base; do
	obj=$B/obj-$k modroot=$B/modroot-$k mod=$B/mod-$k
	"$TOP/scripts/kbuild.sh" "$(kernel_src $k)" "$obj" "$modroot" "${FRAGS[@]}"

	say "building bench/hmm_bench.ko against $k"
	mkdir -p "$mod"
	for f in Kbuild hmm_bench.c hmm_bench_uapi.h; do
		cmp -s "$TOP/bench/$f" "$mod/$f" || cp "$TOP/bench/$f" "$mod/$f"
	done
	make -C "$obj" M="$mod" -j"$JOBS" -s modules >"$mod/build.log" 2>&1 ||
		{ cat "$mod/build.log"; die "hmm_bench.ko does not build against $k"; }
	! grep -E 'warning:|error:' "$mod/build.log" || die "hmm_bench.ko: compiler warnings ($k)"
	make -C "$obj" M="$mod" -s INSTALL_MOD_PATH="$modroot" INSTALL_MOD_STRIP=1 \
		modules_install >/dev/null
	depmod -b "$modroot" "$(cat "$obj/include/config/kernel.release")"

	HMM_MODROOT=$modroot HMM_PROGS=$B/progs HMM_INITRD=$B/initramfs-$k.cpio.gz \
		"$TOP/vm/mkinitramfs.sh"
done
built=$(date +%s)

for k in ours base; do
	HMM_KERNEL=$B/obj-$k/arch/x86/boot/bzImage HMM_INITRD=$B/initramfs-$k.cpio.gz \
	HMM_LOGNAME=bench-$k HMM_VM_TIMEOUT=${HMM_VM_TIMEOUT:-900} "$TOP/vm/boot.sh" bench
done
done_at=$(date +%s)
say "build $((built - start)) s, guests $((done_at - built)) s"

rc=0
python3 "$TOP/bench/report.py" --ours "$LOGS/bench-ours.log" --base "$LOGS/bench-base.log" \
	--out "$B" --note "make bench: build $((built - start)) s, both guests $((done_at - built)) s." || rc=$?
say "results: $B/results.md, chart: $B/chart.png; total $(($(date +%s) - start)) s"
exit $rc

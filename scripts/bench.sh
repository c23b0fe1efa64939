#!/usr/bin/env bash
# make bench: the HMM core's performance, ours against the base kernel's.
#
# Two kernels with the same config (tinyconfig + hmm.config + bench.config):
# ours (build/src: base + patches + linux/) in build/bench/obj-ours and the
# pristine base in build/bench/obj-base. The benchmark module bench/ is
# built out of tree against each, so both run the same measuring code; each
# kernel boots with its own initramfs and runs vm/jobs/bench.sh, the two
# alternating, HMM_BENCH_ROUNDS (2) boots each. Then
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
	"$TOP/scripts/kernel.sh" "$(kernel_src $k)" "$obj" "$modroot" "${FRAGS[@]}"

	say "building bench/hmm_bench.ko against $k"
	mkdir -p "$mod"
	for f in Kbuild hmm_bench.c hmm_bench_uapi.h; do
		cmp -s "$TOP/bench/$f" "$mod/$f" || cp "$TOP/bench/$f" "$mod/$f"
	done
	kmake_for "$(kernel_src $k)" "$obj"
	"${KMAKE[@]}" M="$mod" -s modules >"$mod/build.log" 2>&1 ||
		{ cat "$mod/build.log"; die "hmm_bench.ko does not build against $k"; }
	! grep -E 'warning:|error:' "$mod/build.log" || die "hmm_bench.ko: compiler warnings ($k)"
	"${KMAKE[@]}" M="$mod" -s INSTALL_MOD_PATH="$modroot" INSTALL_MOD_STRIP=1 modules_install >/dev/null
	depmod -b "$modroot" "$(cat "$obj/include/config/kernel.release")"

	HMM_MODROOT=$modroot HMM_PROGS=$B/progs HMM_INITRD=$B/initramfs-$k.cpio.gz \
		"$TOP/vm/mkinitramfs.sh"
done
built=$(date +%s)

# Alternate the kernels, several boots each: the machine is shared, and a
# burst of load on the host during one guest would otherwise land on one
# kernel's figures only.
rounds=${HMM_BENCH_ROUNDS:-2}
logs_ours=() logs_base=()
for r in $(seq "$rounds"); do
	for k in ours base; do
		HMM_KERNEL=$B/obj-$k/arch/x86/boot/bzImage HMM_INITRD=$B/initramfs-$k.cpio.gz \
		HMM_LOGNAME=bench-$k-$r HMM_VM_TIMEOUT=${HMM_VM_TIMEOUT:-900} "$TOP/vm/boot.sh" bench
		case $k in
		ours) logs_ours+=("$LOGS/bench-ours-$r.log") ;;
		base) logs_base+=("$LOGS/bench-base-$r.log") ;;
		esac
	done
done
done_at=$(date +%s)
say "build $((built - start)) s, guests $((done_at - built)) s"

rc=0
python3 "$TOP/bench/report.py" --ours "${logs_ours[@]}" --base "${logs_base[@]}" --out "$B" \
	--note "make bench: build $((built - start)) s, $((2 * rounds)) guests $((done_at - built)) s." || rc=$?
say "results: $B/results.md, chart: $B/chart.png; total $(($(date +%s) - start)) s"
exit $rc

#!/usr/bin/env bash
# make bench, once the Makefile has built both kernels
# (scripts/bench-kernel.sh ours and base): boot each with its own initramfs
# under QEMU and run vm/jobs/bench.sh, the two alternating,
# HMM_BENCH_ROUNDS (2) boots each; then bench/report.py writes
# build/bench/results.md and chart.png.
. "$(dirname "$0")/common.sh"
take_lock
need_packages gnuplot-nox
B=$BUILD/bench
booted=$(date +%s)
built=$((booted - ${HMM_START:-$booted}))

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
guests=$(($(date +%s) - booted))
say "build $built s, guests $guests s"

rc=0
python3 "$TOP/bench/report.py" --ours "${logs_ours[@]}" --base "${logs_base[@]}" --out "$B" \
	--note "make bench: build $built s, $((2 * rounds)) guests $guests s." || rc=$?
say "results: $B/results.md, chart: $B/chart.png; total $((built + $(date +%s) - booted)) s"
exit $rc

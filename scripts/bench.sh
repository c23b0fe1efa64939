#!/usr/bin/env bash
# make bench, once the Makefile has built both kernels
# (scripts/bench-kernel.sh ours and base): boot each with its own initramfs
# under QEMU and run vm/jobs/bench.sh; then bench/report.py writes
# build/bench/results.md, results.json and chart.png.
#
# HMM_BENCH_MODE picks the guest clock (vm/machine.sh): wall (the host's
# time: HMM_BENCH_ROUNDS boots of each kernel, 2 by default, alternating),
# icount (QEMU's instruction count: one boot each, its figures do not move
# with the host's load) or both (the default). A previous run's
# results.json is kept as results-prev.json and the icount figures of the
# two runs are compared. HMM_BENCH_ROWS=snapshot,migrate,... runs only
# those rows (the names of the HMM-BENCH lines, bench/hmm-bench.c).
. "$(dirname "$0")/common.sh"
take_lock
need_packages gnuplot-nox
B=$BUILD/bench
booted=$(date +%s)
built=$((booted - ${HMM_START:-$booted}))

mode=${HMM_BENCH_MODE:-both}
case $mode in
both) clocks="wall icount" ;;
wall | icount) clocks=$mode ;;
*) die "HMM_BENCH_MODE is wall, icount or both, not '$mode'" ;;
esac

# bench_boot KERNEL CLOCK ROUND: one guest; prints its console's path
bench_boot() {
	local name=bench-$1-$2-$3
	HMM_KERNEL=$B/obj-$1/arch/x86/boot/bzImage HMM_INITRD=$B/initramfs-$1.cpio.gz \
	HMM_CLOCK=$2 HMM_LOGNAME=$name HMM_VM_TIMEOUT=${HMM_VM_TIMEOUT:-1800} \
	HMM_APPEND="${HMM_APPEND:-}${HMM_BENCH_ROWS:+ hmmbench_rows=$HMM_BENCH_ROWS}" \
		"$TOP/vm/boot.sh" bench >&2
	echo "$LOGS/$name.log"
}

# Alternate the kernels, several boots each on the wall clock: the machine
# is shared, and a burst of load on the host during one guest would
# otherwise land on one kernel's figures only.
args=()
for clock in $clocks; do
	rounds=1
	[ "$clock" = wall ] && rounds=${HMM_BENCH_ROUNDS:-2}
	for r in $(seq "$rounds"); do
		for k in ours base; do
			log=$(bench_boot "$k" "$clock" "$r")
			case $k-$clock in
			ours-wall) args+=(--ours "$log") ;;
			base-wall) args+=(--base "$log") ;;
			ours-icount) args+=(--ours-icount "$log") ;;
			base-icount) args+=(--base-icount "$log") ;;
			esac
		done
	done
done
guests=$(($(date +%s) - booted))
say "build $built s, guests $guests s"

[ -f "$B/results.json" ] && cp "$B/results.json" "$B/results-prev.json"
rc=0
python3 "$TOP/bench/report.py" "${args[@]}" --out "$B" \
	--note "make bench ($mode): build $built s, guests $guests s." || rc=$?
if [ -f "$B/results-prev.json" ] && [[ $clocks == *icount* ]]; then
	say "icount figures against the previous run (results-prev.json):"
	python3 "$TOP/bench/report.py" --compare "$B/results-prev.json" "$B/results.json" | tail -1 || true
fi
say "results: $B/results.md, chart: $B/chart.png; total $((built + $(date +%s) - booted)) s"
exit $rc

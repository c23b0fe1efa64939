# make bench: load the benchmark module, run every benchmark, unload it.
# The host reads the HMM-BENCH lines (bench/report.py). Then check that the
# unload brings back pages left in device memory and frees what it took.
. /jobs/common.sh
DMEM_MIB=1024
memfree() { awk '/^MemFree:/ {print $2}' /proc/meminfo; }

# its 1 GiB of backing pages came back (64 MiB of slack for everything else)
memory_returned() {
	after=$(memfree)
	echo "MemFree: ${before} kB before the benchmarks, ${after} kB after"
	test "$after" -ge $((before - 65536))
}

# hmmbench_rows=a,b (scripts/bench.sh, HMM_BENCH_ROWS): only those rows
for arg in $(cat /proc/cmdline); do
	case "$arg" in hmmbench_rows=*) export HMM_BENCH_ROWS=${arg#hmmbench_rows=} ;; esac
done

before=$(memfree)
check load_hmm_bench modprobe hmm_bench dmem_mib=$DMEM_MIB
check run_benchmarks /bin/hmm-bench $DMEM_MIB
check unload_hmm_bench rmmod hmm_bench

check load_hmm_bench_small modprobe hmm_bench dmem_mib=64
# unloads the module itself, with a range still in device memory
check evict_on_unload /bin/hmm-bench --evict-check
check module_gone sh -c '! grep -q hmm_bench /proc/modules'
check iomem_released sh -c '! grep -q hmm_bench /proc/iomem'
check memory_returned memory_returned

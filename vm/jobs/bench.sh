# make bench: load the benchmark module, run every benchmark, unload it.
# The host reads the HMM-BENCH lines (bench/report.py).
. /jobs/common.sh
DMEM_MIB=1024
check load_hmm_bench modprobe hmm_bench dmem_mib=$DMEM_MIB
/bin/hmm-bench $DMEM_MIB
echo "HMM-BENCH-RC $?"
check unload_hmm_bench rmmod hmm_bench

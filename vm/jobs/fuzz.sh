# make fuzz: one hmm-fuzz run per seed, each followed by fuzz_run's checks
# (driver unloaded, its memory gone from /proc/iomem, MemFree back,
# kmemleak clean). scripts/fuzz.sh sets, on the kernel command line,
#   hmm_fuzz_seeds=S1,S2,...   hmm_fuzz_ops=N (per run)
#   hmm_fuzz_mode=plain|fail   fail: fault injection (inject_on) and -f
#   hmm_fuzz_selftests=1       the selftests first (the KCSAN kernel)
. /jobs/common.sh
kmemleak_start
if [ "$(cmdline_arg hmm_fuzz_selftests 0)" = 1 ]; then
	selftests
	check unload_test_hmm rmmod test_hmm
fi

mode=$(cmdline_arg hmm_fuzz_mode plain)
ops=$(cmdline_arg hmm_fuzz_ops 100000)
opt=
if [ "$mode" = fail ]; then
	FUZZ_BEFORE=inject_on FUZZ_AFTER=inject_off opt=-f
fi
for seed in $(cmdline_arg hmm_fuzz_seeds 1,2,3 | tr , ' '); do
	fuzz_run "fuzz_${mode}_$seed" -s "$seed" -n "$ops" -t 3 -p 2 $opt
done

# make test: the KUnit suites already ran at boot (built in); load the test
# driver, run the selftests (ours, then the base tree's) and the clients
# suite (clients.sh), unload it, check for leaks; then a short fuzz: a
# fixed seed and a random one (the host picks it: hmm_fuzz_seed=).
. /jobs/common.sh
kmemleak_start
selftests

# The base kernel's own hmm-tests (6.1's, built from the base tree) must
# pass on our kernel too, under both THP modes; their TAP is printed with a
# prefix, and each run is one check.
thp=/sys/kernel/mm/transparent_hugepage/enabled
thp_mode=$(sed 's/.*\[\(.*\)\].*/\1/' $thp)
base_hmm_tests() {
	echo "$1" >$thp || return 1
	/bin/base-hmm-tests >/tmp/base-hmm-tests.out 2>&1
	rc=$?
	sed "s/^/base-hmm-tests THP=$1: /" /tmp/base-hmm-tests.out
	return $rc
}
check base_hmm_tests_thp_always base_hmm_tests always
check base_hmm_tests_thp_madvise base_hmm_tests madvise
echo "$thp_mode" >$thp

sh /jobs/clients.sh
check unload_test_hmm rmmod test_hmm
check kmemleak kmemleak_clean

ops=$(cmdline_arg hmm_fuzz_ops 5000)
fuzz_run fuzz_fixed -s 1 -n "$ops" -t 3 -p 2
fuzz_run fuzz_random -s "$(cmdline_arg hmm_fuzz_seed 2)" -n "$ops" -t 3 -p 2

# make test: the KUnit suites already ran at boot (built in); load the test
# driver, run the selftests (ours, then the base tree's) and the clients
# suite (clients.sh), unload it.
. /jobs/common.sh
check load_test_hmm modprobe test_hmm $MACHINE_TEST_HMM
check coherent_devices char_devices $MACHINE_COHERENT_DEVICES
/bin/hmm-tests 2>&1 | tee /tmp/selftests.out
echo "HMM-SELFTESTS-BEGIN"
cat /tmp/selftests.out
echo "HMM-SELFTESTS-END"

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

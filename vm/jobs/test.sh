# make test: the KUnit suites already ran at boot (built in); load the test
# driver, run the selftests, unload it.
. /jobs/common.sh
check load_test_hmm modprobe test_hmm $SPM
check coherent_devices test -c /dev/hmm_dmirror2 -a -c /dev/hmm_dmirror3
/bin/hmm-tests 2>&1 | tee /tmp/selftests.out
echo "HMM-SELFTESTS-BEGIN"
cat /tmp/selftests.out
echo "HMM-SELFTESTS-END"
check unload_test_hmm rmmod test_hmm

# make test: the KUnit suites already ran at boot (built in); load the test
# driver, run the selftests, unload it.
. /jobs/common.sh
check load_test_hmm modprobe test_hmm $MACHINE_TEST_HMM
check coherent_devices char_devices $MACHINE_COHERENT_DEVICES
/bin/hmm-tests 2>&1 | tee /tmp/selftests.out
echo "HMM-SELFTESTS-BEGIN"
cat /tmp/selftests.out
echo "HMM-SELFTESTS-END"
check unload_test_hmm rmmod test_hmm

# make run: show HMM at work on one buffer.
. /jobs/common.sh
modprobe test_hmm $MACHINE_TEST_HMM || exit 1
/bin/hmm-demo
rc=$?
rmmod test_hmm
exit $rc

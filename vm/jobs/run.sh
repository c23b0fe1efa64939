# make run: show HMM at work on one buffer.
. /jobs/common.sh
modprobe test_hmm $SPM || exit 1
/bin/hmm-demo
rc=$?
rmmod test_hmm
exit $rc

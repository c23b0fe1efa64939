. /jobs/common.sh
modprobe test_hmm $MACHINE_TEST_HMM
sh /jobs/clients.sh
rmmod test_hmm

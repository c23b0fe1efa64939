# The clients suite alone (vm/boot.sh clientsdev), for working on it. The
# selftests first (what fails of them is shown): they give lockdep the
# lock orders that make test has by the time the clients suite runs.
. /jobs/common.sh
modprobe test_hmm $MACHINE_TEST_HMM
/bin/hmm-tests 2>&1 | grep -v "^ok \|^#  *\(RUN\|OK\) "
sh /jobs/clients.sh
rmmod test_hmm

# make shell: everything loaded, an interactive shell on the console.
. /jobs/common.sh
modprobe test_hmm $MACHINE_TEST_HMM
echo "test_hmm loaded; selftests: /bin/hmm-tests, demo: /bin/hmm-demo; 'exit' powers off"
setsid cttyhack sh

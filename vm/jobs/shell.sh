# make shell: everything loaded, an interactive shell on the console.
. /jobs/common.sh
modprobe test_hmm $SPM
echo "test_hmm loaded; selftests: /bin/hmm-tests, demo: /bin/hmm-demo; 'exit' powers off"
setsid cttyhack sh

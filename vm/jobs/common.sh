# Helpers for guest jobs (sourced). The guest machine's description
# (vm/machine.sh) gives test_hmm's parameters and the devices to expect.
. /machine.sh

# check NAME CMD...: run CMD and report one guest-level result line.
check() {
	name=$1; shift
	if "$@"; then echo "HMM-CHECK ok $name"; else echo "HMM-CHECK fail $name"; fi
}

# char_devices DEV...: every DEV exists and is a character device
char_devices() {
	for dev in "$@"; do
		[ -c "$dev" ] || return 1
	done
}

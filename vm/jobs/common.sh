# Helpers for guest jobs (sourced).
SPM="spm_addr_dev0=0x100000000 spm_addr_dev1=0x110000000"

# check NAME CMD...: run CMD and report one guest-level result line.
check() {
	name=$1; shift
	if "$@"; then echo "HMM-CHECK ok $name"; else echo "HMM-CHECK fail $name"; fi
}

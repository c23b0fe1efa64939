# Helpers for guest jobs (sourced). The guest machine's description
# (vm/machine.sh) gives test_hmm's parameters and the devices to expect.
. /machine.sh

# check NAME CMD...: run CMD and report one guest-level result line;
# returns CMD's success.
check() {
	local check_name=$1
	shift
	if "$@"; then
		echo "HMM-CHECK ok $check_name"
	else
		echo "HMM-CHECK fail $check_name"
		return 1
	fi
}

# char_devices DEV...: every DEV exists and is a character device
char_devices() {
	for dev in "$@"; do
		[ -c "$dev" ] || return 1
	done
}

# load_test_hmm: test_hmm loaded, with every device the machine has (a
# failed module init did not fail busybox's modprobe after a failinject
# run: the device coherent memory could not be mapped again)
load_test_hmm() {
	modprobe test_hmm $MACHINE_TEST_HMM &&
		char_devices /dev/hmm_dmirror0 /dev/hmm_dmirror1 $MACHINE_COHERENT_DEVICES
}

# selftests: load test_hmm, run the HMM selftests and print their clean
# copy between the markers; the caller unloads test_hmm.
selftests() {
	check load_test_hmm modprobe test_hmm $MACHINE_TEST_HMM
	check coherent_devices char_devices $MACHINE_COHERENT_DEVICES
	/bin/hmm-tests 2>&1 | tee /tmp/selftests.out
	echo "HMM-SELFTESTS-BEGIN"
	cat /tmp/selftests.out
	echo "HMM-SELFTESTS-END"
}

# cmdline_arg NAME DEFAULT: the value of NAME= on the kernel command line
cmdline_arg() {
	for arg in $(cat /proc/cmdline); do
		case "$arg" in "$1"=*) echo "${arg#*=}"; return ;; esac
	done
	echo "$2"
}

# slab_shrink: release the empty slabs of every cache; under KASAN this
# also empties the quarantine, which keeps freed objects (up to 1/32 of
# the memory) away from MemFree.
slab_shrink() {
	for f in /sys/kernel/slab/*/shrink; do
		echo 1 >"$f" 2>/dev/null
	done
	return 0
}

memfree() { awk '/^MemFree:/ {print $2}' /proc/meminfo; }

# --- kmemleak (the sanitizer kernels; configs/sanitizers.config). It never
# scans by itself there: a job starts with kmemleak_start and checks with
# kmemleak_clean once the driver is gone.
KMEMLEAK=/sys/kernel/debug/kmemleak

# kmemleak_start: scan and clear what the boot left behind (ACPI's early
# caches), listing it, so the job's checks see only the job's leaks.
# `clear` only forgets objects a scan has reported already, and a scan
# reports an object only when its contents did not change since the scan
# before (the first scan sees every object change): so two scans. Objects
# younger than 5 s are not reported, so KUnit's are still checked later.
kmemleak_start() {
	[ -e $KMEMLEAK ] || return 0
	echo scan >$KMEMLEAK && echo scan >$KMEMLEAK || return 1
	echo "kmemleak: $(grep -c '^unreferenced object' $KMEMLEAK) suspects left by the boot, cleared:"
	awk '/^unreferenced object/ {o=$0; n=0} /^    \[</ && ++n == 2 {print "  " o " from " $2}' $KMEMLEAK
	echo clear >$KMEMLEAK
}

# kmemleak_clean: scan twice (an object is reported only once it is 5 s
# old; the second scan drops pointers that were only in flight) and fail,
# printing the report, if anything is left unreferenced.
kmemleak_clean() {
	[ -e $KMEMLEAK ] || { echo "kmemleak: not in this kernel"; return 0; }
	sleep 6
	echo scan >$KMEMLEAK && echo scan >$KMEMLEAK ||
		{ echo "kmemleak: cannot scan (disabled?)"; return 1; }
	grep -q . $KMEMLEAK || return 0
	echo "kmemleak: $(grep -c '^unreferenced object' $KMEMLEAK) suspected leaks:"
	cat $KMEMLEAK
	return 1
}

# --- hmm-fuzz (vm/fuzz/hmm-fuzz.c): a run loads test_hmm, fuzzes, unloads
# it and checks that the driver gave back everything it took.

# fuzz_busy on|off: KSM and khugepaged scanning as fast as they go, so
# that they race with everything the fuzzer does (KSM found a bug so).
fuzz_busy() {
	ksm=/sys/kernel/mm/ksm khp=/sys/kernel/mm/transparent_hugepage/khugepaged
	if [ "$1" = on ]; then
		echo 0 >$ksm/sleep_millisecs
		echo 1000 >$ksm/pages_to_scan
		echo 1 >$ksm/run
		echo 0 >$khp/scan_sleep_millisecs
		echo 0 >$khp/alloc_sleep_millisecs
	else
		echo 2 >$ksm/run	# stop, and unmerge every KSM page
		echo 10000 >$khp/scan_sleep_millisecs
		echo 60000 >$khp/alloc_sleep_millisecs
	fi
}

# memory_returned KB: MemFree is back to within FUZZ_MEM_SLACK_KB of KB
FUZZ_MEM_SLACK_KB=65536
memory_returned() {
	after=$(memfree)
	echo "MemFree: $1 kB before, $after kB after"
	test "$after" -ge $(($1 - FUZZ_MEM_SLACK_KB))
}

# fuzz_run NAME ARG...: one hmm-fuzz run (ARG... are its options) with
# test_hmm loaded, its output printed whole between HMM-FUZZ-BEGIN and
# HMM-FUZZ-END once it ended; then the driver is unloaded, its device
# memory must be gone from /proc/iomem, MemFree must come back and
# kmemleak must find nothing. FUZZ_BEFORE/FUZZ_AFTER, when set, are run
# around the fuzzer (fault injection).
fuzz_run() {
	name=$1
	shift
	sync
	echo 3 >/proc/sys/vm/drop_caches
	slab_shrink
	before=$(memfree)
	check "${name}_load" load_test_hmm || return 1
	fuzz_busy on
	${FUZZ_BEFORE:-:}
	/bin/hmm-fuzz "$@" >/tmp/fuzz.out 2>&1
	rc=$?
	${FUZZ_AFTER:-:} >>/tmp/fuzz.out
	fuzz_busy off
	echo "HMM-FUZZ-BEGIN $name hmm-fuzz $*"
	cat /tmp/fuzz.out
	echo "HMM-FUZZ-END $name rc=$rc"
	check "${name}_unload" rmmod test_hmm
	check "${name}_iomem_released" sh -c '! grep hmm_dmirror /proc/iomem'
	sync
	echo 3 >/proc/sys/vm/drop_caches
	slab_shrink
	check "${name}_memory_returned" memory_returned "$before"
	check "${name}_kmemleak" kmemleak_clean
}

# --- fault injection (make fuzz, hmm_fuzz_mode=fail): failslab and
# fail_page_alloc fail FAIL_PCT percent of the allocations, of any size
# and gfp, of the tasks marked make-it-fail (hmm-fuzz -f marks its worker
# threads); verbose=1 prints a line per failure (rate limited), no trace.
FAIL_PCT=1
FAIL_TIMES=1000000000
# Swap is off while injecting: the swap device is a brd ramdisk, and when
# brd cannot allocate a page its ->rw_page ends the page's writeback and
# returns the error, and bdev_write_page() ends it a second time: kernel
# BUG at mm/filemap.c:1642 in folio_end_writeback() (seed 1, the first
# MADV_PAGEOUT of shmem under injection; 6.1 base code, not ours: brd.c
# and block/bdev.c, gone upstream with ->rw_page).
inject_on() {
	swapoff /dev/ram0
	for a in failslab fail_page_alloc; do
		d=/sys/kernel/debug/$a
		echo Y >$d/task-filter
		echo N >$d/ignore-gfp-wait
		echo 1 >$d/interval
		echo 0 >$d/space
		echo $FAIL_TIMES >$d/times
		echo 1 >$d/verbose
		echo $FAIL_PCT >$d/probability
	done
	echo N >/sys/kernel/debug/fail_page_alloc/ignore-gfp-highmem
	echo 0 >/sys/kernel/debug/fail_page_alloc/min-order
}

# inject_off: stop injecting, say how many failures were injected
inject_off() {
	for a in failslab fail_page_alloc; do
		d=/sys/kernel/debug/$a
		echo 0 >$d/probability
		echo "fault injection: $a $((FAIL_TIMES - $(cat $d/times))) failures injected"
	done
	swapon /dev/ram0
}

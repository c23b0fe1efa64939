#!/usr/bin/env bash
# Boot the built kernel and initramfs under QEMU TCG and run one guest job.
#   vm/boot.sh JOB        JOB is test, run or shell (vm/jobs/JOB.sh)
# The whole console is kept in build/logs/JOB-<time>.log (build/logs/JOB.log
# points at the latest). QEMU runs with -no-reboot, so the guest's final
# `reboot -f` ends it; a watchdog kills a guest that hangs.
. "$(dirname "$0")/../scripts/common.sh"

job=${1:?usage: vm/boot.sh test|run|shell}
timeout=${HMM_VM_TIMEOUT:-1200}
kernel=${HMM_KERNEL:-$OBJ/arch/x86/boot/bzImage}
initrd=${HMM_INITRD:-$BUILD/initramfs.cpio.gz}
[ -f "$kernel" ] && [ -f "$initrd" ] || die "build first: no $kernel or $initrd"

kunit=0
[ "$job" = test ] && kunit=1
# 512 MiB of RAM at 4 GiB is hidden from the page allocator and handed to
# test_hmm (spm_addr_dev0/1) as device-coherent memory for devices 2 and 3.
append="console=ttyS0 panic=-1 rdinit=/init hmmjob=$job kunit.enable=$kunit"
# Under TCG on a loaded host the IO-APIC timer check can miss its window
# and panic the boot ("IO-APIC + timer doesn't work").
append+=" no_timer_check"
append+=' memmap=512M$0x100000000'
append+=" ${HMM_APPEND:-}"

qemu=(qemu-system-x86_64 -accel tcg -cpu max -smp 2 -m 4G -nographic
      -net none -no-reboot -kernel "$kernel" -initrd "$initrd" -append "$append")

mkdir -p "$LOGS"
log=$LOGS/$job-$(date +%Y%m%d-%H%M%S).log
ln -sfn "$(basename "$log")" "$LOGS/$job.log"
say "booting ($job), console in $log"

if [ "$job" = shell ]; then
	"${qemu[@]}" | tee "$log"
	exit 0
fi

# What the terminal shows while the guest runs; the log keeps everything.
# test: the result lines; run: what the job prints, without the kernel's
# boot chatter. Kernel splats are always shown.
splat='BUG:|WARNING:|Oops|Kernel panic|Call Trace'
case "$job" in
test) show() { awk -v splat="$splat" '/^HMM-SELFTESTS-BEGIN/ {copy=1} /^HMM-SELFTESTS-END/ {copy=0; next}
		!copy && (/^(\[ *[0-9.]+\] *)?(not )?ok [0-9]/ || /^HMM-/ || $0 ~ splat) {print; fflush()}'; } ;;
*)    show() { awk -v splat="$splat" '/^HMM-JOB-BEGIN/ {on=1}
		on && !/^\[ *[0-9]+\.[0-9]+\]/ || $0 ~ splat {print; fflush()}'; } ;;
esac

set +e
timeout --foreground -k 10 "$timeout" "${qemu[@]}" </dev/null 2>&1 |
	tr -d '\r' | tee "$log" | show
rc=${PIPESTATUS[0]}
set -e
if [ "$rc" = 124 ] || [ "$rc" = 137 ]; then
	echo "HMM-WATCHDOG guest killed after ${timeout}s" | tee -a "$log"
fi
exit 0

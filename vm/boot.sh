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
append+=' memmap=512M$0x100000000'
append+=" ${HMM_APPEND:-}"

qemu=(qemu-system-x86_64 -accel tcg -cpu max -smp 2 -m 4G -nographic
      -no-reboot -kernel "$kernel" -initrd "$initrd" -append "$append")

mkdir -p "$LOGS"
log=$LOGS/$job-$(date +%Y%m%d-%H%M%S).log
ln -sfn "$(basename "$log")" "$LOGS/$job.log"
say "booting ($job), console in $log"

if [ "$job" = shell ]; then
	"${qemu[@]}" | tee "$log"
	exit 0
fi

# What the terminal shows while the guest runs; the log keeps everything.
case "$job" in
test) show='^(\[ *[0-9.]+\] *)?(    )*(not )?ok [0-9]|^HMM-|BUG:|WARNING:|Oops|Kernel panic' ;;
*)    show='' ;;
esac

set +e
timeout --foreground -k 10 "$timeout" "${qemu[@]}" </dev/null 2>&1 |
	tr -d '\r' | tee "$log" | { if [ -n "$show" ]; then grep --line-buffered -E "$show"; else cat; fi; }
rc=${PIPESTATUS[0]}
set -e
if [ "$rc" = 124 ] || [ "$rc" = 137 ]; then
	echo "HMM-WATCHDOG guest killed after ${timeout}s" | tee -a "$log"
fi
exit 0

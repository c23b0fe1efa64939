#!/usr/bin/env bash
# Boot a kernel and initramfs on the guest machine (vm/machine.sh) under
# QEMU TCG and run one guest job.
#   vm/boot.sh JOB        JOB is test, run, shell, bench or fuzz (vm/jobs/JOB.sh)
# The whole console is kept in build/logs/NAME-<time>.log (build/logs/NAME.log
# points at the latest); NAME is HMM_LOGNAME, by default JOB. HMM_KERNEL
# and HMM_INITRD boot another kernel and initramfs than build/'s;
# HMM_APPEND adds kernel parameters; HMM_CLOCK=icount runs the guest on
# QEMU's instruction-count clock (vm/machine.sh). QEMU runs with -no-reboot, so the
# guest's final `reboot -f` ends it; a watchdog (HMM_VM_TIMEOUT seconds)
# kills a guest that hangs and says so in the log (HMM-WATCHDOG).
. "$(dirname "$0")/../scripts/common.sh"
. "$TOP/vm/machine.sh"

job=${1:?usage: vm/boot.sh test|run|shell|bench|fuzz}
name=${HMM_LOGNAME:-$job}
timeout=${HMM_VM_TIMEOUT:-1200}
kernel=${HMM_KERNEL:-$OBJ/arch/x86/boot/bzImage}
initrd=${HMM_INITRD:-$BUILD/initramfs.cpio.gz}
[ -f "$kernel" ] && [ -f "$initrd" ] || die "build first: no $kernel or $initrd"
# The NVMe controller's disk (machine.sh): sparse, empty at every boot.
rm -f "$MACHINE_NVME_IMG"
truncate -s "${MACHINE_NVME_MIB}M" "$MACHINE_NVME_IMG"

# The KUnit suites are built in; `make test` runs them, another job when
# HMM_KUNIT=1 (make fuzz on the KCSAN kernel).
kunit=${HMM_KUNIT:-0}
[ "$job" = test ] && kunit=1
read -rd '' -a params <<<"$MACHINE_KERNEL_PARAMS" || true
read -rd '' -a machine <<<"$MACHINE_QEMU" || true
case ${HMM_CLOCK:-wall} in
wall) ;;
icount) read -rd '' -a clock <<<"$MACHINE_QEMU_ICOUNT" || true
	machine+=("${clock[@]}") ;;
*) die "HMM_CLOCK is wall or icount, not '$HMM_CLOCK'" ;;
esac
append="${params[*]} hmmjob=$job kunit.enable=$kunit${HMM_APPEND:+ $HMM_APPEND}"
qemu=(qemu-system-x86_64 "${machine[@]}" -kernel "$kernel" -initrd "$initrd" -append "$append")

mkdir -p "$LOGS"
log=$LOGS/$name-$(date +%Y%m%d-%H%M%S).log
ln -sfn "$(basename "$log")" "$LOGS/$name.log"
say "booting ($job), console in $log"

if [ "$job" = shell ]; then
	"${qemu[@]}" | tee "$log"
	exit 0
fi

# What the terminal shows while the guest runs; the log keeps everything.
# test: the result lines; run: what the job prints, without the kernel's
# boot chatter. Kernel splats are always shown.
splat=$(grep . <<<"$MACHINE_SPLATS" | paste -sd'|')
case "$job" in
test) show() { awk -v splat="$splat" '/^HMM-(SELFTESTS|CLIENTS)-BEGIN/ {copy=1} /^HMM-(SELFTESTS|CLIENTS)-END/ {copy=0; next}
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

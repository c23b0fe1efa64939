# shellcheck shell=sh disable=SC2034
# The guest machine, described once: what QEMU emulates, what the kernel
# is told about it, what the test driver is given, and which kernel
# messages count as a splat. `make test`, `make run`, `make shell` and
# `make bench` all boot this machine. Read by
#
#   vm/boot.sh       (host, bash) QEMU's command line and the kernel's
#   vm/jobs/*.sh     (guest, busybox sh: this file is /machine.sh in the
#                    initramfs) test_hmm's parameters, the devices to expect
#   vm/verdict.py    the splat list (it sources this file with sh, see
#                    machine()); bench/report.py the machine's size
#
# Plain POSIX sh, variables only. A list holds one item per line, so a QEMU
# device, a kernel parameter or a splat is a one-line addition. A value
# that follows from another (memmap=, spm_addr_dev*) is computed from it
# here, never written out twice.

# --- processors and memory
MACHINE_CPUS=2
MACHINE_MEM_GIB=6

# --- memory hidden from the page allocator, memory set aside
# Device-coherent memory needs RAM the page allocator does not own. With
# 3.5 GiB of RAM or more, QEMU's pc machine keeps 3 GiB below 4 GiB and
# maps the rest at 4 GiB; the kernel parameter memmap=SIZE$ADDR reserves
# the last 512 MiB of it.
# The selftests' 1 GiB hugetlb page is taken at boot (hugepages=, see the
# kernel parameters): below 4 GiB no 1 GiB-aligned block is ever free
# (the kernel, QEMU's initramfs just below 2 GiB, the firmware at the top
# of the third), and at run time KASAN's shadow and other unmovable
# allocations leave none anywhere. The boot allocation is made top-down
# once the shadow exists; with 6 GiB the shadow (under an eighth of RAM)
# sits below the reserved range and leaves a 1 GiB block above 4 GiB free.
MACHINE_SPM_MIB=512
MACHINE_SPM_ADDR=$(printf 0x%x $((((MACHINE_MEM_GIB + 1) << 30) - (MACHINE_SPM_MIB << 20))))

# --- QEMU, one group of arguments per line (no argument holds a space).
# boot.sh adds -kernel, -initrd and -append.
MACHINE_QEMU="
-accel tcg -cpu max
-smp $MACHINE_CPUS -m ${MACHINE_MEM_GIB}G
-nographic
-net none
-no-reboot
"

# --- the guest's clock (HMM_CLOCK=icount; `make bench` boots both). By
# default the guest runs multi-threaded TCG and its clocks follow the host's:
# a time measured in the guest moves with the host's load. With -icount
# shift=0 QEMU runs the vCPUs on one host thread and advances virtual time
# by exactly 1 ns per guest instruction (sleep=off: an idle guest skips to
# its next timer instead of waiting), so a time measured in the guest is a
# count of instructions executed, whatever else the host is doing.
MACHINE_QEMU_ICOUNT="
-icount shift=0,sleep=off
-smp 1
"

# --- kernel command line, one parameter per line. boot.sh adds the job's
# (hmmjob=, kunit.enable=) and HMM_APPEND. no_timer_check: under TCG on a
# loaded host the IO-APIC timer check can miss its window and panic the
# boot ("IO-APIC + timer doesn't work"). acpi=noirq: PCI interrupts are
# routed from the MP table, not by running the DSDT's _PRT method; under
# KASAN on a loaded host that AML ran into ACPICA's 30 s loop timeout
# (AE_AML_LOOP_TIMEOUT, with a soft lockup on the way), the NVMe
# controller got no interrupt and its probe hung for a minute.
# hugepagesz=1G hugepages=1: the 1 GiB hugetlb page (above).
MACHINE_KERNEL_PARAMS="
console=ttyS0
panic=-1
rdinit=/init
no_timer_check
acpi=noirq
hugepagesz=1G
hugepages=1
memmap=${MACHINE_SPM_MIB}M\$$MACHINE_SPM_ADDR
"

# --- the clients suite's devices (vm/jobs/clients.sh): the in-kernel users
# of memremap_pages() need hardware QEMU emulates. An NVDIMM with a label
# area (the guest carves fsdax and devdax namespaces out of it with ndctl);
# it sits in the hotplug area above RAM, at 7 GiB with 6 GiB of RAM, 1 GiB
# aligned so that a devdax namespace can have 1 GiB pages. Its memory is
# the host's RAM, used only where the guest writes. An NVMe controller with
# a controller memory buffer, which the nvme driver registers as p2pdma
# memory and puts its submission queues in; its disk is a sparse file
# vm/boot.sh makes afresh for every boot (its path is only used on the host).
MACHINE_NVDIMM_MIB=3072
MACHINE_NVME_MIB=256
MACHINE_NVME_CMB_MIB=64
MACHINE_NVME_IMG=${BUILD:-/tmp}/nvme.img
MACHINE_QEMU="$MACHINE_QEMU
-machine pc,nvdimm=on
-m slots=1,maxmem=$((MACHINE_MEM_GIB + MACHINE_NVDIMM_MIB / 1024 + 1))G
-object memory-backend-ram,id=nvmem0,size=${MACHINE_NVDIMM_MIB}M
-device nvdimm,memdev=nvmem0,id=nvdimm0,label-size=128K
-blockdev driver=file,node-name=nvm,filename=$MACHINE_NVME_IMG
-device nvme,serial=hmm,drive=nvm,cmb_size_mb=$MACHINE_NVME_CMB_MIB
"
MACHINE_KERNEL_PARAMS="$MACHINE_KERNEL_PARAMS
nvme.use_cmb_sqes=1
"

# --- the test driver. Devices 0 and 1 are device-private (their memory
# is free physical address space test_hmm finds itself); devices 2 and 3
# are device-coherent, each on 256 MiB (the driver's chunk size) of the
# reserved range, given by spm_addr_dev0 and spm_addr_dev1.
MACHINE_TEST_HMM="spm_addr_dev0=$MACHINE_SPM_ADDR spm_addr_dev1=$(
	printf 0x%x $((MACHINE_SPM_ADDR + (256 << 20))))"
# what the guest checks for once test_hmm is loaded (HMM-CHECK coherent_devices)
MACHINE_COHERENT_DEVICES="
/dev/hmm_dmirror2
/dev/hmm_dmirror3
"

# --- kernel splats: a kernel message matching one of these fails the run
# (vm/verdict.py; vm/boot.sh also shows them while the guest runs). One
# extended regular expression per line, within what both awk and Python's
# re read alike: literal text, '.', '[...]', '*', '+', '?'.
MACHINE_SPLATS='
BUG:
WARNING:
Oops
Call Trace:
kernel BUG at
KASAN
possible circular locking
possible recursive locking
inconsistent lock state
suspicious RCU usage
DEBUG_LOCKS_WARN_ON
INFO: lockdep
Kernel panic
general protection fault
unable to handle page fault
lock held when returning to user space
hung_task
blocked for more than
soft lockup
'

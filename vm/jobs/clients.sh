# The clients suite, run by the test job with test_hmm loaded: the kernel's
# own users of memremap_pages() and hmm_range_fault() (pmem in fsdax mode
# with the memmap in RAM and in the device, device-dax at 2 MiB and 1 GiB,
# kmem, an NVMe controller memory buffer as p2pdma memory), set up with
# their ordinary tools (ndctl, daxctl, mke2fs) on the machine's NVDIMM and
# NVMe controller (vm/machine.sh). vm/clients/hmm-clients moves the data
# and checks every byte, and mirrors DAX mappings into test_hmm.
#
# Each case prints `HMM-CLIENT ok|fail NAME TIME DATA` (DATA: the bytes
# hmm-clients verified), live and again in a clean copy between
# HMM-CLIENTS-BEGIN <planned cases> and HMM-CLIENTS-END for the verdict.
# A case is a function run in a subshell with set -e: any step that fails
# fails it. Later cases build on earlier ones (the namespaces, the files).
. /jobs/common.sh

# Debian's ndctl, daxctl and mke2fs (vm/mkinitramfs.sh); busybox's sh
# would run its own mke2fs applet whatever PATH says
PATH=/usr/local/bin:$PATH
MKE2FS=/usr/local/bin/mke2fs
HC=/bin/hmm-clients
OUT=/tmp/clients.out
MNT=/mnt/pmem
REGION=region0
: >"$OUT"

# --- helpers -----------------------------------------------------------

# say WHAT...: a line for people reading the console
say() { echo "clients: $*"; }

# want WHAT GOT EXPECTED: fail the case unless GOT = EXPECTED
want() {
	[ "$2" = "$3" ] && return 0
	say "$1: got '$2', want '$3'"
	return 1
}

# refused CMD...: CMD must fail
refused() {
	if "$@"; then
		say "not refused: $*"
		return 1
	fi
	say "refused, as it must be: $*"
}

# centiseconds since boot
now_cs() { awk '{ printf "%d\n", $1 * 100 }' /proc/uptime; }

# free memory in KiB once the page cache is dropped: MemFree plus the
# pages parked on the per-cpu free lists (the "count:" lines of
# /proc/zoneinfo), which MemFree does not count and which would otherwise
# make it wander by a few MiB. (drop_caches 4: without saying so on the
# console every time) Every slab cache is shrunk first (slab_shrink in
# jobs/common.sh): under KASAN that also empties the quarantine, where
# freed objects would otherwise hold tens of MiB.
echo 4 >/proc/sys/vm/drop_caches
memfree() {
	sync
	echo 3 >/proc/sys/vm/drop_caches
	slab_shrink
	{ cat /proc/meminfo; cat /proc/zoneinfo; } | awk '
		/^MemFree:/ { kib += $2 }
		$1 == "count:" { kib += $2 * 4 }
		END { print kib }'
}
memtotal() { awk '/^MemTotal:/ { print $2 }' /proc/meminfo; }

# snap NAME: remember /proc/iomem and MemFree as NAME
snap() {
	cp /proc/iomem "/tmp/iomem.$1"
	memfree >"/tmp/memfree.$1"
}

# back_to NAME: /proc/iomem as it was at snap NAME, free memory (memfree)
# within 2 MiB: slab and page tables move a little; the cases that check
# for a leaked memmap repeat the teardown so that one would be larger.
# Under KASAN 8 MiB: its stack depot keeps every new call stack it saw
# for good (2.8 MiB over fsdax_mem_remount's remounts); kmemleak checks
# the slab there.
MEMFREE_SLACK_KIB=2048
grep -q ' kasan_report$' /proc/kallsyms && MEMFREE_SLACK_KIB=8192
back_to() {
	if ! cmp -s /proc/iomem "/tmp/iomem.$1"; then
		say "/proc/iomem differs from its state at '$1':"
		diff "/tmp/iomem.$1" /proc/iomem || true
		return 1
	fi
	was=$(cat "/tmp/memfree.$1")
	is=$(memfree)
	say "MemFree ${was} KiB at '$1', now ${is} KiB"
	[ $((was - is)) -lt $MEMFREE_SLACK_KIB ] ||
		{ say "MemFree did not come back"; return 1; }
}

# memmap_cost NAME: KiB of MemFree gone since snap NAME
memmap_cost() { echo $(($(cat "/tmp/memfree.$1") - $(memfree))); }

# json_field FIELD: the first "FIELD":"value" of ndctl's JSON on stdin
json_field() { sed -n "s/.*\"$1\":\"\{0,1\}\([^\",]*\)\"\{0,1\}.*/\1/p" | head -n 1; }

# ns_create NAME ARGS...: create a namespace on $REGION, keep ndctl's JSON
# in /tmp/ns.NAME and its device names in /tmp/ns.NAME.{dev,blk,chr}
ns_create() {
	name=$1
	shift
	ndctl create-namespace -r "$REGION" "$@" >"/tmp/ns.$name"
	cat "/tmp/ns.$name"
	json_field dev <"/tmp/ns.$name" >"/tmp/ns.$name.dev"
	json_field blockdev <"/tmp/ns.$name" >"/tmp/ns.$name.blk"
	json_field chardev <"/tmp/ns.$name" >"/tmp/ns.$name.chr"
	[ -s "/tmp/ns.$name.dev" ]
}
ns() { cat "/tmp/ns.$1.$2"; }

# ns_enabled NAMESPACE: is it enabled? (ndctl lists only enabled ones; a
# namespace in fsdax or devdax mode is claimed by its pfn or dax device,
# which is what is bound to a driver)
ns_enabled() { ndctl list -n "$1" | grep -q "\"dev\":\"$1\""; }

# not CMD...: CMD must be false (`!` would not stop a case under set -e)
not() {
	if "$@"; then
		say "unexpectedly true: $*"
		return 1
	fi
}

# --- pmem: fsdax with the memmap in RAM (mem) and in the device (dev) --

pmem_region() {
	ndctl list -R
	[ -d "/sys/bus/nd/devices/$REGION" ]
	# A fresh label area: start with empty, valid labels.
	ndctl disable-region "$REGION"
	ndctl init-labels -f all
	ndctl enable-region "$REGION"
	snap start
	size=$(cat "/sys/bus/nd/devices/$REGION/size")
	say "$REGION: $size bytes of persistent memory"
	[ "$size" -ge $((2944 << 20)) ]
}

# fsdax_namespace MAP: a 256 MiB fsdax namespace; with --map=mem its
# memmap (4 MiB for 256 MiB) comes out of RAM, with --map=dev out of the
# namespace itself (the altmap)
fsdax_namespace() {
	snap "before-$1"
	ns_create "fsdax-$1" -m fsdax -M "$1" -s 256M -a 2M
	grep -q "\"map\":\"$1\"" "/tmp/ns.fsdax-$1"
	blk=$(ns "fsdax-$1" blk)
	[ -b "/dev/$blk" ]
	grep -q "$(ns "fsdax-$1" dev)" /proc/iomem
	cost=$(memmap_cost "before-$1")
	say "fsdax --map=$1: /dev/$blk, memmap cost $cost KiB of RAM"
	case $1 in
	mem) [ "$cost" -ge 3072 ] ;;
	dev) [ "$cost" -lt 1024 ] ;;
	esac
}

fsdax_mount() {
	mkdir -p "$MNT"
	mount -o dax "/dev/$(ns "fsdax-$1" blk)" "$MNT"
	grep " $MNT " /proc/mounts
	grep " $MNT " /proc/mounts | grep -q dax
}

# The files of one fsdax file system and the patterns they hold.
fsdax_files() {
	$MKE2FS -q -F -t ext4 -b 4096 -E stride=512,stripe_width=512 \
		"/dev/$(ns "fsdax-$1" blk)"
	fsdax_mount "$1"
	$HC fill "$MNT/rw" rw 8M 1
	$HC fill "$MNT/direct" direct 8M 2
	$HC fill "$MNT/mmap" mmap 8M 3
	# 4 KiB PTEs: a file smaller than a PMD; 2 MiB PMDs: a preallocated,
	# 2 MiB aligned file
	$HC fill "$MNT/pte" rw 256K 4
	fallocate -l 4M "$MNT/pmd"
	$HC fill "$MNT/pmd" mmap 4M 5
	# the O_DIRECT buffer, 2 MiB mapped as well
	fallocate -l 4M "$MNT/dio"
	$HC fill "$MNT/dio" mmap 4M 8
}

fsdax_hmm() {
	$HC mirror "$MNT/pte" 256K pte 4
	$HC mirror "$MNT/pmd" 4M pmd 5
}

fsdax_dio() {
	$HC dio "$MNT/dio" "/dev/$NVME_BLK" 4M 8
}

# Teardown under use: a process maps a file. The file system cannot be
# unmounted and ndctl will not disable the namespace under it; truncating
# a file whose page a pipe references waits for the reference.
fsdax_busy() {
	# (its output in a file, its pid where client() finds it if the
	# case fails before it is stopped)
	$HC hold "$MNT/mmap" 8M 3 >/tmp/holder.log 2>&1 &
	holder=$!
	echo "$holder" >/tmp/client.bg
	sleep 1
	refused umount "$MNT"
	refused ndctl disable-namespace "$(ns "fsdax-$1" dev)"
	ns_enabled "$(ns "fsdax-$1" dev)"
	$HC truncate-wait "$MNT/spliced"
	kill "$holder"
	wait "$holder"
	cat /tmp/holder.log
}

# Unmount, take the namespace (and its pgmap) down, bring it back: every
# file holds what it held, the device's writes included.
fsdax_remount() {
	ns=$(ns "fsdax-$1" dev)
	umount "$MNT"
	# three times: a memmap (4 MiB, --map=mem) leaked per cycle would
	# show in back_to below
	for i in 1 2 3; do
		ndctl disable-namespace "$ns"
		not ns_enabled "$ns"
		not grep -q "$ns" /proc/iomem
		ndctl enable-namespace "$ns"
		ns_enabled "$ns"
	done
	fsdax_mount "$1"
	$HC check "$MNT/rw" 8M 1
	$HC check "$MNT/direct" 8M 2
	$HC check "$MNT/mmap" 8M 3
	$HC check "$MNT/pte" 256K 5
	$HC check "$MNT/pmd" 4M 6
	$HC check "$MNT/dio" 4M 8
	umount "$MNT"
	ndctl destroy-namespace -f "$ns"
	back_to "before-$1"
}

# --- device-dax ----------------------------------------------------------

DAX_SYS=/sys/bus/dax/devices

# devdax_namespace NAME SIZE ALIGN: the device and its alignment
devdax_namespace() {
	snap "before-$1"
	ns_create "$1" -m devdax -s "$2" -a "$3"
	dax=$(ns "$1" chr)
	[ -c "/dev/$dax" ]
	want "$dax align" "$(cat "$DAX_SYS/$dax/align")" "$(($(echo "$3" |
		sed 's/M$/ << 20/; s/G$/ << 30/')))"
	say "$dax: $(cat "$DAX_SYS/$dax/size") bytes, aligned to $3"
}

devdax_2m() {
	devdax_namespace devdax-2m 256M 2M
	$HC fill "/dev/$(ns devdax-2m chr)" mmap 64M 7
	$HC mirror "/dev/$(ns devdax-2m chr)" 64M pmd 7
}

devdax_1g() {
	devdax_namespace devdax-1g 2G 1G
	$HC fill "/dev/$(ns devdax-1g chr)" mmap 1G 9
	$HC mirror "/dev/$(ns devdax-1g chr)" 1G pud 9
	ndctl destroy-namespace -f "$(ns devdax-1g dev)"
	back_to before-devdax-1g
}

# Teardown under use: unbind device_dax while the device is mapped and
# mirrored (hmm-clients revoke).
devdax_revoke() {
	$HC revoke "/dev/$(ns devdax-2m chr)" 64M 11
	ndctl destroy-namespace -f "$(ns devdax-2m dev)"
	back_to before-devdax-2m
}

# Taking the memory offline again runs KSM's memory notifier under the
# memory hotplug locks: with test_hmm adding device memory under an mmap
# lock that closed a lockdep cycle (ksm_thread_mutex, mmap_lock,
# mem_hotplug_lock), which test_hmm no longer does.
# The device's memory goes to the page allocator (kmem) and comes back:
# device_dax's pgmap is torn down, the memory is System RAM, then a new
# pgmap maps it again.
devdax_kmem() {
	devdax_namespace devdax-kmem 256M 2M
	dax=$(ns devdax-kmem chr)
	total=$(memtotal)
	cp /proc/iomem /tmp/iomem.devdax
	# twice: the hot-added memory's memmap (2 MiB per 128 MiB block),
	# leaked per round trip, would show in back_to below
	for i in 1 2; do
		daxctl reconfigure-device --mode=system-ram "$dax"
		grep -q "System RAM (kmem)" /proc/iomem
		added=$(($(memtotal) - total))
		say "$dax as System RAM: MemTotal +$added KiB"
		[ "$added" -ge $((128 << 10)) ]
		daxctl reconfigure-device --mode=devdax -f "$dax"
		want "MemTotal after kmem" "$(memtotal)" "$total"
		cmp /proc/iomem /tmp/iomem.devdax
	done
	$HC fill "/dev/$dax" mmap 64M 13
	ndctl destroy-namespace -f "$(ns devdax-kmem dev)"
	back_to before-devdax-kmem
}

# --- NVMe controller memory buffer as p2pdma memory ----------------------

nvme_find() {
	NVME_BLK=nvme0n1
	NVME_PCI=$(basename "$(readlink -f /sys/class/nvme/nvme0/device)")
	NVME_P2P=/sys/bus/pci/devices/$NVME_PCI/p2pmem
}

nvme_cmb() {
	[ -b "/dev/$NVME_BLK" ]
	want "nvme.use_cmb_sqes" "$(cat /sys/module/nvme/parameters/use_cmb_sqes)" Y
	want "p2pmem size" "$(cat "$NVME_P2P/size")" $((MACHINE_NVME_CMB_MIB << 20))
	avail=$(cat "$NVME_P2P/available")
	say "$NVME_PCI: p2pmem $(cat "$NVME_P2P/size") bytes, $avail available," \
		"published $(cat "$NVME_P2P/published")"
	# the I/O submission queues live in the buffer
	[ "$avail" -lt "$(cat "$NVME_P2P/size")" ]
	echo "$avail" >/tmp/p2p.avail
	$HC fill "/dev/$NVME_BLK" direct 16M 21
	nvme_irqs_sane
}

# nvme_irqs_sane: the controller's queues interrupt through MSI-X, one
# vector each, and none of its vectors had a storm of interrupts nobody
# handled. Over the shared level-triggered INTx line (no CONFIG_PCI_MSI)
# QEMU's controller kept the line up after the driver had reaped or
# suspended a queue: 80,000 unhandled interrupts in one I/O and unbind
# cycle, and now and then past the kernel's limit (99,900 of 100,000),
# which reports "irq 11: nobody cared" and disables the line.
nvme_irqs_sane() {
	irqs=$(awk '/nvme0q/ { sub(":", "", $1); print $1 }' /proc/interrupts)
	[ -n "$irqs" ]
	for irq in $irqs; do
		line=$(grep "^ *$irq:" /proc/interrupts)
		case "$line" in
		*PCI-MSI*) ;;
		*) say "irq $irq is not an MSI: $line"; return 1 ;;
		esac
		unhandled=$(awk '$1 == "unhandled" { print $2 }' "/proc/irq/$irq/spurious")
		if [ "$unhandled" -gt 100 ]; then
			say "irq $irq: $unhandled interrupts nobody handled"
			return 1
		fi
	done
	say "$NVME_PCI: queues on MSI-X vectors $(echo $irqs | tr ' ' ,)"
}

nvme_unbind() {
	echo "$NVME_PCI" >/sys/bus/pci/drivers/nvme/unbind
	[ ! -e "$NVME_P2P" ]
	[ ! -e "/dev/$NVME_BLK" ]
}

nvme_bind() {
	echo "$NVME_PCI" >/sys/bus/pci/drivers/nvme/bind
	i=0
	while [ ! -b "/dev/$NVME_BLK" ] && [ $i -lt 200 ]; do
		sleep 0.1
		i=$((i + 1))
	done
	[ -b "/dev/$NVME_BLK" ]
	want "p2pmem available after the rebind" "$(cat "$NVME_P2P/available")" \
		"$(cat /tmp/p2p.avail)"
}

# Unbind and rebind, three times: the pgmap goes and comes back, the data
# stays. (A memmap lost per cycle, 1 MiB for 64 MiB, adds up past the
# noise of MemFree.)
nvme_rebind() {
	snap nvme
	for i in 1 2 3; do
		nvme_unbind
		nvme_bind
	done
	back_to nvme
	$HC check "/dev/$NVME_BLK" 16M 21
	$HC fill "/dev/$NVME_BLK" direct 16M 22
	nvme_irqs_sane
}

# Teardown under use: unbind while I/O runs through the queues in the
# buffer; the I/O fails, nothing of the buffer is lost.
nvme_io_unbind() {
	snap nvme-io
	$HC io-loop "/dev/$NVME_BLK" 1M 23 &
	loop=$!
	sleep 2
	nvme_unbind
	wait "$loop"
	nvme_bind
	back_to nvme-io
	$HC fill "/dev/$NVME_BLK" direct 16M 24
	nvme_irqs_sane
}

# --- the suite -----------------------------------------------------------

# client NAME FUNCTION [ARG...]: one case of the suite
client() {
	name=$1
	shift
	say "--- $name"
	t0=$(now_cs)
	( (set -e; "$@"); echo $? >/tmp/client.rc) 2>&1 | tee /tmp/client.log
	rc=$(cat /tmp/client.rc)
	# a process a failed case left behind
	if [ -f /tmp/client.bg ]; then
		kill "$(cat /tmp/client.bg)" 2>/dev/null || true
		rm /tmp/client.bg
	fi
	t=$(($(now_cs) - t0))
	bytes=$(sed -n 's/.*verified \([0-9]*\) bytes.*/\1/p' /tmp/client.log |
		awk '{ s += $1 } END { printf "%.0f", s }')
	res=ok
	[ "$rc" = 0 ] || res=fail
	mib10=$((bytes * 10 >> 20))
	echo "HMM-CLIENT $res $name $((t / 100)).$((t / 10 % 10)) s, $((mib10 / 10)).$((mib10 % 10)) MiB verified" |
		tee -a "$OUT"
}

# NAME FUNCTION [ARG...], in order: later cases use what earlier ones made
CASES="
pmem_region pmem_region
fsdax_mem_namespace fsdax_namespace mem
fsdax_mem_files fsdax_files mem
fsdax_mem_hmm fsdax_hmm
fsdax_mem_dio fsdax_dio
fsdax_mem_busy_teardown fsdax_busy mem
fsdax_mem_remount fsdax_remount mem
fsdax_dev_namespace fsdax_namespace dev
fsdax_dev_files fsdax_files dev
fsdax_dev_hmm fsdax_hmm
fsdax_dev_dio fsdax_dio
fsdax_dev_busy_teardown fsdax_busy dev
fsdax_dev_remount fsdax_remount dev
devdax_2m devdax_2m
devdax_1g_pud devdax_1g
devdax_revoke_mapped devdax_revoke
devdax_kmem devdax_kmem
pmem_back_to_start back_to start
nvme_cmb_p2pmem nvme_cmb
nvme_rebind nvme_rebind
nvme_unbind_under_io nvme_io_unbind
"

nvme_find
t_start=$(now_cs)
echo "$CASES" | grep . >/tmp/clients.cases
while read -r name fn args; do
	# shellcheck disable=SC2086 # ARGS are words
	client "$name" "$fn" $args </dev/null
done </tmp/clients.cases
t=$(($(now_cs) - t_start))
say "the clients suite took $((t / 100)).$((t / 10 % 10)) s"

echo "HMM-CLIENTS-BEGIN $(grep -c . /tmp/clients.cases)"
cat "$OUT"
echo "HMM-CLIENTS-END"

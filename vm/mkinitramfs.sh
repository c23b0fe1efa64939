#!/usr/bin/env bash
# Build build/initramfs.cpio.gz: busybox, the kernel's modules, the test
# programs, the clients suite's tools, the guest jobs and the machine's
# description (/machine.sh).
# Another kernel's initramfs (make bench) names its own pieces:
#   HMM_MODROOT   installed modules (default build/modroot)
#   HMM_PROGS     directory of guest programs (default build/progs)
#   HMM_INITRD    the archive to write (default build/initramfs.cpio.gz)
. "$(dirname "$0")/../scripts/common.sh"
take_lock

MODROOT=${HMM_MODROOT:-$BUILD/modroot}
PROGS=${HMM_PROGS:-$BUILD/progs}
INITRD=${HMM_INITRD:-$BUILD/initramfs.cpio.gz}
ROOT=${INITRD%.cpio.gz}
rm -rf "$ROOT"
mkdir -p "$ROOT"/{bin,sbin,lib,jobs,proc,sys,dev,tmp,mnt}
cp /bin/busybox "$ROOT/bin/busybox"
cp "$TOP/vm/init" "$ROOT/init"
cp "$TOP/vm/machine.sh" "$ROOT/machine.sh"
cp "$TOP"/vm/jobs/*.sh "$ROOT/jobs/"
cp -a "$MODROOT/lib/modules" "$ROOT/lib/"
cp "$PROGS"/* "$ROOT/bin/"
chmod +x "$ROOT/init"

# The clients suite's tools (vm/jobs/clients.sh), Debian's binaries as
# scripts/base.sh installs them, with the shared libraries they load; in
# /usr/local/bin, where busybox's applets of the same name do not go.
mkdir -p "$ROOT/etc" "$ROOT/usr/local/bin"
cp /etc/mke2fs.conf "$ROOT/etc/"
for tool in /usr/bin/ndctl /usr/bin/daxctl /sbin/mke2fs; do
	cp "$tool" "$ROOT/usr/local/bin/"
	ldd "$tool" | awk '$2 == "=>" && $3 ~ /^\// { print $3 } $1 ~ /^\// { print $1 }'
done | sort -u | while read -r lib; do
	mkdir -p "$ROOT$(dirname "$lib")"
	cp -L "$lib" "$ROOT$lib"
done
(cd "$ROOT" && find . | cpio -o -H newc --quiet) | gzip -1 >"$INITRD"
say "initramfs: $INITRD, $(du -h "$INITRD" | cut -f1)"

#!/usr/bin/env bash
# Build build/initramfs.cpio.gz: busybox, the kernel's modules, the test
# programs and the guest jobs.
. "$(dirname "$0")/../scripts/common.sh"
take_lock

ROOT=$BUILD/initramfs
rm -rf "$ROOT"
mkdir -p "$ROOT"/{bin,sbin,lib,jobs,proc,sys,dev,tmp,mnt}
cp /bin/busybox "$ROOT/bin/busybox"
cp "$TOP/vm/init" "$ROOT/init"
cp "$TOP"/vm/jobs/*.sh "$ROOT/jobs/"
cp -a "$BUILD/modroot/lib/modules" "$ROOT/lib/"
cp "$BUILD"/progs/* "$ROOT/bin/"
chmod +x "$ROOT/init"
(cd "$ROOT" && find . | cpio -o -H newc --quiet) | gzip -1 >"$BUILD/initramfs.cpio.gz"
say "initramfs: $(du -h "$BUILD/initramfs.cpio.gz" | cut -f1)"

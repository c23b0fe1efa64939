#!/usr/bin/env bash
# Install what the project needs (only what is missing) and extract the
# pristine base tree once. `make bench` and `make compat` install their
# own extra packages (gnuplot, cross compilers) in their steps.
. "$(dirname "$0")/common.sh"
take_lock

need_packages linux-source-6.1 build-essential bc flex bison libelf-dev \
	libssl-dev cpio kmod rsync busybox-static qemu-system-x86 sparse python3 \
	python3-docutils
# what the guest's clients suite runs (vm/jobs/clients.sh, vm/mkinitramfs.sh)
need_packages ndctl daxctl e2fsprogs

if [ ! -f "$BASE/.extracted" ]; then
	[ -f "$TARBALL" ] || die "no $TARBALL"
	say "extracting $(basename "$TARBALL") into $BASE"
	rm -rf "$BASE" "$BASE.tmp"
	mkdir -p "$BASE.tmp"
	tar -C "$BASE.tmp" --strip-components=1 -xf "$TARBALL"
	mv "$BASE.tmp" "$BASE"
	touch "$BASE/.extracted"
fi
echo "base: Linux $(base_version "$BASE") ($BASE)"

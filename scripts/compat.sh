#!/usr/bin/env bash
# make compat: build every in-tree caller of the HMM core against the
# assembled tree (our headers and code), with their options on, in a
# separate defconfig-based build (build/compat). Not part of `make test`.
. "$(dirname "$0")/common.sh"
take_lock

COBJ=$BUILD/compat
FRAG=$TOP/configs/compat.config
mkdir -p "$COBJ"
if ! cmp -s "$FRAG" "$COBJ/.hmm-fragment"; then
	say "configuring $COBJ (x86_64_defconfig + configs/compat.config)"
	make -s -C "$SRC" O="$COBJ" ARCH=x86_64 x86_64_defconfig >/dev/null
	"$SRC/scripts/kconfig/merge_config.sh" -m -O "$COBJ" "$COBJ/.config" "$FRAG" >/dev/null
	make -s -C "$SRC" O="$COBJ" ARCH=x86_64 olddefconfig >/dev/null 2>&1
	bad=0
	while IFS= read -r line; do
		case "$line" in CONFIG_*=*) ;; *) continue ;; esac
		grep -qx "$line" "$COBJ/.config" || { echo "compat config: '$line' was dropped" >&2; bad=1; }
	done <"$FRAG"
	[ $bad = 0 ] || die "Kconfig dropped requested compat options"
	cp "$FRAG" "$COBJ/.hmm-fragment"
fi

# Callers, by the API they use (a target may serve several).
targets=(
	# mmu notifiers and interval notifiers
	arch/x86/kvm/
	drivers/gpu/drm/i915/gem/i915_gem_userptr.o
	drivers/gpu/drm/radeon/radeon_mn.o
	drivers/gpu/drm/amd/amdgpu/amdgpu_mn.o
	drivers/infiniband/core/umem_odp.o
	drivers/infiniband/hw/hfi1/user_exp_rcv.o
	drivers/xen/gntdev.o
	drivers/iommu/intel/svm.o
	drivers/iommu/amd/iommu_v2.o
	# hmm_range_fault
	drivers/gpu/drm/nouveau/nouveau_svm.o
	drivers/gpu/drm/amd/amdkfd/kfd_svm.o
	# dev_pagemap and ZONE_DEVICE
	drivers/gpu/drm/nouveau/nouveau_dmem.o
	drivers/gpu/drm/amd/amdkfd/kfd_migrate.o
	drivers/pci/p2pdma.o
	drivers/dax/device.o
	drivers/nvdimm/pmem.o
	fs/fuse/virtio_fs.o
	drivers/xen/unpopulated-alloc.o
	# the core itself and the test driver, in this config too
	mm/mmu_notifier.o mm/memremap.o mm/hmm.o lib/test_hmm.o
)
say "building ${#targets[@]} caller targets in $COBJ"
make -s -C "$SRC" O="$COBJ" ARCH=x86_64 -j"$JOBS" prepare
fail=0
for t in "${targets[@]}"; do
	if make -s -C "$SRC" O="$COBJ" ARCH=x86_64 -j"$JOBS" "$t" >"$COBJ/target.log" 2>&1 &&
	   ! grep -q 'warning:' "$COBJ/target.log"; then
		printf '  ok    %s\n' "$t"
	else
		printf '  FAIL  %s\n' "$t"
		sed 's/^/        /' "$COBJ/target.log" | tail -20
		fail=1
	fi
done
[ $fail = 0 ] && echo "compat: all callers build" || { echo "compat: FAILED" >&2; exit 1; }

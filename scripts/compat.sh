#!/usr/bin/env bash
# make compat: build every in-tree caller of the HMM core against the
# assembled tree (our headers and code), with their options on, for x86_64,
# arm64, ppc64le and riscv64:
#   scripts/compat.sh            every arch in HMM_COMPAT_ARCHES (all four)
#   scripts/compat.sh ARCH       one arch
# Each arch has a defconfig-based build in build/compat/ARCH configured by
# scripts/kconfig.sh from its defconfig and configs/compat-ARCH.config.
# Only `prepare` and the listed objects are built. Our own objects are
# compiled with -Werror -Wvla; a caller fails when it does not build or
# when one of its warnings involves our headers. Not part of `make test`.
. "$(dirname "$0")/common.sh"
take_lock

read -ra ARCHES <<<"${HMM_COMPAT_ARCHES:-x86_64 arm64 ppc64le riscv64}"

if [ $# = 0 ]; then
	pkgs=()
	for a in "${ARCHES[@]}"; do
		info=$(arch_info "$a")
		read -r _ _ _ pkg <<<"$info"
		[ "$pkg" = - ] || pkgs+=("$pkg")
	done
	need_packages "${pkgs[@]}"
	fail=0 summary=()
	for a in "${ARCHES[@]}"; do
		t0=$(date +%s) res=ok
		"$0" "$a" || { res=FAIL; fail=1; }
		summary+=("$(printf '  %-8s %-4s  %4d s' "$a" $res $(($(date +%s) - t0)))")
	done
	echo "compat:"
	printf '%s\n' "${summary[@]}"
	[ $fail = 0 ] || { echo "compat: FAILED" >&2; exit 1; }
	echo "compat: all callers build"
	exit 0
fi

arch=$1
info=$(arch_info "$arch")
read -r _ defconfig _ <<<"$info"
COBJ=$BUILD/compat/$arch
echo "== $arch ($defconfig + configs/compat-$arch.config, build/compat/$arch)"
"$TOP/scripts/kconfig.sh" "$SRC" "$COBJ" "$arch" "$defconfig" "$TOP/configs/compat-$arch.config"
kmake_for "$SRC" "$COBJ" "$arch"
KMAKE+=(-s)
# -Werror -Wvla on our objects only: the kernel's own warnings elsewhere
# are not ours to fix. Passed on every make call, so a command line never
# changes between runs and nothing is rebuilt for it.
for o in mmu_notifier hmm memremap test_hmm mmu_notifier_kunit hmm_kunit memremap_kunit; do
	KMAKE+=("CFLAGS_$o.o=-Werror -Wvla")
done
mkdir -p "$COBJ/logs"

# Callers, by the API they use (a target may serve several). amdkfd is
# built from amdgpu's Makefile, hence its paths.
ours=(mm/mmu_notifier.o mm/hmm.o mm/mmu_notifier_kunit.o mm/hmm_kunit.o)
ours_dev=(mm/memremap.o lib/test_hmm.o mm/memremap_kunit.o)
notifier_users=(
	drivers/gpu/drm/radeon/radeon_mn.o
	drivers/gpu/drm/amd/amdgpu/amdgpu_mn.o
	drivers/infiniband/core/umem_odp.o
)
# hmm_range_fault with device-private memory, and other dev_pagemap users
device_users=(
	drivers/gpu/drm/nouveau/nouveau_svm.o
	drivers/gpu/drm/amd/amdgpu/../amdkfd/kfd_svm.o
	drivers/gpu/drm/nouveau/nouveau_dmem.o
	drivers/gpu/drm/amd/amdgpu/../amdkfd/kfd_migrate.o
	drivers/pci/p2pdma.o
	drivers/dax/device.o
	drivers/nvdimm/pmem.o
	fs/fuse/virtio_fs.o
)
case $arch in
x86_64)
	targets=(arch/x86/kvm/ drivers/gpu/drm/i915/gem/i915_gem_userptr.o
		 "${notifier_users[@]}" drivers/infiniband/hw/hfi1/user_exp_rcv.o
		 drivers/xen/gntdev.o drivers/iommu/intel/svm.o drivers/iommu/amd/iommu_v2.o
		 "${device_users[@]}" drivers/xen/unpopulated-alloc.o
		 "${ours[@]}" "${ours_dev[@]}") ;;
arm64)
	targets=(arch/arm64/kvm/ "${notifier_users[@]}" drivers/xen/gntdev.o
		 drivers/iommu/arm/arm-smmu-v3/arm-smmu-v3-sva.o
		 "${device_users[@]}" drivers/xen/unpopulated-alloc.o
		 "${ours[@]}" "${ours_dev[@]}") ;;
ppc64le)
	# book3s_hv_uvmem.o (PPC_UV) is KVM's device-private memory
	targets=(arch/powerpc/kvm/ "${notifier_users[@]}" drivers/misc/ocxl/link.o
		 "${device_users[@]}" "${ours[@]}" "${ours_dev[@]}") ;;
riscv64)
	# no ZONE_DEVICE: pmem and device-dax build against memremap.h's stubs
	targets=(arch/riscv/kvm/ "${notifier_users[@]}" drivers/dax/device.o
		 drivers/nvdimm/pmem.o "${ours[@]}") ;;
esac

t0=$(date +%s)
"${KMAKE[@]}" prepare >"$COBJ/logs/prepare.log" 2>&1 ||
	{ cat "$COBJ/logs/prepare.log"; die "$arch: make prepare failed"; }
fail=0
for t in "${targets[@]}"; do
	log=$COBJ/logs/$(echo "$t" | tr '/.' '__').log note=
	if ! "${KMAKE[@]}" "$t" >"$log" 2>&1 ||
	   grep -qE 'include/linux/(mmu_notifier|hmm|memremap)\.h' "$log"; then
		printf '  FAIL  %s\n' "$t"
		sed 's/^/        /' "$log" | head -40
		fail=1
		continue
	fi
	grep -q 'warning:' "$log" && note="  (warnings, none involving our headers: ${log#"$TOP"/})"
	printf '  ok    %s%s\n' "$t" "$note"
done
echo "== $arch: $([ $fail = 0 ] && echo ok || echo FAILED), $(($(date +%s) - t0)) s"
exit $fail

#!/usr/bin/env bash
# Configure and build one x86_64 guest kernel out of tree:
#   scripts/kernel.sh                               the test kernel
#   scripts/kernel.sh SRCDIR OBJDIR MODROOT FRAGMENT... another (make bench,
#                                                   make fuzz's KCSAN kernel)
# The test kernel is our tree (build/src) in build/obj with its modules in
# build/modroot, configured from configs/hmm.config and
# configs/sanitizers.config. The config is
# tinyconfig plus the fragments (scripts/kconfig.sh); then bzImage and the
# modules are built in OBJDIR and the modules installed into MODROOT.
. "$(dirname "$0")/common.sh"
take_lock

[ $# -gt 0 ] || set -- "$SRC" "$OBJ" "$BUILD/modroot" "$TOP/configs/hmm.config" \
	"$TOP/configs/sanitizers.config"
[ $# -ge 4 ] || die "usage: kernel.sh [SRCDIR OBJDIR MODROOT FRAGMENT...]"
ksrc=$1 kobj=$2 modroot=$3
shift 3

"$TOP/scripts/kconfig.sh" "$ksrc" "$kobj" x86_64 tinyconfig "$@"
kmake_for "$ksrc" "$kobj"
say "building bzImage and modules in $kobj ($JOBS jobs)"
"${KMAKE[@]}" -s bzImage modules
rm -rf "$modroot"
"${KMAKE[@]}" -s INSTALL_MOD_PATH="$modroot" INSTALL_MOD_STRIP=1 modules_install >/dev/null
say "kernel: $kobj/arch/x86/boot/bzImage"

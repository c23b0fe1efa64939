#!/usr/bin/env bash
# Configure and build one kernel out of tree:
#   scripts/kbuild.sh SRCDIR OBJDIR MODROOT FRAGMENT...
# The config is `make tinyconfig` plus the fragments, in order (a later
# fragment overrides an earlier one). After olddefconfig every requested
# line is checked against the result, the last request for a symbol
# winning; an option Kconfig dropped or changed is an error. Then bzImage
# and modules are built in OBJDIR and the modules installed into MODROOT.
# Used by kernel.sh (our tree, build/obj) and bench.sh (both bench kernels).
. "$(dirname "$0")/common.sh"
take_lock

[ $# -ge 4 ] || die "usage: kbuild.sh SRCDIR OBJDIR MODROOT FRAGMENT..."
ksrc=$1 kobj=$2 modroot=$3
shift 3
frags=("$@")
cfg=$kobj.cfg
kmake=(make -C "$ksrc" O="$kobj" ARCH=x86_64 -j"$JOBS")

build() {
	say "building bzImage and modules in $kobj ($JOBS jobs)"
	"${kmake[@]}" -s bzImage modules
	rm -rf "$modroot"
	"${kmake[@]}" -s INSTALL_MOD_PATH="$modroot" INSTALL_MOD_STRIP=1 modules_install >/dev/null
	say "kernel: $kobj/arch/x86/boot/bzImage"
}

# The config depends only on the fragments and on the tree's Kconfig files
# (which only the base and patches/ change); skip the generation when none
# of them did.
stamp=$(config_stamp "$ksrc" "${frags[@]}")
if [ -f "$kobj/.config" ] && [ "$(cat "$kobj/.hmm-config-stamp" 2>/dev/null)" = "$stamp" ]; then
	build
	exit 0
fi

# Generate the config in a scratch directory and only replace the real one
# when it differs, so an unchanged config never triggers a rebuild.
rm -rf "$cfg"
mkdir -p "$cfg" "$kobj"
make -s -C "$ksrc" O="$cfg" ARCH=x86_64 tinyconfig >"$cfg/tinyconfig.log" 2>&1 ||
	{ cat "$cfg/tinyconfig.log"; die "tinyconfig failed"; }
"$ksrc/scripts/kconfig/merge_config.sh" -m -O "$cfg" "$cfg/.config" "${frags[@]}" >"$cfg/merge.log" 2>&1
make -s -C "$ksrc" O="$cfg" ARCH=x86_64 olddefconfig >"$cfg/olddefconfig.log" 2>&1 ||
	{ cat "$cfg/olddefconfig.log"; die "olddefconfig failed"; }

check_config "$cfg/.config" "${frags[@]}" ||
	die "Kconfig dropped or changed requested options (see above)"

if ! cmp -s "$cfg/.config" "$kobj/.config"; then
	say "kernel config changed ($kobj)"
	cp "$cfg/.config" "$kobj/.config"
fi

echo "$stamp" >"$kobj/.hmm-config-stamp"
build

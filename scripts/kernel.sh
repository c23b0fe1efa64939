#!/usr/bin/env bash
# Configure (tinyconfig + configs/*.config, checked) and build bzImage and
# modules out of tree in build/obj; install the modules into build/modroot.
. "$(dirname "$0")/common.sh"
take_lock

FRAGS=("$TOP/configs/hmm.config")
CFG=$BUILD/cfg

build_kernel() {
	say "building bzImage and modules ($JOBS jobs)"
	"${KMAKE[@]}" -s bzImage modules
	rm -rf "$BUILD/modroot"
	"${KMAKE[@]}" -s INSTALL_MOD_PATH="$BUILD/modroot" INSTALL_MOD_STRIP=1 modules_install >/dev/null
	say "kernel: $OBJ/arch/x86/boot/bzImage"
}

# The config depends only on the fragments and on Kconfig files, which only
# the base and patches/ change; skip the generation when none of them did.
stamp=$( (base_version "$BASE"; cat "${FRAGS[@]}" "$TOP"/patches/*.patch 2>/dev/null) | sha256sum | cut -d' ' -f1)
if [ -f "$OBJ/.config" ] && [ "$(cat "$OBJ/.hmm-config-stamp" 2>/dev/null)" = "$stamp" ]; then
	build_kernel
	exit 0
fi

# Generate the config in a scratch directory and only replace the real one
# when it differs, so an unchanged config never triggers a rebuild.
rm -rf "$CFG"
mkdir -p "$CFG" "$OBJ"
make -s -C "$SRC" O="$CFG" ARCH=x86_64 tinyconfig >/dev/null
"$SRC/scripts/kconfig/merge_config.sh" -m -O "$CFG" "$CFG/.config" "${FRAGS[@]}" >"$CFG/merge.log"
make -s -C "$SRC" O="$CFG" ARCH=x86_64 olddefconfig >"$CFG/olddefconfig.log" 2>&1 ||
	{ cat "$CFG/olddefconfig.log"; die "olddefconfig failed"; }

bad=0
while IFS= read -r line; do
	case "$line" in
	CONFIG_*=*)
		sym=${line%%=*}
		got=$(grep -E "^$sym=|^# $sym is not set" "$CFG/.config" || true)
		[ "$got" = "$line" ] || { echo "config: asked for '$line', got '${got:-nothing}'" >&2; bad=1; }
		;;
	"# CONFIG_"*" is not set")
		sym=${line#\# }; sym=${sym%% *}
		if grep -q "^$sym=" "$CFG/.config"; then
			echo "config: asked for '$line', got '$(grep "^$sym=" "$CFG/.config")'" >&2; bad=1
		fi
		;;
	esac
done < <(cat "${FRAGS[@]}")
[ $bad = 0 ] || die "Kconfig dropped or changed requested options (see above)"

if ! cmp -s "$CFG/.config" "$OBJ/.config"; then
	say "kernel config changed"
	cp "$CFG/.config" "$OBJ/.config"
fi

echo "$stamp" >"$OBJ/.hmm-config-stamp"
build_kernel

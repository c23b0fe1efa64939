#!/usr/bin/env bash
# The one config step, for every kernel we build (make kernel, make bench,
# make compat):
#   scripts/kconfig.sh SRCDIR OBJDIR ARCH START FRAGMENT...
# START is the make target the config starts from (tinyconfig, defconfig,
# ppc64le_defconfig, ...); the fragments are merged onto it in order, a
# later line for a symbol overriding an earlier one, then olddefconfig.
# Every requested line, `CONFIG_X=v` or `# CONFIG_X is not set`, is then
# checked against the result: an option Kconfig dropped or changed is an
# error. The config is generated in OBJDIR.cfg, whose config.log is kept,
# and OBJDIR/.config replaced only when it differs, so an unchanged config
# never triggers a rebuild; nothing is generated when nothing the config
# depends on changed.
. "$(dirname "$0")/common.sh"
take_lock

[ $# -ge 5 ] || die "usage: kconfig.sh SRCDIR OBJDIR ARCH START FRAGMENT..."
ksrc=$1 kobj=$2 arch=$3 start=$4
shift 4
frags=("$@")
cfg=$kobj.cfg
read -r karch _ <<<"$(arch_info "$arch")"

# stamp: a hash of all a generated config depends on: START, the fragments,
# the tree's Kconfig files and the config files START is made from
# (arch/*/configs/ and kernel/configs/)
stamp() {
	(echo "$start" && cat "${frags[@]}" && cd "$ksrc" &&
	 find . -name 'Kconfig*' -type f | sort | xargs cat &&
	 find "arch/${karch/x86_64/x86}/configs" kernel/configs -type f | sort | xargs cat) |
		sha256sum | cut -d' ' -f1
}

# check CONFIG: the effective request per symbol is its last line across
# the fragments; print each one CONFIG does not match, fail if any.
check() {
	local line sym got bad=0
	local -A want=()
	local order=()
	while IFS= read -r line; do
		case "$line" in
		CONFIG_*=*) sym=${line%%=*} ;;
		"# CONFIG_"*" is not set") sym=${line#\# }; sym=${sym%% *} ;;
		*) continue ;;
		esac
		[ -n "${want[$sym]+x}" ] || order+=("$sym")
		want[$sym]=$line
	done < <(cat "${frags[@]}")

	for sym in "${order[@]}"; do
		line=${want[$sym]}
		got=$(grep -E "^$sym=|^# $sym is not set" "$1" || true)
		case "$line" in
		CONFIG_*=*) [ "$got" = "$line" ] ;;
		*) [ "${got%%=*}" != "$sym" ] ;;
		esac || { echo "config: asked for '$line', got '${got:-nothing}'" >&2; bad=1; }
	done
	return $bad
}

sum=$(stamp)
if [ -f "$kobj/.config" ] && [ "$(cat "$kobj/.hmm-config-stamp" 2>/dev/null)" = "$sum" ]; then
	exit 0
fi

say "configuring $kobj: $start + ${frags[*]##*/}"
rm -rf "$cfg"
mkdir -p "$cfg" "$kobj"
kmake_for "$ksrc" "$cfg" "$arch"
{ "${KMAKE[@]}" -s "$start" &&
  "$ksrc/scripts/kconfig/merge_config.sh" -m -O "$cfg" "$cfg/.config" "${frags[@]}" &&
  "${KMAKE[@]}" -s olddefconfig; } >"$cfg/config.log" 2>&1 ||
	{ cat "$cfg/config.log"; die "configuring $kobj failed (log: $cfg/config.log)"; }
check "$cfg/.config" || die "Kconfig dropped or changed requested options (see above)"

if ! cmp -s "$cfg/.config" "$kobj/.config"; then
	say "kernel config changed ($kobj)"
	cp "$cfg/.config" "$kobj/.config"
fi
echo "$sum" >"$kobj/.hmm-config-stamp"

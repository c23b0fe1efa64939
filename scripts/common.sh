# shellcheck shell=bash
# Shared settings for the build and VM scripts. Sourced, never run.
set -euo pipefail

TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD=${BUILD:-$TOP/build}
# The pristine base tree. Worktrees may point HMM_BASE at another checkout's
# extracted tree to avoid a second copy.
BASE=${HMM_BASE:-$BUILD/base}
SRC=$BUILD/src
OBJ=$BUILD/obj
LOGS=$BUILD/logs
TARBALL=${HMM_TARBALL:-/usr/src/linux-source-6.1.tar.xz}
JOBS=${JOBS:-$(nproc)}
KMAKE=(make -C "$SRC" O="$OBJ" ARCH=x86_64 -j"$JOBS")

say() { printf '==> %s\n' "$*" >&2; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }

# Serialise everything that touches build/: two `make` runs sharing one
# work tree would corrupt each other's overlay and objects.
take_lock() {
	[ -n "${HMM_LOCKED:-}" ] && return 0
	mkdir -p "$BUILD"
	exec 9>"$BUILD/.lock"
	if ! flock -n 9; then
		say "waiting for another build in $BUILD"
		flock 9
	fi
	export HMM_LOCKED=1
}

base_version() {
	awk '/^VERSION =/ {v=$3} /^PATCHLEVEL =/ {p=$3} /^SUBLEVEL =/ {s=$3}
	     END {print v "." p "." s}' "$1/Makefile"
}

# The overlay's files, as kernel paths, sorted; nothing when linux/ is absent.
overlay_files() {
	[ -d "$TOP/linux" ] || return 0
	(cd "$TOP/linux" && find . -type f ! -name '*~' | sed 's|^\./||' | sort)
}

# config_stamp SRCDIR FILE...: a hash of FILE... and of every Kconfig file
# of SRCDIR, which is all a generated config depends on.
config_stamp() {
	local ksrc=$1
	shift
	(cat "$@" && cd "$ksrc" && find . -name 'Kconfig*' -type f | sort | xargs cat) |
		sha256sum | cut -d' ' -f1
}

# check_config CONFIG FRAGMENT...: check a config made from FRAGMENT...
# after olddefconfig. The effective request per symbol is its last line
# across the fragments, `CONFIG_X=v` or `# CONFIG_X is not set`; each one
# CONFIG does not match is printed, and the return is 1 if there was any.
check_config() {
	local cfg=$1 line sym got bad=0
	shift
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
	done < <(cat "$@")

	for sym in "${order[@]}"; do
		line=${want[$sym]}
		case "$line" in
		CONFIG_*=*)
			got=$(grep -E "^$sym=|^# $sym is not set" "$cfg" || true)
			[ "$got" = "$line" ] || { echo "config: asked for '$line', got '${got:-nothing}'" >&2; bad=1; }
			;;
		*)
			if grep -q "^$sym=" "$cfg"; then
				echo "config: asked for '$line', got '$(grep "^$sym=" "$cfg")'" >&2; bad=1
			fi
			;;
		esac
	done
	return $bad
}

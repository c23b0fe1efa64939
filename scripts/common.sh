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

say() { printf '==> %s\n' "$*" >&2; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }

# Serialise everything that touches build/: two `make` runs sharing one
# work tree would corrupt each other's overlay and objects. `make` takes
# the lock once for its whole run (scripts/locked.sh); a script started by
# hand takes it itself, and inside a run this does nothing.
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

# arch_info ARCH: for one of the architectures we build (x86_64 arm64
# ppc64le riscv64), the kernel's ARCH, its defconfig target, CROSS_COMPILE
# and the Debian package of that cross compiler ('-' for none)
arch_info() {
	case $1 in
	x86_64) echo "x86_64 x86_64_defconfig - -" ;;
	arm64) echo "arm64 defconfig aarch64-linux-gnu- gcc-aarch64-linux-gnu" ;;
	ppc64le) echo "powerpc ppc64le_defconfig powerpc64le-linux-gnu- gcc-powerpc64le-linux-gnu" ;;
	riscv64) echo "riscv defconfig riscv64-linux-gnu- gcc-riscv64-linux-gnu" ;;
	*) die "unknown arch '$1' (x86_64 arm64 ppc64le riscv64)" ;;
	esac
}

# kmake_for SRCDIR OBJDIR [ARCH]: point KMAKE, the kernel's make command
# line, at another tree, object directory or architecture (default x86_64).
# KMAKE starts out as our tree and the test kernel's objects, build/obj.
kmake_for() {
	local info karch cross
	info=$(arch_info "${3:-x86_64}")
	read -r karch _ cross _ <<<"$info"
	KMAKE=(make -C "$1" O="$2" ARCH="$karch" -j"$JOBS")
	[ "$cross" = - ] || KMAKE+=(CROSS_COMPILE="$cross")
}
kmake_for "$SRC" "$OBJ"

# need_packages PKG...: install the Debian packages that are missing
need_packages() {
	local p st missing=()
	for p in "$@"; do
		st=$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null || true)
		[ "$st" = installed ] || missing+=("$p")
	done
	[ ${#missing[@]} -gt 0 ] || return 0
	say "installing: ${missing[*]}"
	[ "$(id -u)" = 0 ] || die "need root to install packages"
	DEBIAN_FRONTEND=noninteractive apt-get update -q
	DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}"
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

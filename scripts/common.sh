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

#!/usr/bin/env bash
# Install what the project needs (only what is missing) and extract the
# pristine base tree once.
. "$(dirname "$0")/common.sh"
take_lock

PKGS=(linux-source-6.1 build-essential bc flex bison libelf-dev libssl-dev
      cpio kmod rsync busybox-static qemu-system-x86 sparse python3
      python3-docutils)
PKGS+=(${HMM_EXTRA_PKGS:-})

missing=()
for p in "${PKGS[@]}"; do
	st=$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null || true)
	[ "$st" = installed ] || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
	say "installing: ${missing[*]}"
	[ "$(id -u)" = 0 ] || die "need root to install packages"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -q
	apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

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

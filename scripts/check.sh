#!/usr/bin/env bash
# make check: sparse (C=2), checkpatch --strict and kernel-doc over every file
# under linux/. Any warning in one of our files fails.
. "$(dirname "$0")/common.sh"
take_lock

mapfile -t files < <(overlay_files)
[ ${#files[@]} -gt 0 ] || { echo "check: nothing under linux/"; exit 0; }
fail=0
out=$BUILD/check
mkdir -p "$out"

# sparse on every kernel C file we own (user-space selftests are not kernel code)
objs=()
for f in "${files[@]}"; do
	case "$f" in
	tools/*|Documentation/*) ;;
	*.c) objs+=("${f%.c}.o") ;;
	esac
done
if [ ${#objs[@]} -gt 0 ]; then
	"${KMAKE[@]}" C=2 "${objs[@]}" >"$out/sparse.log" 2>&1 || { cat "$out/sparse.log"; fail=1; }
	pat=$(printf '%s\n' "${files[@]}" | sed 's/[.]/[.]/g' | paste -sd'|')
	if grep -E "($pat):[0-9]+:[0-9]+: (warning|error)" "$out/sparse.log"; then
		echo "check: sparse warnings in our files" >&2
		fail=1
	fi
	echo "sparse: ${#objs[@]} objects checked"
fi

# checkpatch --strict on every source file we own
for f in "${files[@]}"; do
	case "$f" in *.c|*.h|*.rst|Kconfig*|Makefile) ;; *) continue ;; esac
	if ! (cd "$SRC" && ./scripts/checkpatch.pl --strict --quiet --no-summary -f "$f") >"$out/checkpatch.log" 2>&1; then
		cat "$out/checkpatch.log"
		fail=1
	fi
done
echo "checkpatch --strict: ${#files[@]} files"

# kernel-doc must accept every comment in our kernel sources and headers
for f in "${files[@]}"; do
	case "$f" in tools/*) continue ;; *.c|*.h) ;; *) continue ;; esac
	if (cd "$SRC" && ./scripts/kernel-doc -none "$f" 2>&1) | grep .; then
		fail=1
	fi
done
echo "kernel-doc: checked"

# the guide parses as reStructuredText (Sphinx-only roles aside)
for f in "${files[@]}"; do
	case "$f" in *.rst) ;; *) continue ;; esac
	python3 "$TOP/scripts/rstcheck.py" "$TOP/linux/$f" || fail=1
done

[ $fail = 0 ] && echo "check: clean" || { echo "check: FAILED" >&2; exit 1; }

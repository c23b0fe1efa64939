#!/usr/bin/env bash
# make fuzz, once the Makefile has built the test kernel (KASAN, kmemleak,
# fault injection) and the KCSAN kernel with their initramfs: the long
# hmm-fuzz runs (vm/jobs/fuzz.sh), one guest per kind of run:
#   kasan        the test kernel, every seed
#   failinject   the test kernel, every seed with fault injection
#   kcsan        the KCSAN kernel: KUnit, the selftests, every seed
# HMM_FUZZ_SEED (seeds, "1 2 3"), HMM_FUZZ_OPS (operations per kind of
# run, 100000, shared evenly by the seeds), HMM_FUZZ_RUNS (the kinds
# above, all by default). Each console
# gets its verdict (build/logs/fuzz-KIND.log); then the figures of every
# run and one line, `fuzz: N runs passed, N failed, ...`.
. "$(dirname "$0")/common.sh"
take_lock
read -ra seeds <<<"$(echo "${HMM_FUZZ_SEED:-1 2 3}" | tr , ' ')"
total=${HMM_FUZZ_OPS:-100000}
[ ${#seeds[@]} -gt 0 ] && [ "$total" -gt 0 ] || die "HMM_FUZZ_SEED and HMM_FUZZ_OPS, please"
ops=$(((total + ${#seeds[@]} - 1) / ${#seeds[@]}))
say "fuzz: seeds ${seeds[*]}, $ops operations each, for each of: ${HMM_FUZZ_RUNS:-kasan failinject kcsan}"
list=$(IFS=,; echo "${seeds[*]}")
# Seconds a guest may take: boot, KUnit and selftests, then about
# FUZZ_OPS_PER_S operations a second at the slowest (README, "Timings").
FUZZ_OPS_PER_S=${HMM_FUZZ_OPS_PER_S:-40}
timeout=${HMM_VM_TIMEOUT:-$((1200 + ${#seeds[@]} * (ops / FUZZ_OPS_PER_S + 120)))}
K=$BUILD/kcsan

rc=0 logs=() summary=()
for kind in ${HMM_FUZZ_RUNS:-kasan failinject kcsan}; do
	kernel=$OBJ/arch/x86/boot/bzImage initrd=$BUILD/initramfs.cpio.gz
	append="hmm_fuzz_seeds=$list hmm_fuzz_ops=$ops" kunit=0
	verdict=(--expect fuzz)
	case $kind in
	kasan) append+=" hmm_fuzz_mode=plain" ;;
	failinject) append+=" hmm_fuzz_mode=fail"
		verdict+=(--inject) ;;
	kcsan)
		kernel=$K/obj/arch/x86/boot/bzImage initrd=$K/initramfs.cpio.gz kunit=1
		append+=" hmm_fuzz_mode=plain hmm_fuzz_selftests=1"
		verdict=(--expect kunit,selftests,fuzz --ours "$K/ours.txt") ;;
	*) die "HMM_FUZZ_RUNS: unknown kind '$kind' (kasan failinject kcsan)" ;;
	esac
	t0=$(date +%s)
	HMM_KERNEL=$kernel HMM_INITRD=$initrd HMM_KUNIT=$kunit HMM_LOGNAME=fuzz-$kind \
	HMM_VM_TIMEOUT=$timeout HMM_APPEND="${HMM_APPEND:+$HMM_APPEND }$append" \
		"$TOP/vm/boot.sh" fuzz
	res=passed
	python3 "$TOP/vm/verdict.py" --src "$SRC" "${verdict[@]}" "$LOGS/fuzz-$kind.log" ||
		{ res=FAILED; rc=1; }
	logs+=("$LOGS/fuzz-$kind.log")
	summary+=("$(printf '  %-11s %-6s %5d s  %s' "$kind" $res $(($(date +%s) - t0)) \
		"$(readlink -f "$LOGS/fuzz-$kind.log")")")
done
python3 "$TOP/vm/verdict.py" --fuzz-total "${logs[@]}" || rc=1
echo "fuzz guests:"
printf '%s\n' "${summary[@]}"
[ $rc = 0 ] && echo "make fuzz: passed" || { echo "make fuzz: FAILED" >&2; exit 1; }

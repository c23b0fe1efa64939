#!/usr/bin/env bash
# make test, once the Makefile has built the kernel, the test programs and
# the initramfs and run the verdict's own tests: boot once, run every test,
# print one verdict. The short fuzz at the end runs seed 1 and a random
# seed picked here (HMM_FUZZ_SEED=N replays a run's random seed).
. "$(dirname "$0")/common.sh"
take_lock
booted=$(date +%s)
seed=${HMM_FUZZ_SEED:-$((RANDOM << 15 | RANDOM))}
seed=${seed%%[ ,]*}
say "fuzz seeds: 1 and $seed (HMM_FUZZ_SEED=$seed make test replays it)"
HMM_APPEND="${HMM_APPEND:+$HMM_APPEND }hmm_fuzz_seed=$seed" "$TOP/vm/boot.sh" test
say "build $((booted - ${HMM_START:-$booted})) s, boot and tests $(($(date +%s) - booted)) s"
exec python3 "$TOP/vm/verdict.py" --src "$SRC" "$LOGS/test.log"

#!/usr/bin/env bash
# Build the guest's test programs, statically, from the assembled work tree:
# the HMM selftests (ours once linux/ carries them, the base's until then)
# and the `make run` demonstration.
. "$(dirname "$0")/common.sh"
take_lock

OUT=$BUILD/progs
mkdir -p "$OUT"
CC=(gcc -static -O2 -Wall -I "$SRC")
st=$SRC/tools/testing/selftests/vm
"${CC[@]}" -I "$SRC/tools/testing/selftests" -o "$OUT/hmm-tests" "$st/hmm-tests.c" -lrt -lpthread
"${CC[@]}" -o "$OUT/hmm-demo" "$TOP/vm/demo/hmm-demo.c"

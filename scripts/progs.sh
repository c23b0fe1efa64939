#!/usr/bin/env bash
# Build the guest's test programs, statically, from the assembled work tree
# into build/progs: the HMM selftests (linux/'s hmm-tests.c) and the
# `make run` demonstration.
. "$(dirname "$0")/common.sh"
take_lock

OUT=$BUILD/progs
mkdir -p "$OUT"
CC=(gcc -static -O2 -Wall -I "$SRC")
st=$SRC/tools/testing/selftests/vm
"${CC[@]}" -I "$SRC/tools/testing/selftests" -o "$OUT/hmm-tests" "$st/hmm-tests.c" -lrt -lpthread
"${CC[@]}" -o "$OUT/hmm-demo" "$TOP/vm/demo/hmm-demo.c"

#!/usr/bin/env bash
# Build the guest's test programs, statically, from the assembled work tree
# into build/progs: the HMM selftests (linux/'s hmm-tests.c), the
# `make run` demonstration, the fuzzer (make test, make fuzz), the base
# tree's own hmm-tests, built from the base as they are (make test runs
# them against our kernel as a black box: 6.1's tests must still pass),
# and the clients suite's data checker.
. "$(dirname "$0")/common.sh"
take_lock

OUT=$BUILD/progs
mkdir -p "$OUT"
CC=(gcc -static -O2 -Wall -I "$SRC")
st=$SRC/tools/testing/selftests/vm
"${CC[@]}" -I "$SRC/tools/testing/selftests" -o "$OUT/hmm-tests" "$st/hmm-tests.c" -lrt -lpthread
"${CC[@]}" -o "$OUT/hmm-demo" "$TOP/vm/demo/hmm-demo.c"
"${CC[@]}" -Wextra -Wno-unused-parameter -Werror -o "$OUT/hmm-fuzz" \
	"$TOP/vm/fuzz/hmm-fuzz.c" -lpthread
bst=$BASE/tools/testing/selftests/vm
gcc -static -O2 -I "$BASE" -I "$BASE/tools/testing/selftests" \
	-o "$OUT/base-hmm-tests" "$bst/hmm-tests.c" -lrt -lpthread
"${CC[@]}" -o "$OUT/hmm-clients" "$TOP/vm/clients/hmm-clients.c"

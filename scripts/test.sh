#!/usr/bin/env bash
# make test, once the Makefile has built the kernel, the test programs and
# the initramfs and run the verdict's own tests: boot once, run every test,
# print one verdict.
. "$(dirname "$0")/common.sh"
take_lock
booted=$(date +%s)
"$TOP/vm/boot.sh" test
say "build $((booted - ${HMM_START:-$booted})) s, boot and tests $(($(date +%s) - booted)) s"
exec python3 "$TOP/vm/verdict.py" --src "$SRC" "$LOGS/test.log"

#!/usr/bin/env bash
# make test: build, boot once, run every test, print one verdict.
. "$(dirname "$0")/common.sh"
take_lock
start=$(date +%s)
"$TOP/scripts/base.sh"
"$TOP/scripts/overlay.sh"
"$TOP/scripts/kernel.sh"
"$TOP/scripts/progs.sh"
"$TOP/vm/mkinitramfs.sh"
built=$(date +%s)
"$TOP/vm/boot.sh" test
say "build $((built - start)) s, boot and tests $(($(date +%s) - built)) s"
exec python3 "$TOP/vm/verdict.py" --src "$SRC" "$LOGS/test.log"

#!/usr/bin/env bash
# make verdict-test (and the first thing make test runs): the tests of
# vm/verdict.py and bench/report.py over the recorded consoles in
# vm/tests/, with the base tree's kunit.py. No guest; a few seconds.
. "$(dirname "$0")/common.sh"
exec python3 "$TOP/vm/tests/verdict_test.py" --src "$BASE"

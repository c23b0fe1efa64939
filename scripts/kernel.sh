#!/usr/bin/env bash
# Configure (tinyconfig + configs/hmm.config, checked) and build bzImage and
# modules out of tree in build/obj; install the modules into build/modroot.
. "$(dirname "$0")/common.sh"
take_lock
exec "$TOP/scripts/kbuild.sh" "$SRC" "$OBJ" "$BUILD/modroot" "$TOP/configs/hmm.config"

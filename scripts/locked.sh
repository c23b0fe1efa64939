#!/usr/bin/env bash
# Run a command holding build/.lock: the Makefile makes all its goals
# through this, so one `make` takes the lock once, for the whole run.
# HMM_START is when the run began (scripts report build times from it).
. "$(dirname "$0")/common.sh"
take_lock
export HMM_START=${HMM_START:-$(date +%s)}
exec "$@"

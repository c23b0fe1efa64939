# HMM for Linux 6.1: build, boot, test.  See README.md.
#
#   make test     build everything, boot once, run KUnit + selftests, verdict
#   make run      boot and run the HMM demonstration
#   make shell    boot to an interactive shell with test_hmm loaded
#   make check    sparse (C=2), checkpatch --strict and kernel-doc on linux/
#   make series   export the overlay and patches as a git format-patch series
#   make compat   build every in-tree caller of the HMM core against our tree,
#                 for x86_64, arm64, ppc64le and riscv64
#   make bench    HMM performance, ours against the base kernel's (not in test)
#   make fuzz     long hmm-fuzz runs: KASAN, fault injection, KCSAN (not in test)
#   make verdict-test   the tests of the console verdict (part of make test)
#   make base | tree | kernel | progs | initramfs   the individual steps
#   make clean    remove build/ (keeps nothing)
#
# The order of the steps lives here and only here: each script does one
# step and expects the ones it depends on to be done.

SHELL := /bin/bash
S := scripts

.PHONY: all base tree kernel progs initramfs verdict-test test run shell check \
	series compat bench bench-ours bench-base kcsan fuzz clean locked

ifndef HMM_LOCKED
# Everything runs under build/.lock, taken once for the whole run: the
# goals are made by a second make inside it (scripts/locked.sh).
GOALS := $(or $(MAKECMDGOALS),all)
$(GOALS): locked ; @:
locked:
	@$(S)/locked.sh $(MAKE) --no-print-directory $(GOALS)
else

all: kernel

base:
	@$(S)/base.sh

tree: base
	@$(S)/overlay.sh

kernel: tree
	@$(S)/kernel.sh

progs: tree
	@$(S)/progs.sh

initramfs: kernel progs
	@vm/mkinitramfs.sh

verdict-test: base
	@$(S)/verdict-test.sh

test: verdict-test initramfs
	@$(S)/test.sh

run: initramfs
	@vm/boot.sh run

shell: initramfs
	@vm/boot.sh shell

check: kernel
	@$(S)/check.sh

series: tree
	@$(S)/series.sh

compat: tree
	@$(S)/compat.sh

bench-ours: tree
	@$(S)/bench-kernel.sh ours

bench-base: base
	@$(S)/bench-kernel.sh base

bench: bench-ours bench-base
	@$(S)/bench.sh

kcsan: tree progs
	@$(S)/kcsan-kernel.sh

fuzz: verdict-test initramfs kcsan
	@$(S)/fuzz.sh

clean:
	rm -rf build

endif

# HMM for Linux 6.1: build, boot, test.  See README.md.
#
#   make test     build everything, boot once, run KUnit + selftests, verdict
#   make run      boot and run the HMM demonstration
#   make shell    boot to an interactive shell with test_hmm loaded
#   make check    sparse (C=2) and checkpatch --strict on everything in linux/
#   make series   export the overlay and patches as a git format-patch series
#   make compat   build every in-tree caller of the HMM core against our tree,
#                 for x86_64, arm64, ppc64le and riscv64
#   make bench    HMM performance, ours against the base kernel's (not in test)
#   make base | tree | kernel | progs | initramfs   the individual steps
#   make clean    remove build/ (keeps nothing)

SHELL := /bin/bash
S := scripts

.PHONY: all base tree kernel progs initramfs test run shell check series compat bench clean

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

test:
	@$(S)/test.sh

run: initramfs
	@vm/boot.sh run

shell: initramfs
	@vm/boot.sh shell

check: tree
	@$(S)/check.sh

series: tree
	@$(S)/series.sh

compat: tree
	@$(S)/compat.sh

bench:
	@$(S)/bench.sh

clean:
	rm -rf build

/* SPDX-License-Identifier: GPL-2.0 WITH Linux-syscall-note */
/*
 * Interface between the HMM benchmark module (hmm_bench.ko) and its driver
 * program (hmm-bench). All times are nanoseconds measured in the kernel.
 */
#ifndef _HMM_BENCH_UAPI_H
#define _HMM_BENCH_UAPI_H

#include <linux/const.h>
#include <linux/types.h>
#include <linux/ioctl.h>

/* request HMM_PFN_REQ_FAULT | HMM_PFN_REQ_WRITE for every page */
#define HMM_BENCH_FAULT_WRITE	_BITULL(0)
/* migration: leave the pages in device memory (no way back, ns2 is 0) */
#define HMM_BENCH_ONE_WAY	_BITULL(1)
/*
 * migration: move PMD-mapped THPs whole, into 2 MiB device-private folios
 * and back into THPs (MIGRATE_VMA_SELECT_COMPOUND); a kernel without it
 * fails the request with EOPNOTSUPP
 */
#define HMM_BENCH_THP		_BITULL(2)
/* snapshot: request HMM_PFN_REQ_FAULT on every iters-th page only */
#define HMM_BENCH_SPARSE_FAULT	_BITULL(3)
/* FLUSH_NOTIFIERS: invalidate in two passes (kernels that have them) */
#define HMM_BENCH_TWO_PASS	_BITULL(4)

/**
 * struct hmm_bench_req - one benchmark request
 * @addr:	start of the user range (page aligned)
 * @npages:	pages in the range, elements of the memory pass, or the
 *		simulated TLB flush in microseconds (FLUSH_NOTIFIERS)
 * @flags:	HMM_BENCH_* flags
 * @iters:	iterations (SEQ), notifiers to insert (NOTIFIERS,
 *		FLUSH_NOTIFIERS), or the stride of the fault requests
 *		(SNAPSHOT, HMM_BENCH_SPARSE_FAULT); out, for a migration with
 *		HMM_BENCH_THP: pages moved in 2 MiB folios
 * @ns:		out: time of the operation (migration: to the device)
 * @ns2:	out: migration only: time of the way back
 * @count:	out: pages valid in the snapshot, or migrated to the device
 * @count2:	out: pages mapped at PMD order, or migrated back
 */
struct hmm_bench_req {
	__u64 addr;
	__u64 npages;
	__u64 flags;
	__u64 iters;
	__u64 ns;
	__u64 ns2;
	__u64 count;
	__u64 count2;
};

/* hmm_range_fault() over [addr, addr + npages pages) */
#define HMM_BENCH_SNAPSHOT	_IOWR('B', 0x00, struct hmm_bench_req)
/* migrate the range to device-private memory, then fault it back */
#define HMM_BENCH_MIGRATE	_IOWR('B', 0x01, struct hmm_bench_req)
/* insert iters interval notifiers, one over the page at addr */
#define HMM_BENCH_NOTIFIERS	_IOWR('B', 0x02, struct hmm_bench_req)
/* remove the notifiers NOTIFIERS inserted */
#define HMM_BENCH_NOTIFIERS_DEL	_IO('B', 0x03)
/* iters mmu_interval_read_begin() + mmu_interval_read_retry() pairs */
#define HMM_BENCH_SEQ		_IOWR('B', 0x04, struct hmm_bench_req)
/* reference: read and write one u64 per page for npages pages */
#define HMM_BENCH_MEMPASS	_IOWR('B', 0x05, struct hmm_bench_req)
/*
 * insert iters notifiers, all over the page at addr, each a device whose
 * invalidation waits for a simulated TLB flush of npages microseconds (a
 * work item); one-pass, or two-pass with HMM_BENCH_TWO_PASS (-EOPNOTSUPP
 * on a kernel without two-pass notifiers). NOTIFIERS_DEL removes them.
 */
#define HMM_BENCH_FLUSH_NOTIFIERS _IOWR('B', 0x06, struct hmm_bench_req)

#endif /* _HMM_BENCH_UAPI_H */

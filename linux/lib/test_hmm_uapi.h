/* SPDX-License-Identifier: GPL-2.0 WITH Linux-syscall-note */
/*
 * User interface of the HMM test driver (lib/test_hmm.c).
 *
 * Each /dev/hmm_dmirrorN node is a simulated device with its own page
 * table that mirrors the address space of the process which opened it,
 * and with its own memory (device private or device coherent) that pages
 * can be migrated to and from. tools/testing/selftests/vm/hmm-tests.c
 * drives it through the ioctls below.
 */
#ifndef _LIB_TEST_HMM_UAPI_H
#define _LIB_TEST_HMM_UAPI_H

#include <linux/const.h>
#include <linux/types.h>
#include <linux/ioctl.h>

/**
 * struct hmm_dmirror_cmd - argument of every HMM_DMIRROR_* ioctl
 * @addr:   (in) page aligned start of the range in the caller's address space
 * @ptr:    (in) caller buffer the device copies data (or snapshot codes,
 *          one byte per page) to or from
 * @npages: (in) length of the range in pages, at least one
 * @cpages: (out) pages the command handled
 * @faults: (out) device page faults the command needed
 */
struct hmm_dmirror_cmd {
	__u64		addr;
	__u64		ptr;
	__u64		npages;
	__u64		cpages;
	__u64		faults;
};

/* Device reads the range into @ptr, faulting it in as needed. */
#define HMM_DMIRROR_READ		_IOWR('H', 0x00, struct hmm_dmirror_cmd)
/* Device writes @ptr into the range, faulting it in writable as needed. */
#define HMM_DMIRROR_WRITE		_IOWR('H', 0x01, struct hmm_dmirror_cmd)
/* Move the range into device memory, then read it back into @ptr. */
#define HMM_DMIRROR_MIGRATE_TO_DEV	_IOWR('H', 0x02, struct hmm_dmirror_cmd)
/* Move the range from this device's memory back to system memory. */
#define HMM_DMIRROR_MIGRATE_TO_SYS	_IOWR('H', 0x03, struct hmm_dmirror_cmd)
/* Store one HMM_DMIRROR_PROT_* byte per page in @ptr, faulting nothing. */
#define HMM_DMIRROR_SNAPSHOT		_IOWR('H', 0x04, struct hmm_dmirror_cmd)
/* Take exclusive (atomic) device access, then read the range into @ptr. */
#define HMM_DMIRROR_EXCLUSIVE		_IOWR('H', 0x05, struct hmm_dmirror_cmd)
/* Fail with EPERM while the device still holds exclusive access. */
#define HMM_DMIRROR_CHECK_EXCLUSIVE	_IOWR('H', 0x06, struct hmm_dmirror_cmd)
/* Return all of the device's memory to the system and release it. */
#define HMM_DMIRROR_RELEASE		_IOWR('H', 0x07, struct hmm_dmirror_cmd)
/*
 * Set the device's test flags (HMM_DMIRROR_FLAG_*) to @npages; @addr and
 * @ptr are ignored. Unknown flags are refused with EINVAL.
 */
#define HMM_DMIRROR_FLAGS		_IOWR('H', 0x08, struct hmm_dmirror_cmd)

/*
 * The device's next allocation of a large (2 MiB) folio fails, whichever
 * way it migrates: device memory on the way to the device, system memory
 * on the way back. The flag is cleared by the allocation it fails, and the
 * migration falls back to small pages.
 */
#define HMM_DMIRROR_FLAG_FAIL_ALLOC	_BITULL(0)	/* 1ULL << 0 */

/*
 * READ and WRITE through hmm_range_fault_unlocked_timeout(): its faults may
 * drop the mmap lock and wait, so userfaultfd ranges can be mirrored.
 */
#define HMM_DMIRROR_READ_UNLOCKED	_IOWR('H', 0x09, struct hmm_dmirror_cmd)
#define HMM_DMIRROR_WRITE_UNLOCKED	_IOWR('H', 0x0a, struct hmm_dmirror_cmd)

/*
 * Snapshot codes, one byte per page:
 * HMM_DMIRROR_PROT_ERROR   the page cannot be mirrored (no vma, no access)
 * HMM_DMIRROR_PROT_NONE    nothing mapped yet, or not accessible to the device
 * HMM_DMIRROR_PROT_READ    mapped read-only
 * HMM_DMIRROR_PROT_WRITE   mapped writable
 * HMM_DMIRROR_PROT_PMD     the CPU maps it with a PMD sized entry
 * HMM_DMIRROR_PROT_PUD     the CPU maps it with a PUD sized entry
 * HMM_DMIRROR_PROT_ZERO    the shared zero page (read-only)
 * HMM_DMIRROR_PROT_DEV_PRIVATE_LOCAL    private memory of this device
 * HMM_DMIRROR_PROT_DEV_PRIVATE_REMOTE   private memory of another device
 * HMM_DMIRROR_PROT_DEV_COHERENT_LOCAL   coherent memory of this device
 * HMM_DMIRROR_PROT_DEV_COHERENT_REMOTE  coherent memory of another device
 */
enum {
	HMM_DMIRROR_PROT_ERROR			= 0xFF,
	HMM_DMIRROR_PROT_NONE			= 0x00,
	HMM_DMIRROR_PROT_READ			= 0x01,
	HMM_DMIRROR_PROT_WRITE			= 0x02,
	HMM_DMIRROR_PROT_PMD			= 0x04,
	HMM_DMIRROR_PROT_PUD			= 0x08,
	HMM_DMIRROR_PROT_ZERO			= 0x10,
	HMM_DMIRROR_PROT_DEV_PRIVATE_LOCAL	= 0x20,
	HMM_DMIRROR_PROT_DEV_PRIVATE_REMOTE	= 0x30,
	HMM_DMIRROR_PROT_DEV_COHERENT_LOCAL	= 0x40,
	HMM_DMIRROR_PROT_DEV_COHERENT_REMOTE	= 0x50,
};

/* Kind of memory a device owns; zero is never a valid kind. */
enum {
	HMM_DMIRROR_MEMORY_DEVICE_PRIVATE = 1,
	HMM_DMIRROR_MEMORY_DEVICE_COHERENT,
};

#endif /* _LIB_TEST_HMM_UAPI_H */

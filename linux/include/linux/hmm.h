/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Heterogeneous memory management: let a device mirror part of a process
 * address space through its own page tables.
 *
 * Documentation/mm/hmm.rst explains how a driver puts this together with
 * an mmu_interval_notifier.
 */
#ifndef LINUX_HMM_H
#define LINUX_HMM_H

#include <linux/mm.h>

struct mmu_interval_notifier;

/**
 * enum hmm_pfn_flags - meaning of the bits in one hmm_range.hmm_pfns entry
 * @HMM_PFN_VALID: output: the pfn bits name a page the CPU can at least
 *	read.  With a dev_private_owner set it may be one of that owner's
 *	DEVICE_PRIVATE pages.
 * @HMM_PFN_WRITE: output: the CPU may also write the page.  Only ever set
 *	together with HMM_PFN_VALID.
 * @HMM_PFN_ERROR: output: the address can never be mirrored (no VMA, no
 *	read permission, IO or pfn mappings, special or poisoned pages).
 *	The device has to fail accesses there.
 * @HMM_PFN_ORDER_SHIFT: output: bit position of the CPU mapping order,
 *	read it with hmm_pfn_to_map_order().
 * @HMM_PFN_REQ_FAULT: input: the entry must come back HMM_PFN_VALID;
 *	hmm_range_fault() faults the page in or fails.
 * @HMM_PFN_REQ_WRITE: input: the entry must come back HMM_PFN_WRITE.
 *	Only honoured together with HMM_PFN_REQ_FAULT.
 * @HMM_PFN_FLAGS: every bit that is not part of the pfn.
 *
 * An entry that comes back as 0 is not mapped by the CPU right now; asking
 * for HMM_PFN_REQ_FAULT on it next time may succeed.  The request bits
 * share their positions with the output bits they ask for, so an output
 * array can be fed back in as a request after masking.
 */
enum hmm_pfn_flags {
	/* Output: the top bits of the word */
	HMM_PFN_VALID = 1UL << (BITS_PER_LONG - 1),
	HMM_PFN_WRITE = 1UL << (BITS_PER_LONG - 2),
	HMM_PFN_ERROR = 1UL << (BITS_PER_LONG - 3),
	HMM_PFN_ORDER_SHIFT = (BITS_PER_LONG - 8),

	/* Input: requests, aliased onto the outputs they ask for */
	HMM_PFN_REQ_FAULT = HMM_PFN_VALID,
	HMM_PFN_REQ_WRITE = HMM_PFN_WRITE,

	HMM_PFN_FLAGS = 0xFFUL << HMM_PFN_ORDER_SHIFT,
};

/**
 * hmm_pfn_to_page() - the struct page behind an output entry
 * @hmm_pfn: one entry of hmm_range.hmm_pfns after hmm_range_fault()
 *
 * Only meaningful for an entry with HMM_PFN_VALID set, and only while the
 * driver holds the lock that orders it against its invalidate callback and
 * mmu_interval_read_retry() has confirmed the sequence number.
 *
 * Return: the page the pfn bits of @hmm_pfn refer to.
 */
static inline struct page *hmm_pfn_to_page(unsigned long hmm_pfn)
{
	unsigned long pfn = hmm_pfn & ~HMM_PFN_FLAGS;

	return pfn_to_page(pfn);
}

/**
 * hmm_pfn_to_map_order() - size of the CPU mapping that covers an entry
 * @hmm_pfn: one entry of hmm_range.hmm_pfns after hmm_range_fault()
 *
 * The CPU maps the page through one entry of 1 << order pages that starts
 * at a virtual address aligned to that size, for example a PMD-mapped
 * transparent huge page.  All entries inside it carry the same flags, so
 * a driver may program a large device mapping at once.  The mapping may
 * extend beyond the start or end of the range that was asked for.  The
 * same validity and locking rules as for hmm_pfn_to_page() apply.
 *
 * Return: the order of the CPU mapping, 0 for a single page.
 */
static inline unsigned int hmm_pfn_to_map_order(unsigned long hmm_pfn)
{
	unsigned long field = hmm_pfn >> HMM_PFN_ORDER_SHIFT;

	/* Five bits: enough for any page table level. */
	return field & 0x1F;
}

/**
 * struct hmm_range - one request to hmm_range_fault()
 * @notifier: interval notifier covering [@start, @end); its mm is the one
 *	that is walked
 * @notifier_seq: value of mmu_interval_read_begin() taken before the call
 * @start: first virtual address, page aligned, inclusive
 * @end: last virtual address, page aligned, exclusive
 * @hmm_pfns: one entry per page of the range: requests on input, pfn and
 *	flags on output (see enum hmm_pfn_flags)
 * @default_flags: requests applied to every entry
 * @pfn_flags_mask: which request bits of each input entry are honoured on
 *	top of @default_flags; 0 ignores the input array entirely
 * @dev_private_owner: DEVICE_PRIVATE pages whose pgmap owner equals this
 *	are reported as they are; any other device's private pages are treated
 *	as not present
 */
struct hmm_range {
	struct mmu_interval_notifier *notifier;
	unsigned long		notifier_seq;
	unsigned long		start;
	unsigned long		end;
	unsigned long		*hmm_pfns;
	unsigned long		default_flags;
	unsigned long		pfn_flags_mask;
	void			*dev_private_owner;
};

int hmm_range_fault(struct hmm_range *range);
int hmm_range_fault_unlocked_timeout(struct hmm_range *range,
				     unsigned long timeout_jiffies);

/*
 * How long (in milliseconds) a driver should keep retrying
 * hmm_range_fault() after -EBUSY before giving up on a range; for
 * hmm_range_fault_unlocked_timeout(), msecs_to_jiffies() of it.
 */
#define HMM_RANGE_DEFAULT_TIMEOUT 1000

#endif /* LINUX_HMM_H */

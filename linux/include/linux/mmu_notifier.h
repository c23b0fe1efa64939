/* SPDX-License-Identifier: GPL-2.0 */
/*
 * MMU notifiers: let a secondary MMU (a device, a hypervisor, an IOMMU)
 * follow changes made to a process's CPU page tables.
 *
 * Two interfaces share one per-mm state:
 *
 *  - struct mmu_notifier: the classic hooks, called for every change in the
 *    mm (invalidate_range_start/end, invalidate_range, aging, change_pte and
 *    release at exit).
 *  - struct mmu_interval_notifier: a driver subscribes to one VA interval and
 *    only hears about invalidations that overlap it. It comes with a
 *    sequence count (read_begin / read_retry) so a driver can build a mirror
 *    of the page tables without holding mm locks and find out afterwards
 *    whether it raced with an invalidation.
 */
#ifndef _LINUX_MMU_NOTIFIER_H
#define _LINUX_MMU_NOTIFIER_H

#include <linux/list.h>
#include <linux/llist.h>
#include <linux/spinlock.h>
#include <linux/mm_types.h>
#include <linux/mmap_lock.h>
#include <linux/srcu.h>
#include <linux/interval_tree.h>
#include <linux/tracepoint-defs.h>

struct mmu_notifier_subscriptions;
struct mmu_notifier;
struct mmu_notifier_range;
struct mmu_interval_notifier;

/**
 * enum mmu_notifier_event - why the page tables of a range are changing
 * @MMU_NOTIFY_UNMAP: the range is unmapped (munmap) or moved away (mremap).
 * @MMU_NOTIFY_CLEAR: page table entries are cleared for some other reason,
 *	for instance madvise() or a page being replaced by another.
 * @MMU_NOTIFY_PROTECTION_VMA: the whole range takes the protection of its
 *	VMA (mprotect); the new rights can be read from the VMA alone.
 * @MMU_NOTIFY_PROTECTION_PAGE: write access changes page by page; a mirror
 *	has to look at the CPU page table (after the end callback) to follow.
 * @MMU_NOTIFY_SOFT_DIRTY: only soft-dirty tracking changes; pages and access
 *	rights stay the same. A mirror that writes pages should mark them
 *	soft dirty again from the end callback.
 * @MMU_NOTIFY_RELEASE: the mm has no users left; sent to interval notifiers
 *	as the address space is torn down.
 * @MMU_NOTIFY_MIGRATE: pages are being migrated by migrate_vma_*(); the
 *	range's owner is the pgmap owner of the migrating driver, which may
 *	skip invalidations it caused itself.
 * @MMU_NOTIFY_EXCLUSIVE: a device loses (or, while the exclusive entry is
 *	being installed, gains) exclusive access to pages; while installing,
 *	the owner is the one given to make_device_exclusive_range(), otherwise
 *	it is NULL.
 */
enum mmu_notifier_event {
	MMU_NOTIFY_UNMAP = 0,
	MMU_NOTIFY_CLEAR,
	MMU_NOTIFY_PROTECTION_VMA,
	MMU_NOTIFY_PROTECTION_PAGE,
	MMU_NOTIFY_SOFT_DIRTY,
	MMU_NOTIFY_RELEASE,
	MMU_NOTIFY_MIGRATE,
	MMU_NOTIFY_EXCLUSIVE,
};

#define MMU_NOTIFIER_RANGE_BLOCKABLE BIT(0)

/**
 * struct mmu_notifier_ops - callbacks of a classic mmu notifier
 * @release: the address space is going away (exit_mmap()) or the notifier
 *	is being unregistered. The notifier is still hooked up while this
 *	runs, so it may run concurrently with the other callbacks, and when
 *	unregister races with exit_mmap() it may be called twice. Afterwards
 *	nothing may reach the pages through the secondary MMU any more: they
 *	are freed, and could be reused at once, possibly with another caching
 *	mode.
 * @clear_flush_young: test and clear the accessed state of [start, end) in
 *	the secondary MMU, flushing its TLB; nonzero if it was young. Called
 *	after the CPU pte was aged, so both MMUs count for page aging.
 * @clear_young: like @clear_flush_young, but the secondary TLB flush may be
 *	skipped.
 * @test_young: report whether @address is young in the secondary MMU,
 *	without clearing anything.
 * @change_pte: the pte of @address now maps another page (KSM merging, COW)
 *	and a mirror may switch to @pte directly instead of faulting again.
 * @invalidate_range_start: the pages of the range are about to be unmapped
 *	or changed. From here until @invalidate_range_end returns, the
 *	secondary MMU must not set up new mappings of the range. Called with
 *	the pages still mapped and referenced. Unless the range is blockable
 *	(mmu_notifier_range_blockable()) it must not sleep and returns -EAGAIN
 *	if it would have to; otherwise it returns 0 (an error there is
 *	reported and ignored). A notifier whose start can fail must not
 *	implement @invalidate_range_end.
 * @invalidate_range_end: the change is done; pages may already be freed
 *	unless the notifier held its own references on them.
 * @invalidate_range: flush the secondary TLB for [start, end). Called
 *	between start and end before the pages are freed, or on its own when
 *	the CPU TLB is flushed; may cover only part of the started range. A
 *	secondary MMU that shares the CPU page tables needs only this hook.
 * @alloc_notifier: for mmu_notifier_get(): allocate a notifier for @mm.
 * @free_notifier: for mmu_notifier_put(): free the notifier. Called from an
 *	SRCU callback once no callback can run any more; must not sleep.
 *
 * Every hook is optional. The notifier list of an mm is only modified with
 * the mmap lock and all reverse map locks held, which is why a walk of it is
 * safe under either of those or under SRCU.
 */
struct mmu_notifier_ops {
	void (*release)(struct mmu_notifier *subscription,
			struct mm_struct *mm);
	int (*clear_flush_young)(struct mmu_notifier *subscription,
				 struct mm_struct *mm,
				 unsigned long start,
				 unsigned long end);
	int (*clear_young)(struct mmu_notifier *subscription,
			   struct mm_struct *mm,
			   unsigned long start,
			   unsigned long end);
	int (*test_young)(struct mmu_notifier *subscription,
			  struct mm_struct *mm,
			  unsigned long address);
	void (*change_pte)(struct mmu_notifier *subscription,
			   struct mm_struct *mm,
			   unsigned long address,
			   pte_t pte);
	int (*invalidate_range_start)(struct mmu_notifier *subscription,
				      const struct mmu_notifier_range *range);
	void (*invalidate_range_end)(struct mmu_notifier *subscription,
				     const struct mmu_notifier_range *range);
	void (*invalidate_range)(struct mmu_notifier *subscription,
				 struct mm_struct *mm,
				 unsigned long start,
				 unsigned long end);
	struct mmu_notifier *(*alloc_notifier)(struct mm_struct *mm);
	void (*free_notifier)(struct mmu_notifier *subscription);
};

/**
 * struct mmu_notifier - a classic notifier registered on one mm
 * @hlist: entry in the mm's notifier list (RCU, walked under SRCU)
 * @ops: the callbacks
 * @mm: the mm it is registered on
 * @rcu: for the SRCU-deferred free of mmu_notifier_put()
 * @users: references taken by mmu_notifier_get()
 */
struct mmu_notifier {
	struct hlist_node hlist;
	const struct mmu_notifier_ops *ops;
	struct mm_struct *mm;
	struct rcu_head rcu;
	unsigned int users;
};

/**
 * struct mmu_interval_notifier_finish - second pass of a two-pass callback
 * @link: queues it until the finish pass; the core's
 * @notifier: the interval notifier it belongs to; set by the core
 *
 * ->invalidate_start() hands one back to have ->invalidate_finish() called
 * with it after every interval of the invalidation has been started.  It
 * is usually embedded in a driver structure holding what the finish pass
 * waits for (a TLB flush fence, say).  Each call needs one of its own:
 * invalidations of different ranges run concurrently.  It is obtained
 * inside an invalidation, which reclaim may be running, so not with
 * GFP_KERNEL: a small pool, or GFP_NOWAIT with the one-pass way as the
 * fallback when that fails.
 */
struct mmu_interval_notifier_finish {
	struct llist_node link;
	struct mmu_interval_notifier *notifier;
};

/**
 * struct mmu_interval_notifier_ops - callbacks of an interval notifier
 * @invalidate: an invalidation overlaps the interval. The driver takes the
 *	lock it uses around mmu_interval_read_retry(), calls
 *	mmu_interval_set_seq() with @cur_seq and stops using its mappings of
 *	the range before returning. May sleep if the range is blockable;
 *	otherwise it runs between non_block_start() and non_block_end() and
 *	returns false when it would have had to sleep (the invalidation then
 *	fails with -EAGAIN). Returns true when done. Refusing a blockable
 *	invalidation is a bug: it is reported and ignored.
 * @invalidate_start: replaces @invalidate for a driver that invalidates in
 *	two passes.  Same rules, except that the device need not have
 *	stopped using the range when it returns: it may have started a TLB
 *	flush and hand back in *@finish (NULL on entry) a struct
 *	mmu_interval_notifier_finish to complete it.  The core starts every
 *	interval of the invalidation first, then calls @invalidate_finish
 *	for each finish handed back, in the order of the starts, all before
 *	mmu_notifier_invalidate_range_start() returns; so flushes of several
 *	devices overlap instead of running one after the other.  Leaving
 *	*@finish NULL makes it a one-pass call.
 * @invalidate_finish: the second pass: wait for what @invalidate_start
 *	started; afterwards the device must no longer use the range.  Called
 *	exactly once for every finish handed back, also when that start (a
 *	non-blockable one) returned false or a later one refused, and in the
 *	same context as the start: it must not sleep when the range is not
 *	blockable.  Required with @invalidate_start.
 *
 * An interval notifier has @invalidate, or @invalidate_start and
 * @invalidate_finish; the two kinds mix freely on one mm.
 */
struct mmu_interval_notifier_ops {
	bool (*invalidate)(struct mmu_interval_notifier *interval_sub,
			   const struct mmu_notifier_range *range,
			   unsigned long cur_seq);
	bool (*invalidate_start)(struct mmu_interval_notifier *interval_sub,
				 const struct mmu_notifier_range *range,
				 unsigned long cur_seq,
				 struct mmu_interval_notifier_finish **finish);
	void (*invalidate_finish)(struct mmu_interval_notifier_finish *finish);
};

/**
 * struct mmu_interval_notifier - subscription to one VA interval of an mm
 * @interval_tree: the interval [start, last] and the node in the mm's tree
 * @ops: the callbacks
 * @mm: the mm; a reference is held from insert to remove
 * @deferred_item: queues an insert or remove that has to wait for the
 *	invalidations in progress to end
 * @invalidate_seq: the sequence stored by mmu_interval_set_seq()
 */
struct mmu_interval_notifier {
	struct interval_tree_node interval_tree;
	const struct mmu_interval_notifier_ops *ops;
	struct mm_struct *mm;
	struct hlist_node deferred_item;
	unsigned long invalidate_seq;
};

#ifdef CONFIG_MMU_NOTIFIER

#ifdef CONFIG_LOCKDEP
/*
 * Held (for lockdep only) across invalidate_range_start. Code that must not
 * run inside an invalidation, or that invalidations may wait for (fence
 * waits, reclaim), takes and drops it so lockdep sees the dependency.
 */
extern struct lockdep_map __mmu_notifier_invalidate_range_start_map;
#endif

/**
 * struct mmu_notifier_range - a range of an mm whose mappings change
 * @vma: the VMA, when there is a single one (may be NULL)
 * @mm: the mm
 * @start: first address of the range
 * @end: first address after the range
 * @flags: MMU_NOTIFIER_RANGE_BLOCKABLE when callbacks may sleep
 * @event: why the range changes
 * @owner: for MMU_NOTIFY_MIGRATE and MMU_NOTIFY_EXCLUSIVE, the driver that
 *	caused the change (see enum mmu_notifier_event)
 */
struct mmu_notifier_range {
	struct vm_area_struct *vma;
	struct mm_struct *mm;
	unsigned long start;
	unsigned long end;
	unsigned int flags;
	enum mmu_notifier_event event;
	void *owner;
};

static inline int mm_has_notifiers(struct mm_struct *mm)
{
	return unlikely(mm->notifier_subscriptions);
}

struct mmu_notifier *mmu_notifier_get_locked(const struct mmu_notifier_ops *ops,
					     struct mm_struct *mm);

/**
 * mmu_notifier_get - get the notifier of @ops on @mm, creating it if needed
 * @ops: the callbacks, which must include alloc_notifier and free_notifier
 * @mm: the mm
 *
 * Takes the mmap lock for writing; see mmu_notifier_get_locked().
 *
 * Return: the notifier, with one more reference, or an ERR_PTR().
 */
static inline struct mmu_notifier *
mmu_notifier_get(const struct mmu_notifier_ops *ops, struct mm_struct *mm)
{
	struct mmu_notifier *found;

	mmap_write_lock(mm);
	found = mmu_notifier_get_locked(ops, mm);
	mmap_write_unlock(mm);
	return found;
}

void mmu_notifier_put(struct mmu_notifier *subscription);
void mmu_notifier_synchronize(void);

int mmu_notifier_register(struct mmu_notifier *subscription,
			  struct mm_struct *mm);
int __mmu_notifier_register(struct mmu_notifier *subscription,
			    struct mm_struct *mm);
void mmu_notifier_unregister(struct mmu_notifier *subscription,
			     struct mm_struct *mm);

unsigned long
mmu_interval_read_begin(struct mmu_interval_notifier *interval_sub);
int mmu_interval_notifier_insert(struct mmu_interval_notifier *interval_sub,
				 struct mm_struct *mm, unsigned long start,
				 unsigned long length,
				 const struct mmu_interval_notifier_ops *ops);
int mmu_interval_notifier_insert_locked(struct mmu_interval_notifier *interval_sub,
					struct mm_struct *mm, unsigned long start,
					unsigned long length,
					const struct mmu_interval_notifier_ops *ops);
void mmu_interval_notifier_remove(struct mmu_interval_notifier *interval_sub);

/**
 * mmu_interval_set_seq - record that an invalidation hit the interval
 * @interval_sub: the subscription given to ->invalidate()
 * @cur_seq: the (always odd) sequence given to ->invalidate()
 *
 * ->invalidate() calls this every time, holding the same driver lock that
 * protects mmu_interval_read_retry(). Readers that began before it will then
 * be told to retry. Drivers that never use read_begin/read_retry may skip it.
 */
static inline void
mmu_interval_set_seq(struct mmu_interval_notifier *interval_sub,
		     unsigned long cur_seq)
{
	WRITE_ONCE(interval_sub->invalidate_seq, cur_seq);
}

DECLARE_TRACEPOINT(mmu_interval_read_retry);
void __mmu_interval_do_trace_read_retry(struct mmu_interval_notifier *sub,
					unsigned long seq);

/**
 * mmu_interval_read_retry - close a read section; did it race?
 * @interval_sub: the subscription
 * @seq: what the matching mmu_interval_read_begin() returned
 *
 * Call with the driver lock that ->invalidate() holds around
 * mmu_interval_set_seq(), and keep holding it while the mirror built in
 * the read section is made visible to the device.
 *
 * Return: true if an invalidation overlapped the section; the result must
 * then be discarded and the section retried.
 */
static inline bool
mmu_interval_read_retry(struct mmu_interval_notifier *interval_sub,
			unsigned long seq)
{
	bool retry = seq != interval_sub->invalidate_seq;

	/* A static branch: nothing but a no-op unless it is traced. */
	if (unlikely(retry) && tracepoint_enabled(mmu_interval_read_retry))
		__mmu_interval_do_trace_read_retry(interval_sub, seq);
	return retry;
}

/**
 * mmu_interval_check_retry - early, lockless test for a collision
 * @interval_sub: the subscription
 * @seq: what the matching mmu_interval_read_begin() returned
 *
 * May be called at any point of a read section, without the driver lock,
 * to give up early on long work. True means mmu_interval_read_retry() will
 * be true as well; false proves nothing.
 *
 * Return: true if an invalidation is known to have overlapped the section.
 */
static inline bool
mmu_interval_check_retry(struct mmu_interval_notifier *interval_sub,
			 unsigned long seq)
{
	/* The store side is mmu_interval_set_seq(). */
	return seq != READ_ONCE(interval_sub->invalidate_seq);
}

void __mmu_notifier_subscriptions_destroy(struct mm_struct *mm);
void __mmu_notifier_release(struct mm_struct *mm);
int __mmu_notifier_clear_flush_young(struct mm_struct *mm, unsigned long start,
				     unsigned long end);
int __mmu_notifier_clear_young(struct mm_struct *mm, unsigned long start,
			       unsigned long end);
int __mmu_notifier_test_young(struct mm_struct *mm, unsigned long address);
void __mmu_notifier_change_pte(struct mm_struct *mm, unsigned long address,
			       pte_t pte);
int __mmu_notifier_invalidate_range_start(struct mmu_notifier_range *r);
void __mmu_notifier_invalidate_range_end(struct mmu_notifier_range *r,
					 bool only_end);
void __mmu_notifier_invalidate_range(struct mm_struct *mm, unsigned long start,
				     unsigned long end);
bool
mmu_notifier_range_update_to_read_only(const struct mmu_notifier_range *range);

/**
 * mmu_notifier_range_blockable - may callbacks sleep for this range?
 * @range: the range being invalidated
 *
 * Return: true unless the invalidation was started non-blocking.
 */
static inline bool
mmu_notifier_range_blockable(const struct mmu_notifier_range *range)
{
	return range->flags & MMU_NOTIFIER_RANGE_BLOCKABLE;
}

/*
 * The wrappers below keep the common case (no notifier on the mm) down to one
 * test of mm->notifier_subscriptions.
 */
static inline void mmu_notifier_release(struct mm_struct *mm)
{
	if (!mm_has_notifiers(mm))
		return;
	__mmu_notifier_release(mm);
}

static inline int mmu_notifier_clear_flush_young(struct mm_struct *mm,
						 unsigned long start,
						 unsigned long end)
{
	return mm_has_notifiers(mm) ?
		__mmu_notifier_clear_flush_young(mm, start, end) : 0;
}

static inline int mmu_notifier_clear_young(struct mm_struct *mm,
					   unsigned long start,
					   unsigned long end)
{
	return mm_has_notifiers(mm) ?
		__mmu_notifier_clear_young(mm, start, end) : 0;
}

static inline int mmu_notifier_test_young(struct mm_struct *mm,
					  unsigned long address)
{
	return mm_has_notifiers(mm) ?
		__mmu_notifier_test_young(mm, address) : 0;
}

static inline void mmu_notifier_change_pte(struct mm_struct *mm,
					   unsigned long address, pte_t pte)
{
	if (!mm_has_notifiers(mm))
		return;
	__mmu_notifier_change_pte(mm, address, pte);
}

/*
 * Starting an invalidation is a lockdep "lock" even when the mm has no
 * notifier yet, so that a lock order that would deadlock against a notifier
 * is reported on every kernel, not only on one where a driver is attached.
 */
static inline void
mmu_notifier_invalidate_range_start(struct mmu_notifier_range *range)
{
	might_sleep();

	lock_map_acquire(&__mmu_notifier_invalidate_range_start_map);
	if (mm_has_notifiers(range->mm)) {
		range->flags |= MMU_NOTIFIER_RANGE_BLOCKABLE;
		__mmu_notifier_invalidate_range_start(range);
	}
	lock_map_release(&__mmu_notifier_invalidate_range_start_map);
}

/*
 * For callers that cannot sleep (the OOM reaper): on -EAGAIN nothing was
 * started, and the caller must not call an end for this range.
 */
static inline int
mmu_notifier_invalidate_range_start_nonblock(struct mmu_notifier_range *range)
{
	int err = 0;

	lock_map_acquire(&__mmu_notifier_invalidate_range_start_map);
	if (mm_has_notifiers(range->mm)) {
		range->flags &= ~MMU_NOTIFIER_RANGE_BLOCKABLE;
		err = __mmu_notifier_invalidate_range_start(range);
	}
	lock_map_release(&__mmu_notifier_invalidate_range_start_map);
	return err;
}

static inline void
mmu_notifier_invalidate_range_end(struct mmu_notifier_range *range)
{
	if (mmu_notifier_range_blockable(range))
		might_sleep();
	if (!mm_has_notifiers(range->mm))
		return;
	__mmu_notifier_invalidate_range_end(range, false);
}

/*
 * End without the ->invalidate_range() TLB flush, for callers that already
 * issued it (e.g. through ptep_clear_flush_notify()).
 */
static inline void
mmu_notifier_invalidate_range_only_end(struct mmu_notifier_range *range)
{
	if (!mm_has_notifiers(range->mm))
		return;
	__mmu_notifier_invalidate_range_end(range, true);
}

static inline void mmu_notifier_invalidate_range(struct mm_struct *mm,
						 unsigned long start,
						 unsigned long end)
{
	if (!mm_has_notifiers(mm))
		return;
	__mmu_notifier_invalidate_range(mm, start, end);
}

static inline void mmu_notifier_subscriptions_init(struct mm_struct *mm)
{
	mm->notifier_subscriptions = NULL;
}

static inline void mmu_notifier_subscriptions_destroy(struct mm_struct *mm)
{
	if (!mm_has_notifiers(mm))
		return;
	__mmu_notifier_subscriptions_destroy(mm);
}

static inline void mmu_notifier_range_init(struct mmu_notifier_range *range,
					   enum mmu_notifier_event event,
					   unsigned int flags,
					   struct vm_area_struct *vma,
					   struct mm_struct *mm,
					   unsigned long start,
					   unsigned long end)
{
	range->start = start;
	range->end = end;
	range->mm = mm;
	range->vma = vma;
	range->flags = flags;
	range->event = event;
}

static inline void
mmu_notifier_range_init_owner(struct mmu_notifier_range *range,
			      enum mmu_notifier_event event, unsigned int flags,
			      struct vm_area_struct *vma, struct mm_struct *mm,
			      unsigned long start, unsigned long end, void *owner)
{
	range->owner = owner;
	mmu_notifier_range_init(range, event, flags, vma, mm, start, end);
}

/*
 * Page table helpers that also tell the secondary MMUs. The aging ones OR
 * the answer of the CPU entry with the answer of the notifiers over the
 * span the entry maps; the clear_flush ones flush the secondary TLBs with
 * ->invalidate_range() right after the CPU entry is gone.
 */
#define ptep_clear_flush_young_notify(__vma, __address, __ptep)		\
({									\
	struct vm_area_struct *_cfy_vma = (__vma);			\
	unsigned long _cfy_addr = (__address);				\
	int _cfy_young = ptep_clear_flush_young(_cfy_vma, _cfy_addr,	\
						 __ptep);		\
									\
	_cfy_young | mmu_notifier_clear_flush_young(_cfy_vma->vm_mm,	\
						    _cfy_addr,		\
						    _cfy_addr + PAGE_SIZE); \
})

#define pmdp_clear_flush_young_notify(__vma, __address, __pmdp)		\
({									\
	struct vm_area_struct *_cfy_vma = (__vma);			\
	unsigned long _cfy_addr = (__address);				\
	int _cfy_young = pmdp_clear_flush_young(_cfy_vma, _cfy_addr,	\
						 __pmdp);		\
									\
	_cfy_young | mmu_notifier_clear_flush_young(_cfy_vma->vm_mm,	\
						    _cfy_addr,		\
						    _cfy_addr + PMD_SIZE); \
})

#define ptep_clear_young_notify(__vma, __address, __ptep)		\
({									\
	struct vm_area_struct *_cy_vma = (__vma);			\
	unsigned long _cy_addr = (__address);				\
	int _cy_young = ptep_test_and_clear_young(_cy_vma, _cy_addr,	\
						  __ptep);		\
									\
	_cy_young | mmu_notifier_clear_young(_cy_vma->vm_mm, _cy_addr,	\
					     _cy_addr + PAGE_SIZE);	\
})

#define pmdp_clear_young_notify(__vma, __address, __pmdp)		\
({									\
	struct vm_area_struct *_cy_vma = (__vma);			\
	unsigned long _cy_addr = (__address);				\
	int _cy_young = pmdp_test_and_clear_young(_cy_vma, _cy_addr,	\
						  __pmdp);		\
									\
	_cy_young | mmu_notifier_clear_young(_cy_vma->vm_mm, _cy_addr,	\
					     _cy_addr + PMD_SIZE);	\
})

#define	ptep_clear_flush_notify(__vma, __address, __ptep)		\
({									\
	struct vm_area_struct *_cf_vma = (__vma);			\
	unsigned long _cf_addr = (__address);				\
	unsigned long _cf_start = _cf_addr & PAGE_MASK;			\
	pte_t _cf_old = ptep_clear_flush(_cf_vma, _cf_addr, __ptep);	\
									\
	mmu_notifier_invalidate_range(_cf_vma->vm_mm, _cf_start,	\
				      _cf_start + PAGE_SIZE);		\
	_cf_old;							\
})

#define pmdp_huge_clear_flush_notify(__vma, __haddr, __pmd)		\
({									\
	struct vm_area_struct *_cf_vma = (__vma);			\
	unsigned long _cf_addr = (__haddr);				\
	unsigned long _cf_start = _cf_addr & HPAGE_PMD_MASK;		\
	pmd_t _cf_old = pmdp_huge_clear_flush(_cf_vma, _cf_addr, __pmd);	\
									\
	mmu_notifier_invalidate_range(_cf_vma->vm_mm, _cf_start,	\
				      _cf_start + HPAGE_PMD_SIZE);	\
	_cf_old;							\
})

#define pudp_huge_clear_flush_notify(__vma, __haddr, __pud)		\
({									\
	struct vm_area_struct *_cf_vma = (__vma);			\
	unsigned long _cf_addr = (__haddr);				\
	unsigned long _cf_start = _cf_addr & HPAGE_PUD_MASK;		\
	pud_t _cf_old = pudp_huge_clear_flush(_cf_vma, _cf_addr, __pud);	\
									\
	mmu_notifier_invalidate_range(_cf_vma->vm_mm, _cf_start,	\
				      _cf_start + HPAGE_PUD_SIZE);	\
	_cf_old;							\
})

/*
 * Install a new pte, telling the secondary MMUs first. The old entry must
 * already be gone from the CPU (ptep_clear_flush()); going to the secondary
 * MMUs first matters when both the page and its write permission change,
 * as on a COW fault: otherwise a secondary MMU could keep the old page
 * read-only mapped while the CPU already writes the new one.
 */
#define set_pte_at_notify(__mm, __address, __ptep, __pte)		\
({									\
	struct mm_struct *_spn_mm = (__mm);				\
	unsigned long _spn_addr = (__address);				\
	pte_t _spn_pte = (__pte);					\
									\
	mmu_notifier_change_pte(_spn_mm, _spn_addr, _spn_pte);		\
	set_pte_at(_spn_mm, _spn_addr, __ptep, _spn_pte);		\
})

#else /* CONFIG_MMU_NOTIFIER */

/* Without notifiers a range only needs its bounds. */
struct mmu_notifier_range {
	unsigned long start;
	unsigned long end;
};

static inline void _mmu_notifier_range_init(struct mmu_notifier_range *range,
					    unsigned long start,
					    unsigned long end)
{
	range->end = end;
	range->start = start;
}

/* Macros, so that callers may name things that do not exist here. */
#define mmu_notifier_range_init(range, event, flags, vma, mm, start, end) \
	_mmu_notifier_range_init(range, start, end)
#define mmu_notifier_range_init_owner(range, event, flags, vma, mm, start, \
				      end, owner)			  \
	_mmu_notifier_range_init(range, start, end)

static inline bool
mmu_notifier_range_blockable(const struct mmu_notifier_range *range)
{
	return true;
}

static inline int mm_has_notifiers(struct mm_struct *mm)
{
	return 0;
}

static inline void mmu_notifier_release(struct mm_struct *mm)
{
}

static inline int mmu_notifier_clear_flush_young(struct mm_struct *mm,
						 unsigned long start,
						 unsigned long end)
{
	return 0;
}

static inline int mmu_notifier_clear_young(struct mm_struct *mm,
					   unsigned long start,
					   unsigned long end)
{
	return 0;
}

static inline int mmu_notifier_test_young(struct mm_struct *mm,
					  unsigned long address)
{
	return 0;
}

static inline void mmu_notifier_change_pte(struct mm_struct *mm,
					   unsigned long address, pte_t pte)
{
}

static inline void
mmu_notifier_invalidate_range_start(struct mmu_notifier_range *range)
{
}

static inline int
mmu_notifier_invalidate_range_start_nonblock(struct mmu_notifier_range *range)
{
	return 0;
}

static inline void
mmu_notifier_invalidate_range_end(struct mmu_notifier_range *range)
{
}

static inline void
mmu_notifier_invalidate_range_only_end(struct mmu_notifier_range *range)
{
}

static inline void mmu_notifier_invalidate_range(struct mm_struct *mm,
						 unsigned long start,
						 unsigned long end)
{
}

static inline void mmu_notifier_subscriptions_init(struct mm_struct *mm)
{
}

static inline void mmu_notifier_subscriptions_destroy(struct mm_struct *mm)
{
}

static inline void mmu_notifier_synchronize(void)
{
}

#define mmu_notifier_range_update_to_read_only(r) false

#define ptep_clear_flush_young_notify ptep_clear_flush_young
#define pmdp_clear_flush_young_notify pmdp_clear_flush_young
#define ptep_clear_young_notify ptep_test_and_clear_young
#define pmdp_clear_young_notify pmdp_test_and_clear_young
#define	ptep_clear_flush_notify ptep_clear_flush
#define pmdp_huge_clear_flush_notify pmdp_huge_clear_flush
#define pudp_huge_clear_flush_notify pudp_huge_clear_flush
#define set_pte_at_notify set_pte_at

#endif /* CONFIG_MMU_NOTIFIER */

#endif /* _LINUX_MMU_NOTIFIER_H */

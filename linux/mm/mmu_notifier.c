// SPDX-License-Identifier: GPL-2.0-only
/*
 * MMU notifier core: classic notifiers and interval notifiers.
 *
 * Per-mm state lives in struct mmu_notifier_subscriptions, created the first
 * time anything subscribes to the mm and freed with the mm_struct.
 *
 * Classic notifiers sit on an RCU hlist walked under one global SRCU, which
 * lets callbacks sleep and lets unregister/put wait for every walk that might
 * still see the notifier.
 *
 * Interval notifiers sit in an interval tree guarded by a spinlock. While an
 * invalidation walks the tree it runs with the spinlock dropped (callbacks
 * sleep), so the tree is frozen instead: inserts and removes that come in
 * meanwhile are queued and applied by whoever ends the last invalidation.
 * The per-mm sequence number ("seq") tells the two states apart:
 *
 *   seq even  - no walk in progress, the tree may be changed directly;
 *   seq odd   - at least one invalidation found intervals to call, the tree
 *               is frozen, and every interval it calls is handed this odd
 *               value through mmu_interval_set_seq().
 *
 * When the last open invalidation ends, seq moves on to the next even value,
 * the queue is applied and waiters are woken. A reader whose interval holds
 * the current odd seq is inside that invalidation and waits for it; a reader
 * holding any other value may start, and read_retry() catches a later hit
 * because the hit stores a value different from the one the reader got.
 *
 * An interval notifier may split its callback in two: invalidate_start()
 * for every interval of the invalidation first, each possibly handing back
 * a finish, and then invalidate_finish() for each finish, so that the TLB
 * flushes of several devices overlap. Both passes happen inside the
 * invalidation's start; the tree stays frozen across them as for one pass.
 *
 * Whether an invalidation opens the interval side at all depends on
 * itree_enabled, read once at its start and once at its end. Both reads
 * must agree, so the flag (like the classic list) only changes under
 * mm_take_all_locks(): every invalidation runs under the mmap lock or an
 * rmap lock, or on an mm without users, and none can be in flight then.
 */
#include <linux/export.h>
#include <linux/interval_tree.h>
#include <linux/ktime.h>
#include <linux/llist.h>
#include <linux/mm.h>
#include <linux/mmu_notifier.h>
#include <linux/rculist.h>
#include <linux/sched.h>
#include <linux/sched/mm.h>
#include <linux/slab.h>
#include <linux/srcu.h>
#include <linux/wait.h>

#define CREATE_TRACE_POINTS
#include <trace/events/mmu_notifier.h>

/* Every classic notifier walk runs inside this SRCU read section. */
DEFINE_STATIC_SRCU(mn_srcu);

#ifdef CONFIG_LOCKDEP
struct lockdep_map __mmu_notifier_invalidate_range_start_map = {
	.name = "mmu_notifier_invalidate_range_start"
};
#endif

/**
 * struct mmu_notifier_subscriptions - everything subscribed to one mm
 * @classic: struct mmu_notifier list, RCU, changed under @lock
 * @itree_enabled: intervals may be present; set once, under all mm locks
 * @lock: protects the fields below and changes to @classic
 * @seq: interval sequence number, odd while the tree is frozen
 * @open: invalidations started and not yet ended
 * @tree: the interval notifiers
 * @queued: inserts and removes waiting for @open to drop to zero
 * @waitq: read_begin and remove wait here for @seq to move on
 */
struct mmu_notifier_subscriptions {
	struct hlist_head classic;
	bool itree_enabled;
	spinlock_t lock;	/* guards the interval state and list changes */
	unsigned long seq;
	unsigned long open;
	struct rb_root_cached tree;
	struct hlist_head queued;
	wait_queue_head_t waitq;
};

/* Walk the classic notifiers of @subs, inside an mn_srcu read section. */
#define for_each_classic(mn, subs)					\
	hlist_for_each_entry_rcu((mn), &(subs)->classic, hlist,		\
				 srcu_read_lock_held(&mn_srcu))

/*
 * Callbacks of a non-blockable invalidation must not sleep; they run
 * between non_block_start() and non_block_end(), so that
 * CONFIG_DEBUG_ATOMIC_SLEEP reports one that does.
 */
static void mn_callback_enter(bool blockable)
{
	if (!blockable)
		non_block_start();
}

static void mn_callback_exit(bool blockable)
{
	if (!blockable)
		non_block_end();
}

/* Waiting for invalidations from inside one would never end: tell lockdep. */
static void mn_might_wait_for_invalidations(void)
{
	lock_map_acquire(&__mmu_notifier_invalidate_range_start_map);
	lock_map_release(&__mmu_notifier_invalidate_range_start_map);
}

static bool mn_tree_frozen(struct mmu_notifier_subscriptions *subs)
{
	lockdep_assert_held(&subs->lock);
	return subs->seq & 1;
}

/*
 * An interval that is in the tree has a linked rb node; one whose insert is
 * still queued does not. That is how a queued entry says insert or remove.
 */
static bool mn_sub_in_tree(struct mmu_interval_notifier *sub)
{
	return !RB_EMPTY_NODE(&sub->interval_tree.rb);
}

static void mn_apply_queued(struct mmu_notifier_subscriptions *subs)
{
	struct mmu_interval_notifier *sub;
	struct hlist_node *tmp;

	hlist_for_each_entry_safe(sub, tmp, &subs->queued, deferred_item) {
		if (mn_sub_in_tree(sub)) {
			interval_tree_remove(&sub->interval_tree, &subs->tree);
			RB_CLEAR_NODE(&sub->interval_tree.rb);
		} else {
			interval_tree_insert(&sub->interval_tree, &subs->tree);
		}
		hlist_del(&sub->deferred_item);
	}
}

/*
 * Open an invalidation of [start, last] against the tree. Returns the first
 * overlapping interval (the tree is then frozen) or NULL, and the sequence
 * number the callbacks get in @seq.
 */
static struct mmu_interval_notifier *
mn_itree_open(struct mmu_notifier_subscriptions *subs, unsigned long start,
	      unsigned long last, unsigned long *seq)
{
	struct interval_tree_node *node;

	spin_lock(&subs->lock);
	subs->open++;
	node = interval_tree_iter_first(&subs->tree, start, last);
	if (node)
		subs->seq |= 1;
	*seq = subs->seq;
	spin_unlock(&subs->lock);

	return node ? container_of(node, struct mmu_interval_notifier,
				   interval_tree) : NULL;
}

static struct mmu_interval_notifier *
mn_itree_next(struct mmu_interval_notifier *sub, unsigned long start,
	      unsigned long last)
{
	struct interval_tree_node *node;

	node = interval_tree_iter_next(&sub->interval_tree, start, last);
	return node ? container_of(node, struct mmu_interval_notifier,
				   interval_tree) : NULL;
}

/* Close one invalidation; the last one out thaws the tree. */
static void mn_itree_close(struct mmu_notifier_subscriptions *subs)
{
	bool thawed = false;

	spin_lock(&subs->lock);
	if (!WARN_ON_ONCE(!subs->open) && !--subs->open &&
	    mn_tree_frozen(subs)) {
		subs->seq++;
		mn_apply_queued(subs);
		thawed = true;
	}
	spin_unlock(&subs->lock);

	/*
	 * Nearly always nobody waits: skip the waitqueue's lock then.
	 * wq_has_sleeper() orders the seq update above against the check,
	 * and wait_event() queues the waiter before it reads seq.
	 */
	if (thawed && wq_has_sleeper(&subs->waitq))
		wake_up_all(&subs->waitq);
}

/*
 * A callback refused an invalidation it had to carry out (a blockable one
 * may sleep, so it has no excuse). The page tables change anyway; all the
 * core can do is say so, once, and go on as if the callback had succeeded,
 * so that everybody else still gets a start for the end that will come.
 */
static noinline void mn_report_refusal(const void *callback, int err)
{
	WARN_ONCE(1, "%pS refused a blockable invalidation: %d\n", callback, err);
}

/*
 * The first (or only) pass of one interval: a two-pass callback's finish,
 * if it hands one back, joins @finishes.
 */
static bool mn_itree_call(struct mmu_interval_notifier *sub,
			  const struct mmu_notifier_range *range,
			  unsigned long seq, struct llist_head *finishes)
{
	struct mmu_interval_notifier_finish *finish = NULL;
	bool done;

	if (!sub->ops->invalidate_start)
		return sub->ops->invalidate(sub, range, seq);

	done = sub->ops->invalidate_start(sub, range, seq, &finish);
	if (finish) {
		finish->notifier = sub;
		__llist_add(&finish->link, finishes);
	}
	return done;
}

/*
 * The second pass: every finish handed back, in the order of the starts.
 * Returns how many there were.
 */
static unsigned int mn_itree_finish(const struct mmu_notifier_range *range,
				    struct llist_head *finishes)
{
	bool blockable = mmu_notifier_range_blockable(range);
	struct mmu_interval_notifier_finish *finish, *next;
	struct llist_node *first;
	unsigned int n = 0;

	first = llist_reverse_order(__llist_del_all(finishes));
	llist_for_each_entry_safe(finish, next, first, link) {
		mn_callback_enter(blockable);
		finish->notifier->ops->invalidate_finish(finish);
		mn_callback_exit(blockable);
		n++;
	}
	return n;
}

/*
 * Open an invalidation of [start, last] and call every interval overlapping
 * it, finishing the two-pass ones after all have started. The caller
 * closes it again with mn_itree_close(), also when a non-blockable
 * callback refused and this returns -EAGAIN; the finishes handed back
 * before the refusal have run by then.
 */
static int mn_itree_invalidate(struct mmu_notifier_subscriptions *subs,
			       const struct mmu_notifier_range *range,
			       unsigned long start, unsigned long last)
{
	bool blockable = mmu_notifier_range_blockable(range);
	struct mmu_interval_notifier *sub;
	unsigned int called = 0, finished;
	LLIST_HEAD(finishes);
	unsigned long seq;
	int ret = 0;
	bool done;

	for (sub = mn_itree_open(subs, start, last, &seq); sub;
	     sub = mn_itree_next(sub, start, last)) {
		mn_callback_enter(blockable);
		done = mn_itree_call(sub, range, seq, &finishes);
		mn_callback_exit(blockable);
		called++;
		if (likely(done))
			continue;
		if (!blockable) {
			ret = -EAGAIN;
			break;
		}
		if (sub->ops->invalidate_start)
			mn_report_refusal(sub->ops->invalidate_start, -EAGAIN);
		else
			mn_report_refusal(sub->ops->invalidate, -EAGAIN);
	}
	finished = mn_itree_finish(range, &finishes);
	trace_mmu_interval_invalidate_start(range, seq, called, finished, ret);
	return ret;
}

/**
 * mmu_interval_read_begin - open a read section against an interval
 * @interval_sub: the subscription
 *
 * Starts the collision-retry scheme of interval notifiers:
 *
 *	again:
 *	seq = mmu_interval_read_begin(sub);
 *	build the mirror from the CPU page tables (e.g. hmm_range_fault())
 *	take the driver lock
 *	if (mmu_interval_read_retry(sub, seq)) {
 *		drop the driver lock; goto again;
 *	}
 *	make the mirror visible to the device; drop the driver lock
 *
 * If an invalidation currently covers the interval, this sleeps until that
 * invalidation (and every other one open on the mm) has ended, so the read
 * section does not start with a result that is already known to be stale.
 * Must not be called from inside an invalidation.
 *
 * Return: the sequence to hand to mmu_interval_read_retry().
 */
unsigned long
mmu_interval_read_begin(struct mmu_interval_notifier *interval_sub)
{
	struct mmu_notifier_subscriptions *subs =
		interval_sub->mm->notifier_subscriptions;
	unsigned long seq;
	bool busy;

	spin_lock(&subs->lock);
	seq = READ_ONCE(interval_sub->invalidate_seq);
	/*
	 * An interval's seq is always odd (see mn_interval_add() and the
	 * seq handed to its callbacks), and the tree's is odd only while
	 * frozen: equal means an invalidation of this interval is open.
	 */
	busy = seq == subs->seq;
	spin_unlock(&subs->lock);

	mn_might_wait_for_invalidations();

	if (busy) {
		u64 began = ktime_get_ns();

		wait_event(subs->waitq, READ_ONCE(subs->seq) != seq);
		trace_mmu_interval_read_begin_wait(interval_sub, seq,
						   ktime_get_ns() - began);
	}

	/*
	 * Whatever seq the invalidation that woke us stored is the one we
	 * return: it ended before we read the page tables, so it is no
	 * collision.
	 */
	return seq;
}
EXPORT_SYMBOL_GPL(mmu_interval_read_begin);

/*
 * mmu_interval_read_retry() is inline in every driver: it calls this only
 * when it found a collision and the tracepoint is on.
 */
void __mmu_interval_do_trace_read_retry(struct mmu_interval_notifier *sub,
					unsigned long seq)
{
	trace_mmu_interval_read_retry(sub, seq);
}
EXPORT_SYMBOL_GPL(__mmu_interval_do_trace_read_retry);
EXPORT_TRACEPOINT_SYMBOL_GPL(mmu_interval_read_retry);

/*
 * The thaw moves seq on and applies the queue in one critical section, so
 * an interval whose remove was queued is unlinked only once the lock is
 * dropped. Reading seq without the lock could see the new value earlier and
 * let the caller free or reinsert a node the thaw is still unlinking.
 */
static bool mn_seq_moved_on(struct mmu_notifier_subscriptions *subs,
			    unsigned long seq)
{
	bool moved;

	spin_lock(&subs->lock);
	moved = subs->seq != seq;
	spin_unlock(&subs->lock);
	return moved;
}

/* At exit the intervals get one last, blockable, whole-mm invalidation. */
static void mn_itree_release(struct mmu_notifier_subscriptions *subs,
			     struct mm_struct *mm)
{
	struct mmu_notifier_range range = {
		.mm = mm,
		.start = 0,
		.end = ULONG_MAX,
		.flags = MMU_NOTIFIER_RANGE_BLOCKABLE,
		.event = MMU_NOTIFY_RELEASE,
	};

	mn_itree_invalidate(subs, &range, 0, ULONG_MAX);
	mn_itree_close(subs);
	trace_mmu_interval_invalidate_end(&range, READ_ONCE(subs->seq));
}

/*
 * Tell every classic notifier the mm is going away, then unhook them all.
 * Each stays hooked while its ->release() runs: until that has torn the
 * secondary mappings down, an rmap invalidation running meanwhile (reclaim,
 * migration) must still reach it. An unregister racing with this may call
 * ->release() a second time, as it always could.
 */
static void mn_classic_release(struct mmu_notifier_subscriptions *subs,
			       struct mm_struct *mm)
{
	struct mmu_notifier *mn;
	int idx;

	idx = srcu_read_lock(&mn_srcu);
	for_each_classic(mn, subs)
		if (mn->ops->release)
			mn->ops->release(mn, mm);
	srcu_read_unlock(&mn_srcu, idx);

	spin_lock(&subs->lock);
	while (!hlist_empty(&subs->classic))
		hlist_del_init_rcu(subs->classic.first);
	spin_unlock(&subs->lock);

	/* No callback still running on any of them after we return. */
	synchronize_srcu(&mn_srcu);
}

void __mmu_notifier_release(struct mm_struct *mm)
{
	struct mmu_notifier_subscriptions *subs = mm->notifier_subscriptions;

	if (READ_ONCE(subs->itree_enabled))
		mn_itree_release(subs, mm);
	if (!hlist_empty(&subs->classic))
		mn_classic_release(subs, mm);
}

/* Ask every notifier to age [start, end), flushing its TLB with @flush. */
static int mn_clear_young(struct mm_struct *mm, unsigned long start,
			  unsigned long end, bool flush)
{
	struct mmu_notifier *mn;
	int idx, young = 0;

	idx = srcu_read_lock(&mn_srcu);
	for_each_classic(mn, mm->notifier_subscriptions) {
		if (flush && mn->ops->clear_flush_young)
			young |= mn->ops->clear_flush_young(mn, mm, start, end);
		else if (!flush && mn->ops->clear_young)
			young |= mn->ops->clear_young(mn, mm, start, end);
	}
	srcu_read_unlock(&mn_srcu, idx);
	return young;
}

int __mmu_notifier_clear_flush_young(struct mm_struct *mm,
				     unsigned long start, unsigned long end)
{
	return mn_clear_young(mm, start, end, true);
}

int __mmu_notifier_clear_young(struct mm_struct *mm,
			       unsigned long start, unsigned long end)
{
	return mn_clear_young(mm, start, end, false);
}

int __mmu_notifier_test_young(struct mm_struct *mm, unsigned long address)
{
	struct mmu_notifier *mn;
	int idx, young = 0;

	idx = srcu_read_lock(&mn_srcu);
	for_each_classic(mn, mm->notifier_subscriptions) {
		if (!mn->ops->test_young)
			continue;
		/* One young secondary mapping is enough of an answer. */
		young = mn->ops->test_young(mn, mm, address);
		if (young)
			break;
	}
	srcu_read_unlock(&mn_srcu, idx);
	return young;
}

void __mmu_notifier_change_pte(struct mm_struct *mm, unsigned long address,
			       pte_t pte)
{
	struct mmu_notifier *mn;
	int idx;

	idx = srcu_read_lock(&mn_srcu);
	for_each_classic(mn, mm->notifier_subscriptions)
		if (mn->ops->change_pte)
			mn->ops->change_pte(mn, mm, address, pte);
	srcu_read_unlock(&mn_srcu, idx);
}

static void mn_call_end(struct mmu_notifier *mn,
			const struct mmu_notifier_range *range)
{
	bool blockable = mmu_notifier_range_blockable(range);

	mn_callback_enter(blockable);
	mn->ops->invalidate_range_end(mn, range);
	mn_callback_exit(blockable);
}

/*
 * Undo a non-blockable start that the notifier at position @nr_started of
 * the list, @failed, refused: the ones walked before it get the end they
 * would have had. Notifiers can be unhooked meanwhile (not added: that
 * needs the mmap lock, which the caller holds), so the walk stops after
 * @nr_started entries even if @failed is no longer on the list, and
 * earlier if it meets @failed sooner because one before it went away.
 */
static void mn_classic_unwind(struct mmu_notifier_subscriptions *subs,
			      const struct mmu_notifier_range *range,
			      struct mmu_notifier *failed, int nr_started)
{
	struct mmu_notifier *mn;

	for_each_classic(mn, subs) {
		if (mn == failed || nr_started-- <= 0)
			break;
		if (mn->ops->invalidate_range_end)
			mn_call_end(mn, range);
	}
}

/*
 * Start one notifier. Only a non-blockable start may be refused, and only
 * with -EAGAIN; a blockable one is carried on with.
 */
static int mn_call_start(struct mmu_notifier *mn,
			 const struct mmu_notifier_range *range)
{
	bool blockable = mmu_notifier_range_blockable(range);
	int err;

	if (!mn->ops->invalidate_range_start)
		return 0;
	mn_callback_enter(blockable);
	err = mn->ops->invalidate_range_start(mn, range);
	mn_callback_exit(blockable);
	if (likely(!err))
		return 0;
	if (blockable) {
		mn_report_refusal(mn->ops->invalidate_range_start, err);
		return 0;
	}
	WARN_ONCE(err != -EAGAIN, "%pS failed an invalidation: %d\n",
		  mn->ops->invalidate_range_start, err);
	return -EAGAIN;
}

static int mn_classic_start(struct mmu_notifier_subscriptions *subs,
			    const struct mmu_notifier_range *range)
{
	struct mmu_notifier *mn;
	int idx, err = 0, walked = 0;

	idx = srcu_read_lock(&mn_srcu);
	for_each_classic(mn, subs) {
		err = mn_call_start(mn, range);
		if (unlikely(err)) {
			mn_classic_unwind(subs, range, mn, walked);
			break;
		}
		walked++;
	}
	srcu_read_unlock(&mn_srcu, idx);
	return err;
}

int __mmu_notifier_invalidate_range_start(struct mmu_notifier_range *range)
{
	struct mmu_notifier_subscriptions *subs =
		range->mm->notifier_subscriptions;
	bool itree = READ_ONCE(subs->itree_enabled);
	int err = 0;

	if (itree)
		err = mn_itree_invalidate(subs, range, range->start,
					  range->end - 1);
	if (!err && !hlist_empty(&subs->classic))
		err = mn_classic_start(subs, range);
	/* The caller will not end a failed start: close it here. */
	if (err && itree)
		mn_itree_close(subs);
	return err;
}

static void mn_classic_end(struct mmu_notifier_subscriptions *subs,
			   struct mmu_notifier_range *range, bool only_end)
{
	struct mmu_notifier *mn;
	int idx;

	idx = srcu_read_lock(&mn_srcu);
	for_each_classic(mn, subs) {
		/*
		 * A plain end also flushes secondary TLBs: pages are about
		 * to be freed. only_end callers did that flush themselves.
		 */
		if (!only_end && mn->ops->invalidate_range)
			mn->ops->invalidate_range(mn, range->mm, range->start,
						  range->end);
		if (mn->ops->invalidate_range_end)
			mn_call_end(mn, range);
	}
	srcu_read_unlock(&mn_srcu, idx);
}

void __mmu_notifier_invalidate_range_end(struct mmu_notifier_range *range,
					 bool only_end)
{
	struct mmu_notifier_subscriptions *subs =
		range->mm->notifier_subscriptions;

	lock_map_acquire(&__mmu_notifier_invalidate_range_start_map);
	if (READ_ONCE(subs->itree_enabled)) {
		mn_itree_close(subs);
		trace_mmu_interval_invalidate_end(range, READ_ONCE(subs->seq));
	}
	if (!hlist_empty(&subs->classic))
		mn_classic_end(subs, range, only_end);
	lock_map_release(&__mmu_notifier_invalidate_range_start_map);
}

void __mmu_notifier_invalidate_range(struct mm_struct *mm,
				     unsigned long start, unsigned long end)
{
	struct mmu_notifier *mn;
	int idx;

	idx = srcu_read_lock(&mn_srcu);
	for_each_classic(mn, mm->notifier_subscriptions)
		if (mn->ops->invalidate_range)
			mn->ops->invalidate_range(mn, mm, start, end);
	srcu_read_unlock(&mn_srcu, idx);
}

static struct mmu_notifier_subscriptions *mn_subs_alloc(void)
{
	struct mmu_notifier_subscriptions *subs;

	subs = kzalloc(sizeof(*subs), GFP_KERNEL);
	if (!subs)
		return NULL;
	INIT_HLIST_HEAD(&subs->classic);
	spin_lock_init(&subs->lock);
	subs->seq = 2;
	subs->tree = RB_ROOT_CACHED;
	INIT_HLIST_HEAD(&subs->queued);
	init_waitqueue_head(&subs->waitq);
	return subs;
}

/*
 * Publish @subs if it is new and hook @subscription up, or enable interval
 * notifiers when it is NULL. mm_take_all_locks() keeps every invalidation
 * out while we do (they run under the mmap lock or an rmap lock), so none
 * is ever half seen: a new classic notifier never gets an end without the
 * start that goes with it, and no invalidation opens the interval side at
 * its start without closing it at its end, or the other way round.
 */
static int mn_subscribe(struct mmu_notifier_subscriptions *subs,
			struct mmu_notifier *subscription,
			struct mm_struct *mm, bool publish)
{
	int err;

	err = mm_take_all_locks(mm);
	if (err)
		return err;
	if (publish) /* pairs with smp_load_acquire() in interval insert */
		smp_store_release(&mm->notifier_subscriptions, subs);

	if (subscription) {
		mmgrab(mm);
		subscription->mm = mm;
		subscription->users = 1;
		spin_lock(&subs->lock);
		hlist_add_head_rcu(&subscription->hlist, &subs->classic);
		spin_unlock(&subs->lock);
	} else {
		WRITE_ONCE(subs->itree_enabled, true);
	}

	mm_drop_all_locks(mm);
	return 0;
}

/**
 * __mmu_notifier_register - register a notifier, mmap lock already held
 * @subscription: the notifier, with ->ops set; NULL only sets the mm up for
 *	interval notifiers
 * @mm: the mm, with the mmap lock held for writing and a user reference
 *
 * Same as mmu_notifier_register() for callers that hold the mmap lock.
 *
 * Return: 0, -ENOMEM, -EINTR, or -EINVAL for an mm without users.
 */
int __mmu_notifier_register(struct mmu_notifier *subscription,
			    struct mm_struct *mm)
{
	struct mmu_notifier_subscriptions *subs = mm->notifier_subscriptions;
	bool fresh = false;
	int err;

	mmap_assert_write_locked(mm);
	if (WARN_ON_ONCE(atomic_read(&mm->mm_users) <= 0))
		return -EINVAL;

	/*
	 * Reclaim can start invalidations: let lockdep know from the first
	 * registration, not only after reclaim happened to run.
	 */
	fs_reclaim_acquire(GFP_KERNEL);
	fs_reclaim_release(GFP_KERNEL);

	if (!subs) {
		subs = mn_subs_alloc();
		if (!subs)
			return -ENOMEM;
		fresh = true;
	} else if (!subscription && subs->itree_enabled) {
		return 0;
	}

	err = mn_subscribe(subs, subscription, mm, fresh);
	if (err && fresh)
		kfree(subs);
	return err;
}
EXPORT_SYMBOL_GPL(__mmu_notifier_register);

/**
 * mmu_notifier_register - attach a classic notifier to an mm
 * @subscription: the notifier, with ->ops set
 * @mm: the mm; the caller holds a user reference (mm_users)
 *
 * Takes the mmap lock and all rmap locks of @mm, so it may sleep and must
 * not be called with any of them held. The notifier keeps an mm_count
 * reference until mmu_notifier_unregister(). Callbacks may start before
 * this returns.
 *
 * Return: 0, or -ENOMEM, or -EINTR if interrupted while taking the locks.
 */
int mmu_notifier_register(struct mmu_notifier *subscription,
			  struct mm_struct *mm)
{
	int err;

	mmap_write_lock(mm);
	err = __mmu_notifier_register(subscription, mm);
	mmap_write_unlock(mm);
	return err;
}
EXPORT_SYMBOL_GPL(mmu_notifier_register);

/*
 * The notifier of @ops on @mm with one more use, NULL if there is none, or
 * ERR_PTR(-EOVERFLOW) if its use count cannot grow.
 */
static struct mmu_notifier *
mn_find_shared(struct mmu_notifier_subscriptions *subs,
	       const struct mmu_notifier_ops *ops, struct mm_struct *mm)
{
	struct mmu_notifier *mn, *found = NULL;

	spin_lock(&subs->lock);
	hlist_for_each_entry(mn, &subs->classic, hlist) {
		if (mn->ops != ops || mn->mm != mm)
			continue;
		if (likely(mn->users != UINT_MAX)) {
			mn->users++;
			found = mn;
		} else {
			found = ERR_PTR(-EOVERFLOW);
		}
		break;
	}
	spin_unlock(&subs->lock);
	return found;
}

/**
 * mmu_notifier_get_locked - the one notifier of @ops on @mm, made on demand
 * @ops: callbacks, which must provide alloc_notifier and free_notifier
 * @mm: the mm, with the mmap lock held for writing
 *
 * Returns the notifier registered on @mm with these very @ops, with its use
 * count raised, or allocates one with ops->alloc_notifier() and registers
 * it. Each successful call is balanced by one mmu_notifier_put().
 *
 * Return: the notifier or an ERR_PTR(): -EOVERFLOW if the notifier already
 * has UINT_MAX uses, or what allocating or registering it returned.
 */
struct mmu_notifier *mmu_notifier_get_locked(const struct mmu_notifier_ops *ops,
					     struct mm_struct *mm)
{
	struct mmu_notifier *mn;
	int err;

	mmap_assert_write_locked(mm);

	if (mm->notifier_subscriptions) {
		mn = mn_find_shared(mm->notifier_subscriptions, ops, mm);
		if (mn)
			return mn;
	}

	mn = ops->alloc_notifier(mm);
	if (IS_ERR(mn))
		return mn;
	mn->ops = ops;
	err = __mmu_notifier_register(mn, mm);
	if (err) {
		ops->free_notifier(mn);
		return ERR_PTR(err);
	}
	return mn;
}
EXPORT_SYMBOL_GPL(mmu_notifier_get_locked);

/* Only called from kernel/fork.c:__mmdrop(), when nothing can use @mm. */
void __mmu_notifier_subscriptions_destroy(struct mm_struct *mm)
{
	struct mmu_notifier_subscriptions *subs = mm->notifier_subscriptions;

	WARN_ON(!hlist_empty(&subs->classic));
	WARN_ON(!RB_EMPTY_ROOT(&subs->tree.rb_root));
	kfree(subs);
	mm->notifier_subscriptions = NULL;
}

/**
 * mmu_notifier_unregister - detach a classic notifier
 * @subscription: the notifier
 * @mm: the mm it was registered on
 *
 * Runs ->release() unless exit_mmap() already unhooked the notifier, with
 * the notifier still hooked up (see mn_classic_release()), then unhooks it
 * and waits until no callback of it is running, so its memory may be freed
 * once this returns. Drops the mm_count reference taken at registration.
 * May sleep. Notifiers from mmu_notifier_get() go with mmu_notifier_put().
 */
void mmu_notifier_unregister(struct mmu_notifier *subscription,
			     struct mm_struct *mm)
{
	struct mmu_notifier_subscriptions *subs = mm->notifier_subscriptions;
	int idx;

	WARN_ON_ONCE(atomic_read(&mm->mm_count) <= 0);

	if (!hlist_unhashed(&subscription->hlist)) {
		if (subscription->ops->release) {
			idx = srcu_read_lock(&mn_srcu);
			subscription->ops->release(subscription, mm);
			srcu_read_unlock(&mn_srcu, idx);
		}
		spin_lock(&subs->lock);
		/* exit_mmap() may have unhooked it meanwhile. */
		if (!hlist_unhashed(&subscription->hlist))
			hlist_del_init_rcu(&subscription->hlist);
		spin_unlock(&subs->lock);
	}

	/* Also waits for a ->release() that exit_mmap() is running. */
	synchronize_srcu(&mn_srcu);
	mmdrop(mm);
}
EXPORT_SYMBOL_GPL(mmu_notifier_unregister);

static void mn_free_after_srcu(struct rcu_head *head)
{
	struct mmu_notifier *mn = container_of(head, struct mmu_notifier, rcu);
	struct mm_struct *mm = mn->mm;

	mn->ops->free_notifier(mn);
	/* Last: the mm may go with this reference. */
	mmdrop(mm);
}

/**
 * mmu_notifier_put - drop a reference taken by mmu_notifier_get()
 * @subscription: the notifier
 *
 * The last put unhooks the notifier and frees it through
 * ops->free_notifier() once an SRCU grace period has passed, so callbacks
 * already running may finish. ->release() is not called. Code that must
 * wait for the free (say, before its module goes away) calls
 * mmu_notifier_synchronize().
 */
void mmu_notifier_put(struct mmu_notifier *subscription)
{
	struct mmu_notifier_subscriptions *subs =
		subscription->mm->notifier_subscriptions;
	bool last;

	spin_lock(&subs->lock);
	if (WARN_ON(!subscription->users)) {
		spin_unlock(&subs->lock);
		return;
	}
	last = !--subscription->users;
	if (last)
		hlist_del_init_rcu(&subscription->hlist);
	spin_unlock(&subs->lock);

	if (last)
		call_srcu(&mn_srcu, &subscription->rcu, mn_free_after_srcu);
}
EXPORT_SYMBOL_GPL(mmu_notifier_put);

/**
 * mmu_notifier_synchronize - wait for notifiers freed by mmu_notifier_put()
 *
 * Returns once every free_notifier() queued by an earlier last put has run.
 * A module using mmu_notifier_get() calls this before it is unloaded.
 */
void mmu_notifier_synchronize(void)
{
	srcu_barrier(&mn_srcu);
}
EXPORT_SYMBOL_GPL(mmu_notifier_synchronize);

static int mn_interval_add(struct mmu_interval_notifier *sub,
			   struct mm_struct *mm, unsigned long start,
			   unsigned long length,
			   const struct mmu_interval_notifier_ops *ops)
{
	struct mmu_notifier_subscriptions *subs = mm->notifier_subscriptions;

	if (WARN_ON(!subs || !READ_ONCE(subs->itree_enabled)))
		return -EINVAL;
	/* One pass, or both halves of two. */
	if (ops->invalidate_start ? !ops->invalidate_finish : !ops->invalidate)
		return -EINVAL;
	if (!length || check_add_overflow(start, length - 1,
					  &sub->interval_tree.last))
		return -EOVERFLOW;

	sub->interval_tree.start = start;
	sub->ops = ops;
	sub->mm = mm;
	RB_CLEAR_NODE(&sub->interval_tree.rb);
	mmgrab(mm);

	spin_lock(&subs->lock);
	if (!subs->open) {
		/*
		 * Quiet mm: straight into the tree, with a seq no reader can
		 * mistake for the current invalidation (seq - 1 is odd and
		 * already past).
		 */
		sub->invalidate_seq = subs->seq - 1;
		interval_tree_insert(&sub->interval_tree, &subs->tree);
	} else {
		/*
		 * An invalidation is open and may cover the new range without
		 * having called anyone for it. Treat the interval as part of
		 * it, so read_begin waits until all open ones have ended. A
		 * frozen tree is being walked: queue the insert instead.
		 */
		if (mn_tree_frozen(subs)) {
			hlist_add_head(&sub->deferred_item, &subs->queued);
		} else {
			subs->seq |= 1;
			interval_tree_insert(&sub->interval_tree, &subs->tree);
		}
		sub->invalidate_seq = subs->seq;
	}
	spin_unlock(&subs->lock);
	return 0;
}

/**
 * mmu_interval_notifier_insert - subscribe to invalidations of an interval
 * @interval_sub: the subscription to fill in
 * @mm: the mm; the caller holds a user reference (mm_users)
 * @start: first address of the interval
 * @length: its length in bytes
 * @ops: the callbacks
 *
 * From now on @ops->invalidate() (or its two passes) is called for every
 * invalidation of @mm that overlaps [@start, @start + @length). If an
 * invalidation is running right now the interval counts as invalidated:
 * mmu_interval_read_begin() waits for it to end. Holds an mm_count
 * reference on @mm until mmu_interval_notifier_remove(). The first
 * interval of @mm takes the mmap lock and every rmap lock of @mm
 * (mm_take_all_locks()), and so waits for invalidations already running to
 * end; none of those locks may be held.
 *
 * Return: 0, -EOVERFLOW for an empty or wrapping interval, -EINVAL for @ops
 * without ->invalidate or with ->invalidate_start but no ->invalidate_finish,
 * or -ENOMEM/-EINTR from setting up @mm.
 */
int mmu_interval_notifier_insert(struct mmu_interval_notifier *interval_sub,
				 struct mm_struct *mm, unsigned long start,
				 unsigned long length,
				 const struct mmu_interval_notifier_ops *ops)
{
	struct mmu_notifier_subscriptions *subs;
	int err;

	might_lock(&mm->mmap_lock);

	/* Pairs with the store_release in __mmu_notifier_register(). */
	subs = smp_load_acquire(&mm->notifier_subscriptions);
	if (!subs || !READ_ONCE(subs->itree_enabled)) {
		err = mmu_notifier_register(NULL, mm);
		if (err)
			return err;
	}
	return mn_interval_add(interval_sub, mm, start, length, ops);
}
EXPORT_SYMBOL_GPL(mmu_interval_notifier_insert);

/**
 * mmu_interval_notifier_insert_locked - insert with the mmap lock held
 * @interval_sub: the subscription to fill in
 * @mm: the mm, with its mmap lock held for writing
 * @start: first address of the interval
 * @length: its length in bytes
 * @ops: the callbacks
 *
 * Same as mmu_interval_notifier_insert().
 *
 * Return: 0 or a negative errno, as mmu_interval_notifier_insert().
 */
int mmu_interval_notifier_insert_locked(struct mmu_interval_notifier *interval_sub,
					struct mm_struct *mm, unsigned long start,
					unsigned long length,
					const struct mmu_interval_notifier_ops *ops)
{
	struct mmu_notifier_subscriptions *subs = mm->notifier_subscriptions;
	int err;

	mmap_assert_write_locked(mm);

	if (!subs || !subs->itree_enabled) {
		err = __mmu_notifier_register(NULL, mm);
		if (err)
			return err;
	}
	return mn_interval_add(interval_sub, mm, start, length, ops);
}
EXPORT_SYMBOL_GPL(mmu_interval_notifier_insert_locked);

/**
 * mmu_interval_notifier_remove - end a subscription
 * @interval_sub: the subscription
 *
 * After this returns ->invalidate() is not running and will not be called
 * again, so the subscription may be freed. If invalidations are open, this
 * sleeps until the last of them ends. Must not be called from an
 * ->invalidate() callback.
 */
void mmu_interval_notifier_remove(struct mmu_interval_notifier *interval_sub)
{
	struct mm_struct *mm = interval_sub->mm;
	struct mmu_notifier_subscriptions *subs = mm->notifier_subscriptions;
	unsigned long wait_seq = 0;

	might_sleep();

	spin_lock(&subs->lock);
	if (mn_tree_frozen(subs)) {
		/* A walk may be calling it: leave the tree to the last end. */
		if (mn_sub_in_tree(interval_sub))
			hlist_add_head(&interval_sub->deferred_item,
				       &subs->queued);
		else
			hlist_del(&interval_sub->deferred_item);
		wait_seq = subs->seq;
	} else {
		interval_tree_remove(&interval_sub->interval_tree, &subs->tree);
		RB_CLEAR_NODE(&interval_sub->interval_tree.rb);
	}
	spin_unlock(&subs->lock);

	mn_might_wait_for_invalidations();

	if (wait_seq)
		wait_event(subs->waitq, mn_seq_moved_on(subs, wait_seq));

	mmdrop(mm);
}
EXPORT_SYMBOL_GPL(mmu_interval_notifier_remove);

/**
 * mmu_notifier_range_update_to_read_only - is this only a write-protect?
 * @range: the range being invalidated
 *
 * Return: true if the range keeps its pages and only loses write access:
 * an mprotect()-style change of a single VMA that stays readable, so a
 * mirror may downgrade its mappings instead of dropping them.
 */
bool
mmu_notifier_range_update_to_read_only(const struct mmu_notifier_range *range)
{
	/* The VMA already carries the new protection. */
	return range->event == MMU_NOTIFY_PROTECTION_VMA && range->vma &&
	       (range->vma->vm_flags & VM_READ);
}
EXPORT_SYMBOL_GPL(mmu_notifier_range_update_to_read_only);

// SPDX-License-Identifier: GPL-2.0
/*
 * KUnit tests for the mmu notifier core.
 *
 * Every case works on an mm of its own from mm_alloc(). That mm has no VMAs
 * and no user ever runs in it, so the tests drive invalidations by hand with
 * mmu_notifier_invalidate_range_start()/end() and are the only source of
 * events the notifiers see.
 *
 * Anything that may block (read_begin during an invalidation, remove while
 * one is in flight) runs on a kthread of its own (ktest_call, in
 * mm/hmm_kunit_util.h) so the case can check that it is still blocked and
 * later that it finished, with a time bound instead of a hang when the
 * core loses a wakeup.
 */
#include <kunit/test.h>
#include <linux/atomic.h>
#include <linux/completion.h>
#include <linux/delay.h>
#include <linux/fs.h>
#include <linux/jiffies.h>
#include <linux/kthread.h>
#include <linux/mm.h>
#include <linux/mman.h>
#include <linux/mmu_notifier.h>
#include <linux/prandom.h>
#include <linux/printk.h>
#include <linux/sched/mm.h>
#include <linux/sched/signal.h>
#include <linux/shmem_fs.h>
#include <linux/slab.h>
#include <linux/spinlock.h>
#include <linux/string.h>

#include "hmm_kunit_util.h"

/* Addresses only mean something to the interval tree: the mm has no VMAs. */
#define MNT_BASE	0x10000000UL
#define MNT_PG(n)	(MNT_BASE + (unsigned long)(n) * PAGE_SIZE)

/*
 * A few cases provoke a driver bug on purpose and the core WARNs about it.
 * The console verdict accepts a WARNING between these two lines only when
 * it comes from one of the functions named on the first.
 */
#define MNT_EXPECT_WARN(funcs)	pr_info("HMM-EXPECT-WARN-BEGIN %s\n", funcs)
#define MNT_EXPECT_WARN_END()	pr_info("HMM-EXPECT-WARN-END\n")
/* Where the core reports a callback refusing a blockable invalidation. */
#define MNT_REFUSAL_WARNERS	"mn_report_refusal"

struct mnt_sub {
	struct mmu_interval_notifier notifier;
	/* The driver lock that pairs mmu_interval_set_seq() with read_retry. */
	spinlock_t lock;
	unsigned int calls;
	unsigned int refused;
	unsigned long last_seq;
	unsigned long last_start;
	unsigned long last_end;
	bool last_blockable;
	/* non_block_start() depth the callback ran at, -1 if unknown. */
	int last_non_block;
	/* Refuse non-blockable invalidations, as a driver that must sleep. */
	bool refuse_nonblock;
	/* Refuse every invalidation: a driver bug the core must survive. */
	bool refuse_always;
	/* When set, the callback reports it is running and waits for @resume. */
	struct completion *entered;
	struct completion *resume;
};

/* How deep in non_block_start() sections we are; -1 if the kernel can't say. */
static int mnt_non_block_depth(void)
{
#ifdef CONFIG_DEBUG_ATOMIC_SLEEP
	return current->non_block_count;
#else
	return -1;
#endif
}

static bool mnt_invalidate(struct mmu_interval_notifier *mni,
			   const struct mmu_notifier_range *range,
			   unsigned long cur_seq)
{
	struct mnt_sub *sub = container_of(mni, struct mnt_sub, notifier);

	if (sub->refuse_always ||
	    (sub->refuse_nonblock && !mmu_notifier_range_blockable(range))) {
		spin_lock(&sub->lock);
		sub->refused++;
		spin_unlock(&sub->lock);
		return false;
	}

	spin_lock(&sub->lock);
	mmu_interval_set_seq(mni, cur_seq);
	sub->calls++;
	sub->last_seq = cur_seq;
	sub->last_start = range->start;
	sub->last_end = range->end;
	sub->last_blockable = mmu_notifier_range_blockable(range);
	sub->last_non_block = mnt_non_block_depth();
	spin_unlock(&sub->lock);

	if (sub->entered)
		complete(sub->entered);
	if (sub->resume)
		wait_for_completion(sub->resume);
	return true;
}

static const struct mmu_interval_notifier_ops mnt_ops = {
	.invalidate = mnt_invalidate,
};

static unsigned int mnt_calls(struct mnt_sub *sub)
{
	unsigned int calls;

	spin_lock(&sub->lock);
	calls = sub->calls;
	spin_unlock(&sub->lock);
	return calls;
}

static bool mnt_read_retry(struct mnt_sub *sub, unsigned long seq)
{
	bool retry;

	spin_lock(&sub->lock);
	retry = mmu_interval_read_retry(&sub->notifier, seq);
	spin_unlock(&sub->lock);
	return retry;
}

struct mnt_ctx {
	struct mm_struct *mm;
};

static int mnt_init(struct kunit *test)
{
	struct mnt_ctx *ctx;

	ctx = kunit_kzalloc(test, sizeof(*ctx), GFP_KERNEL);
	if (!ctx)
		return -ENOMEM;
	ctx->mm = mm_alloc();
	if (!ctx->mm)
		return -ENOMEM;
	test->priv = ctx;
	return 0;
}

static void mnt_exit(struct kunit *test)
{
	struct mnt_ctx *ctx = test->priv;

	/*
	 * A case that failed half way may leave subscriptions inserted. They
	 * hold a reference on the mm, so it is leaked rather than freed under
	 * them; nothing else ever invalidates this mm.
	 */
	mmput(ctx->mm);
}

static struct mnt_sub *mnt_new_sub(struct kunit *test)
{
	struct mnt_sub *sub;

	sub = kunit_kzalloc(test, sizeof(*sub), GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, sub);
	spin_lock_init(&sub->lock);
	return sub;
}

/* Insert @sub over pages [first, first + npages). */
static void mnt_insert(struct kunit *test, struct mnt_sub *sub,
		       unsigned long first, unsigned long npages)
{
	struct mnt_ctx *ctx = test->priv;
	int ret;

	ret = mmu_interval_notifier_insert(&sub->notifier, ctx->mm,
					   MNT_PG(first), npages * PAGE_SIZE,
					   &mnt_ops);
	KUNIT_ASSERT_EQ(test, ret, 0);
}

/* Open an invalidation of pages [first, last_excl). */
static void mnt_inv_start(struct kunit *test, struct mmu_notifier_range *range,
			  unsigned long first, unsigned long last_excl)
{
	struct mnt_ctx *ctx = test->priv;

	memset(range, 0, sizeof(*range));
	mmu_notifier_range_init(range, MMU_NOTIFY_CLEAR, 0, NULL, ctx->mm,
				MNT_PG(first), MNT_PG(last_excl));
	mmu_notifier_invalidate_range_start(range);
}

static void mnt_invalidate_pages(struct kunit *test, unsigned long first,
				 unsigned long last_excl)
{
	struct mmu_notifier_range range;

	mnt_inv_start(test, &range, first, last_excl);
	mmu_notifier_invalidate_range_end(&range);
}

/*
 * A call expected to block runs on a kthread (see mm/hmm_kunit_util.h): its
 * inputs and results live here, in heap state the helper frees with the
 * case, or leaks if the call never returns.
 */
struct mnt_async {
	struct ktest_call call;
	struct mnt_ctx *ctx;
	struct mnt_sub *sub;
	unsigned long first;
	unsigned long npages;
	unsigned long addr;	/* absolute start, for mnt_do_insert_addr() */
	unsigned long seq;
	int ret;
	/* For mnt_do_held_invalidate(): the callback is in, and may go on. */
	struct completion entered;
	struct completion resume;
};

static struct mnt_async *to_mnt_async(struct ktest_call *call)
{
	return container_of(call, struct mnt_async, call);
}

static struct mnt_async *mnt_async_new(struct kunit *test,
				       void (*fn)(struct ktest_call *),
				       struct mnt_sub *sub)
{
	struct mnt_async *async;

	async = ktest_call_new(test, struct mnt_async, call, fn);
	async->ctx = test->priv;
	async->sub = sub;
	init_completion(&async->entered);
	init_completion(&async->resume);
	return async;
}

static void mnt_async_go(struct kunit *test, struct mnt_async *async)
{
	KUNIT_ASSERT_TRUE(test, ktest_call_start(test, &async->call));
}

/* True if the helper is still blocked after a grace period. */
static bool mnt_async_blocked(struct mnt_async *async)
{
	return ktest_call_blocked(&async->call);
}

/* Wait (bounded) for the helper to finish; only then are its results set. */
static bool mnt_async_finish(struct kunit *test, struct mnt_async *async)
{
	return ktest_call_finish(test, &async->call);
}

static void mnt_do_read_begin(struct ktest_call *call)
{
	struct mnt_async *async = to_mnt_async(call);

	async->seq = mmu_interval_read_begin(&async->sub->notifier);
}

static void mnt_do_remove(struct ktest_call *call)
{
	mmu_interval_notifier_remove(&to_mnt_async(call)->sub->notifier);
}

static void mnt_do_insert(struct ktest_call *call)
{
	struct mnt_async *async = to_mnt_async(call);

	async->ret = mmu_interval_notifier_insert(&async->sub->notifier,
						  async->ctx->mm,
						  MNT_PG(async->first),
						  async->npages * PAGE_SIZE,
						  &mnt_ops);
}

/* Insert over [addr, addr + npages) and open a read section right away. */
static void mnt_do_insert_addr(struct ktest_call *call)
{
	struct mnt_async *async = to_mnt_async(call);

	async->ret = mmu_interval_notifier_insert(&async->sub->notifier,
						  async->ctx->mm, async->addr,
						  async->npages * PAGE_SIZE,
						  &mnt_ops);
	if (!async->ret)
		async->seq = mmu_interval_read_begin(&async->sub->notifier);
}

static void mnt_do_held_invalidate(struct ktest_call *call)
{
	struct mnt_async *async = to_mnt_async(call);
	struct mmu_notifier_range range = {};

	mmu_notifier_range_init(&range, MMU_NOTIFY_CLEAR, 0, NULL,
				async->ctx->mm, MNT_PG(async->first),
				MNT_PG(async->first + async->npages));
	mmu_notifier_invalidate_range_start(&range);
	mmu_notifier_invalidate_range_end(&range);
}

static struct mnt_async *mnt_read_begin_async(struct kunit *test,
					      struct mnt_sub *sub)
{
	struct mnt_async *async = mnt_async_new(test, mnt_do_read_begin, sub);

	mnt_async_go(test, async);
	return async;
}

/*
 * A read section that an overlapping invalidation hits has to be retried,
 * during the invalidation and after it, and the callback is told what
 * happens: the range, an odd sequence number, whether it may block.
 */
static void mnt_test_seq_collision(struct kunit *test)
{
	struct mnt_sub *sub = mnt_new_sub(test);
	struct mmu_notifier_range range;
	unsigned long seq;

	mnt_insert(test, sub, 4, 4);		/* pages 4..7 */

	seq = mmu_interval_read_begin(&sub->notifier);
	KUNIT_EXPECT_FALSE(test, mmu_interval_check_retry(&sub->notifier, seq));
	KUNIT_EXPECT_FALSE(test, mnt_read_retry(sub, seq));

	mnt_inv_start(test, &range, 5, 6);
	KUNIT_EXPECT_EQ(test, mnt_calls(sub), 1U);
	KUNIT_EXPECT_TRUE(test, sub->last_seq & 1);
	KUNIT_EXPECT_EQ(test, sub->last_start, MNT_PG(5));
	KUNIT_EXPECT_EQ(test, sub->last_end, MNT_PG(6));
	KUNIT_EXPECT_TRUE(test, sub->last_blockable);
	KUNIT_EXPECT_TRUE(test, mmu_interval_check_retry(&sub->notifier, seq));
	KUNIT_EXPECT_TRUE(test, mnt_read_retry(sub, seq));
	mmu_notifier_invalidate_range_end(&range);

	/* The collision stays visible after the invalidation ended. */
	KUNIT_EXPECT_TRUE(test, mnt_read_retry(sub, seq));

	/* A fresh read section is clean again. */
	seq = mmu_interval_read_begin(&sub->notifier);
	KUNIT_EXPECT_FALSE(test, mnt_read_retry(sub, seq));

	mmu_interval_notifier_remove(&sub->notifier);
}

/*
 * An interval covers exactly [start, start + length): ranges that only
 * touch its edges do not overlap it, single pages at either end do.
 */
static void mnt_test_interval_bounds(struct kunit *test)
{
	struct mnt_sub *sub = mnt_new_sub(test);
	unsigned long seq;

	mnt_insert(test, sub, 4, 4);		/* pages 4..7 */

	seq = mmu_interval_read_begin(&sub->notifier);
	mnt_invalidate_pages(test, 0, 4);
	mnt_invalidate_pages(test, 8, 12);
	KUNIT_EXPECT_EQ(test, mnt_calls(sub), 0U);
	KUNIT_EXPECT_FALSE(test, mnt_read_retry(sub, seq));

	mnt_invalidate_pages(test, 7, 8);
	KUNIT_EXPECT_EQ(test, mnt_calls(sub), 1U);
	KUNIT_EXPECT_TRUE(test, mnt_read_retry(sub, seq));
	seq = mmu_interval_read_begin(&sub->notifier);
	mnt_invalidate_pages(test, 0, 5);
	KUNIT_EXPECT_EQ(test, mnt_calls(sub), 2U);
	KUNIT_EXPECT_TRUE(test, mnt_read_retry(sub, seq));

	mmu_interval_notifier_remove(&sub->notifier);
}

/* Every invalidation hands out a new odd sequence number. */
static void mnt_test_seq_new_and_odd(struct kunit *test)
{
	struct mnt_sub *sub = mnt_new_sub(test);
	unsigned long seq;

	mnt_insert(test, sub, 4, 4);

	mnt_invalidate_pages(test, 0, 100);
	seq = sub->last_seq;
	KUNIT_EXPECT_TRUE(test, seq & 1);
	mnt_invalidate_pages(test, 0, 100);
	KUNIT_EXPECT_NE(test, sub->last_seq, seq);
	KUNIT_EXPECT_TRUE(test, sub->last_seq & 1);

	mmu_interval_notifier_remove(&sub->notifier);
}

/* An invalidation elsewhere in the mm neither calls nor disturbs a notifier. */
static void mnt_test_seq_nonoverlap(struct kunit *test)
{
	struct mnt_sub *a = mnt_new_sub(test), *c = mnt_new_sub(test);
	struct mmu_notifier_range range;
	struct mnt_async *async;
	unsigned long seq_a;

	mnt_insert(test, a, 0, 1);
	mnt_insert(test, c, 10, 1);

	seq_a = mmu_interval_read_begin(&a->notifier);
	mnt_inv_start(test, &range, 10, 11);
	KUNIT_EXPECT_EQ(test, mnt_calls(c), 1U);
	KUNIT_EXPECT_EQ(test, mnt_calls(a), 0U);
	KUNIT_EXPECT_FALSE(test, mmu_interval_check_retry(&a->notifier, seq_a));

	/* read_begin on an untouched interval does not wait for it. */
	async = mnt_read_begin_async(test, a);
	KUNIT_EXPECT_TRUE(test, ktest_call_wait(&async->call, KTEST_FINISH_MS));
	mmu_notifier_invalidate_range_end(&range);
	if (mnt_async_finish(test, async))
		KUNIT_EXPECT_FALSE(test, mnt_read_retry(a, async->seq));

	KUNIT_EXPECT_FALSE(test, mnt_read_retry(a, seq_a));
	KUNIT_EXPECT_EQ(test, mnt_calls(a), 0U);

	mmu_interval_notifier_remove(&a->notifier);
	mmu_interval_notifier_remove(&c->notifier);
}

/* read_begin waits out an invalidation that covers the interval. */
static void mnt_test_read_begin_waits(struct kunit *test)
{
	struct mnt_sub *sub = mnt_new_sub(test);
	struct mmu_notifier_range range;
	struct mnt_async *async;

	mnt_insert(test, sub, 0, 8);
	mnt_inv_start(test, &range, 2, 3);
	async = mnt_read_begin_async(test, sub);
	KUNIT_EXPECT_TRUE(test, mnt_async_blocked(async));
	mmu_notifier_invalidate_range_end(&range);
	if (mnt_async_finish(test, async)) {
		/* The sequence it returns is valid: nothing ran since. */
		KUNIT_EXPECT_FALSE(test, mnt_read_retry(sub, async->seq));
		mnt_invalidate_pages(test, 0, 1);
		KUNIT_EXPECT_TRUE(test, mnt_read_retry(sub, async->seq));
	}
	mmu_interval_notifier_remove(&sub->notifier);
}

/*
 * Nested and overlapping invalidations keep the mm invalidating until the
 * last one ends, whichever order they end in, and read_begin on any
 * interval either of them touched waits for that. Here the first one to
 * start ends first: the second still holds both intervals it covers.
 */
static void mnt_test_nested_first_ends_first(struct kunit *test)
{
	struct mnt_sub *a = mnt_new_sub(test), *c = mnt_new_sub(test);
	struct mnt_sub *far = mnt_new_sub(test);
	struct mmu_notifier_range r1, r2;
	struct mnt_async *wait_a, *wait_c;
	unsigned long seq_c, seq_far;

	mnt_insert(test, a, 0, 4);
	mnt_insert(test, c, 8, 4);
	mnt_insert(test, far, 100, 4);
	seq_far = mmu_interval_read_begin(&far->notifier);

	mnt_inv_start(test, &r1, 0, 2);			/* a */
	seq_c = mmu_interval_read_begin(&c->notifier);	/* c untouched yet */
	mnt_inv_start(test, &r2, 1, 10);		/* a and c */
	KUNIT_EXPECT_EQ(test, mnt_calls(a), 2U);
	KUNIT_EXPECT_EQ(test, mnt_calls(c), 1U);
	KUNIT_EXPECT_TRUE(test, mmu_interval_check_retry(&c->notifier, seq_c));

	mmu_notifier_invalidate_range_end(&r1);
	wait_a = mnt_read_begin_async(test, a);
	wait_c = mnt_read_begin_async(test, c);
	KUNIT_EXPECT_TRUE(test, mnt_async_blocked(wait_a));
	KUNIT_EXPECT_TRUE(test, mnt_async_blocked(wait_c));
	mmu_notifier_invalidate_range_end(&r2);

	if (mnt_async_finish(test, wait_a))
		KUNIT_EXPECT_FALSE(test, mnt_read_retry(a, wait_a->seq));
	if (mnt_async_finish(test, wait_c))
		KUNIT_EXPECT_FALSE(test, mnt_read_retry(c, wait_c->seq));
	KUNIT_EXPECT_TRUE(test, mnt_read_retry(c, seq_c));
	KUNIT_EXPECT_FALSE(test, mnt_read_retry(far, seq_far));
	KUNIT_EXPECT_EQ(test, mnt_calls(far), 0U);

	mmu_interval_notifier_remove(&a->notifier);
	mmu_interval_notifier_remove(&c->notifier);
	mmu_interval_notifier_remove(&far->notifier);
}

/* The same, with the second invalidation to start ending first. */
static void mnt_test_nested_last_ends_first(struct kunit *test)
{
	struct mnt_sub *a = mnt_new_sub(test), *c = mnt_new_sub(test);
	struct mmu_notifier_range r1, r2;
	struct mnt_async *wait_a;

	mnt_insert(test, a, 0, 4);
	mnt_insert(test, c, 8, 4);

	mnt_inv_start(test, &r1, 0, 2);			/* a */
	mnt_inv_start(test, &r2, 1, 10);		/* a and c */
	mmu_notifier_invalidate_range_end(&r2);
	wait_a = mnt_read_begin_async(test, a);
	KUNIT_EXPECT_TRUE(test, mnt_async_blocked(wait_a));
	mmu_notifier_invalidate_range_end(&r1);
	if (mnt_async_finish(test, wait_a))
		KUNIT_EXPECT_FALSE(test, mnt_read_retry(a, wait_a->seq));
	KUNIT_EXPECT_EQ(test, mnt_calls(a), 2U);
	KUNIT_EXPECT_EQ(test, mnt_calls(c), 1U);

	mmu_interval_notifier_remove(&a->notifier);
	mmu_interval_notifier_remove(&c->notifier);
}

/*
 * An interval inserted (by another thread) while an invalidation is open only
 * joins the tree once the last invalidation ends: a nested invalidation does
 * not call it, read_begin on it waits, and the next invalidation calls it.
 */
static void mnt_test_deferred_insert(struct kunit *test)
{
	struct mnt_sub *a = mnt_new_sub(test), *x = mnt_new_sub(test);
	struct mmu_notifier_range r1, r2;
	struct mnt_async *ins, *wait_x;

	mnt_insert(test, a, 0, 4);
	mnt_inv_start(test, &r1, 0, 4);
	KUNIT_EXPECT_EQ(test, mnt_calls(a), 1U);

	ins = mnt_async_new(test, mnt_do_insert, x);
	ins->first = 0;
	ins->npages = 4;
	mnt_async_go(test, ins);
	/* Insert never waits for the invalidation. */
	if (!mnt_async_finish(test, ins))
		return;
	KUNIT_EXPECT_EQ(test, ins->ret, 0);

	mnt_inv_start(test, &r2, 0, 4);
	KUNIT_EXPECT_EQ(test, mnt_calls(a), 2U);
	KUNIT_EXPECT_EQ(test, mnt_calls(x), 0U);

	wait_x = mnt_read_begin_async(test, x);
	KUNIT_EXPECT_TRUE(test, mnt_async_blocked(wait_x));
	mmu_notifier_invalidate_range_end(&r2);
	KUNIT_EXPECT_TRUE(test, mnt_async_blocked(wait_x));
	mmu_notifier_invalidate_range_end(&r1);
	if (mnt_async_finish(test, wait_x))
		KUNIT_EXPECT_FALSE(test, mnt_read_retry(x, wait_x->seq));

	mnt_invalidate_pages(test, 3, 4);
	KUNIT_EXPECT_EQ(test, mnt_calls(x), 1U);
	KUNIT_EXPECT_EQ(test, mnt_calls(a), 3U);

	mmu_interval_notifier_remove(&x->notifier);
	mmu_interval_notifier_remove(&a->notifier);
}

/*
 * Remove during an open invalidation does not return until the last
 * invalidation ends; afterwards the interval is gone from the tree.
 */
static void mnt_test_deferred_remove(struct kunit *test)
{
	struct mnt_sub *a = mnt_new_sub(test), *x = mnt_new_sub(test);
	struct mmu_notifier_range r1, r2;
	struct mnt_async *rm_x;
	unsigned int x_calls;

	mnt_insert(test, a, 0, 4);
	mnt_insert(test, x, 2, 4);

	mnt_inv_start(test, &r1, 0, 8);
	rm_x = mnt_async_new(test, mnt_do_remove, x);
	mnt_async_go(test, rm_x);
	KUNIT_EXPECT_TRUE(test, mnt_async_blocked(rm_x));

	mnt_inv_start(test, &r2, 0, 8);
	mmu_notifier_invalidate_range_end(&r2);
	KUNIT_EXPECT_TRUE(test, mnt_async_blocked(rm_x));
	mmu_notifier_invalidate_range_end(&r1);
	if (!mnt_async_finish(test, rm_x))
		return;

	x_calls = mnt_calls(x);
	mnt_invalidate_pages(test, 0, 8);
	KUNIT_EXPECT_EQ(test, mnt_calls(x), x_calls);
	KUNIT_EXPECT_EQ(test, mnt_calls(a), 3U);

	mmu_interval_notifier_remove(&a->notifier);
}

/* An interval inserted and removed inside one invalidation never joins. */
static void mnt_test_deferred_insert_then_remove(struct kunit *test)
{
	struct mnt_sub *a = mnt_new_sub(test), *y = mnt_new_sub(test);
	struct mmu_notifier_range r1;
	struct mnt_async *rm_y, *ins_y;

	mnt_insert(test, a, 0, 4);

	mnt_inv_start(test, &r1, 0, 8);
	ins_y = mnt_async_new(test, mnt_do_insert, y);
	ins_y->first = 1;
	ins_y->npages = 1;
	mnt_async_go(test, ins_y);
	if (!mnt_async_finish(test, ins_y))
		return;
	KUNIT_EXPECT_EQ(test, ins_y->ret, 0);
	rm_y = mnt_async_new(test, mnt_do_remove, y);
	mnt_async_go(test, rm_y);
	/* Let the remove reach the core before the invalidation ends. */
	msleep(KTEST_BLOCKED_MS);
	mmu_notifier_invalidate_range_end(&r1);
	if (!mnt_async_finish(test, rm_y))
		return;
	mnt_invalidate_pages(test, 0, 8);
	KUNIT_EXPECT_EQ(test, mnt_calls(y), 0U);

	mmu_interval_notifier_remove(&a->notifier);
}

/*
 * A thread is blocked inside ->invalidate(); remove of that interval from
 * another thread must not return until the invalidation is over.
 */
static void mnt_test_remove_waits_inflight(struct kunit *test)
{
	struct mnt_sub *sub = mnt_new_sub(test);
	struct mnt_async *inv, *rm;

	mnt_insert(test, sub, 0, 4);
	inv = mnt_async_new(test, mnt_do_held_invalidate, sub);
	inv->first = 1;
	inv->npages = 1;
	/* The callback may outlive the case: its completions are inv's. */
	sub->entered = &inv->entered;
	sub->resume = &inv->resume;

	mnt_async_go(test, inv);
	if (!wait_for_completion_timeout(&inv->entered,
					 msecs_to_jiffies(KTEST_FINISH_MS))) {
		KUNIT_FAIL(test, "invalidate callback never ran");
		complete_all(&inv->resume);
		mnt_async_finish(test, inv);
		return;
	}

	rm = mnt_async_new(test, mnt_do_remove, sub);
	mnt_async_go(test, rm);
	KUNIT_EXPECT_TRUE(test, mnt_async_blocked(rm));
	KUNIT_EXPECT_FALSE(test, ktest_call_done(&inv->call));

	complete_all(&inv->resume);
	mnt_async_finish(test, inv);
	mnt_async_finish(test, rm);
	KUNIT_EXPECT_EQ(test, mnt_calls(sub), 1U);
	sub->entered = NULL;
	sub->resume = NULL;
}

/* Bad lengths are refused without touching the tree. */
static void mnt_test_insert_bad_length(struct kunit *test)
{
	struct mnt_ctx *ctx = test->priv;
	struct mnt_sub *sub = mnt_new_sub(test);

	KUNIT_EXPECT_EQ(test, mmu_interval_notifier_insert(&sub->notifier,
							   ctx->mm, MNT_PG(1),
							   0, &mnt_ops),
			-EOVERFLOW);
	KUNIT_EXPECT_EQ(test, mmu_interval_notifier_insert(&sub->notifier,
							   ctx->mm,
							   ULONG_MAX - PAGE_SIZE + 1,
							   2 * PAGE_SIZE,
							   &mnt_ops),
			-EOVERFLOW);
	/* The last page of the address space is a valid interval. */
	KUNIT_EXPECT_EQ(test, mmu_interval_notifier_insert(&sub->notifier,
							   ctx->mm,
							   ULONG_MAX - PAGE_SIZE + 1,
							   PAGE_SIZE, &mnt_ops),
			0);
	mmu_interval_notifier_remove(&sub->notifier);
}

/* insert_locked with the mmap lock held, as drivers do from fault paths. */
static void mnt_test_insert_locked(struct kunit *test)
{
	struct mnt_ctx *ctx = test->priv;
	struct mnt_sub *a = mnt_new_sub(test), *b = mnt_new_sub(test);
	int ret;

	/* First one registers the mm's notifier state under the lock too. */
	mmap_write_lock(ctx->mm);
	ret = mmu_interval_notifier_insert_locked(&a->notifier, ctx->mm,
						  MNT_PG(0), PAGE_SIZE,
						  &mnt_ops);
	mmap_write_unlock(ctx->mm);
	KUNIT_ASSERT_EQ(test, ret, 0);
	KUNIT_EXPECT_TRUE(test, mm_has_notifiers(ctx->mm));

	mmap_write_lock(ctx->mm);
	ret = mmu_interval_notifier_insert_locked(&b->notifier, ctx->mm,
						  MNT_PG(1), PAGE_SIZE,
						  &mnt_ops);
	mmap_write_unlock(ctx->mm);
	KUNIT_ASSERT_EQ(test, ret, 0);

	mnt_invalidate_pages(test, 0, 2);
	KUNIT_EXPECT_EQ(test, mnt_calls(a), 1U);
	KUNIT_EXPECT_EQ(test, mnt_calls(b), 1U);
	mmu_interval_notifier_remove(&a->notifier);
	mmu_interval_notifier_remove(&b->notifier);
}

/* A non-blockable invalidation nobody refuses works, and says so. */
static void mnt_test_nonblock_start(struct kunit *test)
{
	struct mnt_ctx *ctx = test->priv;
	struct mnt_sub *a = mnt_new_sub(test);
	struct mmu_notifier_range range = {};

	mnt_insert(test, a, 0, 1);
	mmu_notifier_range_init(&range, MMU_NOTIFY_CLEAR, 0, NULL, ctx->mm,
				MNT_PG(0), MNT_PG(1));
	KUNIT_EXPECT_EQ(test, mmu_notifier_invalidate_range_start_nonblock(&range),
			0);
	KUNIT_EXPECT_EQ(test, mnt_calls(a), 1U);
	KUNIT_EXPECT_FALSE(test, a->last_blockable);
	mmu_notifier_invalidate_range_end(&range);

	mmu_interval_notifier_remove(&a->notifier);
}

/*
 * A non-blockable invalidation that an interval refuses fails with -EAGAIN,
 * and leaves the mm out of the invalidating state so nobody waits forever.
 */
static void mnt_test_nonblock_refused(struct kunit *test)
{
	struct mnt_ctx *ctx = test->priv;
	struct mnt_sub *a = mnt_new_sub(test), *f = mnt_new_sub(test);
	struct mmu_notifier_range range = {};
	struct mnt_async *wait_a;
	unsigned long seq_a;
	int ret;

	mnt_insert(test, a, 0, 1);
	mnt_insert(test, f, 1, 1);
	f->refuse_nonblock = true;

	seq_a = mmu_interval_read_begin(&a->notifier);
	mmu_notifier_range_init(&range, MMU_NOTIFY_CLEAR, 0, NULL, ctx->mm,
				MNT_PG(0), MNT_PG(2));
	ret = mmu_notifier_invalidate_range_start_nonblock(&range);
	KUNIT_EXPECT_EQ(test, ret, -EAGAIN);
	KUNIT_EXPECT_EQ(test, f->refused, 1U);
	/* The failed start is not followed by an end, as in the OOM reaper. */

	wait_a = mnt_read_begin_async(test, a);
	/*
	 * If the failed start left the mm invalidating, remove would hang
	 * as well: report and leak the intervals (and the mm) instead.
	 */
	if (!mnt_async_finish(test, wait_a))
		return;
	KUNIT_EXPECT_FALSE(test, mnt_read_retry(a, wait_a->seq));
	/* a was invalidated before f refused: its reader must retry. */
	if (mnt_calls(a) == 1)
		KUNIT_EXPECT_TRUE(test, mnt_read_retry(a, seq_a));

	/* A blocking invalidation afterwards works and reaches f. */
	mnt_invalidate_pages(test, 0, 2);
	KUNIT_EXPECT_EQ(test, mnt_calls(f), 1U);
	KUNIT_EXPECT_TRUE(test, f->last_blockable);

	mmu_interval_notifier_remove(&a->notifier);
	mmu_interval_notifier_remove(&f->notifier);
}

/*
 * Interval callbacks of a non-blockable invalidation run inside
 * non_block_start(), so that CONFIG_DEBUG_ATOMIC_SLEEP reports one that
 * sleeps (new against 6.1, which annotated only classic callbacks); those
 * of a blockable one do not.
 */
static void mnt_test_nonblock_annotated(struct kunit *test)
{
	struct mnt_ctx *ctx = test->priv;
	struct mnt_sub *sub = mnt_new_sub(test);
	struct mmu_notifier_range range = {};

	if (mnt_non_block_depth() < 0)
		kunit_skip(test, "needs CONFIG_DEBUG_ATOMIC_SLEEP");
	mnt_insert(test, sub, 0, 1);

	mmu_notifier_range_init(&range, MMU_NOTIFY_CLEAR, 0, NULL, ctx->mm,
				MNT_PG(0), MNT_PG(1));
	KUNIT_ASSERT_EQ(test, mmu_notifier_invalidate_range_start_nonblock(&range),
			0);
	mmu_notifier_invalidate_range_end(&range);
	KUNIT_EXPECT_EQ(test, mnt_calls(sub), 1U);
	KUNIT_EXPECT_GT(test, sub->last_non_block, 0);

	mnt_invalidate_pages(test, 0, 1);
	KUNIT_EXPECT_EQ(test, mnt_calls(sub), 2U);
	KUNIT_EXPECT_EQ(test, sub->last_non_block, 0);

	mmu_interval_notifier_remove(&sub->notifier);
}

/* ---- two-pass interval notifiers ------------------------------------- */

#define MNT_LOG_MAX	32

/* What the callbacks of one case did, in order: 'I'nvalidate, 'S'tart, 'F'inish. */
struct mnt_log {
	spinlock_t lock;	/* protects the fields below */
	unsigned int n;
	char what[MNT_LOG_MAX];
	char who[MNT_LOG_MAX];
};

struct mnt_tp_sub {
	struct mmu_interval_notifier notifier;
	struct mnt_log *log;
	char id;
	/* The start hands back no finish: a one-pass call after all. */
	bool no_finish;
	/* Refuse non-blockable invalidations. */
	bool refuse_nonblock;
	unsigned int starts, finishes, misrouted;
	int finish_non_block;
	/* One invalidation at a time uses it in these cases; @busy checks. */
	struct mmu_interval_notifier_finish fin;
	bool busy;
};

static struct mnt_log *mnt_log_new(struct kunit *test)
{
	struct mnt_log *log = kunit_kzalloc(test, sizeof(*log), GFP_KERNEL);

	KUNIT_ASSERT_NOT_NULL(test, log);
	spin_lock_init(&log->lock);
	return log;
}

static void mnt_log_add(struct mnt_log *log, char what, char who)
{
	spin_lock(&log->lock);
	if (log->n < MNT_LOG_MAX) {
		log->what[log->n] = what;
		log->who[log->n] = who;
	}
	log->n++;
	spin_unlock(&log->lock);
}

/* The log as "Sa Ib Fa ...", for comparing with what a case expects. */
static void mnt_log_str(struct mnt_log *log, char *buf, size_t size)
{
	unsigned int i;
	size_t len = 0;

	buf[0] = '\0';
	for (i = 0; i < min_t(unsigned int, log->n, MNT_LOG_MAX); i++)
		len += scnprintf(buf + len, size - len, "%s%c%c", i ? " " : "",
				 log->what[i], log->who[i]);
}

static bool mnt_tp_invalidate(struct mmu_interval_notifier *mni,
			      const struct mmu_notifier_range *range,
			      unsigned long cur_seq)
{
	struct mnt_tp_sub *tp = container_of(mni, struct mnt_tp_sub, notifier);

	mmu_interval_set_seq(mni, cur_seq);
	mnt_log_add(tp->log, 'I', tp->id);
	return true;
}

static bool mnt_tp_start(struct mmu_interval_notifier *mni,
			 const struct mmu_notifier_range *range,
			 unsigned long cur_seq,
			 struct mmu_interval_notifier_finish **finish)
{
	struct mnt_tp_sub *tp = container_of(mni, struct mnt_tp_sub, notifier);

	if (tp->refuse_nonblock && !mmu_notifier_range_blockable(range))
		return false;
	mmu_interval_set_seq(mni, cur_seq);
	tp->starts++;
	mnt_log_add(tp->log, 'S', tp->id);
	if (!tp->no_finish && !WARN_ON_ONCE(tp->busy)) {
		tp->busy = true;
		*finish = &tp->fin;
	}
	return true;
}

static void mnt_tp_finish(struct mmu_interval_notifier_finish *finish)
{
	struct mnt_tp_sub *tp = container_of(finish, struct mnt_tp_sub, fin);

	if (finish->notifier != &tp->notifier)
		tp->misrouted++;
	tp->finishes++;
	tp->finish_non_block = mnt_non_block_depth();
	tp->busy = false;
	mnt_log_add(tp->log, 'F', tp->id);
}

static const struct mmu_interval_notifier_ops mnt_tp_ops = {
	.invalidate_start = mnt_tp_start,
	.invalidate_finish = mnt_tp_finish,
};

static const struct mmu_interval_notifier_ops mnt_one_pass_ops = {
	.invalidate = mnt_tp_invalidate,
};

static struct mnt_tp_sub *mnt_tp_insert(struct kunit *test,
					struct mnt_log *log, char id,
					const struct mmu_interval_notifier_ops *ops,
					unsigned long first,
					unsigned long npages)
{
	struct mnt_ctx *ctx = test->priv;
	struct mnt_tp_sub *tp;

	tp = kunit_kzalloc(test, sizeof(*tp), GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, tp);
	tp->log = log;
	tp->id = id;
	KUNIT_ASSERT_EQ(test, mmu_interval_notifier_insert(&tp->notifier,
							   ctx->mm,
							   MNT_PG(first),
							   npages * PAGE_SIZE,
							   ops), 0);
	return tp;
}

#define MNT_LOG_EXPECT(test, log, want)					\
	do {								\
		char _buf[3 * MNT_LOG_MAX + 1];				\
									\
		mnt_log_str(log, _buf, sizeof(_buf));			\
		KUNIT_EXPECT_STREQ(test, _buf, want);			\
	} while (0)

/* read_begin on a two-pass interval, on a kthread: it may block. */
struct mnt_tp_wait {
	struct ktest_call call;
	struct mmu_interval_notifier *mni;
	unsigned long seq;
};

static void mnt_tp_wait_fn(struct ktest_call *call)
{
	struct mnt_tp_wait *w = container_of(call, struct mnt_tp_wait, call);

	w->seq = mmu_interval_read_begin(w->mni);
}

static struct mnt_tp_wait *mnt_tp_read_begin_async(struct kunit *test,
						   struct mnt_tp_sub *tp)
{
	struct mnt_tp_wait *w;

	w = ktest_call_new(test, struct mnt_tp_wait, call, mnt_tp_wait_fn);
	w->mni = &tp->notifier;
	KUNIT_ASSERT_TRUE(test, ktest_call_start(test, &w->call));
	return w;
}

/*
 * Every interval is started before any is finished, finishes run in the
 * order of the starts, and all of it happens inside the invalidation's
 * start: when mmu_notifier_invalidate_range_start() returns, every device
 * has finished.  The tree stays frozen until the end, as for one pass.
 */
static void mnt_test_two_pass_order(struct kunit *test)
{
	struct mnt_log *log = mnt_log_new(test);
	struct mmu_notifier_range range;
	struct mnt_tp_sub *a, *b, *c;
	struct mnt_tp_wait *wait_a;
	unsigned long seq_b;

	a = mnt_tp_insert(test, log, 'a', &mnt_tp_ops, 0, 4);
	b = mnt_tp_insert(test, log, 'b', &mnt_tp_ops, 2, 4);
	c = mnt_tp_insert(test, log, 'c', &mnt_tp_ops, 4, 4);
	seq_b = mmu_interval_read_begin(&b->notifier);

	mnt_inv_start(test, &range, 3, 5);
	MNT_LOG_EXPECT(test, log, "Sa Sb Sc Fa Fb Fc");
	KUNIT_EXPECT_TRUE(test, mmu_interval_check_retry(&b->notifier, seq_b));
	wait_a = mnt_tp_read_begin_async(test, a);
	KUNIT_EXPECT_TRUE(test, ktest_call_blocked(&wait_a->call));
	mmu_notifier_invalidate_range_end(&range);
	if (ktest_call_finish(test, &wait_a->call))
		KUNIT_EXPECT_FALSE(test, mmu_interval_read_retry(&a->notifier,
								 wait_a->seq));

	KUNIT_EXPECT_EQ(test, a->finishes + b->finishes + c->finishes, 3U);
	KUNIT_EXPECT_EQ(test, a->misrouted + b->misrouted + c->misrouted, 0U);
	/* The end calls nobody again. */
	KUNIT_EXPECT_EQ(test, log->n, 6U);

	mmu_interval_notifier_remove(&a->notifier);
	mmu_interval_notifier_remove(&b->notifier);
	mmu_interval_notifier_remove(&c->notifier);
}

/*
 * One- and two-pass intervals on one mm: each is called once per
 * invalidation, in tree order, and the finishes come after every start
 * and every one-pass call.  A start that hands back no finish gets none.
 */
static void mnt_test_two_pass_mixed(struct kunit *test)
{
	struct mnt_log *log = mnt_log_new(test);
	struct mnt_tp_sub *a, *b, *c, *d;

	a = mnt_tp_insert(test, log, 'a', &mnt_tp_ops, 0, 8);
	b = mnt_tp_insert(test, log, 'b', &mnt_one_pass_ops, 1, 7);
	c = mnt_tp_insert(test, log, 'c', &mnt_tp_ops, 2, 6);
	d = mnt_tp_insert(test, log, 'd', &mnt_tp_ops, 3, 5);
	c->no_finish = true;

	mnt_invalidate_pages(test, 3, 4);
	MNT_LOG_EXPECT(test, log, "Sa Ib Sc Sd Fa Fd");
	KUNIT_EXPECT_EQ(test, c->finishes, 0U);

	/* Fewer intervals hit, the same order. */
	log->n = 0;
	mnt_invalidate_pages(test, 1, 2);
	MNT_LOG_EXPECT(test, log, "Sa Ib Fa");

	mmu_interval_notifier_remove(&a->notifier);
	mmu_interval_notifier_remove(&b->notifier);
	mmu_interval_notifier_remove(&c->notifier);
	mmu_interval_notifier_remove(&d->notifier);
}

/*
 * Nested invalidations: each one starts and finishes its intervals inside
 * its own start, whatever else is open, and read_begin waits until the
 * last one has ended.
 */
static void mnt_test_two_pass_nested(struct kunit *test)
{
	struct mnt_log *log = mnt_log_new(test);
	struct mmu_notifier_range r1, r2;
	struct mnt_tp_sub *a, *b;
	struct mnt_tp_wait *wait_a;

	a = mnt_tp_insert(test, log, 'a', &mnt_tp_ops, 0, 4);
	b = mnt_tp_insert(test, log, 'b', &mnt_one_pass_ops, 2, 4);

	mnt_inv_start(test, &r1, 0, 1);			/* a */
	MNT_LOG_EXPECT(test, log, "Sa Fa");
	mnt_inv_start(test, &r2, 1, 3);			/* a and b */
	MNT_LOG_EXPECT(test, log, "Sa Fa Sa Ib Fa");
	wait_a = mnt_tp_read_begin_async(test, a);
	mmu_notifier_invalidate_range_end(&r2);
	KUNIT_EXPECT_TRUE(test, ktest_call_blocked(&wait_a->call));
	mmu_notifier_invalidate_range_end(&r1);
	if (ktest_call_finish(test, &wait_a->call))
		KUNIT_EXPECT_FALSE(test, mmu_interval_read_retry(&a->notifier,
								 wait_a->seq));
	KUNIT_EXPECT_EQ(test, a->starts, 2U);
	KUNIT_EXPECT_EQ(test, a->finishes, 2U);

	mmu_interval_notifier_remove(&a->notifier);
	mmu_interval_notifier_remove(&b->notifier);
}

/*
 * A non-blockable invalidation keeps its rules: both passes run inside
 * non_block_start(), and when an interval refuses, the finishes already
 * handed back are still run before the start fails with -EAGAIN; the mm
 * is not left invalidating.
 */
static void mnt_test_two_pass_nonblock(struct kunit *test)
{
	struct mnt_ctx *ctx = test->priv;
	struct mnt_log *log = mnt_log_new(test);
	struct mmu_notifier_range range = {};
	struct mnt_tp_sub *a, *f;
	struct mnt_tp_wait *wait_a;

	a = mnt_tp_insert(test, log, 'a', &mnt_tp_ops, 0, 1);
	f = mnt_tp_insert(test, log, 'f', &mnt_tp_ops, 1, 1);
	f->refuse_nonblock = true;

	mmu_notifier_range_init(&range, MMU_NOTIFY_CLEAR, 0, NULL, ctx->mm,
				MNT_PG(0), MNT_PG(2));
	KUNIT_EXPECT_EQ(test, mmu_notifier_invalidate_range_start_nonblock(&range),
			-EAGAIN);
	MNT_LOG_EXPECT(test, log, "Sa Fa");
	if (mnt_non_block_depth() >= 0)
		KUNIT_EXPECT_GT(test, a->finish_non_block, 0);

	wait_a = mnt_tp_read_begin_async(test, a);
	if (!ktest_call_finish(test, &wait_a->call))
		return;		/* left invalidating: leak rather than hang */

	/* Blockable, f takes part, and nothing runs non-blocking. */
	mnt_invalidate_pages(test, 0, 2);
	MNT_LOG_EXPECT(test, log, "Sa Fa Sa Sf Fa Ff");
	if (mnt_non_block_depth() >= 0)
		KUNIT_EXPECT_EQ(test, a->finish_non_block, 0);

	mmu_interval_notifier_remove(&a->notifier);
	mmu_interval_notifier_remove(&f->notifier);
}

static const struct mmu_interval_notifier_ops mnt_start_only_ops = {
	.invalidate_start = mnt_tp_start,
};

static const struct mmu_interval_notifier_ops mnt_no_ops = {};

/* An interval needs ->invalidate or both halves of two passes. */
static void mnt_test_two_pass_bad_ops(struct kunit *test)
{
	struct mnt_ctx *ctx = test->priv;
	struct mmu_interval_notifier *mni;

	mni = kunit_kzalloc(test, sizeof(*mni), GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, mni);
	KUNIT_EXPECT_EQ(test, mmu_interval_notifier_insert(mni, ctx->mm,
							   MNT_PG(0), PAGE_SIZE,
							   &mnt_start_only_ops),
			-EINVAL);
	KUNIT_EXPECT_EQ(test, mmu_interval_notifier_insert(mni, ctx->mm,
							   MNT_PG(0), PAGE_SIZE,
							   &mnt_no_ops),
			-EINVAL);
	KUNIT_ASSERT_EQ(test, mmu_interval_notifier_insert(mni, ctx->mm,
							   MNT_PG(0), PAGE_SIZE,
							   &mnt_tp_ops), 0);
	mmu_interval_notifier_remove(mni);
}

/* ---- classic mmu_notifier -------------------------------------------- */

struct mnt_classic {
	struct mmu_notifier mn;
	atomic_t release;
	/* ->release() saw a secondary TLB flush reach this very notifier. */
	atomic_t flushed_in_release;
	atomic_t starts;
	atomic_t ends;
	atomic_t inv_range;
	atomic_t flush_young;
	atomic_t clear_young;
	atomic_t test_young;
	atomic_t change_pte;
	int young;		/* what the young hooks answer */
	bool refuse_nonblock;
	bool refuse_always;
	struct mmu_notifier_range seen;
	unsigned long seen_addr;
	pte_t seen_pte;
};

#define to_mnt_classic(p) container_of(p, struct mnt_classic, mn)

static void mnt_c_release(struct mmu_notifier *mn, struct mm_struct *mm)
{
	atomic_inc(&to_mnt_classic(mn)->release);
}

static int mnt_c_start(struct mmu_notifier *mn,
		       const struct mmu_notifier_range *range)
{
	struct mnt_classic *c = to_mnt_classic(mn);

	if (c->refuse_always ||
	    (c->refuse_nonblock && !mmu_notifier_range_blockable(range)))
		return -EAGAIN;
	c->seen = *range;
	atomic_inc(&c->starts);
	return 0;
}

static void mnt_c_end(struct mmu_notifier *mn,
		      const struct mmu_notifier_range *range)
{
	atomic_inc(&to_mnt_classic(mn)->ends);
}

static void mnt_c_inv_range(struct mmu_notifier *mn, struct mm_struct *mm,
			    unsigned long start, unsigned long end)
{
	atomic_inc(&to_mnt_classic(mn)->inv_range);
}

static int mnt_c_flush_young(struct mmu_notifier *mn, struct mm_struct *mm,
			     unsigned long start, unsigned long end)
{
	atomic_inc(&to_mnt_classic(mn)->flush_young);
	return to_mnt_classic(mn)->young;
}

static int mnt_c_clear_young(struct mmu_notifier *mn, struct mm_struct *mm,
			     unsigned long start, unsigned long end)
{
	atomic_inc(&to_mnt_classic(mn)->clear_young);
	return to_mnt_classic(mn)->young;
}

static int mnt_c_test_young(struct mmu_notifier *mn, struct mm_struct *mm,
			    unsigned long address)
{
	atomic_inc(&to_mnt_classic(mn)->test_young);
	to_mnt_classic(mn)->seen_addr = address;
	return to_mnt_classic(mn)->young;
}

static void mnt_c_change_pte(struct mmu_notifier *mn, struct mm_struct *mm,
			     unsigned long address, pte_t pte)
{
	atomic_inc(&to_mnt_classic(mn)->change_pte);
	to_mnt_classic(mn)->seen_addr = address;
	to_mnt_classic(mn)->seen_pte = pte;
}

static const struct mmu_notifier_ops mnt_classic_ops = {
	.release = mnt_c_release,
	.invalidate_range_start = mnt_c_start,
	.invalidate_range_end = mnt_c_end,
	.invalidate_range = mnt_c_inv_range,
	.clear_flush_young = mnt_c_flush_young,
	.clear_young = mnt_c_clear_young,
	.test_young = mnt_c_test_young,
	.change_pte = mnt_c_change_pte,
};

static struct mnt_classic *mnt_new_classic(struct kunit *test,
					   const struct mmu_notifier_ops *ops)
{
	struct mnt_classic *c = kunit_kzalloc(test, sizeof(*c), GFP_KERNEL);

	KUNIT_ASSERT_NOT_NULL(test, c);
	c->mn.ops = ops;
	return c;
}

/* Two classic notifiers on the case's mm; only the second one is young. */
static void mnt_register_two(struct kunit *test, struct mnt_classic *c[2])
{
	struct mnt_ctx *ctx = test->priv;
	int i;

	for (i = 0; i < 2; i++) {
		c[i] = mnt_new_classic(test, &mnt_classic_ops);
		KUNIT_ASSERT_EQ(test, mmu_notifier_register(&c[i]->mn, ctx->mm),
				0);
	}
	c[1]->young = 1;
}

static void mnt_unregister_two(struct kunit *test, struct mnt_classic *c[2])
{
	struct mnt_ctx *ctx = test->priv;

	mmu_notifier_unregister(&c[0]->mn, ctx->mm);
	mmu_notifier_unregister(&c[1]->mn, ctx->mm);
}

/*
 * Every notifier gets the caller's range at start and the end that pairs
 * with it; a full end also flushes secondary TLBs through
 * ->invalidate_range.
 */
static void mnt_test_classic_start_end(struct kunit *test)
{
	struct mnt_ctx *ctx = test->priv;
	struct mmu_notifier_range range = {};
	struct mnt_classic *c[2];
	int owner_token;

	mnt_register_two(test, c);
	KUNIT_EXPECT_TRUE(test, mm_has_notifiers(ctx->mm));

	mmu_notifier_range_init_owner(&range, MMU_NOTIFY_MIGRATE, 0, NULL,
				      ctx->mm, MNT_PG(3), MNT_PG(5),
				      &owner_token);
	mmu_notifier_invalidate_range_start(&range);
	KUNIT_EXPECT_EQ(test, atomic_read(&c[0]->starts), 1);
	KUNIT_EXPECT_EQ(test, atomic_read(&c[1]->starts), 1);
	KUNIT_EXPECT_EQ(test, c[0]->seen.event, MMU_NOTIFY_MIGRATE);
	KUNIT_EXPECT_PTR_EQ(test, c[0]->seen.owner, (void *)&owner_token);
	KUNIT_EXPECT_PTR_EQ(test, c[0]->seen.mm, ctx->mm);
	KUNIT_EXPECT_EQ(test, c[0]->seen.start, MNT_PG(3));
	KUNIT_EXPECT_EQ(test, c[0]->seen.end, MNT_PG(5));
	KUNIT_EXPECT_TRUE(test, mmu_notifier_range_blockable(&c[0]->seen));
	KUNIT_EXPECT_EQ(test, atomic_read(&c[0]->ends), 0);
	mmu_notifier_invalidate_range_end(&range);
	KUNIT_EXPECT_EQ(test, atomic_read(&c[0]->ends), 1);
	KUNIT_EXPECT_EQ(test, atomic_read(&c[1]->ends), 1);
	KUNIT_EXPECT_EQ(test, atomic_read(&c[0]->inv_range), 1);

	mnt_unregister_two(test, c);
}

/* An only_end end does not flush: its caller already did. */
static void mnt_test_classic_only_end(struct kunit *test)
{
	struct mnt_ctx *ctx = test->priv;
	struct mmu_notifier_range range = {};
	struct mnt_classic *c[2];

	mnt_register_two(test, c);
	mmu_notifier_range_init(&range, MMU_NOTIFY_CLEAR, 0, NULL, ctx->mm,
				MNT_PG(3), MNT_PG(5));
	mmu_notifier_invalidate_range_start(&range);
	mmu_notifier_invalidate_range_only_end(&range);
	KUNIT_EXPECT_EQ(test, atomic_read(&c[0]->ends), 1);
	KUNIT_EXPECT_EQ(test, atomic_read(&c[0]->inv_range), 0);

	mnt_unregister_two(test, c);
}

/* A secondary TLB flush reaches every notifier. */
static void mnt_test_classic_invalidate_range(struct kunit *test)
{
	struct mnt_ctx *ctx = test->priv;
	struct mnt_classic *c[2];

	mnt_register_two(test, c);
	mmu_notifier_invalidate_range(ctx->mm, MNT_PG(0), MNT_PG(1));
	KUNIT_EXPECT_EQ(test, atomic_read(&c[0]->inv_range), 1);
	KUNIT_EXPECT_EQ(test, atomic_read(&c[1]->inv_range), 1);

	mnt_unregister_two(test, c);
}

/* The young hooks ask every notifier and OR the answers. */
static void mnt_test_classic_young(struct kunit *test)
{
	struct mnt_ctx *ctx = test->priv;
	struct mnt_classic *c[2];

	mnt_register_two(test, c);
	KUNIT_EXPECT_NE(test, mmu_notifier_clear_flush_young(ctx->mm, MNT_PG(0),
							     MNT_PG(1)), 0);
	KUNIT_EXPECT_NE(test, mmu_notifier_clear_young(ctx->mm, MNT_PG(0),
						       MNT_PG(1)), 0);
	KUNIT_EXPECT_NE(test, mmu_notifier_test_young(ctx->mm, MNT_PG(7)), 0);
	KUNIT_EXPECT_EQ(test, atomic_read(&c[0]->flush_young), 1);
	KUNIT_EXPECT_EQ(test, atomic_read(&c[0]->clear_young), 1);
	KUNIT_EXPECT_EQ(test, atomic_read(&c[1]->flush_young), 1);
	KUNIT_EXPECT_EQ(test, atomic_read(&c[1]->clear_young), 1);
	KUNIT_EXPECT_GE(test, atomic_read(&c[0]->test_young) +
			atomic_read(&c[1]->test_young), 1);

	c[1]->young = 0;
	KUNIT_EXPECT_EQ(test, mmu_notifier_clear_flush_young(ctx->mm, MNT_PG(0),
							     MNT_PG(1)), 0);
	KUNIT_EXPECT_EQ(test, mmu_notifier_clear_young(ctx->mm, MNT_PG(0),
						       MNT_PG(1)), 0);
	KUNIT_EXPECT_EQ(test, mmu_notifier_test_young(ctx->mm, MNT_PG(7)), 0);
	/* With nobody young, every notifier had to be asked. */
	KUNIT_EXPECT_GE(test, atomic_read(&c[0]->test_young), 1);
	KUNIT_EXPECT_EQ(test, c[0]->seen_addr, MNT_PG(7));

	mnt_unregister_two(test, c);
}

/* change_pte reaches every notifier with the address and the new PTE. */
static void mnt_test_classic_change_pte(struct kunit *test)
{
	struct mnt_ctx *ctx = test->priv;
	pte_t pte = __pte(0x1234000);
	struct mnt_classic *c[2];

	mnt_register_two(test, c);
	mmu_notifier_change_pte(ctx->mm, MNT_PG(9), pte);
	KUNIT_EXPECT_EQ(test, atomic_read(&c[0]->change_pte), 1);
	KUNIT_EXPECT_EQ(test, atomic_read(&c[1]->change_pte), 1);
	KUNIT_EXPECT_EQ(test, c[1]->seen_addr, MNT_PG(9));
	KUNIT_EXPECT_EQ(test, pte_val(c[1]->seen_pte), pte_val(pte));

	mnt_unregister_two(test, c);
}

/*
 * Unregister runs ->release for a notifier the mm has not released, and
 * the notifier gets no callback after it; the others still do.
 */
static void mnt_test_classic_unregister(struct kunit *test)
{
	struct mnt_ctx *ctx = test->priv;
	struct mnt_classic *c[2];

	mnt_register_two(test, c);
	mmu_notifier_unregister(&c[1]->mn, ctx->mm);
	KUNIT_EXPECT_EQ(test, atomic_read(&c[1]->release), 1);
	mmu_notifier_invalidate_range(ctx->mm, MNT_PG(0), MNT_PG(1));
	KUNIT_EXPECT_EQ(test, atomic_read(&c[1]->inv_range), 0);
	KUNIT_EXPECT_EQ(test, atomic_read(&c[0]->inv_range), 1);

	mmu_notifier_unregister(&c[0]->mn, ctx->mm);
	KUNIT_EXPECT_EQ(test, atomic_read(&c[0]->release), 1);
}

/* ->release runs once when the mm's last user goes, not again at unregister. */
static void mnt_test_classic_release(struct kunit *test)
{
	struct mnt_classic *c;
	struct mm_struct *mm;

	c = kunit_kzalloc(test, sizeof(*c), GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, c);
	c->mn.ops = &mnt_classic_ops;
	mm = mm_alloc();
	KUNIT_ASSERT_NOT_NULL(test, mm);

	KUNIT_ASSERT_EQ(test, mmu_notifier_register(&c->mn, mm), 0);
	KUNIT_EXPECT_PTR_EQ(test, c->mn.mm, mm);
	mmput(mm);		/* exit_mmap() -> mmu_notifier_release() */
	KUNIT_EXPECT_EQ(test, atomic_read(&c->release), 1);
	/* After release no more callbacks, and unregister is still legal. */
	mmu_notifier_unregister(&c->mn, mm);
	KUNIT_EXPECT_EQ(test, atomic_read(&c->release), 1);
}

/*
 * A notifier whose start can fail may not have an end callback (there is no
 * way to tell it its start failed), so it gets ops without one.
 */
static const struct mmu_notifier_ops mnt_refusing_ops = {
	.invalidate_range_start = mnt_c_start,
};

/*
 * A notifier that fails non-blockable starts makes the whole start fail with
 * -EAGAIN; peers that had already started see their paired end. With a good
 * notifier registered on each side of the failing one, at least one of them
 * is started before the failure whatever order the core walks them in.
 */
static void mnt_test_classic_nonblock(struct kunit *test)
{
	struct mnt_ctx *ctx = test->priv;
	struct mmu_notifier_range range = {};
	struct mnt_classic *c[3];
	int i, ret, started = 0;

	for (i = 0; i < 3; i++) {
		c[i] = kunit_kzalloc(test, sizeof(*c[i]), GFP_KERNEL);
		KUNIT_ASSERT_NOT_NULL(test, c[i]);
		c[i]->mn.ops = &mnt_classic_ops;
	}
	c[1]->refuse_nonblock = true;
	c[1]->mn.ops = &mnt_refusing_ops;
	for (i = 0; i < 3; i++)
		KUNIT_ASSERT_EQ(test, mmu_notifier_register(&c[i]->mn, ctx->mm),
				0);

	mmu_notifier_range_init(&range, MMU_NOTIFY_UNMAP, 0, NULL, ctx->mm,
				MNT_PG(0), MNT_PG(4));
	ret = mmu_notifier_invalidate_range_start_nonblock(&range);
	KUNIT_EXPECT_EQ(test, ret, -EAGAIN);
	for (i = 0; i < 3; i += 2) {
		started += atomic_read(&c[i]->starts);
		/* Whoever started has been ended: nothing is left open. */
		KUNIT_EXPECT_EQ(test, atomic_read(&c[i]->starts),
				atomic_read(&c[i]->ends));
	}
	KUNIT_EXPECT_GE(test, started, 1);
	KUNIT_EXPECT_EQ(test, atomic_read(&c[1]->starts), 0);

	mmu_notifier_range_init(&range, MMU_NOTIFY_UNMAP, 0, NULL, ctx->mm,
				MNT_PG(0), MNT_PG(4));
	mmu_notifier_invalidate_range_start(&range);
	KUNIT_EXPECT_EQ(test, atomic_read(&c[1]->starts), 1);
	KUNIT_EXPECT_TRUE(test, mmu_notifier_range_blockable(&c[1]->seen));
	mmu_notifier_invalidate_range_end(&range);
	KUNIT_EXPECT_EQ(test, atomic_read(&c[0]->ends),
			atomic_read(&c[0]->starts));

	for (i = 0; i < 3; i++)
		mmu_notifier_unregister(&c[i]->mn, ctx->mm);
}

/*
 * ->release() runs while the notifier is still hooked up, so a secondary TLB
 * flush that an rmap invalidation issues meanwhile still reaches a notifier
 * that may map the page (IOMMU SVA). Here the flush is issued from inside
 * ->release() itself, at exit and at unregister.
 */
static void mnt_c_release_probe(struct mmu_notifier *mn, struct mm_struct *mm)
{
	struct mnt_classic *c = to_mnt_classic(mn);
	int before = atomic_read(&c->inv_range);

	mmu_notifier_invalidate_range(mm, 0, PAGE_SIZE);
	if (atomic_read(&c->inv_range) != before)
		atomic_inc(&c->flushed_in_release);
	atomic_inc(&c->release);
}

static const struct mmu_notifier_ops mnt_probe_ops = {
	.release = mnt_c_release_probe,
	.invalidate_range = mnt_c_inv_range,
};

static void mnt_test_classic_release_while_listed(struct kunit *test)
{
	struct mnt_ctx *ctx = test->priv;
	struct mnt_classic *at_exit = mnt_new_classic(test, &mnt_probe_ops);
	struct mnt_classic *at_unreg = mnt_new_classic(test, &mnt_probe_ops);
	struct mm_struct *mm = mm_alloc();

	KUNIT_ASSERT_NOT_NULL(test, mm);
	KUNIT_ASSERT_EQ(test, mmu_notifier_register(&at_exit->mn, mm), 0);
	mmput(mm);
	KUNIT_EXPECT_EQ(test, atomic_read(&at_exit->release), 1);
	KUNIT_EXPECT_EQ(test, atomic_read(&at_exit->flushed_in_release), 1);
	mmu_notifier_unregister(&at_exit->mn, mm);
	KUNIT_EXPECT_EQ(test, atomic_read(&at_exit->release), 1);

	KUNIT_ASSERT_EQ(test, mmu_notifier_register(&at_unreg->mn, ctx->mm), 0);
	mmu_notifier_unregister(&at_unreg->mn, ctx->mm);
	KUNIT_EXPECT_EQ(test, atomic_read(&at_unreg->release), 1);
	KUNIT_EXPECT_EQ(test, atomic_read(&at_unreg->flushed_in_release), 1);
}

/*
 * A blockable start a classic notifier refuses (a driver bug) is reported
 * and carried on: every other notifier starts once and, at the caller's
 * end, ends once.
 */
static void mnt_test_classic_blockable_refusal(struct kunit *test)
{
	struct mnt_ctx *ctx = test->priv;
	struct mmu_notifier_range range = {};
	struct mnt_classic *c[3];
	int i;

	/* Registered last is walked first: c[0], the refusing c[1], c[2]. */
	c[2] = mnt_new_classic(test, &mnt_classic_ops);
	c[1] = mnt_new_classic(test, &mnt_refusing_ops);
	c[0] = mnt_new_classic(test, &mnt_classic_ops);
	c[1]->refuse_always = true;
	for (i = 2; i >= 0; i--)
		KUNIT_ASSERT_EQ(test, mmu_notifier_register(&c[i]->mn, ctx->mm),
				0);

	mmu_notifier_range_init(&range, MMU_NOTIFY_UNMAP, 0, NULL, ctx->mm,
				MNT_PG(0), MNT_PG(4));
	MNT_EXPECT_WARN(MNT_REFUSAL_WARNERS);
	mmu_notifier_invalidate_range_start(&range);
	MNT_EXPECT_WARN_END();
	KUNIT_EXPECT_EQ(test, atomic_read(&c[0]->starts), 1);
	KUNIT_EXPECT_EQ(test, atomic_read(&c[2]->starts), 1);
	KUNIT_EXPECT_EQ(test, atomic_read(&c[0]->ends), 0);
	KUNIT_EXPECT_EQ(test, atomic_read(&c[2]->ends), 0);
	mmu_notifier_invalidate_range_end(&range);
	KUNIT_EXPECT_EQ(test, atomic_read(&c[0]->ends), 1);
	KUNIT_EXPECT_EQ(test, atomic_read(&c[2]->ends), 1);

	for (i = 0; i < 3; i++)
		mmu_notifier_unregister(&c[i]->mn, ctx->mm);
}

/* The range callbacks see is the caller's, flags included. */
static void mnt_test_classic_range_flags(struct kunit *test)
{
	struct mnt_ctx *ctx = test->priv;
	struct mnt_classic *c = mnt_new_classic(test, &mnt_classic_ops);
	struct mnt_sub *sub = mnt_new_sub(test);
	struct mmu_notifier_range range = {};

	KUNIT_ASSERT_EQ(test, mmu_notifier_register(&c->mn, ctx->mm), 0);
	mnt_insert(test, sub, 0, 1);

	mmu_notifier_range_init(&range, MMU_NOTIFY_CLEAR, 0, NULL, ctx->mm,
				MNT_PG(0), MNT_PG(1));
	mmu_notifier_invalidate_range_start(&range);
	KUNIT_EXPECT_EQ(test, c->seen.flags,
			(unsigned int)MMU_NOTIFIER_RANGE_BLOCKABLE);
	KUNIT_EXPECT_EQ(test, range.flags,
			(unsigned int)MMU_NOTIFIER_RANGE_BLOCKABLE);
	mmu_notifier_invalidate_range_end(&range);
	KUNIT_EXPECT_EQ(test, range.flags,
			(unsigned int)MMU_NOTIFIER_RANGE_BLOCKABLE);
	KUNIT_EXPECT_EQ(test, mnt_calls(sub), 1U);

	mmu_interval_notifier_remove(&sub->notifier);
	mmu_notifier_unregister(&c->mn, ctx->mm);
}

/* ---- mmu_notifier_get / put ------------------------------------------ */

static atomic_t mnt_get_allocs = ATOMIC_INIT(0);
static atomic_t mnt_get_frees = ATOMIC_INIT(0);

static struct mmu_notifier *mnt_get_alloc(struct mm_struct *mm)
{
	struct mnt_classic *c = kzalloc(sizeof(*c), GFP_KERNEL);

	if (!c)
		return ERR_PTR(-ENOMEM);
	atomic_inc(&mnt_get_allocs);
	return &c->mn;
}

static void mnt_get_free(struct mmu_notifier *mn)
{
	atomic_inc(&mnt_get_frees);
	kfree(to_mnt_classic(mn));
}

static const struct mmu_notifier_ops mnt_get_ops_a = {
	.invalidate_range_start = mnt_c_start,
	.alloc_notifier = mnt_get_alloc,
	.free_notifier = mnt_get_free,
};

static const struct mmu_notifier_ops mnt_get_ops_b = {
	.invalidate_range_start = mnt_c_start,
	.alloc_notifier = mnt_get_alloc,
	.free_notifier = mnt_get_free,
};

static void mnt_test_get_put(struct kunit *test)
{
	struct mnt_ctx *ctx = test->priv;
	struct mmu_notifier *a1, *a2, *a3, *b1, *other;
	struct mm_struct *mm2;
	int allocs = atomic_read(&mnt_get_allocs);
	int frees = atomic_read(&mnt_get_frees);

	a1 = mmu_notifier_get(&mnt_get_ops_a, ctx->mm);
	KUNIT_ASSERT_FALSE(test, IS_ERR(a1));
	KUNIT_EXPECT_PTR_EQ(test, a1->mm, ctx->mm);
	a2 = mmu_notifier_get(&mnt_get_ops_a, ctx->mm);
	KUNIT_EXPECT_PTR_EQ(test, a1, a2);
	b1 = mmu_notifier_get(&mnt_get_ops_b, ctx->mm);
	KUNIT_ASSERT_FALSE(test, IS_ERR(b1));
	KUNIT_EXPECT_PTR_NE(test, a1, b1);
	KUNIT_EXPECT_EQ(test, atomic_read(&mnt_get_allocs) - allocs, 2);

	/* One per ops per mm: another mm gets its own. */
	mm2 = mm_alloc();
	KUNIT_ASSERT_NOT_NULL(test, mm2);
	other = mmu_notifier_get(&mnt_get_ops_a, mm2);
	KUNIT_ASSERT_FALSE(test, IS_ERR(other));
	KUNIT_EXPECT_PTR_NE(test, other, a1);
	KUNIT_EXPECT_PTR_EQ(test, other->mm, mm2);

	mmap_write_lock(ctx->mm);
	a3 = mmu_notifier_get_locked(&mnt_get_ops_a, ctx->mm);
	mmap_write_unlock(ctx->mm);
	KUNIT_EXPECT_PTR_EQ(test, a3, a1);

	/* Three gets of a: only the third put frees it, after SRCU. */
	mmu_notifier_put(a1);
	mmu_notifier_put(a2);
	mmu_notifier_synchronize();
	KUNIT_EXPECT_EQ(test, atomic_read(&mnt_get_frees) - frees, 0);
	mnt_invalidate_pages(test, 0, 1);
	KUNIT_EXPECT_EQ(test, atomic_read(&to_mnt_classic(a1)->starts), 1);
	mmu_notifier_put(a3);
	mmu_notifier_synchronize();
	KUNIT_EXPECT_EQ(test, atomic_read(&mnt_get_frees) - frees, 1);

	/* b is still there and still called; a is not. */
	mnt_invalidate_pages(test, 0, 1);
	KUNIT_EXPECT_EQ(test, atomic_read(&to_mnt_classic(b1)->starts), 2);

	/* A get after the last put makes a new one. */
	a1 = mmu_notifier_get(&mnt_get_ops_a, ctx->mm);
	KUNIT_ASSERT_FALSE(test, IS_ERR(a1));
	KUNIT_EXPECT_EQ(test, atomic_read(&mnt_get_allocs) - allocs, 4);
	mmu_notifier_put(a1);
	mmu_notifier_put(b1);
	mmu_notifier_put(other);
	mmput(mm2);
	mmu_notifier_synchronize();
	KUNIT_EXPECT_EQ(test, atomic_read(&mnt_get_frees) - frees, 4);
}

/* A use count that would overflow is refused, not met with a second one. */
static void mnt_test_get_overflow(struct kunit *test)
{
	struct mnt_ctx *ctx = test->priv;
	struct mmu_notifier *a, *b;
	int allocs;

	a = mmu_notifier_get(&mnt_get_ops_a, ctx->mm);
	KUNIT_ASSERT_FALSE(test, IS_ERR(a));
	allocs = atomic_read(&mnt_get_allocs);

	a->users = UINT_MAX;	/* as if that many gets were outstanding */
	b = mmu_notifier_get(&mnt_get_ops_a, ctx->mm);
	a->users = 1;
	KUNIT_EXPECT_TRUE(test, IS_ERR(b));
	if (IS_ERR(b))
		KUNIT_EXPECT_EQ(test, PTR_ERR(b), -EOVERFLOW);
	else
		mmu_notifier_put(b);
	KUNIT_EXPECT_EQ(test, atomic_read(&mnt_get_allocs), allocs);

	mmu_notifier_put(a);
	mmu_notifier_synchronize();
}

/*
 * A notifier that drops its last reference from inside a failing
 * non-blockable start (so it is gone from the list by the time the core
 * unwinds) must not make the core end notifiers that never started.
 */
static int mnt_c_start_put_and_refuse(struct mmu_notifier *mn,
				      const struct mmu_notifier_range *range)
{
	if (mmu_notifier_range_blockable(range))
		return 0;
	mmu_notifier_put(mn);
	return -EAGAIN;
}

static const struct mmu_notifier_ops mnt_put_on_refuse_ops = {
	.invalidate_range_start = mnt_c_start_put_and_refuse,
	.alloc_notifier = mnt_get_alloc,
	.free_notifier = mnt_get_free,
};

static void mnt_test_classic_nonblock_unwind_bounded(struct kunit *test)
{
	struct mnt_ctx *ctx = test->priv;
	struct mmu_notifier_range range = {};
	struct mnt_classic *first, *last;
	struct mmu_notifier *gone;
	int ret;

	/* Walked in the order first, gone, last. */
	last = mnt_new_classic(test, &mnt_classic_ops);
	first = mnt_new_classic(test, &mnt_classic_ops);
	KUNIT_ASSERT_EQ(test, mmu_notifier_register(&last->mn, ctx->mm), 0);
	gone = mmu_notifier_get(&mnt_put_on_refuse_ops, ctx->mm);
	KUNIT_ASSERT_FALSE(test, IS_ERR(gone));
	KUNIT_ASSERT_EQ(test, mmu_notifier_register(&first->mn, ctx->mm), 0);

	mmu_notifier_range_init(&range, MMU_NOTIFY_UNMAP, 0, NULL, ctx->mm,
				MNT_PG(0), MNT_PG(4));
	ret = mmu_notifier_invalidate_range_start_nonblock(&range);
	KUNIT_EXPECT_EQ(test, ret, -EAGAIN);
	/* Whoever started was ended, once; nobody else was. */
	KUNIT_EXPECT_EQ(test, atomic_read(&first->starts), 1);
	KUNIT_EXPECT_EQ(test, atomic_read(&first->ends), 1);
	KUNIT_EXPECT_EQ(test, atomic_read(&last->ends),
			atomic_read(&last->starts));

	mmu_notifier_unregister(&first->mn, ctx->mm);
	mmu_notifier_unregister(&last->mn, ctx->mm);
	mmu_notifier_synchronize();
}

/* ---- interval notifiers meeting classic ones and rmap locks ---------- */

/*
 * A blockable invalidation that an interval refuses (a driver bug) is
 * reported and otherwise carried out in full: the intervals after the one
 * that refused and the classic notifiers are all started, and the end the
 * caller will call has a start to pair with.
 */
static void mnt_test_blockable_refusal(struct kunit *test)
{
	struct mnt_ctx *ctx = test->priv;
	struct mnt_sub *a = mnt_new_sub(test), *f = mnt_new_sub(test);
	struct mnt_sub *b = mnt_new_sub(test);
	struct mnt_classic *c = mnt_new_classic(test, &mnt_classic_ops);
	struct mmu_notifier_range range;
	struct mnt_async *wait_b;
	unsigned long seq_b;

	/* The tree is walked in address order: a, then f, then b. */
	mnt_insert(test, a, 0, 1);
	mnt_insert(test, f, 1, 1);
	mnt_insert(test, b, 2, 1);
	f->refuse_always = true;
	KUNIT_ASSERT_EQ(test, mmu_notifier_register(&c->mn, ctx->mm), 0);
	seq_b = mmu_interval_read_begin(&b->notifier);

	MNT_EXPECT_WARN(MNT_REFUSAL_WARNERS);
	mnt_inv_start(test, &range, 0, 3);
	MNT_EXPECT_WARN_END();
	KUNIT_EXPECT_EQ(test, f->refused, 1U);
	KUNIT_EXPECT_EQ(test, mnt_calls(a), 1U);
	KUNIT_EXPECT_EQ(test, mnt_calls(b), 1U);
	KUNIT_EXPECT_EQ(test, atomic_read(&c->starts), 1);
	mmu_notifier_invalidate_range_end(&range);
	KUNIT_EXPECT_EQ(test, atomic_read(&c->ends), 1);
	KUNIT_EXPECT_TRUE(test, mnt_read_retry(b, seq_b));

	/* Nothing is left invalidating. */
	wait_b = mnt_read_begin_async(test, b);
	if (!mnt_async_finish(test, wait_b))
		return;
	KUNIT_EXPECT_FALSE(test, mnt_read_retry(b, wait_b->seq));

	mmu_notifier_unregister(&c->mn, ctx->mm);
	mmu_interval_notifier_remove(&a->notifier);
	mmu_interval_notifier_remove(&f->notifier);
	mmu_interval_notifier_remove(&b->notifier);
}

/*
 * The last invalidation, at exit, is blockable too: an interval refusing it
 * neither stops the others from being told nor unbalances the mm's count of
 * open invalidations (the console check catches a second close).
 */
static void mnt_test_release_refusal(struct kunit *test)
{
	struct mnt_sub *r = mnt_new_sub(test), *a = mnt_new_sub(test);
	struct mm_struct *mm = mm_alloc();

	KUNIT_ASSERT_NOT_NULL(test, mm);
	r->refuse_always = true;
	KUNIT_ASSERT_EQ(test, mmu_interval_notifier_insert(&r->notifier, mm,
							   MNT_PG(0), PAGE_SIZE,
							   &mnt_ops), 0);
	KUNIT_ASSERT_EQ(test, mmu_interval_notifier_insert(&a->notifier, mm,
							   MNT_PG(1), PAGE_SIZE,
							   &mnt_ops), 0);

	MNT_EXPECT_WARN(MNT_REFUSAL_WARNERS);
	mmput(mm);		/* exit_mmap() -> mmu_notifier_release() */
	MNT_EXPECT_WARN_END();
	KUNIT_EXPECT_EQ(test, r->refused, 1U);
	KUNIT_EXPECT_EQ(test, mnt_calls(a), 1U);
	KUNIT_EXPECT_EQ(test, a->last_start, 0UL);
	KUNIT_EXPECT_EQ(test, a->last_end, ULONG_MAX);

	/* The intervals keep the mm_struct; removing them after exit is fine. */
	mmu_interval_notifier_remove(&r->notifier);
	mmu_interval_notifier_remove(&a->notifier);
}

/* Give the test's mm the layout exec would, and map a shmem file into it. */
static unsigned long mnt_map_shmem(struct kunit *test, struct file **filep,
				   unsigned long npages)
{
	struct mnt_ctx *ctx = test->priv;
	struct file *file;
	unsigned long addr;

	ctx->mm->task_size = TASK_SIZE;
	arch_pick_mmap_layout(ctx->mm, &current->signal->rlim[RLIMIT_STACK]);
	file = shmem_file_setup("mnt-kunit", npages * PAGE_SIZE, 0);
	KUNIT_ASSERT_FALSE(test, IS_ERR(file));

	kthread_use_mm(ctx->mm);
	addr = vm_mmap(file, 0, npages * PAGE_SIZE, PROT_READ | PROT_WRITE,
		       MAP_SHARED, 0);
	kthread_unuse_mm(ctx->mm);
	if (IS_ERR_VALUE(addr)) {
		fput(file);
		KUNIT_ASSERT_FAILURE(test, "vm_mmap of a shmem file: %ld",
				     (long)addr);
	}
	*filep = file;
	return addr;
}

/*
 * Truncate, reclaim, migration and writeback invalidate holding only an rmap
 * lock, not the mmap lock. Such an invalidation may already be running when
 * a driver inserts the first interval of the mm. Either the insert waits
 * for it to end, or the interval must count as invalidated by it: never may
 * a read section that overlapped it be accepted.
 *
 * The mm either has no notifier yet, or a classic one: the interval side
 * is enabled either way.
 */
static const bool mnt_rmap_classic_first[] = { false, true };

static void mnt_rmap_desc(const bool *classic_first, char *desc)
{
	strscpy(desc, *classic_first ? "mm with a classic notifier" : "fresh mm",
		KUNIT_PARAM_DESC_SIZE);
}

KUNIT_ARRAY_PARAM(mnt_rmap, mnt_rmap_classic_first, mnt_rmap_desc);

static void mnt_test_first_insert_vs_rmap(struct kunit *test)
{
	bool classic_first = *(const bool *)test->param_value;
	struct mnt_ctx *ctx = test->priv;
	struct mnt_sub *sub = mnt_new_sub(test);
	struct mnt_classic *c = NULL;
	struct mmu_notifier_range range = {};
	struct address_space *mapping;
	struct mnt_async *ins;
	struct file *file;
	unsigned long addr;
	bool blocked;

	addr = mnt_map_shmem(test, &file, 4);
	mapping = file->f_mapping;
	if (classic_first) {
		c = mnt_new_classic(test, &mnt_classic_ops);
		KUNIT_ASSERT_EQ(test, mmu_notifier_register(&c->mn, ctx->mm), 0);
	}

	/* What unmap_mapping_range() does for a truncate. */
	i_mmap_lock_read(mapping);
	mmu_notifier_range_init(&range, MMU_NOTIFY_CLEAR, 0, NULL, ctx->mm,
				addr, addr + 4 * PAGE_SIZE);
	mmu_notifier_invalidate_range_start(&range);

	ins = mnt_async_new(test, mnt_do_insert_addr, sub);
	ins->addr = addr;
	ins->npages = 4;
	mnt_async_go(test, ins);
	blocked = mnt_async_blocked(ins);

	mmu_notifier_invalidate_range_end(&range);
	i_mmap_unlock_read(mapping);
	fput(file);
	if (!mnt_async_finish(test, ins))
		return;
	KUNIT_ASSERT_EQ(test, ins->ret, 0);
	KUNIT_EXPECT_TRUE_MSG(test, blocked || mnt_read_retry(sub, ins->seq),
			      "first insert neither waited for the running invalidation nor saw it");

	mmu_interval_notifier_remove(&sub->notifier);
	if (c)
		mmu_notifier_unregister(&c->mn, ctx->mm);
}

/* ---- stress ----------------------------------------------------------- */

/*
 * Readers, invalidators and churners hammer one mm. Churners remove an
 * interval, scribble over it as a driver that freed it and reused the
 * memory would, and insert it again at once (what drivers do when a range
 * changes): a core that lets remove return while the tree still uses the
 * node turns that into a corrupted tree, which the census after the run
 * reports, or into a fault on the poison. There are more threads than
 * CPUs so that some of them are preempted inside the core.
 */
#define MNT_ST_PAGES		64
#define MNT_ST_READERS		2
#define MNT_ST_INVALIDATORS	4
#define MNT_ST_CHURNERS		4
#define MNT_ST_POOL		4	/* intervals each churner juggles */
#define MNT_ST_CHURN_OPS	40000
#define MNT_ST_INV_OPS		40000
#define MNT_ST_READ_OPS		20000
#define MNT_ST_TIMEOUT		(60 * HZ)
/* What a freed and reused interval looks like to a core still using it. */
#define MNT_ST_POISON		0x6b

struct mnt_st_sub {
	struct mmu_interval_notifier notifier;
	spinlock_t lock;	/* pairs set_seq with read_retry */
	unsigned long first, npages;
	atomic_t hits;		/* overlapping invalidations, counted by them */
	bool live;
	/* Census: the page being probed when this interval was last called. */
	long census_page;
	unsigned int census_hits;
	struct mnt_stress *st;
};

struct mnt_stress {
	struct mm_struct *mm;
	struct mnt_st_sub readers[MNT_ST_READERS];
	struct mnt_st_sub pool[MNT_ST_CHURNERS][MNT_ST_POOL];
	atomic_t churn_budget, inv_budget, read_budget;
	atomic_t running;
	struct completion done;
	atomic_t stale;		/* reads accepted despite a collision */
	atomic_t dead_calls;	/* callbacks on removed intervals */
	atomic_t insert_errors;
	atomic_long_t retries, accepted, inserts, removes, invalidations;
	atomic_long_t callbacks;
	/* Set once every thread has stopped: the callbacks take a census. */
	bool census;
	long census_page;
	unsigned int census_twice;	/* an interval met twice in one walk */
	unsigned int census_stray;	/* called for a page it does not cover */
};

static bool mnt_st_overlaps(struct mnt_st_sub *s, unsigned long first,
			    unsigned long last_excl)
{
	return first < s->first + s->npages && s->first < last_excl;
}

/*
 * One interval met by a census walk over page st->census_page. Meeting it
 * twice means the tree has a cycle or a node linked twice: refuse, which
 * ends the (non-blockable) walk instead of looping forever.
 */
static bool mnt_st_census(struct mnt_st_sub *s)
{
	struct mnt_stress *st = s->st;

	if (s->census_page == st->census_page) {
		st->census_twice++;
		return false;
	}
	s->census_page = st->census_page;
	s->census_hits++;
	if (!mnt_st_overlaps(s, st->census_page, st->census_page + 1))
		st->census_stray++;
	return true;
}

static bool mnt_st_invalidate(struct mmu_interval_notifier *mni,
			      const struct mmu_notifier_range *range,
			      unsigned long cur_seq)
{
	struct mnt_st_sub *s = container_of(mni, struct mnt_st_sub, notifier);

	if (READ_ONCE(s->st->census))
		return mnt_st_census(s);
	if (!READ_ONCE(s->live))
		atomic_inc(&s->st->dead_calls);
	spin_lock(&s->lock);
	mmu_interval_set_seq(mni, cur_seq);
	spin_unlock(&s->lock);
	atomic_long_inc(&s->st->callbacks);
	return true;
}

static const struct mmu_interval_notifier_ops mnt_st_ops = {
	.invalidate = mnt_st_invalidate,
};

static bool mnt_st_take(atomic_t *budget)
{
	return atomic_dec_if_positive(budget) >= 0;
}

static void mnt_st_finish(struct mnt_stress *st)
{
	if (atomic_dec_and_test(&st->running))
		complete(&st->done);
}

static int mnt_st_invalidator(void *data)
{
	struct mnt_stress *st = data;
	struct rnd_state rnd;
	int i;

	prandom_seed_state(&rnd, (u64)(unsigned long)current);
	while (mnt_st_take(&st->inv_budget)) {
		struct mmu_notifier_range range = {};
		u32 first = prandom_u32_state(&rnd) % MNT_ST_PAGES;
		u32 len = 1 + prandom_u32_state(&rnd) % 16;

		mmu_notifier_range_init(&range, MMU_NOTIFY_CLEAR, 0, NULL,
					st->mm, MNT_PG(first),
					MNT_PG(first + len));
		mmu_notifier_invalidate_range_start(&range);
		for (i = 0; i < MNT_ST_READERS; i++)
			if (mnt_st_overlaps(&st->readers[i], first, first + len))
				atomic_inc(&st->readers[i].hits);
		if (len & 1)
			cond_resched();
		mmu_notifier_invalidate_range_end(&range);
		atomic_long_inc(&st->invalidations);
		cond_resched();
	}
	mnt_st_finish(st);
	return 0;
}

static int mnt_st_reader(void *data)
{
	struct mnt_st_sub *s = data;
	struct mnt_stress *st = s->st;
	unsigned long seq;
	int h1, h2, spin;
	bool retry;

	while (mnt_st_take(&st->read_budget)) {
		seq = mmu_interval_read_begin(&s->notifier);
		h1 = atomic_read(&s->hits);
		/* "Build" a mirror of the range; give invalidations a window. */
		for (spin = 0; spin < 64; spin++)
			cpu_relax();
		cond_resched();
		spin_lock(&s->lock);
		retry = mmu_interval_read_retry(&s->notifier, seq);
		h2 = atomic_read(&s->hits);
		spin_unlock(&s->lock);
		if (retry) {
			atomic_long_inc(&st->retries);
		} else {
			atomic_long_inc(&st->accepted);
			if (h1 != h2)
				atomic_inc(&st->stale);
		}
	}
	mnt_st_finish(st);
	return 0;
}

static void mnt_st_insert(struct mnt_stress *st, struct mnt_st_sub *s,
			  struct rnd_state *rnd)
{
	s->first = prandom_u32_state(rnd) % MNT_ST_PAGES;
	s->npages = 1 + prandom_u32_state(rnd) % 8;
	WRITE_ONCE(s->live, true);
	if (mmu_interval_notifier_insert(&s->notifier, st->mm, MNT_PG(s->first),
					 s->npages * PAGE_SIZE, &mnt_st_ops)) {
		WRITE_ONCE(s->live, false);
		atomic_inc(&st->insert_errors);
	}
	atomic_long_inc(&st->inserts);
}

/* Remove, then treat the memory as freed and reused at once. */
static void mnt_st_remove(struct mnt_stress *st, struct mnt_st_sub *s)
{
	mmu_interval_notifier_remove(&s->notifier);
	WRITE_ONCE(s->live, false);
	memset(&s->notifier, MNT_ST_POISON, sizeof(s->notifier));
	atomic_long_inc(&st->removes);
}

static int mnt_st_churner(void *data)
{
	struct mnt_st_sub *pool = data;
	struct mnt_stress *st = pool[0].st;
	struct rnd_state rnd;

	prandom_seed_state(&rnd, (u64)(unsigned long)pool);
	while (mnt_st_take(&st->churn_budget)) {
		struct mnt_st_sub *s = &pool[prandom_u32_state(&rnd) %
					     MNT_ST_POOL];

		if (s->live) {
			mnt_st_remove(st, s);
			/* Most of the time the range just moves. */
			if (prandom_u32_state(&rnd) % 4)
				mnt_st_insert(st, s, &rnd);
		} else {
			mnt_st_insert(st, s, &rnd);
		}
		cond_resched();
	}
	mnt_st_finish(st);
	return 0;
}

/*
 * With every thread stopped, probe the tree one page at a time through
 * non-blockable invalidations: each live interval must be met exactly once
 * per page it covers and never for another page, and a removed one never.
 */
static void mnt_st_take_census(struct kunit *test, struct mnt_stress *st)
{
	struct mnt_st_sub *subs[MNT_ST_READERS + MNT_ST_CHURNERS * MNT_ST_POOL];
	unsigned int i, n = 0, want;
	long page;
	int ret;

	for (i = 0; i < MNT_ST_READERS; i++)
		subs[n++] = &st->readers[i];
	for (i = 0; i < MNT_ST_CHURNERS * MNT_ST_POOL; i++)
		subs[n++] = &st->pool[0][0] + i;
	for (i = 0; i < n; i++) {
		subs[i]->census_page = -1;
		subs[i]->census_hits = 0;
	}

	WRITE_ONCE(st->census, true);
	for (page = 0; page < MNT_ST_PAGES + 8; page++) {
		struct mmu_notifier_range range = {};

		st->census_page = page;
		mmu_notifier_range_init(&range, MMU_NOTIFY_CLEAR, 0, NULL,
					st->mm, MNT_PG(page), MNT_PG(page + 1));
		ret = mmu_notifier_invalidate_range_start_nonblock(&range);
		if (!ret)
			mmu_notifier_invalidate_range_end(&range);
	}
	WRITE_ONCE(st->census, false);

	KUNIT_EXPECT_EQ(test, st->census_twice, 0U);
	KUNIT_EXPECT_EQ(test, st->census_stray, 0U);
	for (i = 0; i < n; i++) {
		want = subs[i]->live ? subs[i]->npages : 0;
		KUNIT_EXPECT_EQ_MSG(test, subs[i]->census_hits, want,
				    "interval %u [%lu, +%lu) %s", i,
				    subs[i]->first, subs[i]->npages,
				    subs[i]->live ? "live" : "removed");
	}
}

static void mnt_test_stress(struct kunit *test)
{
	struct mnt_ctx *ctx = test->priv;
	struct mnt_stress *st;
	unsigned long t0, elapsed;
	int i, j, nthreads = 0;
	long total;

	/* Leaked on timeout: stuck threads may still use it. */
	st = kzalloc(sizeof(*st), GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, st);
	st->mm = ctx->mm;
	atomic_set(&st->churn_budget, MNT_ST_CHURN_OPS);
	atomic_set(&st->inv_budget, MNT_ST_INV_OPS);
	atomic_set(&st->read_budget, MNT_ST_READ_OPS);
	init_completion(&st->done);

	for (i = 0; i < MNT_ST_READERS; i++) {
		struct mnt_st_sub *s = &st->readers[i];

		s->st = st;
		spin_lock_init(&s->lock);
		s->first = i * (MNT_ST_PAGES / MNT_ST_READERS);
		s->npages = 8;
		s->live = true;
		KUNIT_ASSERT_EQ(test,
				mmu_interval_notifier_insert(&s->notifier,
							     st->mm,
							     MNT_PG(s->first),
							     s->npages * PAGE_SIZE,
							     &mnt_st_ops), 0);
	}
	for (i = 0; i < MNT_ST_CHURNERS; i++) {
		for (j = 0; j < MNT_ST_POOL; j++) {
			st->pool[i][j].st = st;
			spin_lock_init(&st->pool[i][j].lock);
		}
	}

	atomic_set(&st->running, MNT_ST_READERS + MNT_ST_INVALIDATORS +
		   MNT_ST_CHURNERS);
	t0 = jiffies;
	for (i = 0; i < MNT_ST_INVALIDATORS; i++, nthreads++)
		KUNIT_ASSERT_FALSE(test, IS_ERR(kthread_run(mnt_st_invalidator,
							    st, "mnt-inv%d",
							    i)));
	for (i = 0; i < MNT_ST_READERS; i++, nthreads++)
		KUNIT_ASSERT_FALSE(test, IS_ERR(kthread_run(mnt_st_reader,
							    &st->readers[i],
							    "mnt-rd%d", i)));
	for (i = 0; i < MNT_ST_CHURNERS; i++, nthreads++)
		KUNIT_ASSERT_FALSE(test, IS_ERR(kthread_run(mnt_st_churner,
							    st->pool[i],
							    "mnt-churn%d",
							    i)));

	if (!wait_for_completion_timeout(&st->done, MNT_ST_TIMEOUT)) {
		KUNIT_FAIL(test, "%d of %d stress threads never finished",
			   atomic_read(&st->running), nthreads);
		return;
	}
	elapsed = jiffies - t0;

	total = atomic_long_read(&st->inserts) + atomic_long_read(&st->removes) +
		atomic_long_read(&st->invalidations) +
		atomic_long_read(&st->retries) + atomic_long_read(&st->accepted);
	kunit_info(test,
		   "%ld ops in %u ms: %ld inserts, %ld removes, %ld invalidations (%ld callbacks), %ld reads accepted, %ld retried\n",
		   total, jiffies_to_msecs(elapsed),
		   atomic_long_read(&st->inserts),
		   atomic_long_read(&st->removes),
		   atomic_long_read(&st->invalidations),
		   atomic_long_read(&st->callbacks),
		   atomic_long_read(&st->accepted),
		   atomic_long_read(&st->retries));

	KUNIT_EXPECT_EQ(test, atomic_long_read(&st->invalidations),
			(long)MNT_ST_INV_OPS);
	KUNIT_EXPECT_EQ(test, atomic_long_read(&st->retries) +
			atomic_long_read(&st->accepted), (long)MNT_ST_READ_OPS);
	KUNIT_EXPECT_EQ(test, atomic_read(&st->stale), 0);
	KUNIT_EXPECT_EQ(test, atomic_read(&st->dead_calls), 0);
	KUNIT_EXPECT_EQ(test, atomic_read(&st->insert_errors), 0);
	/* The race was real: both outcomes of read_retry were seen. */
	KUNIT_EXPECT_GT(test, atomic_long_read(&st->retries), 0L);
	KUNIT_EXPECT_GT(test, atomic_long_read(&st->accepted), 0L);

	mnt_st_take_census(test, st);

	for (i = 0; i < MNT_ST_CHURNERS; i++)
		for (j = 0; j < MNT_ST_POOL; j++)
			if (st->pool[i][j].live)
				mnt_st_remove(st, &st->pool[i][j]);
	for (i = 0; i < MNT_ST_READERS; i++)
		mmu_interval_notifier_remove(&st->readers[i].notifier);
	kfree(st);
}

static struct kunit_case mnt_interval_cases[] = {
	KUNIT_CASE(mnt_test_seq_collision),
	KUNIT_CASE(mnt_test_interval_bounds),
	KUNIT_CASE(mnt_test_seq_new_and_odd),
	KUNIT_CASE(mnt_test_seq_nonoverlap),
	KUNIT_CASE(mnt_test_read_begin_waits),
	KUNIT_CASE(mnt_test_nested_first_ends_first),
	KUNIT_CASE(mnt_test_nested_last_ends_first),
	KUNIT_CASE(mnt_test_deferred_insert),
	KUNIT_CASE(mnt_test_deferred_remove),
	KUNIT_CASE(mnt_test_deferred_insert_then_remove),
	KUNIT_CASE(mnt_test_remove_waits_inflight),
	KUNIT_CASE(mnt_test_insert_bad_length),
	KUNIT_CASE(mnt_test_insert_locked),
	KUNIT_CASE(mnt_test_nonblock_start),
	KUNIT_CASE(mnt_test_nonblock_refused),
	KUNIT_CASE(mnt_test_nonblock_annotated),
	KUNIT_CASE(mnt_test_two_pass_order),
	KUNIT_CASE(mnt_test_two_pass_mixed),
	KUNIT_CASE(mnt_test_two_pass_nested),
	KUNIT_CASE(mnt_test_two_pass_nonblock),
	KUNIT_CASE(mnt_test_two_pass_bad_ops),
	KUNIT_CASE(mnt_test_blockable_refusal),
	KUNIT_CASE(mnt_test_release_refusal),
	KUNIT_CASE_PARAM(mnt_test_first_insert_vs_rmap, mnt_rmap_gen_params),
	{}
};

static struct kunit_suite mnt_interval_suite = {
	.name = "mmu_interval_notifier",
	.init = mnt_init,
	.exit = mnt_exit,
	.test_cases = mnt_interval_cases,
};

static struct kunit_case mnt_classic_cases[] = {
	KUNIT_CASE(mnt_test_classic_start_end),
	KUNIT_CASE(mnt_test_classic_only_end),
	KUNIT_CASE(mnt_test_classic_invalidate_range),
	KUNIT_CASE(mnt_test_classic_young),
	KUNIT_CASE(mnt_test_classic_change_pte),
	KUNIT_CASE(mnt_test_classic_unregister),
	KUNIT_CASE(mnt_test_classic_release),
	KUNIT_CASE(mnt_test_classic_nonblock),
	KUNIT_CASE(mnt_test_get_put),
	KUNIT_CASE(mnt_test_classic_release_while_listed),
	KUNIT_CASE(mnt_test_classic_blockable_refusal),
	KUNIT_CASE(mnt_test_classic_range_flags),
	KUNIT_CASE(mnt_test_get_overflow),
	KUNIT_CASE(mnt_test_classic_nonblock_unwind_bounded),
	{}
};

static struct kunit_suite mnt_classic_suite = {
	.name = "mmu_notifier",
	.init = mnt_init,
	.exit = mnt_exit,
	.test_cases = mnt_classic_cases,
};

static struct kunit_case mnt_stress_cases[] = {
	KUNIT_CASE(mnt_test_stress),
	{}
};

static struct kunit_suite mnt_stress_suite = {
	.name = "mmu_interval_notifier_stress",
	.init = mnt_init,
	.exit = mnt_exit,
	.test_cases = mnt_stress_cases,
};

kunit_test_suites(&mnt_interval_suite, &mnt_classic_suite, &mnt_stress_suite);

MODULE_LICENSE("GPL");

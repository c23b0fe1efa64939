/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Helpers shared by the KUnit suites of the HMM core: mm/mmu_notifier_kunit.c,
 * mm/memremap_kunit.c and mm/hmm_kunit.c.  Each suite is built on its own
 * (its own Kconfig option, and `make compat` compiles the objects one by
 * one), so the helpers are static inlines rather than an object of their own.
 *
 * A call on a kthread
 * -------------------
 *
 * A call that is expected to block (read_begin during an invalidation,
 * memunmap_pages() while a page is in use, a fault waiting for a migration)
 * runs on a kthread of its own.  The case checks that it is still blocked,
 * releases it and sees it finish, all within time bounds, so that a core
 * that loses a wakeup fails the case instead of hanging the boot:
 *
 *	struct my_call {
 *		struct ktest_call call;
 *		...inputs and results...
 *	};
 *
 *	static void my_fn(struct ktest_call *call)
 *	{
 *		struct my_call *my = container_of(call, struct my_call, call);
 *		...
 *	}
 *
 *	my = ktest_call_new(test, struct my_call, call, my_fn);
 *	...fill in the inputs...
 *	KUNIT_ASSERT_TRUE(test, ktest_call_start(test, &my->call));
 *	KUNIT_EXPECT_TRUE(test, ktest_call_blocked(&my->call));
 *	...release it...
 *	if (ktest_call_finish(test, &my->call))
 *		...check the results...
 *
 * The state lives on the heap and is freed with the case once the call has
 * finished.  A call that never finishes may still write to it at any time,
 * so then it is leaked on purpose, and the case fails.  Whatever else the
 * call writes to must outlive it the same way: keep it in the state, never
 * on the case's stack, which is gone as soon as an assertion ends the case.
 */
#ifndef _MM_HMM_KUNIT_UTIL_H
#define _MM_HMM_KUNIT_UTIL_H

#include <kunit/test.h>
#include <linux/completion.h>
#include <linux/err.h>
#include <linux/jiffies.h>
#include <linux/kthread.h>
#include <linux/slab.h>
#include <linux/stddef.h>

/* How long a call that must stay blocked is watched before we say it is. */
#define KTEST_BLOCKED_MS	200
/* How long a released call may take to finish, under a slow emulator. */
#define KTEST_FINISH_MS		20000

/**
 * struct ktest_call - a call run on a kthread, embedded in its state
 * @done: completed once @fn has returned
 * @fn: the call
 * @state: the allocation this is embedded in
 * @started: a kthread was started for it
 */
struct ktest_call {
	struct completion done;
	void (*fn)(struct ktest_call *call);
	void *state;
	bool started;
};

struct ktest_call_layout {
	size_t size;
	size_t offset;
	void (*fn)(struct ktest_call *call);
};

static inline int ktest_call_init(struct kunit_resource *res, void *context)
{
	const struct ktest_call_layout *layout = context;
	struct ktest_call *call;
	void *state;

	state = kzalloc(layout->size, GFP_KERNEL);
	if (!state)
		return -ENOMEM;
	call = state + layout->offset;
	init_completion(&call->done);
	call->fn = layout->fn;
	call->state = state;
	res->data = call;
	return 0;
}

/* At the end of the case: free the state, unless the call may still run. */
static inline void ktest_call_free(struct kunit_resource *res)
{
	struct ktest_call *call = res->data;

	if (!call->started || completion_done(&call->done))
		kfree(call->state);
}

/* The state of a new call; its struct ktest_call is at @offset in it. */
static inline void *__ktest_call_new(struct kunit *test, size_t size,
				     size_t offset,
				     void (*fn)(struct ktest_call *call))
{
	struct ktest_call_layout layout = {
		.size = size,
		.offset = offset,
		.fn = fn,
	};
	struct ktest_call *call;

	call = kunit_alloc_resource(test, ktest_call_init, ktest_call_free,
				    GFP_KERNEL, &layout);
	KUNIT_ASSERT_NOT_NULL(test, call);
	return call->state;
}

/**
 * ktest_call_new - zeroed heap state for a call run on a kthread
 * @test: the case
 * @type: the type of the state, which embeds a struct ktest_call
 * @member: the name of that struct ktest_call in @type
 * @fn: the call; it finds its state with container_of()
 *
 * Ends the case if there is no memory.
 *
 * Return: the state, of type @type *.
 */
#define ktest_call_new(test, type, member, fn)				\
	((type *)__ktest_call_new(test, sizeof(type),			\
				  offsetof(type, member), fn))

static inline int ktest_call_thread(void *data)
{
	struct ktest_call *call = data;

	call->fn(call);
	/* complete_all(): the case may wait for it more than once. */
	complete_all(&call->done);
	return 0;
}

/**
 * ktest_call_start - run the call on a kthread of its own
 * @test: the case
 * @call: the call, with its inputs filled in
 *
 * Return: false if no kthread could be started; the call did not run.
 */
static inline bool ktest_call_start(struct kunit *test,
				    struct ktest_call *call)
{
	struct task_struct *task;

	task = kthread_run(ktest_call_thread, call, "kunit-call");
	if (IS_ERR(task)) {
		kunit_err(test, "kthread_run: %ld\n", PTR_ERR(task));
		return false;
	}
	call->started = true;
	return true;
}

/* Whether the call has returned by now; never waits. */
static inline bool ktest_call_done(struct ktest_call *call)
{
	return completion_done(&call->done);
}

/* Whether the call returned within @ms milliseconds. */
static inline bool ktest_call_wait(struct ktest_call *call, unsigned int ms)
{
	return wait_for_completion_timeout(&call->done, msecs_to_jiffies(ms));
}

/* True if the call is still running after KTEST_BLOCKED_MS. */
static inline bool ktest_call_blocked(struct ktest_call *call)
{
	return !ktest_call_wait(call, KTEST_BLOCKED_MS);
}

/**
 * ktest_call_finish - wait for a call that should return now
 * @test: the case
 * @call: the call
 *
 * Waits up to KTEST_FINISH_MS.  A call that does not return by then fails
 * the case, and its state is leaked.
 *
 * Return: whether the call returned; only then may its results be read.
 */
static inline bool ktest_call_finish(struct kunit *test,
				     struct ktest_call *call)
{
	if (ktest_call_wait(call, KTEST_FINISH_MS))
		return true;
	KUNIT_FAIL(test, "a call on a kthread never returned (lost wakeup?)");
	return false;
}

#endif /* _MM_HMM_KUNIT_UTIL_H */

// SPDX-License-Identifier: GPL-2.0
/*
 * KUnit tests for dev_pagemap: creating and tearing down ZONE_DEVICE maps,
 * the pfn to dev_pagemap lookup and the reference counting that keeps a map
 * alive while pages or lookups still use it.
 *
 * Every map is MEMORY_DEVICE_PRIVATE memory placed in physical address space
 * that nothing else owns (request_free_mem_region()), so the tests need no
 * RAM and no hardware: only struct pages get allocated.
 */
#include <kunit/test.h>
#include <linux/delay.h>
#include <linux/device.h>
#include <linux/err.h>
#include <linux/error-injection.h>
#include <linux/ioport.h>
#include <linux/jiffies.h>
#include <linux/kprobes.h>
#include <linux/kthread.h>
#include <linux/log2.h>
#include <linux/memory_hotplug.h>
#include <linux/memremap.h>
#include <linux/mm.h>
#include <linux/mmzone.h>
#include <linux/pagemap.h>
#include <linux/pfn.h>
#include <linux/ptrace.h>
#include <linux/sizes.h>
#include <linux/slab.h>
#include <linux/string.h>

#include "hmm_kunit_util.h"

/* One subsection: the smallest span ZONE_DEVICE memory can be hotplugged in. */
#define MR_CHUNK	SZ_2M
/* Address space reserved per test, carved into chunks by the test. */
#define MR_SPAN		(16 * MR_CHUNK)

/*
 * A fake device: the dev_pagemap sits last because its ranges[] may extend
 * past the end of the structure when nr_range > 1.
 */
struct mr_dev {
	atomic_t nr_freed;
	struct page *last_freed;
	bool mapped;
	struct dev_pagemap pgmap;
};

struct mr_ctx {
	struct resource *res;
	struct mr_dev *devs[4];
	bool leaked;
};

static struct mr_dev *to_mr_dev(struct dev_pagemap *pgmap)
{
	return container_of(pgmap, struct mr_dev, pgmap);
}

static void mr_page_free(struct page *page)
{
	struct mr_dev *dev = to_mr_dev(page->pgmap);

	WRITE_ONCE(dev->last_freed, page);
	atomic_inc(&dev->nr_freed);
}

static vm_fault_t mr_migrate_to_ram(struct vm_fault *vmf)
{
	/* No test ever maps a page of ours into a process. */
	return VM_FAULT_SIGBUS;
}

static const struct dev_pagemap_ops mr_ops = {
	.page_free	= mr_page_free,
	.migrate_to_ram	= mr_migrate_to_ram,
};

static const struct dev_pagemap_ops mr_ops_no_free = {
	.migrate_to_ram	= mr_migrate_to_ram,
};

static const struct dev_pagemap_ops mr_ops_no_migrate = {
	.page_free	= mr_page_free,
};

/* Any unique pointer does as the owner; the suite uses its own ops table. */
static void *mr_owner = (void *)&mr_ops;

static phys_addr_t mr_base(struct kunit *test)
{
	struct mr_ctx *ctx = test->priv;

	return ctx->res->start;
}

/* Physical address of chunk @idx of the test's reserved span. */
static phys_addr_t mr_chunk(struct kunit *test, unsigned int idx)
{
	return mr_base(test) + (phys_addr_t)idx * MR_CHUNK;
}

static unsigned long mr_chunk_pfn(struct kunit *test, unsigned int idx)
{
	return PHYS_PFN(mr_chunk(test, idx));
}

/*
 * Allocate a device with @nr_range ranges, the first one covering chunk
 * @chunk. It is not freed with the test: a teardown that never finishes
 * must not leave memremap code using freed memory.
 */
static struct mr_dev *mr_dev_new(struct kunit *test, int nr_range,
				 unsigned int chunk)
{
	struct mr_ctx *ctx = test->priv;
	struct mr_dev *dev;
	size_t size;
	int i;

	size = sizeof(*dev) + (nr_range - 1) * sizeof(struct range);
	dev = kzalloc(size, GFP_KERNEL);
	KUNIT_ASSERT_NOT_ERR_OR_NULL(test, dev);

	for (i = 0; i < ARRAY_SIZE(ctx->devs); i++) {
		if (!ctx->devs[i]) {
			ctx->devs[i] = dev;
			break;
		}
	}
	if (i == ARRAY_SIZE(ctx->devs)) {
		kfree(dev);
		KUNIT_ASSERT_FAILURE(test, "too many devices in one test");
	}

	dev->pgmap.type = MEMORY_DEVICE_PRIVATE;
	dev->pgmap.ops = &mr_ops;
	dev->pgmap.owner = mr_owner;
	dev->pgmap.nr_range = nr_range;
	dev->pgmap.range.start = mr_chunk(test, chunk);
	dev->pgmap.range.end = mr_chunk(test, chunk) + MR_CHUNK - 1;
	return dev;
}

static void mr_set_range(struct kunit *test, struct mr_dev *dev, int i,
			 unsigned int chunk)
{
	dev->pgmap.ranges[i].start = mr_chunk(test, chunk);
	dev->pgmap.ranges[i].end = mr_chunk(test, chunk) + MR_CHUNK - 1;
}

static void *mr_map(struct mr_dev *dev)
{
	void *ret = memremap_pages(&dev->pgmap, numa_node_id());

	if (!IS_ERR(ret))
		dev->mapped = true;
	return ret;
}

/* memunmap_pages() on a kthread of its own: it blocks while pages are used. */
struct mr_unmap {
	struct ktest_call call;
	struct dev_pagemap *pgmap;
};

static void mr_unmap_fn(struct ktest_call *call)
{
	memunmap_pages(container_of(call, struct mr_unmap, call)->pgmap);
}

/* Start memunmap_pages() on another thread; it may block on references. */
static struct mr_unmap *mr_unmap_start(struct kunit *test, struct mr_dev *dev)
{
	struct mr_unmap *u;

	u = ktest_call_new(test, struct mr_unmap, call, mr_unmap_fn);
	u->pgmap = &dev->pgmap;
	dev->mapped = false;
	if (!ktest_call_start(test, &u->call)) {
		dev->mapped = true;
		KUNIT_ASSERT_FAILURE(test, "cannot start memunmap_pages()");
	}
	return u;
}

/*
 * Wait for a teardown to finish. On a timeout the thread is still inside
 * memunmap_pages() and uses the device, so the device is leaked on purpose,
 * as the helper leaks the call.
 */
static bool mr_unmap_finish(struct kunit *test, struct mr_dev *dev,
			    struct mr_unmap *u)
{
	struct mr_ctx *ctx = test->priv;
	int i;

	if (ktest_call_finish(test, &u->call))
		return true;
	ctx->leaked = true;
	for (i = 0; i < ARRAY_SIZE(ctx->devs); i++)
		if (ctx->devs[i] == dev)
			ctx->devs[i] = NULL;
	return false;
}

/* memunmap_pages() with a deadline, so a leaked reference fails, not hangs. */
static bool mr_unmap(struct kunit *test, struct mr_dev *dev)
{
	return mr_unmap_finish(test, dev, mr_unmap_start(test, dev));
}

/*
 * Start a teardown that has to wait for a reference the case holds: it
 * kills the map's reference, so no new lookup succeeds, and then blocks.
 */
static struct mr_unmap *mr_unmap_blocked(struct kunit *test, struct mr_dev *dev)
{
	unsigned long deadline = jiffies + msecs_to_jiffies(KTEST_FINISH_MS);
	struct mr_unmap *u = mr_unmap_start(test, dev);

	while (!percpu_ref_is_dying(&dev->pgmap.ref) &&
	       time_before(jiffies, deadline))
		usleep_range(1000, 2000);
	KUNIT_EXPECT_TRUE(test, percpu_ref_is_dying(&dev->pgmap.ref));
	KUNIT_EXPECT_TRUE(test, ktest_call_blocked(&u->call));
	return u;
}

/* Look @pfn up with no cached map; drop the reference straight away. */
static struct dev_pagemap *mr_lookup(unsigned long pfn)
{
	struct dev_pagemap *pgmap = get_dev_pagemap(pfn, NULL);

	put_dev_pagemap(pgmap);
	return pgmap;
}

static int mr_init(struct kunit *test)
{
	struct mr_ctx *ctx;
	struct resource *res;

	ctx = kunit_kzalloc(test, sizeof(*ctx), GFP_KERNEL);
	if (!ctx)
		return -ENOMEM;
	res = request_free_mem_region(&iomem_resource, MR_SPAN,
				      "memremap_kunit");
	if (IS_ERR(res))
		return PTR_ERR(res);
	ctx->res = res;
	test->priv = ctx;
	return 0;
}

static void mr_exit(struct kunit *test)
{
	struct mr_ctx *ctx = test->priv;
	int i;

	for (i = 0; i < ARRAY_SIZE(ctx->devs); i++) {
		struct mr_dev *dev = ctx->devs[i];

		if (!dev)
			continue;
		if (dev->mapped && !mr_unmap(test, dev))
			continue;
		kfree(dev);
	}
	/* A map still alive would be left pointing at a released region. */
	if (!ctx->leaked)
		release_mem_region(ctx->res->start, resource_size(ctx->res));
}

static void mr_expect_unmapped(struct kunit *test, unsigned int chunk)
{
	unsigned long pfn = mr_chunk_pfn(test, chunk);

	KUNIT_EXPECT_NULL(test, mr_lookup(pfn));
	KUNIT_EXPECT_NULL(test, mr_lookup(pfn + PHYS_PFN(MR_CHUNK) - 1));
}

/*
 * A private map gets struct pages in ZONE_DEVICE that point back at it,
 * start out free (refcount zero) and go away with memunmap_pages(); the
 * same range can then be mapped again.
 */
static void mr_test_map_unmap(struct kunit *test)
{
	unsigned long first = mr_chunk_pfn(test, 1);
	unsigned long last = first + PHYS_PFN(MR_CHUNK) - 1;
	unsigned long pfns[] = { first, first + 1, last };
	struct mr_dev *dev = mr_dev_new(test, 1, 1);
	int i;

	KUNIT_ASSERT_FALSE(test, IS_ERR(mr_map(dev)));

	for (i = 0; i < ARRAY_SIZE(pfns); i++) {
		struct page *page = pfn_to_page(pfns[i]);

		KUNIT_EXPECT_TRUE(test, pfn_valid(pfns[i]));
		KUNIT_EXPECT_TRUE(test, is_zone_device_page(page));
		KUNIT_EXPECT_TRUE(test, is_device_private_page(page));
		KUNIT_EXPECT_PTR_EQ(test, page->pgmap, &dev->pgmap);
		KUNIT_EXPECT_EQ(test, page_ref_count(page), 0);
		KUNIT_EXPECT_PTR_EQ(test, mr_lookup(pfns[i]), &dev->pgmap);
		KUNIT_EXPECT_TRUE(test, pgmap_pfn_valid(&dev->pgmap, pfns[i]));
	}
	KUNIT_EXPECT_FALSE(test, pgmap_pfn_valid(&dev->pgmap, first - 1));
	KUNIT_EXPECT_FALSE(test, pgmap_pfn_valid(&dev->pgmap, last + 1));
	KUNIT_EXPECT_NULL(test, mr_lookup(first - 1));
	KUNIT_EXPECT_NULL(test, mr_lookup(last + 1));

	KUNIT_ASSERT_TRUE(test, mr_unmap(test, dev));
	mr_expect_unmapped(test, 1);

	/* Nothing of the first map may be left to get in the way. */
	KUNIT_ASSERT_FALSE(test, IS_ERR(mr_map(dev)));
	KUNIT_EXPECT_PTR_EQ(test, mr_lookup(first), &dev->pgmap);
	KUNIT_ASSERT_TRUE(test, mr_unmap(test, dev));
	mr_expect_unmapped(test, 1);
}

/*
 * get_dev_pagemap() takes a reference only when it has to look the pfn up:
 * a cached map that covers the pfn comes back as is.
 */
static void mr_test_get_put(struct kunit *test)
{
	unsigned long pfn = mr_chunk_pfn(test, 0);
	struct mr_dev *dev = mr_dev_new(test, 1, 0);
	struct dev_pagemap *pgmap, *again;

	KUNIT_ASSERT_FALSE(test, IS_ERR(mr_map(dev)));

	pgmap = get_dev_pagemap(pfn, NULL);
	KUNIT_ASSERT_PTR_EQ(test, pgmap, &dev->pgmap);
	again = get_dev_pagemap(pfn + 7, pgmap);
	KUNIT_EXPECT_PTR_EQ(test, again, pgmap);
	again = get_dev_pagemap(pfn + PHYS_PFN(MR_CHUNK) - 1, pgmap);
	KUNIT_EXPECT_PTR_EQ(test, again, pgmap);
	put_dev_pagemap(pgmap);

	/* A NULL map is accepted and ignored. */
	put_dev_pagemap(NULL);

	/* One reference was taken and one dropped: nothing holds the map. */
	KUNIT_EXPECT_TRUE(test, mr_unmap(test, dev));
}

/*
 * memunmap_pages() kills the reference, so no new lookup succeeds, and then
 * waits until the last reference taken by get_dev_pagemap() is gone.
 */
static void mr_test_unmap_waits_for_pgmap_ref(struct kunit *test)
{
	unsigned long pfn = mr_chunk_pfn(test, 2);
	struct mr_dev *dev = mr_dev_new(test, 1, 2);
	struct dev_pagemap *held;
	struct mr_unmap *u;

	KUNIT_ASSERT_FALSE(test, IS_ERR(mr_map(dev)));
	held = get_dev_pagemap(pfn, NULL);
	KUNIT_ASSERT_PTR_EQ(test, held, &dev->pgmap);

	u = mr_unmap_blocked(test, dev);
	KUNIT_EXPECT_NULL(test, get_dev_pagemap(pfn, NULL));

	put_dev_pagemap(held);
	KUNIT_ASSERT_TRUE(test, mr_unmap_finish(test, dev, u));
	mr_expect_unmapped(test, 2);
}

/*
 * A device private page handed out with zone_device_page_init() pins the
 * map: teardown waits for the page to come back through ->page_free().
 */
static void mr_test_unmap_waits_for_page_ref(struct kunit *test)
{
	unsigned long pfn = mr_chunk_pfn(test, 3) + 5;
	struct mr_dev *dev = mr_dev_new(test, 1, 3);
	struct page *page;
	struct mr_unmap *u;

	KUNIT_ASSERT_FALSE(test, IS_ERR(mr_map(dev)));
	page = pfn_to_page(pfn);
	zone_device_page_init(page);
	KUNIT_EXPECT_EQ(test, page_ref_count(page), 1);
	KUNIT_EXPECT_TRUE(test, PageLocked(page));
	unlock_page(page);

	u = mr_unmap_blocked(test, dev);
	KUNIT_EXPECT_EQ(test, atomic_read(&dev->nr_freed), 0);

	put_page(page);
	KUNIT_EXPECT_EQ(test, atomic_read(&dev->nr_freed), 1);
	KUNIT_EXPECT_PTR_EQ(test, READ_ONCE(dev->last_freed), page);
	KUNIT_ASSERT_TRUE(test, mr_unmap_finish(test, dev, u));
	mr_expect_unmapped(test, 3);
}

/*
 * The last put of a device private page, through put_page() or through
 * release_pages(), hands it to ->page_free() with a zero refcount, and the
 * driver may hand the same page out again.
 */
static void mr_test_page_free(struct kunit *test)
{
	unsigned long pfn = mr_chunk_pfn(test, 4) + 17;
	struct mr_dev *dev = mr_dev_new(test, 1, 4);
	struct page *page;

	KUNIT_ASSERT_FALSE(test, IS_ERR(mr_map(dev)));
	page = pfn_to_page(pfn);

	zone_device_page_init(page);
	unlock_page(page);
	get_page(page);
	KUNIT_EXPECT_EQ(test, page_ref_count(page), 2);
	put_page(page);
	KUNIT_EXPECT_EQ(test, atomic_read(&dev->nr_freed), 0);
	KUNIT_EXPECT_EQ(test, page_ref_count(page), 1);
	put_page(page);
	KUNIT_EXPECT_EQ(test, atomic_read(&dev->nr_freed), 1);
	KUNIT_EXPECT_PTR_EQ(test, READ_ONCE(dev->last_freed), page);
	KUNIT_EXPECT_EQ(test, page_ref_count(page), 0);

	zone_device_page_init(page);
	unlock_page(page);
	KUNIT_EXPECT_EQ(test, page_ref_count(page), 1);
	WRITE_ONCE(dev->last_freed, NULL);
	release_pages(&page, 1);
	KUNIT_EXPECT_EQ(test, atomic_read(&dev->nr_freed), 2);
	KUNIT_EXPECT_PTR_EQ(test, READ_ONCE(dev->last_freed), page);
	KUNIT_EXPECT_EQ(test, page_ref_count(page), 0);

	/* Every page came back, so nothing pins the map any more. */
	KUNIT_EXPECT_TRUE(test, mr_unmap(test, dev));
}

/*
 * Lookups over a map of three ranges with holes between them and a second
 * map wedged in between two of the ranges. Chunks of the reserved span:
 *
 *   0: hole   1: A   2: B   3: A   4: hole   5: A   6: hole
 */
static void mr_test_multi_range_lookup(struct kunit *test)
{
	static const unsigned int a_chunks[] = { 1, 3, 5 };
	static const unsigned int holes[] = { 0, 4, 6 };
	const unsigned long n = PHYS_PFN(MR_CHUNK);
	struct mr_dev *a = mr_dev_new(test, 3, 1);
	struct mr_dev *b = mr_dev_new(test, 1, 2);
	struct dev_pagemap *pgmap;
	unsigned long pfn;
	int i;

	mr_set_range(test, a, 1, 3);
	mr_set_range(test, a, 2, 5);
	KUNIT_ASSERT_FALSE(test, IS_ERR(mr_map(a)));
	KUNIT_ASSERT_FALSE(test, IS_ERR(mr_map(b)));

	for (i = 0; i < ARRAY_SIZE(a_chunks); i++) {
		pfn = mr_chunk_pfn(test, a_chunks[i]);
		KUNIT_EXPECT_PTR_EQ(test, mr_lookup(pfn), &a->pgmap);
		KUNIT_EXPECT_PTR_EQ(test, mr_lookup(pfn + n / 2), &a->pgmap);
		KUNIT_EXPECT_PTR_EQ(test, mr_lookup(pfn + n - 1), &a->pgmap);
		KUNIT_EXPECT_TRUE(test, pgmap_pfn_valid(&a->pgmap, pfn));
		KUNIT_EXPECT_TRUE(test, pgmap_pfn_valid(&a->pgmap, pfn + n - 1));
		KUNIT_EXPECT_FALSE(test, pgmap_pfn_valid(&b->pgmap, pfn));
		KUNIT_EXPECT_PTR_EQ(test, pfn_to_page(pfn + n - 1)->pgmap,
				    &a->pgmap);
	}

	pfn = mr_chunk_pfn(test, 2);
	KUNIT_EXPECT_PTR_EQ(test, mr_lookup(pfn), &b->pgmap);
	KUNIT_EXPECT_PTR_EQ(test, mr_lookup(pfn + n - 1), &b->pgmap);
	KUNIT_EXPECT_TRUE(test, pgmap_pfn_valid(&b->pgmap, pfn));
	KUNIT_EXPECT_FALSE(test, pgmap_pfn_valid(&a->pgmap, pfn));
	KUNIT_EXPECT_FALSE(test, pgmap_pfn_valid(&a->pgmap, pfn + n - 1));

	for (i = 0; i < ARRAY_SIZE(holes); i++) {
		pfn = mr_chunk_pfn(test, holes[i]);
		KUNIT_EXPECT_NULL(test, mr_lookup(pfn));
		KUNIT_EXPECT_NULL(test, mr_lookup(pfn + n - 1));
		KUNIT_EXPECT_FALSE(test, pgmap_pfn_valid(&a->pgmap, pfn));
		KUNIT_EXPECT_FALSE(test, pgmap_pfn_valid(&a->pgmap,
							 pfn + n - 1));
	}

	/*
	 * Walking pfns with a cached map: staying in A (even across a hole in
	 * the middle of A) keeps the reference, moving to B trades it for one
	 * on B, and a hole drops it.
	 */
	pgmap = get_dev_pagemap(mr_chunk_pfn(test, 1), NULL);
	KUNIT_ASSERT_PTR_EQ(test, pgmap, &a->pgmap);
	pgmap = get_dev_pagemap(mr_chunk_pfn(test, 5), pgmap);
	KUNIT_EXPECT_PTR_EQ(test, pgmap, &a->pgmap);
	pgmap = get_dev_pagemap(mr_chunk_pfn(test, 2) + 3, pgmap);
	KUNIT_EXPECT_PTR_EQ(test, pgmap, &b->pgmap);
	pgmap = get_dev_pagemap(mr_chunk_pfn(test, 3), pgmap);
	KUNIT_EXPECT_PTR_EQ(test, pgmap, &a->pgmap);
	pgmap = get_dev_pagemap(mr_chunk_pfn(test, 4), pgmap);
	KUNIT_EXPECT_NULL(test, pgmap);
	put_dev_pagemap(pgmap);

	/* Balanced references: both maps go away without waiting. */
	KUNIT_EXPECT_TRUE(test, mr_unmap(test, b));
	KUNIT_EXPECT_PTR_EQ(test, mr_lookup(mr_chunk_pfn(test, 1)), &a->pgmap);
	mr_expect_unmapped(test, 2);
	KUNIT_EXPECT_TRUE(test, mr_unmap(test, a));
	for (i = 0; i < ARRAY_SIZE(a_chunks); i++)
		mr_expect_unmapped(test, a_chunks[i]);
}

struct mr_bad_map {
	const char *what;
	enum memory_type type;
	const struct dev_pagemap_ops *ops;
	bool owner;
};

static const struct mr_bad_map mr_bad_maps[] = {
	{ "private, no ops", MEMORY_DEVICE_PRIVATE, NULL, true },
	{ "private, no page_free", MEMORY_DEVICE_PRIVATE, &mr_ops_no_free, true },
	{ "private, no migrate_to_ram", MEMORY_DEVICE_PRIVATE,
	  &mr_ops_no_migrate, true },
	{ "private, no owner", MEMORY_DEVICE_PRIVATE, &mr_ops, false },
	{ "coherent, no ops", MEMORY_DEVICE_COHERENT, NULL, true },
	{ "coherent, no page_free", MEMORY_DEVICE_COHERENT, &mr_ops_no_free,
	  true },
	{ "coherent, no owner", MEMORY_DEVICE_COHERENT, &mr_ops, false },
	{ "type 0", 0, &mr_ops, true },
	{ "type past the last one", MEMORY_DEVICE_PCI_P2PDMA + 1, &mr_ops,
	  true },
};

static void mr_bad_map_desc(const struct mr_bad_map *bad, char *desc)
{
	strscpy(desc, bad->what, KUNIT_PARAM_DESC_SIZE);
}

KUNIT_ARRAY_PARAM(mr_bad_map, mr_bad_maps, mr_bad_map_desc);

/*
 * A map the core cannot serve is refused with -EINVAL before anything is
 * set up: no pfn of the range resolves, and the very same dev_pagemap maps
 * fine once it is corrected.
 */
static void mr_test_bad_map(struct kunit *test)
{
	const struct mr_bad_map *bad = test->param_value;
	unsigned long pfn = mr_chunk_pfn(test, 0);
	struct mr_dev *dev = mr_dev_new(test, 1, 0);
	void *ret;

	dev->pgmap.type = bad->type;
	dev->pgmap.ops = bad->ops;
	dev->pgmap.owner = bad->owner ? mr_owner : NULL;
	ret = mr_map(dev);
	KUNIT_EXPECT_EQ(test, PTR_ERR_OR_ZERO(ret), -EINVAL);
	if (!IS_ERR(ret)) {
		KUNIT_ASSERT_TRUE(test, mr_unmap(test, dev));
	} else {
		KUNIT_EXPECT_NULL(test, mr_lookup(pfn));
		KUNIT_EXPECT_NULL(test, mr_lookup(pfn + 1));
	}

	dev->pgmap.type = MEMORY_DEVICE_PRIVATE;
	dev->pgmap.ops = &mr_ops;
	dev->pgmap.owner = mr_owner;
	KUNIT_ASSERT_FALSE(test, IS_ERR(mr_map(dev)));
	KUNIT_EXPECT_PTR_EQ(test, mr_lookup(pfn), &dev->pgmap);
	KUNIT_EXPECT_TRUE(test, mr_unmap(test, dev));
}

/* Map @dev expecting @err; a map that should have failed is torn down. */
static void mr_expect_refused(struct kunit *test, struct mr_dev *dev, int err,
			      const char *what)
{
	void *ret = mr_map(dev);

	KUNIT_EXPECT_EQ_MSG(test, PTR_ERR_OR_ZERO(ret), err, "%s", what);
	if (!IS_ERR(ret))
		KUNIT_ASSERT_TRUE(test, mr_unmap(test, dev));
}

/*
 * Ranges the core cannot hotplug are refused up front, and so is a range
 * that another map, or another range of the same map, already covers. The
 * map that was there first is not disturbed. The error codes are 6.1's:
 * -ENOMEM when an end of the range belongs to another map, -EEXIST when
 * only its middle does, -ENXIO for System RAM, -EINVAL for the rest; a
 * range with several faults gets the code of the one 6.1 checks first.
 */
static void mr_test_bad_ranges(struct kunit *test)
{
	struct mr_dev *a = mr_dev_new(test, 1, 2);
	struct mr_dev *b = mr_dev_new(test, 2, 0);
	struct range pluggable = mhp_get_pluggable_range(false);
	struct page *page;
	phys_addr_t ram;

	b->pgmap.nr_range = 0;
	mr_expect_refused(test, b, -EINVAL, "no ranges");
	b->pgmap.nr_range = 1;

	b->pgmap.range.start += PAGE_SIZE;
	mr_expect_refused(test, b, -EINVAL, "start not subsection aligned");
	b->pgmap.range.start -= PAGE_SIZE;
	b->pgmap.range.end -= PAGE_SIZE;
	mr_expect_refused(test, b, -EINVAL, "length not subsection aligned");
	b->pgmap.range.end = b->pgmap.range.start - 1;
	mr_expect_refused(test, b, -EINVAL, "empty range");
	mr_set_range(test, b, 0, 0);

	b->pgmap.flags = PGMAP_ALTMAP_VALID;
	mr_expect_refused(test, b, -EINVAL, "altmap in private memory");
	b->pgmap.flags = 0;

	b->pgmap.vmemmap_shift = ilog2(PHYS_PFN(MR_CHUNK)) + 1;
	mr_expect_refused(test, b, -EINVAL, "compound page past the range");
	b->pgmap.vmemmap_shift = BITS_PER_LONG;
	mr_expect_refused(test, b, -EINVAL, "absurd vmemmap_shift");
	b->pgmap.vmemmap_shift = 0;

	/* Beyond what memory hotplug can address: mhp_range_allowed(). */
	KUNIT_ASSERT_LT(test, pluggable.end, U64_MAX - MR_CHUNK);
	b->pgmap.range.start = pluggable.end + 1;
	b->pgmap.range.end = pluggable.end + MR_CHUNK;
	mr_expect_refused(test, b, -EINVAL, "past the hotpluggable range");
	mr_set_range(test, b, 0, 0);

	/* Two ranges of one map on top of each other. */
	b->pgmap.nr_range = 2;
	mr_set_range(test, b, 1, 0);
	mr_expect_refused(test, b, -ENOMEM, "ranges overlap");
	mr_expect_unmapped(test, 0);

	/* The second range lands on a map that is already there. */
	KUNIT_ASSERT_FALSE(test, IS_ERR(mr_map(a)));
	mr_set_range(test, b, 1, 2);
	mr_expect_refused(test, b, -ENOMEM, "range taken by another map");
	mr_expect_unmapped(test, 0);

	/* One end in the other map, the other end free. */
	b->pgmap.nr_range = 1;
	b->pgmap.range.start = mr_chunk(test, 1);
	b->pgmap.range.end = mr_chunk(test, 3) - 1;
	mr_expect_refused(test, b, -ENOMEM, "range ending in another map");
	b->pgmap.range.start = mr_chunk(test, 2);
	b->pgmap.range.end = mr_chunk(test, 4) - 1;
	mr_expect_refused(test, b, -ENOMEM, "range starting in another map");

	/* Both ends free, the other map in the middle. */
	b->pgmap.range.start = mr_chunk(test, 1);
	b->pgmap.range.end = mr_chunk(test, 4) - 1;
	mr_expect_refused(test, b, -EEXIST, "range around another map");
	mr_expect_unmapped(test, 1);
	mr_expect_unmapped(test, 3);

	/* A conflict is reported before a misaligned start. */
	b->pgmap.range.start = mr_chunk(test, 2) + PAGE_SIZE;
	b->pgmap.range.end = mr_chunk(test, 3) - 1;
	mr_expect_refused(test, b, -ENOMEM, "misaligned range in another map");

	KUNIT_EXPECT_PTR_EQ(test, mr_lookup(mr_chunk_pfn(test, 2)), &a->pgmap);
	KUNIT_EXPECT_PTR_EQ(test, pfn_to_page(mr_chunk_pfn(test, 2))->pgmap,
			    &a->pgmap);

	/*
	 * Memory the page allocator owns is never ZONE_DEVICE memory: take
	 * the chunk around a page just allocated, it is System RAM.
	 */
	page = alloc_page(GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, page);
	ram = ALIGN_DOWN(PFN_PHYS(page_to_pfn(page)), MR_CHUNK);
	b->pgmap.type = MEMORY_DEVICE_GENERIC;
	b->pgmap.range.start = ram;
	b->pgmap.range.end = ram + MR_CHUNK - 1;
	mr_expect_refused(test, b, -ENXIO, "System RAM");
	b->pgmap.range.start = ram + PAGE_SIZE;
	mr_expect_refused(test, b, -ENXIO, "misaligned System RAM");
	KUNIT_EXPECT_FALSE(test, is_zone_device_page(page));
	__free_page(page);

	KUNIT_EXPECT_TRUE(test, mr_unmap(test, a));
}

#ifdef CONFIG_FUNCTION_ERROR_INJECTION
/*
 * Failing the setup steps of memremap_pages() one by one. mm/memremap.c
 * keeps each fallible step in a small function that allows error
 * injection. As fail_function does, a kprobe on its entry makes it return
 * an error straight away, having done nothing; only calls made by the
 * test's own thread fail, and only the @nth one.
 */
struct mr_fault {
	struct kprobe kp;
	struct task_struct *task;
	int nth;
	int calls;
};

/* An error memremap_pages() never makes up itself. */
#define MR_FAULT_ERR	(-EIO)

static int mr_fault_pre(struct kprobe *kp, struct pt_regs *regs)
{
	struct mr_fault *f = container_of(kp, struct mr_fault, kp);

	if (current != f->task || ++f->calls != f->nth)
		return 0;
	regs_set_return_value(regs, (unsigned long)MR_FAULT_ERR);
	override_function_with_return(regs);
	/* Execution resumes at the return, not at the probed instruction. */
	return 1;
}

NOKPROBE_SYMBOL(mr_fault_pre);

/*
 * A jump-optimised kprobe cannot divert execution; having a post handler
 * keeps this one a breakpoint, as in fail_function.
 */
static void mr_fault_post(struct kprobe *kp, struct pt_regs *regs,
			  unsigned long flags)
{
}

static struct mr_fault *mr_fault_arm(struct kunit *test, const char *fn)
{
	struct mr_fault *f;
	unsigned long addr;
	int err;

	f = kunit_kzalloc(test, sizeof(*f), GFP_KERNEL);
	KUNIT_ASSERT_NOT_ERR_OR_NULL(test, f);
	f->kp.symbol_name = fn;
	f->kp.pre_handler = mr_fault_pre;
	f->kp.post_handler = mr_fault_post;
	f->task = current;
	err = register_kprobe(&f->kp);
	KUNIT_ASSERT_EQ_MSG(test, err, 0, "register_kprobe(%s)", fn);

	addr = (unsigned long)f->kp.addr;
	if (!within_error_injection_list(addr) ||
	    get_injectable_error_type(addr) != EI_ETYPE_ERRNO) {
		unregister_kprobe(&f->kp);
		KUNIT_ASSERT_FAILURE(test, "%s allows no errno injection", fn);
	}
	return f;
}

/* The fallible setup steps of memremap_pages(), in the order it takes them. */
enum { MR_REF, MR_CLAIM, MR_TRACK, MR_SHADOW, MR_ADD, MR_NR_STEPS };

static const char * const mr_step_fn[MR_NR_STEPS] = {
	[MR_REF]	= "pgmap_ref_init",	/* percpu_ref_init() */
	[MR_CLAIM]	= "pgmap_claim_pfns",	/* pfn -> pgmap lookup */
	[MR_TRACK]	= "pgmap_track_pfns",	/* track_pfn_remap() */
	[MR_SHADOW]	= "pgmap_add_shadow",	/* kasan_add_zero_shadow() */
	[MR_ADD]	= "pgmap_add_pages",	/* add_pages(), arch_add_memory() */
};

/*
 * Nothing of a failed memremap_pages() is left: no pfn resolves, the
 * sections are gone, the reference is torn down (percpu_ref_exit() clears
 * ->data) and nothing was put under the driver's region in iomem.
 */
static void mr_expect_clean(struct kunit *test, struct mr_dev *dev,
			    const char *fn, int nth)
{
	struct mr_ctx *ctx = test->priv;
	int i, j;

	for (i = 0; i < dev->pgmap.nr_range; i++) {
		const struct range *range = &dev->pgmap.ranges[i];
		unsigned long pfns[] = {
			PHYS_PFN(range->start), PHYS_PFN(range->end),
		};

		for (j = 0; j < ARRAY_SIZE(pfns); j++) {
			KUNIT_EXPECT_NULL_MSG(test, mr_lookup(pfns[j]),
					      "%s call %d: range %d", fn, nth, i);
			KUNIT_EXPECT_FALSE_MSG(test, pfn_valid(pfns[j]),
					       "%s call %d: range %d", fn, nth, i);
		}
	}
	KUNIT_EXPECT_NULL_MSG(test, dev->pgmap.ref.data, "%s call %d", fn, nth);
	KUNIT_EXPECT_NULL_MSG(test, ctx->res->child, "%s call %d", fn, nth);
}

/*
 * Fail each call of each setup step of mapping @dev in turn; @calls says
 * how often each step is taken. Every failure must hand back the forced
 * error and leave nothing behind, so the next attempt, on the very same
 * ranges, gets as far as the next step: a pfn claim left behind makes it
 * fail on the conflict instead. With @complete, the map is then made with
 * the step watched but not failed, to check the count, and torn down
 * again.
 */
static void mr_unwind(struct kunit *test, struct mr_dev *dev,
		      const int *calls, bool complete)
{
	void *ret = NULL;
	int step, nth;

	for (step = 0; step < MR_NR_STEPS; step++) {
		const char *fn = mr_step_fn[step];
		struct mr_fault *f = mr_fault_arm(test, fn);

		for (nth = 1; nth <= calls[step]; nth++) {
			f->nth = nth;
			f->calls = 0;
			ret = mr_map(dev);
			KUNIT_EXPECT_EQ_MSG(test, PTR_ERR_OR_ZERO(ret),
					    MR_FAULT_ERR, "%s call %d", fn, nth);
			KUNIT_EXPECT_EQ_MSG(test, f->calls, nth,
					    "%s call %d", fn, nth);
			if (!IS_ERR(ret))
				break;
			mr_expect_clean(test, dev, fn, nth);
		}
		if (complete && !dev->mapped) {
			f->nth = 0;
			f->calls = 0;
			ret = mr_map(dev);
			KUNIT_EXPECT_EQ_MSG(test, PTR_ERR_OR_ZERO(ret), 0,
					    "%s not failed", fn);
			KUNIT_EXPECT_EQ_MSG(test, f->calls, calls[step],
					    "%s not failed", fn);
		}
		unregister_kprobe(&f->kp);

		if (dev->mapped) {
			KUNIT_EXPECT_PTR_EQ(test,
					    mr_lookup(PHYS_PFN(dev->pgmap.range.start)),
					    &dev->pgmap);
			KUNIT_ASSERT_TRUE(test, mr_unmap(test, dev));
			mr_expect_clean(test, dev, fn, 0);
		}
	}
}

/*
 * A device private map of two ranges, the second spanning two chunks:
 * every step but the KASAN shadow (the CPU never maps private memory) is
 * taken once per range, after the reference.
 */
static void mr_test_unwind_private(struct kunit *test)
{
	static const int calls[MR_NR_STEPS] = {
		[MR_REF] = 1, [MR_CLAIM] = 2, [MR_TRACK] = 2,
		[MR_SHADOW] = 0, [MR_ADD] = 2,
	};
	struct mr_dev *dev = mr_dev_new(test, 2, 1);

	dev->pgmap.ranges[1].start = mr_chunk(test, 3);
	dev->pgmap.ranges[1].end = mr_chunk(test, 5) - 1;
	mr_unwind(test, dev, calls, true);
}

/*
 * A device coherent map, which the CPU maps linearly: it also gets a KASAN
 * shadow, and arch_add_memory() instead of add_pages(). The test's span
 * has no memory behind it, and a linear mapping of it would invite the
 * CPU to speculate into nothing, so this map is never completed: the
 * last step fails before arch_add_memory() runs. A device private map of
 * the same range then shows that nothing was left in its way.
 */
static void mr_test_unwind_linear(struct kunit *test)
{
	static const int calls[MR_NR_STEPS] = {
		[MR_REF] = 1, [MR_CLAIM] = 1, [MR_TRACK] = 1,
		[MR_SHADOW] = 1, [MR_ADD] = 1,
	};
	struct mr_dev *dev = mr_dev_new(test, 1, 6);

	dev->pgmap.type = MEMORY_DEVICE_COHERENT;
	mr_unwind(test, dev, calls, false);

	dev->pgmap.type = MEMORY_DEVICE_PRIVATE;
	KUNIT_ASSERT_FALSE(test, IS_ERR(mr_map(dev)));
	KUNIT_EXPECT_PTR_EQ(test, mr_lookup(mr_chunk_pfn(test, 6)),
			    &dev->pgmap);
	KUNIT_EXPECT_TRUE(test, mr_unmap(test, dev));
}

/*
 * The CPU-visible types need no more than 6.1 asks of them: device coherent
 * memory needs page_free and an owner but no migrate_to_ram (the CPU maps
 * its pages with ordinary PTEs and never faults on them), the other types
 * need no ops at all, and fsdax memory is only refused where fsdax is
 * limited (CONFIG_FS_DAX_LIMITED). Each map is failed at its last setup
 * step, which shows validation let it through without a linear mapping of
 * the test's empty span ever being made.
 */
static void mr_test_types_accepted(struct kunit *test)
{
	static const struct {
		const char *what;
		enum memory_type type;
		const struct dev_pagemap_ops *ops;
		bool owner;
		bool refused;
	} maps[] = {
		{ "coherent, no migrate_to_ram", MEMORY_DEVICE_COHERENT,
		  &mr_ops_no_migrate, true, false },
		{ "fsdax", MEMORY_DEVICE_FS_DAX, NULL, false,
		  IS_ENABLED(CONFIG_FS_DAX_LIMITED) },
		{ "generic", MEMORY_DEVICE_GENERIC, NULL, false, false },
		{ "p2pdma", MEMORY_DEVICE_PCI_P2PDMA, NULL, false, false },
	};
	struct mr_dev *dev = mr_dev_new(test, 1, 0);
	struct mr_fault *f = mr_fault_arm(test, mr_step_fn[MR_ADD]);
	void *ret;
	int i;

	for (i = 0; i < ARRAY_SIZE(maps); i++) {
		dev->pgmap.type = maps[i].type;
		dev->pgmap.ops = maps[i].ops;
		dev->pgmap.owner = maps[i].owner ? mr_owner : NULL;
		f->nth = 1;
		f->calls = 0;
		ret = mr_map(dev);
		KUNIT_EXPECT_EQ_MSG(test, PTR_ERR_OR_ZERO(ret),
				    maps[i].refused ? -EINVAL : MR_FAULT_ERR,
				    "%s", maps[i].what);
		KUNIT_EXPECT_EQ_MSG(test, f->calls, maps[i].refused ? 0 : 1,
				    "%s", maps[i].what);
		if (!IS_ERR(ret))
			break;
		mr_expect_clean(test, dev, maps[i].what, 1);
	}
	unregister_kprobe(&f->kp);
}
#else
static void mr_test_unwind_private(struct kunit *test)
{
	kunit_skip(test, "needs CONFIG_FUNCTION_ERROR_INJECTION");
}

static void mr_test_types_accepted(struct kunit *test)
{
	kunit_skip(test, "needs CONFIG_FUNCTION_ERROR_INJECTION");
}

static void mr_test_unwind_linear(struct kunit *test)
{
	kunit_skip(test, "needs CONFIG_FUNCTION_ERROR_INJECTION");
}
#endif /* CONFIG_FUNCTION_ERROR_INJECTION */

#ifdef CONFIG_KRETPROBES
/*
 * add_pages() stops at the first section that fails and keeps the ones
 * before it. A kretprobe makes the test's own sparse_add_section() call
 * report -EIO once it has added its section, which leaves memory exactly
 * as a later section failing would: memremap_pages() must take the
 * section out again, or the next map of the range fails with -EEXIST
 * (found by hmm-fuzz under fault injection, on test_hmm's reload).
 */
struct mr_late_fault {
	struct kretprobe krp;
	struct task_struct *task;
	int calls;
};

static int mr_late_fault_ret(struct kretprobe_instance *ri,
			     struct pt_regs *regs)
{
	struct mr_late_fault *f = container_of(get_kretprobe(ri),
					       struct mr_late_fault, krp);

	if (current == f->task && !regs_return_value(regs)) {
		f->calls++;
		regs_set_return_value(regs, (unsigned long)-EIO);
	}
	return 0;
}

NOKPROBE_SYMBOL(mr_late_fault_ret);

static void mr_test_unwind_added_section(struct kunit *test)
{
	struct mr_dev *dev = mr_dev_new(test, 1, 7);
	struct mr_late_fault *f;
	unsigned long pfn = mr_chunk_pfn(test, 7);
	void *ret;
	int err;

	f = kunit_kzalloc(test, sizeof(*f), GFP_KERNEL);
	KUNIT_ASSERT_NOT_ERR_OR_NULL(test, f);
	f->krp.kp.symbol_name = "sparse_add_section";
	f->krp.handler = mr_late_fault_ret;
	f->krp.maxactive = 4;
	f->task = current;
	err = register_kretprobe(&f->krp);
	KUNIT_ASSERT_EQ_MSG(test, err, 0, "register_kretprobe(sparse_add_section)");

	/* x86's add_pages() warns on any error of __add_pages(). */
	pr_info("HMM-EXPECT-WARN-BEGIN add_pages\n");
	ret = mr_map(dev);
	pr_info("HMM-EXPECT-WARN-END\n");
	unregister_kretprobe(&f->krp);

	KUNIT_ASSERT_EQ(test, f->calls, 1);
	KUNIT_ASSERT_EQ(test, PTR_ERR_OR_ZERO(ret), -EIO);
	KUNIT_EXPECT_FALSE(test, pfn_valid(pfn));
	KUNIT_EXPECT_NULL(test, mr_lookup(pfn));

	ret = mr_map(dev);
	KUNIT_ASSERT_EQ(test, PTR_ERR_OR_ZERO(ret), 0);
	KUNIT_EXPECT_PTR_EQ(test, mr_lookup(pfn), &dev->pgmap);
	KUNIT_EXPECT_TRUE(test, mr_unmap(test, dev));
}
#else
static void mr_test_unwind_added_section(struct kunit *test)
{
	kunit_skip(test, "needs CONFIG_KRETPROBES");
}
#endif /* CONFIG_KRETPROBES */

struct mr_walker {
	unsigned long pfn;
	struct dev_pagemap *expect;
	atomic_t hits;
	atomic_t wrong;
};

/* Look one pfn up over and over, as GUP or memory-failure would. */
static int mr_walker_fn(void *data)
{
	struct mr_walker *w = data;

	while (!kthread_should_stop()) {
		struct dev_pagemap *pgmap = get_dev_pagemap(w->pfn, NULL);

		if (pgmap) {
			if (pgmap != w->expect)
				atomic_inc(&w->wrong);
			atomic_inc(&w->hits);
			put_dev_pagemap(pgmap);
		}
		cond_resched();
	}
	return 0;
}

/*
 * Lookups hammering a map while it is torn down neither stall the teardown
 * nor see anything but the right map, and none succeeds once it is gone.
 */
static void mr_test_lookup_races_unmap(struct kunit *test)
{
	unsigned long deadline = jiffies + msecs_to_jiffies(KTEST_FINISH_MS);
	struct mr_dev *dev = mr_dev_new(test, 1, 5);
	struct task_struct *task;
	struct mr_walker *w;
	bool unmapped;
	int after;

	w = kunit_kzalloc(test, sizeof(*w), GFP_KERNEL);
	KUNIT_ASSERT_NOT_ERR_OR_NULL(test, w);
	w->pfn = mr_chunk_pfn(test, 5) + 3;
	w->expect = &dev->pgmap;
	KUNIT_ASSERT_FALSE(test, IS_ERR(mr_map(dev)));

	task = kthread_run(mr_walker_fn, w, "memremap_kunit_walk");
	KUNIT_ASSERT_FALSE(test, IS_ERR(task));
	while (!atomic_read(&w->hits) && time_before(jiffies, deadline))
		usleep_range(1000, 2000);

	unmapped = mr_unmap(test, dev);
	after = atomic_read(&w->hits);
	msleep(50);
	KUNIT_EXPECT_EQ(test, atomic_read(&w->hits), after);
	kthread_stop(task);

	KUNIT_EXPECT_TRUE(test, unmapped);
	KUNIT_EXPECT_GT(test, after, 0);
	KUNIT_EXPECT_EQ(test, atomic_read(&w->wrong), 0);
}

/*
 * devm_memremap_pages() ties the map to a device: devm_memunmap_pages()
 * tears it down early, otherwise unbinding the device does.
 */
static void mr_test_devm(struct kunit *test)
{
	unsigned long pfn = mr_chunk_pfn(test, 6);
	struct mr_dev *dev = mr_dev_new(test, 1, 6);
	struct device *parent;
	void *ret;

	parent = root_device_register("memremap_kunit");
	KUNIT_ASSERT_NOT_ERR_OR_NULL(test, parent);

	ret = devm_memremap_pages(parent, &dev->pgmap);
	if (IS_ERR(ret)) {
		root_device_unregister(parent);
		KUNIT_ASSERT_FAILURE(test, "devm_memremap_pages: %ld",
				     PTR_ERR(ret));
	}
	KUNIT_EXPECT_PTR_EQ(test, mr_lookup(pfn), &dev->pgmap);
	devm_memunmap_pages(parent, &dev->pgmap);
	KUNIT_EXPECT_NULL(test, mr_lookup(pfn));

	ret = devm_memremap_pages(parent, &dev->pgmap);
	KUNIT_EXPECT_FALSE(test, IS_ERR(ret));
	KUNIT_EXPECT_PTR_EQ(test, mr_lookup(pfn), &dev->pgmap);
	root_device_unregister(parent);
	KUNIT_EXPECT_NULL(test, mr_lookup(pfn));
}

#if defined(CONFIG_TRANSPARENT_HUGEPAGE) && \
	defined(CONFIG_ARCH_ENABLE_THP_MIGRATION)
/*
 * A 2 MiB device private folio from zone_device_folio_init(): one
 * reference, locked, every page of it resolving to the map and to the
 * folio. It pins the map once, and goes back to ->page_free() once, with
 * its head page, when its last reference goes; the map's teardown waits
 * for that and only for that.
 */
static void mr_test_folio_whole(struct kunit *test)
{
	unsigned long pfn = mr_chunk_pfn(test, 5);
	struct mr_dev *dev = mr_dev_new(test, 1, 5);
	struct page *head, *tail;
	struct folio *folio;
	struct mr_unmap *u;

	KUNIT_ASSERT_FALSE(test, IS_ERR(mr_map(dev)));
	head = pfn_to_page(pfn);
	folio = (struct folio *)head;
	zone_device_folio_init(folio, HPAGE_PMD_ORDER);
	KUNIT_EXPECT_EQ(test, folio_order(folio), (unsigned int)HPAGE_PMD_ORDER);
	KUNIT_EXPECT_EQ(test, folio_ref_count(folio), 1);
	KUNIT_EXPECT_TRUE(test, folio_test_locked(folio));
	tail = head + HPAGE_PMD_NR - 1;
	KUNIT_EXPECT_PTR_EQ(test, page_folio(tail), folio);
	KUNIT_EXPECT_PTR_EQ(test, page_pgmap(tail), &dev->pgmap);
	KUNIT_EXPECT_TRUE(test, is_device_private_page(tail));
	folio_unlock(folio);

	/* A reference through any page is one on the folio. */
	get_page(tail);
	KUNIT_EXPECT_EQ(test, folio_ref_count(folio), 2);
	u = mr_unmap_blocked(test, dev);
	put_page(tail);
	KUNIT_EXPECT_EQ(test, atomic_read(&dev->nr_freed), 0);
	KUNIT_EXPECT_TRUE(test, ktest_call_blocked(&u->call));

	folio_put(folio);
	KUNIT_EXPECT_EQ(test, atomic_read(&dev->nr_freed), 1);
	KUNIT_EXPECT_PTR_EQ(test, READ_ONCE(dev->last_freed), head);
	KUNIT_EXPECT_EQ(test, folio_ref_count(folio), 0);
	/* One pin for the whole folio: nothing holds the map any more. */
	KUNIT_ASSERT_TRUE(test, mr_unmap_finish(test, dev, u));
	mr_expect_unmapped(test, 5);
}

/*
 * Once freed, the pages of a 2 MiB folio can be handed out again one by
 * one, head and tail pages alike, or as a 2 MiB folio again.
 */
static void mr_test_folio_reuse(struct kunit *test)
{
	unsigned long pfn = mr_chunk_pfn(test, 6);
	struct mr_dev *dev = mr_dev_new(test, 1, 6);
	struct page *head, *page;
	struct folio *folio;

	KUNIT_ASSERT_FALSE(test, IS_ERR(mr_map(dev)));
	head = pfn_to_page(pfn);
	folio = (struct folio *)head;
	zone_device_folio_init(folio, HPAGE_PMD_ORDER);
	folio_unlock(folio);
	folio_put(folio);
	KUNIT_ASSERT_EQ(test, atomic_read(&dev->nr_freed), 1);

	page = head + 300;
	zone_device_page_init(page);
	KUNIT_EXPECT_FALSE(test, PageTail(page));
	KUNIT_EXPECT_PTR_EQ(test, page_folio(page), (struct folio *)page);
	KUNIT_EXPECT_PTR_EQ(test, page_pgmap(page), &dev->pgmap);
	KUNIT_EXPECT_EQ(test, page_ref_count(page), 1);
	zone_device_page_init(head);
	KUNIT_EXPECT_FALSE(test, PageHead(head));
	KUNIT_EXPECT_EQ(test, folio_order(folio), 0U);
	KUNIT_EXPECT_PTR_EQ(test, page_pgmap(head), &dev->pgmap);
	unlock_page(page);
	unlock_page(head);
	put_page(page);
	put_page(head);
	KUNIT_EXPECT_EQ(test, atomic_read(&dev->nr_freed), 3);
	KUNIT_EXPECT_PTR_EQ(test, READ_ONCE(dev->last_freed), head);

	zone_device_folio_init(folio, HPAGE_PMD_ORDER);
	KUNIT_EXPECT_PTR_EQ(test, page_folio(head + 300), folio);
	KUNIT_EXPECT_EQ(test, folio_order(folio), (unsigned int)HPAGE_PMD_ORDER);
	folio_unlock(folio);
	folio_put(folio);
	KUNIT_EXPECT_EQ(test, atomic_read(&dev->nr_freed), 4);
	KUNIT_EXPECT_TRUE(test, mr_unmap(test, dev));
}
#else
static void mr_test_folio_whole(struct kunit *test)
{
	kunit_skip(test, "needs THP and THP migration");
}

static void mr_test_folio_reuse(struct kunit *test)
{
	kunit_skip(test, "needs THP and THP migration");
}
#endif

static struct kunit_case mr_cases[] = {
	KUNIT_CASE(mr_test_map_unmap),
	KUNIT_CASE(mr_test_get_put),
	KUNIT_CASE(mr_test_unmap_waits_for_pgmap_ref),
	KUNIT_CASE(mr_test_unmap_waits_for_page_ref),
	KUNIT_CASE(mr_test_page_free),
	KUNIT_CASE(mr_test_multi_range_lookup),
	KUNIT_CASE_PARAM(mr_test_bad_map, mr_bad_map_gen_params),
	KUNIT_CASE(mr_test_bad_ranges),
	KUNIT_CASE(mr_test_unwind_private),
	KUNIT_CASE(mr_test_unwind_linear),
	KUNIT_CASE(mr_test_unwind_added_section),
	KUNIT_CASE(mr_test_types_accepted),
	KUNIT_CASE(mr_test_lookup_races_unmap),
	KUNIT_CASE(mr_test_devm),
	KUNIT_CASE(mr_test_folio_whole),
	KUNIT_CASE(mr_test_folio_reuse),
	{}
};

static struct kunit_suite mr_suite = {
	.name = "dev_pagemap",
	.init = mr_init,
	.exit = mr_exit,
	.test_cases = mr_cases,
};

kunit_test_suite(mr_suite);

MODULE_DESCRIPTION("KUnit tests for dev_pagemap and ZONE_DEVICE memory");
MODULE_LICENSE("GPL");

// SPDX-License-Identifier: GPL-2.0
/*
 * KUnit suite for hmm_range_fault().
 *
 * Every case builds its own address space: an mm from mm_alloc() laid out
 * the way exec would lay it out, so that vm_mmap() can place anonymous
 * mappings in it.  The KUnit case runs in a kthread; it adopts the mm with
 * kthread_use_mm() only for the few calls that act on current->mm (mmap,
 * munmap and user copies) and drops it again straight away, so a failed
 * assertion, which ends the kthread, never leaves the mm attached to a dying
 * task.  Everything else (hmm_range_fault(), madvise, notifiers) takes the mm
 * explicitly, the way a device driver mirroring a process would.
 */
#include <kunit/test.h>
#include <linux/delay.h>
#include <linux/hmm.h>
#include <linux/highmem.h>
#include <linux/huge_mm.h>
#include <linux/ioport.h>
#include <linux/kprobes.h>
#include <linux/kthread.h>
#include <linux/memremap.h>
#include <linux/migrate.h>
#include <linux/mm.h>
#include <linux/mman.h>
#include <linux/mmu_notifier.h>
#include <linux/mutex.h>
#include <linux/pfn_t.h>
#include <linux/pgtable.h>
#include <linux/rmap.h>
#include <linux/sched/mm.h>
#include <linux/sched/signal.h>
#include <linux/sched/sysctl.h>
#include <linux/sizes.h>
#include <linux/swap.h>
#include <linux/swapops.h>
#include <linux/string.h>
#include <linux/uaccess.h>

#include "hmm_kunit_util.h"
#include "internal.h"

/* Give up on a range after this many back-to-back invalidations. */
#define HMMT_MAX_TRIES	16

/*
 * ZONE_DEVICE memory of one case, placed in physical address space nobody
 * owns: only struct pages exist, so the CPU must never touch its pages.
 */
struct hmmt_dev {
	struct dev_pagemap pgmap;
	struct resource *res;
	bool mapped;
};

struct hmmt_ctx {
	struct kunit *test;
	struct mm_struct *mm;
	struct hmmt_dev *dev;
	/* Stands in for a driver's device page table lock. */
	struct mutex lock;
	struct mmu_interval_notifier notifier;
	bool watching;
	unsigned long invalidations;
	unsigned long busy;
};

#ifdef CONFIG_ZONE_DEVICE
/* Map @type memory over 2 MiB of free physical address space. */
static struct hmmt_dev *hmmt_dev_add(struct hmmt_ctx *ctx,
				     enum memory_type type,
				     const struct dev_pagemap_ops *ops)
{
	struct kunit *test = ctx->test;
	struct hmmt_dev *dev;
	struct resource *res;
	void *ret;

	KUNIT_ASSERT_NULL(test, ctx->dev);
	dev = kunit_kzalloc(test, sizeof(*dev), GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, dev);
	res = request_free_mem_region(&iomem_resource, SZ_2M, "hmm_kunit");
	KUNIT_ASSERT_FALSE_MSG(test, IS_ERR(res), "no free physical space");
	dev->res = res;
	ctx->dev = dev;

	dev->pgmap.type = type;
	dev->pgmap.range.start = res->start;
	dev->pgmap.range.end = res->end;
	dev->pgmap.nr_range = 1;
	dev->pgmap.ops = ops;
	dev->pgmap.owner = ctx;
	ret = memremap_pages(&dev->pgmap, numa_node_id());
	KUNIT_ASSERT_FALSE_MSG(test, IS_ERR(ret), "memremap_pages: %ld",
			       PTR_ERR(ret));
	dev->mapped = true;
	return dev;
}

static void hmmt_dev_remove(struct hmmt_dev *dev)
{
	if (dev->mapped)
		memunmap_pages(&dev->pgmap);
	release_mem_region(dev->res->start, resource_size(dev->res));
}
#else
static struct hmmt_dev *hmmt_dev_add(struct hmmt_ctx *ctx,
				     enum memory_type type,
				     const struct dev_pagemap_ops *ops)
{
	kunit_skip(ctx->test, "needs CONFIG_ZONE_DEVICE");
	return NULL;
}

static void hmmt_dev_remove(struct hmmt_dev *dev)
{
}
#endif

static bool hmmt_invalidate(struct mmu_interval_notifier *mni,
			    const struct mmu_notifier_range *range,
			    unsigned long cur_seq)
{
	struct hmmt_ctx *ctx = container_of(mni, struct hmmt_ctx, notifier);

	if (mmu_notifier_range_blockable(range))
		mutex_lock(&ctx->lock);
	else if (!mutex_trylock(&ctx->lock))
		return false;
	mmu_interval_set_seq(mni, cur_seq);
	ctx->invalidations++;
	mutex_unlock(&ctx->lock);
	return true;
}

static const struct mmu_interval_notifier_ops hmmt_notifier_ops = {
	.invalidate = hmmt_invalidate,
};

static int hmmt_init(struct kunit *test)
{
	struct hmmt_ctx *ctx;

	ctx = kunit_kzalloc(test, sizeof(*ctx), GFP_KERNEL);
	if (!ctx)
		return -ENOMEM;
	ctx->mm = mm_alloc();
	if (!ctx->mm)
		return -ENOMEM;
	/* What setup_new_exec() does for a fresh process image. */
	ctx->mm->task_size = TASK_SIZE;
	arch_pick_mmap_layout(ctx->mm, &current->signal->rlim[RLIMIT_STACK]);
	mutex_init(&ctx->lock);
	ctx->test = test;
	test->priv = ctx;
	return 0;
}

static void hmmt_exit(struct kunit *test)
{
	struct hmmt_ctx *ctx = test->priv;

	if (!ctx || !ctx->mm)
		return;
	if (ctx->watching)
		mmu_interval_notifier_remove(&ctx->notifier);
	/* Tearing the mm down frees the device pages it still maps. */
	mmput(ctx->mm);
	if (ctx->dev)
		hmmt_dev_remove(ctx->dev);
	mutex_destroy(&ctx->lock);
}

/* Map @npages of private anonymous memory; 0 on failure. */
static unsigned long hmmt_mmap(struct hmmt_ctx *ctx, unsigned long npages,
			       unsigned long prot)
{
	unsigned long addr;

	kthread_use_mm(ctx->mm);
	addr = vm_mmap(NULL, 0, npages << PAGE_SHIFT, prot,
		       MAP_PRIVATE | MAP_ANONYMOUS, 0);
	kthread_unuse_mm(ctx->mm);
	return IS_ERR_VALUE(addr) ? 0 : addr;
}

static int hmmt_munmap(struct hmmt_ctx *ctx, unsigned long addr,
		       unsigned long npages)
{
	int ret;

	kthread_use_mm(ctx->mm);
	ret = vm_munmap(addr, npages << PAGE_SHIFT);
	kthread_unuse_mm(ctx->mm);
	return ret;
}

/* Store @val at @addr through the CPU page tables, as the process would. */
static int hmmt_store(struct hmmt_ctx *ctx, unsigned long addr, u64 val)
{
	unsigned long left;

	kthread_use_mm(ctx->mm);
	left = copy_to_user((void __user *)addr, &val, sizeof(val));
	kthread_unuse_mm(ctx->mm);
	return left ? -EFAULT : 0;
}

/* Load from @addr; a read of untouched anonymous memory maps the zero page. */
static int hmmt_load(struct hmmt_ctx *ctx, unsigned long addr, u64 *val)
{
	unsigned long left;

	kthread_use_mm(ctx->mm);
	left = copy_from_user(val, (void __user *)addr, sizeof(*val));
	kthread_unuse_mm(ctx->mm);
	return left ? -EFAULT : 0;
}

/* Mirror [start, start + npages) from now on. */
static int hmmt_watch(struct hmmt_ctx *ctx, unsigned long start,
		      unsigned long npages)
{
	int ret;

	ret = mmu_interval_notifier_insert(&ctx->notifier, ctx->mm, start,
					   npages << PAGE_SHIFT,
					   &hmmt_notifier_ops);
	if (!ret)
		ctx->watching = true;
	return ret;
}

/* Map and watch in one go; KUnit-asserts on failure. */
static unsigned long hmmt_setup(struct hmmt_ctx *ctx, unsigned long npages,
				unsigned long prot)
{
	unsigned long addr = hmmt_mmap(ctx, npages, prot);

	KUNIT_ASSERT_NE(ctx->test, addr, 0UL);
	KUNIT_ASSERT_EQ(ctx->test, hmmt_watch(ctx, addr, npages), 0);
	return addr;
}

static void hmmt_range_init(struct hmmt_ctx *ctx, struct hmm_range *range,
			    unsigned long start, unsigned long npages,
			    unsigned long default_flags,
			    unsigned long pfn_flags_mask)
{
	memset(range, 0, sizeof(*range));
	range->notifier = &ctx->notifier;
	range->start = start;
	range->end = start + (npages << PAGE_SHIFT);
	range->default_flags = default_flags;
	range->pfn_flags_mask = pfn_flags_mask;
	range->hmm_pfns = kunit_kcalloc(ctx->test, npages, sizeof(unsigned long),
					GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(ctx->test, range->hmm_pfns);
}

static unsigned long hmmt_npages(const struct hmm_range *range)
{
	return (range->end - range->start) >> PAGE_SHIFT;
}

/* One hmm_range_fault() call under the mmap read lock, no retry. */
static int hmmt_fault_once(struct hmmt_ctx *ctx, struct hmm_range *range,
			   const unsigned long *in)
{
	int ret;

	if (in)
		memcpy(range->hmm_pfns, in,
		       hmmt_npages(range) * sizeof(*in));
	mmap_read_lock(ctx->mm);
	ret = hmm_range_fault(range);
	mmap_read_unlock(ctx->mm);
	return ret;
}

/*
 * The loop every mirroring driver runs: sample the sequence, fault, then
 * confirm under the device lock that nothing was invalidated meanwhile.
 * @in holds the per-entry requests and is copied in before every attempt
 * because hmm_range_fault() overwrites the array with its output.
 */
static int hmmt_fault(struct hmmt_ctx *ctx, struct hmm_range *range,
		      const unsigned long *in)
{
	int tries, ret;
	bool stale;

	for (tries = 0; tries < HMMT_MAX_TRIES; tries++) {
		range->notifier_seq = mmu_interval_read_begin(range->notifier);
		ret = hmmt_fault_once(ctx, range, in);
		if (ret == -EBUSY) {
			ctx->busy++;
			continue;
		}
		if (ret)
			return ret;
		mutex_lock(&ctx->lock);
		stale = mmu_interval_read_retry(range->notifier,
						range->notifier_seq);
		mutex_unlock(&ctx->lock);
		if (!stale)
			return 0;
		ctx->busy++;
	}
	return -EBUSY;
}

static unsigned long hmmt_pfn(unsigned long entry)
{
	return entry & ~HMM_PFN_FLAGS;
}

static bool hmmt_is_zero(unsigned long entry)
{
	return (entry & HMM_PFN_VALID) && is_zero_pfn(hmmt_pfn(entry));
}

/* Read the first word of the page an output entry points at. */
static u64 hmmt_peek(unsigned long entry)
{
	u64 *p = kmap_local_page(hmm_pfn_to_page(entry));
	u64 val = *p;

	kunmap_local(p);
	return val;
}

static u64 hmmt_magic(unsigned long i)
{
	return 0x484d4d0000000000ULL | i;
}

static void hmmt_expect_unpopulated(struct kunit *test, unsigned long entry)
{
	KUNIT_EXPECT_EQ(test, entry, 0UL);
}

static void hmmt_expect_zero_page(struct kunit *test, unsigned long entry)
{
	KUNIT_EXPECT_TRUE(test, hmmt_is_zero(entry));
	KUNIT_EXPECT_FALSE(test, entry & HMM_PFN_WRITE);
	KUNIT_EXPECT_FALSE(test, entry & HMM_PFN_ERROR);
	KUNIT_EXPECT_EQ(test, hmm_pfn_to_map_order(entry), 0U);
}

static void hmmt_expect_private_page(struct kunit *test, unsigned long entry)
{
	KUNIT_EXPECT_TRUE(test, entry & HMM_PFN_VALID);
	KUNIT_EXPECT_TRUE(test, entry & HMM_PFN_WRITE);
	KUNIT_EXPECT_FALSE(test, entry & HMM_PFN_ERROR);
	KUNIT_EXPECT_FALSE(test, hmmt_is_zero(entry));
	KUNIT_EXPECT_EQ(test, hmm_pfn_to_map_order(entry), 0U);
}

static void hmmt_expect_error(struct kunit *test, unsigned long entry)
{
	KUNIT_EXPECT_TRUE(test, entry & HMM_PFN_ERROR);
	KUNIT_EXPECT_FALSE(test, entry & HMM_PFN_VALID);
}

/*
 * The output must describe the CPU page tables as they are: a snapshot
 * taken right after a call reports exactly the same entries.
 */
static void hmmt_expect_truthful(struct hmmt_ctx *ctx,
				 const struct hmm_range *range)
{
	unsigned long i, npages = hmmt_npages(range);
	struct hmm_range snap;

	hmmt_range_init(ctx, &snap, range->start, npages, 0, 0);
	KUNIT_ASSERT_EQ(ctx->test, hmmt_fault(ctx, &snap, NULL), 0);
	for (i = 0; i < npages; i++)
		KUNIT_EXPECT_EQ(ctx->test, range->hmm_pfns[i], snap.hmm_pfns[i]);
}

/* An entry nobody asked to fault: as it was, or truthfully reported. */
static void hmmt_expect_not_written(struct kunit *test, unsigned long entry)
{
	KUNIT_EXPECT_FALSE(test, entry & HMM_PFN_WRITE);
	KUNIT_EXPECT_FALSE(test, entry & HMM_PFN_ERROR);
	if (entry)
		KUNIT_EXPECT_TRUE(test, hmmt_is_zero(entry));
}

/*
 * What hmm_range_fault() does with default_flags, pfn_flags_mask and the
 * input entries, one table row per combination.  Each row maps a fresh
 * range, populates some of its pages through the CPU, makes one call and
 * checks every entry.  The strings have one character per page:
 *
 * @before: '-' left alone (a hole), 'z' read by the CPU (the zero page),
 *	'P' written by the CPU (a private page holding hmmt_magic(i))
 * @in: the input entry: '-' nothing, 'f' HMM_PFN_REQ_FAULT, 'w'
 *	HMM_PFN_REQ_WRITE, 'F' both
 * @after: '0' not populated, 'z' the zero page, 'P' the page written
 *	before, data intact, 'p' another private writable page, 'n' not
 *	faulted for writing (0 or the zero page), 'v' valid, 'r' valid and
 *	either writable or the zero page
 *
 * Every row also checks that no two private pages share a pfn, that the
 * CPU sees the very 'p' pages the device was handed, and that a snapshot
 * taken right after reports the same entries; @quiet rows also that
 * nothing was invalidated.
 */
struct hmmt_req {
	const char *name;
	unsigned long default_flags;
	unsigned long pfn_flags_mask;
	const char *before;
	const char *in;
	const char *after;
	bool quiet;
};

#define HMMT_F	HMM_PFN_REQ_FAULT
#define HMMT_W	HMM_PFN_REQ_WRITE

static const struct hmmt_req hmmt_reqs[] = {
	/* Mask 0 and default 0: whatever the input says, nothing is faulted. */
	{ "snapshot", 0, 0,
	  "PPzz----", "FFFFFFFF", "PPzz0000", true },
	/* default REQ_FAULT: every hole is read-faulted, nothing upgraded. */
	{ "default read fault", HMMT_F, 0,
	  "---P----", "--------", "zzzPzzzz" },
	/* default REQ_FAULT | REQ_WRITE: every page becomes writable. */
	{ "default write fault", HMMT_F | HMMT_W, 0,
	  "--------", "--------", "pppppppp" },
	/*
	 * Mask REQ_FAULT: entries asking for a fault get one, the REQ_WRITE
	 * they also carry is masked away, so no page may end up written.
	 */
	{ "per-entry fault", 0, HMMT_F,
	  "--------", "wFwFwFwF", "nznznznz", true },
	/* The same where the page table exists: only requested entries move. */
	{ "per-entry fault, table populated", 0, HMMT_F,
	  "-------P", "--f--f--", "nnznnznP" },
	/* default REQ_FAULT, mask letting REQ_WRITE through, over a hole. */
	{ "per-entry write", HMMT_F, HMMT_F | HMMT_W,
	  "---------", "w--w--w--", "pvvpvvpvv" },
	/* Per-entry writes over the zero page copy the requested pages. */
	{ "per-entry write over the zero page", HMMT_F, HMMT_W,
	  "zzzzzzzzz", "-w--w--w-", "rprrprrpr" },
	/*
	 * Only what is asked for is faulted: neighbours of requested entries,
	 * whether in a hole or mapped to the zero page, stay as they were.
	 * Faulting them too would allocate and copy memory nobody wanted.
	 */
	{ "unrequested untouched in a hole", 0, HMMT_F | HMMT_W,
	  "---------", "-F--F--F-", "0p00p00p0" },
	{ "unrequested untouched over the zero page", HMMT_F, HMMT_W,
	  "zzzzzzzzz", "-F--F--F-", "zpzzpzzpz" },
};

static void hmmt_req_desc(const struct hmmt_req *req, char *desc)
{
	strscpy(desc, req->name, KUNIT_PARAM_DESC_SIZE);
}

KUNIT_ARRAY_PARAM(hmmt_req, hmmt_reqs, hmmt_req_desc);

static unsigned long hmmt_req_bits(char c)
{
	switch (c) {
	case 'f':
		return HMM_PFN_REQ_FAULT;
	case 'w':
		return HMM_PFN_REQ_WRITE;
	case 'F':
		return HMM_PFN_REQ_FAULT | HMM_PFN_REQ_WRITE;
	}
	return 0;
}

/* Make page @i of @addr what @c says (see struct hmmt_req). */
static void hmmt_populate(struct hmmt_ctx *ctx, unsigned long addr,
			  unsigned long i, char c)
{
	u64 val;

	if (c == 'z')
		KUNIT_ASSERT_EQ(ctx->test, hmmt_load(ctx, addr, &val), 0);
	else if (c == 'P')
		KUNIT_ASSERT_EQ(ctx->test, hmmt_store(ctx, addr, hmmt_magic(i)),
				0);
}

/* Entry @i is what @c says (see struct hmmt_req). */
static void hmmt_expect_entry(struct kunit *test, unsigned long entry,
			      unsigned long i, char c)
{
	switch (c) {
	case '0':
		hmmt_expect_unpopulated(test, entry);
		break;
	case 'z':
		hmmt_expect_zero_page(test, entry);
		break;
	case 'P':
		hmmt_expect_private_page(test, entry);
		KUNIT_EXPECT_EQ(test, hmmt_peek(entry), hmmt_magic(i));
		break;
	case 'p':
		hmmt_expect_private_page(test, entry);
		break;
	case 'n':
		hmmt_expect_not_written(test, entry);
		break;
	case 'r':
		if (!(entry & HMM_PFN_WRITE))
			hmmt_expect_zero_page(test, entry);
		fallthrough;
	case 'v':
		KUNIT_EXPECT_TRUE(test, entry & HMM_PFN_VALID);
		break;
	}
}

static void hmm_test_request_flags(struct kunit *test)
{
	const struct hmmt_req *req = test->param_value;
	unsigned long n = strlen(req->after), addr, i, j, *in, *out;
	struct hmmt_ctx *ctx = test->priv;
	struct hmm_range range;

	KUNIT_ASSERT_EQ(test, strlen(req->before), n);
	KUNIT_ASSERT_EQ(test, strlen(req->in), n);
	addr = hmmt_setup(ctx, n, PROT_READ | PROT_WRITE);
	in = kunit_kcalloc(test, n, sizeof(*in), GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, in);
	for (i = 0; i < n; i++) {
		hmmt_populate(ctx, addr + i * PAGE_SIZE, i, req->before[i]);
		in[i] = hmmt_req_bits(req->in[i]);
	}

	hmmt_range_init(ctx, &range, addr, n, req->default_flags,
			req->pfn_flags_mask);
	KUNIT_ASSERT_EQ(test, hmmt_fault(ctx, &range, in), 0);
	out = range.hmm_pfns;
	for (i = 0; i < n; i++) {
		hmmt_expect_entry(test, out[i], i, req->after[i]);
		for (j = 0; j < i; j++)
			if (out[i] & out[j] & HMM_PFN_WRITE)
				KUNIT_EXPECT_NE(test, hmmt_pfn(out[i]),
						hmmt_pfn(out[j]));
	}
	hmmt_expect_truthful(ctx, &range);
	if (req->quiet)
		KUNIT_EXPECT_EQ(test, ctx->invalidations, 0UL);

	/* The CPU sees the very pages the device was handed. */
	for (i = 0; i < n; i++) {
		if (req->after[i] != 'p')
			continue;
		KUNIT_ASSERT_EQ(test, hmmt_store(ctx, addr + i * PAGE_SIZE,
						 hmmt_magic(i)), 0);
		KUNIT_EXPECT_EQ(test, hmmt_peek(out[i]), hmmt_magic(i));
	}
}

/*
 * A write request on a page mapped read-only to the zero page must break
 * the sharing: the CPU copy-on-write invalidates the range, the mirror loop
 * retries and ends with a private writable page.
 */
static void hmm_test_write_breaks_zero_page(struct kunit *test)
{
	struct hmmt_ctx *ctx = test->priv;
	struct hmm_range range;
	unsigned long addr, i, before;

	addr = hmmt_setup(ctx, 4, PROT_READ | PROT_WRITE);
	hmmt_range_init(ctx, &range, addr, 4, HMM_PFN_REQ_FAULT, 0);
	KUNIT_ASSERT_EQ(test, hmmt_fault(ctx, &range, NULL), 0);
	for (i = 0; i < 4; i++)
		hmmt_expect_zero_page(test, range.hmm_pfns[i]);

	before = ctx->invalidations;
	range.default_flags = HMM_PFN_REQ_FAULT | HMM_PFN_REQ_WRITE;
	KUNIT_ASSERT_EQ(test, hmmt_fault(ctx, &range, NULL), 0);
	for (i = 0; i < 4; i++)
		hmmt_expect_private_page(test, range.hmm_pfns[i]);
	/* Replacing a mapped zero page must go through the notifier. */
	KUNIT_EXPECT_GT(test, ctx->invalidations, before);
}

/*
 * A hole between two VMAs fails a fault that covers it, but faults that
 * only ask for the mapped pages around it succeed.
 */
static void hmm_test_hole_between_vmas(struct kunit *test)
{
	struct hmmt_ctx *ctx = test->priv;
	struct hmm_range range;
	unsigned long addr, i, *in;

	addr = hmmt_setup(ctx, 6, PROT_READ | PROT_WRITE);
	KUNIT_ASSERT_EQ(test, hmmt_munmap(ctx, addr + 2 * PAGE_SIZE, 2), 0);

	hmmt_range_init(ctx, &range, addr, 6, HMM_PFN_REQ_FAULT, 0);
	KUNIT_EXPECT_EQ(test, hmmt_fault(ctx, &range, NULL), -EFAULT);

	/* The mapped pages before the hole were faulted before it failed. */
	range.default_flags = 0;
	KUNIT_ASSERT_EQ(test, hmmt_fault(ctx, &range, NULL), 0);
	hmmt_expect_error(test, range.hmm_pfns[2]);
	hmmt_expect_error(test, range.hmm_pfns[3]);
	hmmt_expect_unpopulated(test, range.hmm_pfns[5]);

	in = kunit_kcalloc(test, 6, sizeof(*in), GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, in);
	for (i = 0; i < 6; i++)
		if (i != 2 && i != 3)
			in[i] = HMM_PFN_REQ_FAULT | HMM_PFN_REQ_WRITE;
	range.pfn_flags_mask = HMM_PFN_REQ_FAULT | HMM_PFN_REQ_WRITE;
	KUNIT_ASSERT_EQ(test, hmmt_fault(ctx, &range, in), 0);
	for (i = 0; i < 6; i++) {
		if (i == 2 || i == 3)
			hmmt_expect_error(test, range.hmm_pfns[i]);
		else
			hmmt_expect_private_page(test, range.hmm_pfns[i]);
	}
}

/* Asking for write access to a read-only mapping is -EPERM, not -EFAULT. */
static void hmm_test_write_to_readonly(struct kunit *test)
{
	struct hmmt_ctx *ctx = test->priv;
	struct hmm_range range;
	unsigned long addr, i, *in;

	addr = hmmt_setup(ctx, 4, PROT_READ);
	hmmt_range_init(ctx, &range, addr, 4,
			HMM_PFN_REQ_FAULT | HMM_PFN_REQ_WRITE, 0);
	KUNIT_EXPECT_EQ(test, hmmt_fault(ctx, &range, NULL), -EPERM);

	/* Reading is fine and hands out the zero page, read-only. */
	range.default_flags = HMM_PFN_REQ_FAULT;
	KUNIT_ASSERT_EQ(test, hmmt_fault(ctx, &range, NULL), 0);
	for (i = 0; i < 4; i++)
		hmmt_expect_zero_page(test, range.hmm_pfns[i]);

	/* One entry asking for write on an already mapped page fails too. */
	in = kunit_kcalloc(test, 4, sizeof(*in), GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, in);
	in[2] = HMM_PFN_REQ_WRITE;
	range.pfn_flags_mask = HMM_PFN_REQ_WRITE;
	KUNIT_EXPECT_EQ(test, hmmt_fault(ctx, &range, in), -EPERM);
}

static void hmmt_invalidate_span(struct hmmt_ctx *ctx, unsigned long start,
				 unsigned long npages)
{
	struct mmu_notifier_range nr;

	mmap_read_lock(ctx->mm);
	mmu_notifier_range_init(&nr, MMU_NOTIFY_CLEAR, 0,
				vma_lookup(ctx->mm, start), ctx->mm, start,
				start + (npages << PAGE_SHIFT));
	mmu_notifier_invalidate_range_start(&nr);
	mmu_notifier_invalidate_range_end(&nr);
	mmap_read_unlock(ctx->mm);
}

/*
 * An invalidation of the watched range between mmu_interval_read_begin()
 * and hmm_range_fault() makes the call fail with -EBUSY; one elsewhere in
 * the mm does not.
 */
static void hmm_test_busy_after_invalidate(struct kunit *test)
{
	struct hmmt_ctx *ctx = test->priv;
	struct hmm_range range;
	unsigned long addr, other;

	addr = hmmt_setup(ctx, 4, PROT_READ | PROT_WRITE);
	other = hmmt_mmap(ctx, 4, PROT_READ | PROT_WRITE);
	KUNIT_ASSERT_NE(test, other, 0UL);
	hmmt_range_init(ctx, &range, addr, 4, HMM_PFN_REQ_FAULT, 0);

	range.notifier_seq = mmu_interval_read_begin(&ctx->notifier);
	hmmt_invalidate_span(ctx, other, 4);
	KUNIT_EXPECT_EQ(test, hmmt_fault_once(ctx, &range, NULL), 0);
	KUNIT_EXPECT_EQ(test, ctx->invalidations, 0UL);

	range.notifier_seq = mmu_interval_read_begin(&ctx->notifier);
	hmmt_invalidate_span(ctx, addr + PAGE_SIZE, 1);
	KUNIT_EXPECT_EQ(test, ctx->invalidations, 1UL);
	KUNIT_EXPECT_EQ(test, hmmt_fault_once(ctx, &range, NULL), -EBUSY);
	KUNIT_EXPECT_TRUE(test, mmu_interval_read_retry(&ctx->notifier,
							range.notifier_seq));

	/* A fresh sequence number works again. */
	KUNIT_EXPECT_EQ(test, hmmt_fault(ctx, &range, NULL), 0);
}

#define HMMT_MIG_PAGES	4

/*
 * A fault taken by another thread while the range is being migrated. It
 * may outlive the case, so the range it fills in is part of its state.
 */
struct hmmt_fault_call {
	struct ktest_call call;
	struct hmmt_ctx *ctx;
	struct hmm_range range;
	unsigned long pfns[HMMT_MIG_PAGES];
	int ret;
};

static void hmmt_fault_fn(struct ktest_call *call)
{
	struct hmmt_fault_call *f = container_of(call, struct hmmt_fault_call,
						 call);

	f->ret = hmmt_fault(f->ctx, &f->range, NULL);
}

/*
 * While migrate_vma_setup() has replaced the PTEs with migration entries,
 * a snapshot reports the pages as absent without waiting, and a fault
 * waits for the migration to end (here: to be abandoned, which puts the
 * original pages back) and then returns them.
 */
static void hmm_test_migration_entry(struct kunit *test)
{
	struct hmmt_ctx *ctx = test->priv;
	unsigned long src[HMMT_MIG_PAGES], dst[HMMT_MIG_PAGES] = { };
	unsigned long pfns[HMMT_MIG_PAGES], addr, i;
	struct migrate_vma args = { };
	struct hmmt_fault_call *f;
	struct hmm_range snap;
	bool started;
	int ret;

	addr = hmmt_setup(ctx, HMMT_MIG_PAGES, PROT_READ | PROT_WRITE);
	for (i = 0; i < HMMT_MIG_PAGES; i++)
		KUNIT_ASSERT_EQ(test, hmmt_store(ctx, addr + i * PAGE_SIZE,
						 hmmt_magic(i)), 0);
	hmmt_range_init(ctx, &snap, addr, HMMT_MIG_PAGES, 0, 0);
	KUNIT_ASSERT_EQ(test, hmmt_fault(ctx, &snap, NULL), 0);
	for (i = 0; i < HMMT_MIG_PAGES; i++)
		pfns[i] = hmmt_pfn(snap.hmm_pfns[i]);

	f = ktest_call_new(test, struct hmmt_fault_call, call, hmmt_fault_fn);
	f->ctx = ctx;
	hmmt_range_init(ctx, &f->range, addr, HMMT_MIG_PAGES,
			HMM_PFN_REQ_FAULT, 0);
	/* Its output, too, must outlive the case. */
	f->range.hmm_pfns = f->pfns;

	/* Pages still in another CPU's LRU batch could not be isolated. */
	lru_add_drain_all();
	mmap_read_lock(ctx->mm);
	args.vma = vma_lookup(ctx->mm, addr);
	args.start = addr;
	args.end = addr + HMMT_MIG_PAGES * PAGE_SIZE;
	args.src = src;
	args.dst = dst;
	args.pgmap_owner = ctx;
	args.flags = MIGRATE_VMA_SELECT_SYSTEM;
	ret = args.vma ? migrate_vma_setup(&args) : -EINVAL;
	mmap_read_unlock(ctx->mm);
	KUNIT_ASSERT_EQ(test, ret, 0);
	if (args.cpages != HMMT_MIG_PAGES) {
		migrate_vma_pages(&args);
		migrate_vma_finalize(&args);
		KUNIT_FAIL(test, "only %lu of %d pages collected", args.cpages,
			   HMMT_MIG_PAGES);
		return;
	}

	KUNIT_EXPECT_EQ(test, hmmt_fault(ctx, &snap, NULL), 0);
	for (i = 0; i < HMMT_MIG_PAGES; i++)
		hmmt_expect_unpopulated(test, snap.hmm_pfns[i]);

	started = ktest_call_start(test, &f->call);
	if (started)
		KUNIT_EXPECT_TRUE(test, ktest_call_blocked(&f->call));

	/* No destination pages: the migration is abandoned. */
	migrate_vma_pages(&args);
	migrate_vma_finalize(&args);
	KUNIT_ASSERT_TRUE(test, started);
	KUNIT_ASSERT_TRUE(test, ktest_call_finish(test, &f->call));
	KUNIT_ASSERT_EQ(test, f->ret, 0);
	for (i = 0; i < HMMT_MIG_PAGES; i++) {
		KUNIT_EXPECT_TRUE(test, f->pfns[i] & HMM_PFN_VALID);
		KUNIT_EXPECT_EQ(test, hmmt_pfn(f->pfns[i]), pfns[i]);
	}
}

/*
 * munmap() between read_begin and the fault: -EBUSY wins over the -EFAULT
 * the now missing VMA would give.
 */
static void hmm_test_busy_after_munmap(struct kunit *test)
{
	struct hmmt_ctx *ctx = test->priv;
	struct hmm_range range;
	unsigned long addr;

	addr = hmmt_setup(ctx, 4, PROT_READ | PROT_WRITE);
	KUNIT_ASSERT_EQ(test, hmmt_store(ctx, addr, hmmt_magic(0)), 0);
	hmmt_range_init(ctx, &range, addr, 4, HMM_PFN_REQ_FAULT, 0);

	range.notifier_seq = mmu_interval_read_begin(&ctx->notifier);
	KUNIT_ASSERT_EQ(test, hmmt_munmap(ctx, addr, 4), 0);
	KUNIT_EXPECT_GT(test, ctx->invalidations, 0UL);
	KUNIT_EXPECT_EQ(test, hmmt_fault_once(ctx, &range, NULL), -EBUSY);
	/* Retried with a fresh sequence the hole is a plain -EFAULT. */
	KUNIT_EXPECT_EQ(test, hmmt_fault(ctx, &range, NULL), -EFAULT);
}

#ifdef CONFIG_TRANSPARENT_HUGEPAGE
/*
 * Map twice a PMD's worth of memory, populate a THP at its first aligned
 * address and snapshot it into @range (HPAGE_PMD_NR entries); the case is
 * skipped when no THP is to be had. Returns the THP's address.
 */
static unsigned long hmmt_setup_thp(struct hmmt_ctx *ctx,
				    struct hmm_range *range)
{
	struct kunit *test = ctx->test;
	const unsigned long nr = HPAGE_PMD_NR;
	unsigned long addr, huge;

	addr = hmmt_setup(ctx, 2 * nr, PROT_READ | PROT_WRITE);
	KUNIT_ASSERT_EQ(test, do_madvise(ctx->mm, addr, 2 * nr * PAGE_SIZE,
					 MADV_HUGEPAGE), 0);
	huge = ALIGN(addr, HPAGE_PMD_SIZE);
	KUNIT_ASSERT_EQ(test, hmmt_store(ctx, huge, hmmt_magic(0)), 0);
	hmmt_range_init(ctx, range, huge, nr, 0, 0);
	KUNIT_ASSERT_EQ(test, hmmt_fault(ctx, range, NULL), 0);
	KUNIT_ASSERT_TRUE(test, range->hmm_pfns[0] & HMM_PFN_VALID);
	if (!PageTransHuge(hmm_pfn_to_page(range->hmm_pfns[0])))
		kunit_skip(test, "no THP could be allocated");
	return huge;
}

/* Every entry of @range has @flags, the PMD order and the pfn head + i. */
static void hmmt_expect_thp(struct kunit *test, const struct hmm_range *range,
			    unsigned long head, unsigned long flags)
{
	unsigned long i, e;

	for (i = 0; i < hmmt_npages(range); i++) {
		e = range->hmm_pfns[i];
		KUNIT_EXPECT_EQ(test, e & flags, flags);
		KUNIT_EXPECT_EQ(test, hmm_pfn_to_map_order(e),
				(unsigned int)HPAGE_PMD_ORDER);
		KUNIT_EXPECT_EQ(test, hmmt_pfn(e), head + i);
		if (hmmt_pfn(e) != head + i)
			break;
	}
}

/*
 * A PMD-mapped THP is reported with map order PMD_SHIFT - PAGE_SHIFT on
 * every entry, including for a range that starts in its middle.
 */
static void hmm_test_thp_map_order(struct kunit *test)
{
	struct hmmt_ctx *ctx = test->priv;
	const unsigned long nr = HPAGE_PMD_NR;
	struct hmm_range range, part;
	unsigned long huge, i, head;
	struct page *page;

	huge = hmmt_setup_thp(ctx, &range);
	page = hmm_pfn_to_page(range.hmm_pfns[0]);
	head = hmmt_pfn(range.hmm_pfns[0]);
	KUNIT_EXPECT_EQ(test, head & (nr - 1), 0UL);
	KUNIT_EXPECT_EQ(test, hmmt_peek(range.hmm_pfns[0]), hmmt_magic(0));
	hmmt_expect_thp(test, &range, head, HMM_PFN_VALID | HMM_PFN_WRITE);

	/* A window into the middle still sees the whole mapping's order. */
	hmmt_range_init(ctx, &part, huge + 100 * PAGE_SIZE, 8,
			HMM_PFN_REQ_FAULT, 0);
	KUNIT_ASSERT_EQ(test, hmmt_fault(ctx, &part, NULL), 0);
	for (i = 0; i < 8; i++) {
		KUNIT_EXPECT_EQ(test, hmm_pfn_to_map_order(part.hmm_pfns[i]),
				(unsigned int)HPAGE_PMD_ORDER);
		KUNIT_EXPECT_EQ(test, hmmt_pfn(part.hmm_pfns[i]),
				head + 100 + i);
	}
	/* Reporting must not have split the huge page. */
	KUNIT_EXPECT_TRUE(test, PageTransHuge(page));
}
#else
static void hmm_test_thp_map_order(struct kunit *test)
{
	kunit_skip(test, "needs CONFIG_TRANSPARENT_HUGEPAGE");
}
#endif

static void hmmt_set_vm_flags(struct hmmt_ctx *ctx, unsigned long addr,
			      unsigned long set, unsigned long clear)
{
	struct vm_area_struct *vma;

	mmap_write_lock(ctx->mm);
	vma = vma_lookup(ctx->mm, addr);
	if (vma)
		vma->vm_flags = (vma->vm_flags & ~clear) | set;
	mmap_write_unlock(ctx->mm);
	KUNIT_ASSERT_NOT_NULL(ctx->test, vma);
}

/*
 * Ranges that can never be mirrored: no VMA, a VMA the process may not
 * read, and VM_IO or VM_PFNMAP VMAs, which have no struct pages to hand
 * out.  A fault request fails with -EFAULT, a snapshot reports errors.
 */
struct hmmt_unmirrorable {
	const char *name;
	unsigned long prot;
	unsigned long vm_flags;	/* set on the VMA, and cleared again after */
	bool unmap;		/* no VMA at all */
};

static const struct hmmt_unmirrorable hmmt_unmirrorables[] = {
	{ "no VMA", PROT_READ | PROT_WRITE, 0, true },
	{ "PROT_NONE", PROT_NONE },
	{ "VM_IO", PROT_READ | PROT_WRITE, VM_IO },
	{ "VM_PFNMAP", PROT_READ | PROT_WRITE, VM_PFNMAP },
};

static void hmmt_unmirrorable_desc(const struct hmmt_unmirrorable *u,
				   char *desc)
{
	strscpy(desc, u->name, KUNIT_PARAM_DESC_SIZE);
}

KUNIT_ARRAY_PARAM(hmmt_unmirrorable, hmmt_unmirrorables,
		  hmmt_unmirrorable_desc);

static void hmm_test_unmirrorable(struct kunit *test)
{
	const struct hmmt_unmirrorable *u = test->param_value;
	struct hmmt_ctx *ctx = test->priv;
	struct hmm_range range;
	unsigned long addr, i;

	addr = hmmt_setup(ctx, 4, u->prot);
	if (u->unmap)
		KUNIT_ASSERT_EQ(test, hmmt_munmap(ctx, addr, 4), 0);
	if (u->vm_flags)
		hmmt_set_vm_flags(ctx, addr, u->vm_flags, 0);

	hmmt_range_init(ctx, &range, addr, 4, HMM_PFN_REQ_FAULT, 0);
	KUNIT_EXPECT_EQ(test, hmmt_fault(ctx, &range, NULL), -EFAULT);

	range.default_flags = 0;
	KUNIT_ASSERT_EQ(test, hmmt_fault(ctx, &range, NULL), 0);
	for (i = 0; i < 4; i++)
		hmmt_expect_error(test, range.hmm_pfns[i]);

	if (!u->vm_flags)
		return;
	/* Back to a plain VMA the same range faults normally. */
	hmmt_set_vm_flags(ctx, addr, 0, u->vm_flags);
	range.default_flags = HMM_PFN_REQ_FAULT;
	KUNIT_EXPECT_EQ(test, hmmt_fault(ctx, &range, NULL), 0);
}

static atomic_t hmmt_lying_faults;

/* Claims success without ever installing a PTE. */
static vm_fault_t hmmt_lying_fault(struct vm_fault *vmf)
{
	atomic_inc(&hmmt_lying_faults);
	return VM_FAULT_NOPAGE;
}

static const struct vm_operations_struct hmmt_lying_vm_ops = {
	.fault = hmmt_lying_fault,
};

static void hmmt_set_vm_ops(struct hmmt_ctx *ctx, unsigned long addr,
			    const struct vm_operations_struct *ops)
{
	struct vm_area_struct *vma;

	mmap_write_lock(ctx->mm);
	vma = vma_lookup(ctx->mm, addr);
	if (vma)
		vma->vm_ops = ops;
	mmap_write_unlock(ctx->mm);
	KUNIT_ASSERT_NOT_NULL(ctx->test, vma);
}

/*
 * A fault handler that keeps answering "done" without mapping anything
 * must not keep hmm_range_fault() spinning with the mmap lock held: the
 * call gives up after a bounded number of attempts.  It gives up with
 * -EBUSY, which callers retry within their own time limit, not -EFAULT,
 * which every in-tree caller treats as fatal: a migrate_to_ram() that
 * lost a trylock to another migration makes no progress either, for a
 * few microseconds.  The range itself was not invalidated.
 */
static void hmm_test_fault_without_progress(struct kunit *test)
{
	struct hmmt_ctx *ctx = test->priv;
	struct hmm_range range;
	unsigned long addr;
	int calls;

	addr = hmmt_setup(ctx, 4, PROT_READ | PROT_WRITE);
	hmmt_set_vm_ops(ctx, addr, &hmmt_lying_vm_ops);
	atomic_set(&hmmt_lying_faults, 0);

	hmmt_range_init(ctx, &range, addr, 4, HMM_PFN_REQ_FAULT, 0);
	range.notifier_seq = mmu_interval_read_begin(&ctx->notifier);
	KUNIT_EXPECT_EQ(test, hmmt_fault_once(ctx, &range, NULL), -EBUSY);
	KUNIT_EXPECT_FALSE(test, mmu_interval_read_retry(&ctx->notifier,
							 range.notifier_seq));
	calls = atomic_read(&hmmt_lying_faults);
	KUNIT_EXPECT_GT(test, calls, 0);
	KUNIT_EXPECT_LT(test, calls, 1000);

	/* Nothing was asked for: a plain report of an empty range. */
	range.default_flags = 0;
	KUNIT_EXPECT_EQ(test, hmmt_fault(ctx, &range, NULL), 0);
	hmmt_expect_unpopulated(test, range.hmm_pfns[0]);

	hmmt_set_vm_ops(ctx, addr, NULL);
}

/*
 * hmm_range_fault_unlocked_timeout() fills the range like the retry loop
 * above, takes the sequence itself, and returns without the mmap lock.
 */
static void hmm_test_unlocked_fills(struct kunit *test)
{
	struct hmmt_ctx *ctx = test->priv;
	struct hmm_range range;
	unsigned long addr, i;

	addr = hmmt_setup(ctx, 4, PROT_READ | PROT_WRITE);
	KUNIT_ASSERT_EQ(test, hmmt_store(ctx, addr, hmmt_magic(0)), 0);
	hmmt_range_init(ctx, &range, addr, 4,
			HMM_PFN_REQ_FAULT | HMM_PFN_REQ_WRITE, 0);
	range.notifier_seq = 1;	/* never a sequence read_begin returns */

	KUNIT_ASSERT_EQ(test, hmm_range_fault_unlocked_timeout(&range, HZ), 0);
	KUNIT_EXPECT_FALSE(test, mmu_interval_read_retry(&ctx->notifier,
							 range.notifier_seq));
	for (i = 0; i < 4; i++)
		KUNIT_EXPECT_EQ(test, range.hmm_pfns[i] &
				(HMM_PFN_VALID | HMM_PFN_WRITE),
				HMM_PFN_VALID | HMM_PFN_WRITE);
	KUNIT_EXPECT_EQ(test, hmmt_peek(range.hmm_pfns[0]), hmmt_magic(0));
	/* The lock is free again: a writer gets it at once. */
	KUNIT_EXPECT_TRUE(test, mmap_write_trylock(ctx->mm));
	mmap_write_unlock(ctx->mm);

	/* Its errors are hmm_range_fault()'s. */
	KUNIT_EXPECT_EQ(test, hmmt_munmap(ctx, addr + 2 * PAGE_SIZE, 1), 0);
	KUNIT_EXPECT_EQ(test, hmm_range_fault_unlocked_timeout(&range, HZ),
			-EFAULT);
}

/* The deadline case: an invalidating thread and a fault that waits for it. */
#define HMMT_DEADLINE_MS	300
/* Generous: a slow emulator may take a while to notice and to return. */
#define HMMT_DEADLINE_SLACK_MS	10000

static atomic_t hmmt_span_invalidations;
static atomic_t hmmt_contended_faults;

/*
 * Maps nothing, but returns only once the other thread has invalidated
 * the range again (or after a second, so that a broken case cannot hang),
 * so every try of the helper sees an invalidation and ends with -EBUSY.
 */
static vm_fault_t hmmt_contended_fault(struct vm_fault *vmf)
{
	int seen = atomic_read(&hmmt_span_invalidations);
	unsigned long until = jiffies + HZ;

	atomic_inc(&hmmt_contended_faults);
	while (atomic_read(&hmmt_span_invalidations) == seen &&
	       time_before(jiffies, until))
		usleep_range(20, 50);
	return VM_FAULT_NOPAGE;
}

static const struct vm_operations_struct hmmt_contended_vm_ops = {
	.fault = hmmt_contended_fault,
};

struct hmmt_invalidator {
	struct ktest_call call;
	struct hmmt_ctx *ctx;
	unsigned long addr;
	bool stop;
};

/* Invalidate the range in a tight loop until told to stop. */
static void hmmt_invalidator_fn(struct ktest_call *call)
{
	struct hmmt_invalidator *inv =
		container_of(call, struct hmmt_invalidator, call);

	while (!READ_ONCE(inv->stop)) {
		hmmt_invalidate_span(inv->ctx, inv->addr, 1);
		atomic_inc(&hmmt_span_invalidations);
		cond_resched();
	}
}

struct hmmt_unlocked_call {
	struct ktest_call call;
	struct hmm_range range;
	unsigned long pfns[1];
	unsigned long timeout;
	unsigned long elapsed;
	int ret;
};

static void hmmt_unlocked_fn(struct ktest_call *call)
{
	struct hmmt_unlocked_call *u =
		container_of(call, struct hmmt_unlocked_call, call);
	unsigned long start = jiffies;

	u->ret = hmm_range_fault_unlocked_timeout(&u->range, u->timeout);
	u->elapsed = jiffies - start;
}

/*
 * While another thread keeps invalidating the range, every try of the
 * helper ends with -EBUSY: it gives up with -EBUSY once its deadline has
 * passed, and not much later.
 */
static void hmm_test_unlocked_deadline(struct kunit *test)
{
	struct hmmt_ctx *ctx = test->priv;
	struct hmmt_unlocked_call *u;
	struct hmmt_invalidator *inv;
	unsigned long addr;
	bool started;

	addr = hmmt_setup(ctx, 1, PROT_READ | PROT_WRITE);
	hmmt_set_vm_ops(ctx, addr, &hmmt_contended_vm_ops);
	atomic_set(&hmmt_contended_faults, 0);

	u = ktest_call_new(test, struct hmmt_unlocked_call, call,
			   hmmt_unlocked_fn);
	hmmt_range_init(ctx, &u->range, addr, 1, HMM_PFN_REQ_FAULT, 0);
	u->range.hmm_pfns = u->pfns;
	u->timeout = msecs_to_jiffies(HMMT_DEADLINE_MS);
	inv = ktest_call_new(test, struct hmmt_invalidator, call,
			     hmmt_invalidator_fn);
	inv->ctx = ctx;
	inv->addr = addr;

	KUNIT_ASSERT_TRUE(test, ktest_call_start(test, &inv->call));
	started = ktest_call_start(test, &u->call);
	if (started)
		ktest_call_finish(test, &u->call);
	WRITE_ONCE(inv->stop, true);
	KUNIT_ASSERT_TRUE(test, ktest_call_finish(test, &inv->call));
	KUNIT_ASSERT_TRUE(test, started);
	KUNIT_ASSERT_TRUE(test, ktest_call_done(&u->call));

	KUNIT_EXPECT_EQ(test, u->ret, -EBUSY);
	KUNIT_EXPECT_GE(test, u->elapsed, u->timeout);
	KUNIT_EXPECT_LT(test, u->elapsed,
			u->timeout + msecs_to_jiffies(HMMT_DEADLINE_SLACK_MS));
	/* It tried over and over, each try invalidated. */
	KUNIT_EXPECT_GT(test, atomic_read(&hmmt_contended_faults), 1);
	hmmt_set_vm_ops(ctx, addr, NULL);
}

static unsigned long hmmt_dev_pfn(const struct hmmt_dev *dev)
{
	return PHYS_PFN(dev->res->start);
}

/* The PMD of @addr if it points to a PTE table; mmap lock held. */
static pmd_t *hmmt_pte_table(struct mm_struct *mm, unsigned long addr)
{
	pgd_t *pgd = pgd_offset(mm, addr);
	p4d_t *p4d;
	pud_t *pud;
	pmd_t *pmd;

	if (pgd_none(*pgd) || pgd_bad(*pgd))
		return NULL;
	p4d = p4d_offset(pgd, addr);
	if (p4d_none(*p4d) || p4d_bad(*p4d))
		return NULL;
	pud = pud_offset(p4d, addr);
	if (pud_none(*pud) || pud_bad(*pud))
		return NULL;
	pmd = pmd_offset(pud, addr);
	if (pmd_none_or_trans_huge_or_clear_bad(pmd))
		return NULL;
	return pmd;
}

/* The PTE mapping @addr; there must be a PTE table. */
static pte_t hmmt_get_pte(struct hmmt_ctx *ctx, unsigned long addr)
{
	spinlock_t *ptl;	/* page table lock of the entry */
	pte_t *ptep, pte = __pte(0);
	pmd_t *pmd;

	mmap_read_lock(ctx->mm);
	pmd = hmmt_pte_table(ctx->mm, addr);
	if (pmd) {
		ptep = pte_offset_map_lock(ctx->mm, pmd, addr, &ptl);
		pte = ptep_get(ptep);
		pte_unmap_unlock(ptep, ptl);
	}
	mmap_read_unlock(ctx->mm);
	KUNIT_ASSERT_NOT_NULL(ctx->test, pmd);
	return pte;
}

/*
 * A 4 KiB DAX mapping (fsdax or device-dax) is a devmap PTE, which is a
 * special PTE too on x86, arm64 and ppc64.  It has a struct page and must
 * be mirrored like any other page, not reported as an error.
 */
static void hmm_test_devmap_pte(struct kunit *test)
{
	struct hmmt_ctx *ctx = test->priv;
	struct vm_area_struct *vma;
	struct hmm_range range;
	unsigned long addr, pfn;
	struct hmmt_dev *dev;
	vm_fault_t vmf;
	pte_t pte;

	if (!IS_ENABLED(CONFIG_ARCH_HAS_PTE_DEVMAP))
		kunit_skip(test, "needs CONFIG_ARCH_HAS_PTE_DEVMAP");
	dev = hmmt_dev_add(ctx, MEMORY_DEVICE_GENERIC, NULL);
	pfn = hmmt_dev_pfn(dev) + 3;
	addr = hmmt_setup(ctx, 2, PROT_READ | PROT_WRITE);
	hmmt_set_vm_flags(ctx, addr, VM_MIXEDMAP, 0);

	/* What dax_fault_iter() installs for a 4 KiB read fault. */
	mmap_read_lock(ctx->mm);
	vma = vma_lookup(ctx->mm, addr);
	vmf = vma ? vmf_insert_mixed(vma, addr,
				     __pfn_to_pfn_t(pfn, PFN_DEV | PFN_MAP)) :
		    VM_FAULT_SIGBUS;
	mmap_read_unlock(ctx->mm);
	KUNIT_ASSERT_TRUE(test, vmf == VM_FAULT_NOPAGE);
	pte = hmmt_get_pte(ctx, addr);
	KUNIT_ASSERT_TRUE(test, pte_devmap(pte));
	KUNIT_ASSERT_EQ(test, pte_pfn(pte), pfn);

	hmmt_range_init(ctx, &range, addr, 2, 0, 0);
	KUNIT_ASSERT_EQ(test, hmmt_fault(ctx, &range, NULL), 0);
	KUNIT_EXPECT_EQ(test, range.hmm_pfns[0], pfn | HMM_PFN_VALID);
	hmmt_expect_unpopulated(test, range.hmm_pfns[1]);

	/* A fault request is satisfied by the mapping as it is. */
	range.default_flags = HMM_PFN_REQ_FAULT;
	KUNIT_ASSERT_EQ(test, hmmt_fault(ctx, &range, NULL), 0);
	KUNIT_EXPECT_EQ(test, range.hmm_pfns[0], pfn | HMM_PFN_VALID);
	hmmt_expect_zero_page(test, range.hmm_pfns[1]);

	/* No page table may point at the memory once it goes away. */
	KUNIT_EXPECT_EQ(test, hmmt_munmap(ctx, addr, 2), 0);
}

/*
 * A swap entry no fault can repair (here a failed swap-in; poisoned memory
 * takes the same path) reads as not present in a snapshot, like every
 * other non-present entry, not as HMM_PFN_ERROR; a fault request for it
 * fails with -EFAULT.
 */
static void hmm_test_swapin_error_entry(struct kunit *test)
{
	struct hmmt_ctx *ctx = test->priv;
	pte_t bad = swp_entry_to_pte(make_swapin_error_entry(ZERO_PAGE(0)));
	struct hmm_range range;
	unsigned long addr, *in;
	spinlock_t *ptl;	/* page table lock of the entry */
	bool empty = false;
	pte_t *ptep;
	pmd_t *pmd;

	/* Two pages in one page table, the first one mapped. */
	addr = hmmt_setup(ctx, 3, PROT_READ | PROT_WRITE);
	if (!((addr + PAGE_SIZE) & ~PMD_MASK))
		addr += PAGE_SIZE;
	KUNIT_ASSERT_EQ(test, hmmt_store(ctx, addr, hmmt_magic(0)), 0);

	mmap_read_lock(ctx->mm);
	pmd = hmmt_pte_table(ctx->mm, addr + PAGE_SIZE);
	if (pmd) {
		ptep = pte_offset_map_lock(ctx->mm, pmd, addr + PAGE_SIZE, &ptl);
		empty = pte_none(ptep_get(ptep));
		if (empty)
			set_pte_at(ctx->mm, addr + PAGE_SIZE, ptep, bad);
		pte_unmap_unlock(ptep, ptl);
	}
	mmap_read_unlock(ctx->mm);
	KUNIT_ASSERT_NOT_NULL(test, pmd);
	KUNIT_ASSERT_TRUE(test, empty);

	hmmt_range_init(ctx, &range, addr, 2, 0, 0);
	KUNIT_ASSERT_EQ(test, hmmt_fault(ctx, &range, NULL), 0);
	hmmt_expect_private_page(test, range.hmm_pfns[0]);
	KUNIT_EXPECT_EQ(test, range.hmm_pfns[1], 0UL);

	range.default_flags = HMM_PFN_REQ_FAULT;
	KUNIT_EXPECT_EQ(test, hmmt_fault(ctx, &range, NULL), -EFAULT);

	/* Faults asked for elsewhere do not trip over it. */
	in = kunit_kcalloc(test, 2, sizeof(*in), GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, in);
	in[0] = HMM_PFN_REQ_FAULT | HMM_PFN_REQ_WRITE;
	range.default_flags = 0;
	range.pfn_flags_mask = HMM_PFN_REQ_FAULT | HMM_PFN_REQ_WRITE;
	KUNIT_ASSERT_EQ(test, hmmt_fault(ctx, &range, in), 0);
	hmmt_expect_private_page(test, range.hmm_pfns[0]);
	KUNIT_EXPECT_EQ(test, range.hmm_pfns[1], 0UL);
}

#if defined(CONFIG_NUMA_BALANCING) || defined(CONFIG_DEVICE_MIGRATION)
static atomic_t hmmt_migrate_calls;

static void hmmt_dev_page_free(struct page *page)
{
}

/*
 * What amdkfd's svm_migrate_to_ram() does when the faulting task is the
 * owner's own: nothing, and report success.
 */
static vm_fault_t hmmt_dev_migrate_to_ram(struct vm_fault *vmf)
{
	atomic_inc(&hmmt_migrate_calls);
	return 0;
}

static const struct dev_pagemap_ops hmmt_dev_ops = {
	.page_free	= hmmt_dev_page_free,
	.migrate_to_ram	= hmmt_dev_migrate_to_ram,
};

/*
 * Move the page at @addr into @dpage, a free page of device private
 * memory.  Nothing is copied: the device page has no memory behind it.
 */
static bool hmmt_migrate_to_dev(struct hmmt_ctx *ctx, unsigned long addr,
				struct page *dpage)
{
	unsigned long src = 0, dst = 0;
	struct migrate_vma args = {
		.start		= addr,
		.end		= addr + PAGE_SIZE,
		.src		= &src,
		.dst		= &dst,
		.pgmap_owner	= ctx,
		.flags		= MIGRATE_VMA_SELECT_SYSTEM,
	};
	int ret = -EINVAL;

	lru_add_drain_all();
	mmap_read_lock(ctx->mm);
	args.vma = vma_lookup(ctx->mm, addr);
	if (args.vma)
		ret = migrate_vma_setup(&args);
	if (!ret) {
		if (src & MIGRATE_PFN_MIGRATE) {
			zone_device_page_init(dpage);
			dst = migrate_pfn(page_to_pfn(dpage));
		}
		migrate_vma_pages(&args);
		migrate_vma_finalize(&args);
	}
	mmap_read_unlock(ctx->mm);
	return !ret && dst && (src & MIGRATE_PFN_MIGRATE);
}

#endif

#ifdef CONFIG_NUMA_BALANCING
/*
 * Turn the mapped pages of [addr, addr + npages) into NUMA-hinting
 * (protnone) entries, as the NUMA balancing scanner does, and make
 * writable device private entries read-only on the way, as every
 * change_protection() does.  Returns the number of PTEs changed, a huge
 * PMD counting as HPAGE_PMD_NR.
 */
static unsigned long hmmt_numa_hint(struct hmmt_ctx *ctx, unsigned long addr,
				    unsigned long npages)
{
	int mode = sysctl_numa_balancing_mode;
	struct vm_area_struct *vma;
	unsigned long n = 0;

	/* A page still in an LRU batch looks shared and is skipped. */
	lru_add_drain_all();
	/*
	 * The scanner leaves alone pages on the node of an mm's only user,
	 * and top-tier pages while balancing is off, as it is on a machine
	 * with one node: pretend a second user and switch it on meanwhile.
	 */
	mmget(ctx->mm);
	sysctl_numa_balancing_mode |= NUMA_BALANCING_NORMAL;
	mmap_read_lock(ctx->mm);
	vma = vma_lookup(ctx->mm, addr);
	if (vma)
		n = change_prot_numa(vma, addr, addr + (npages << PAGE_SHIFT));
	mmap_read_unlock(ctx->mm);
	sysctl_numa_balancing_mode = mode;
	mmput(ctx->mm);
	KUNIT_ASSERT_NOT_NULL(ctx->test, vma);
	return n;
}

/*
 * A NUMA-hinting PTE keeps the pfn, and on x86 even the write bit, but
 * the CPU cannot use it until a fault has looked at the page's placement:
 * a snapshot does not report it, and a fault request faults it.
 */
static void hmm_test_protnone_pte(struct kunit *test)
{
	struct hmmt_ctx *ctx = test->priv;
	unsigned long pfns[4], addr, i;
	struct hmm_range range;

	addr = hmmt_setup(ctx, 4, PROT_READ | PROT_WRITE);
	for (i = 0; i < 4; i++)
		KUNIT_ASSERT_EQ(test, hmmt_store(ctx, addr + i * PAGE_SIZE,
						 hmmt_magic(i)), 0);
	hmmt_range_init(ctx, &range, addr, 4, 0, 0);
	KUNIT_ASSERT_EQ(test, hmmt_fault(ctx, &range, NULL), 0);
	for (i = 0; i < 4; i++) {
		hmmt_expect_private_page(test, range.hmm_pfns[i]);
		pfns[i] = hmmt_pfn(range.hmm_pfns[i]);
	}

	KUNIT_ASSERT_EQ(test, hmmt_numa_hint(ctx, addr, 4), 4UL);
	KUNIT_ASSERT_TRUE(test, pte_protnone(hmmt_get_pte(ctx, addr)));
	KUNIT_ASSERT_EQ(test, hmmt_fault(ctx, &range, NULL), 0);
	for (i = 0; i < 4; i++)
		hmmt_expect_unpopulated(test, range.hmm_pfns[i]);

	/* A read fault brings back the very same pages. */
	range.default_flags = HMM_PFN_REQ_FAULT;
	KUNIT_ASSERT_EQ(test, hmmt_fault(ctx, &range, NULL), 0);
	for (i = 0; i < 4; i++) {
		KUNIT_EXPECT_TRUE(test, range.hmm_pfns[i] & HMM_PFN_VALID);
		KUNIT_EXPECT_EQ(test, hmmt_pfn(range.hmm_pfns[i]), pfns[i]);
		KUNIT_EXPECT_EQ(test, hmmt_peek(range.hmm_pfns[i]),
				hmmt_magic(i));
	}
	KUNIT_EXPECT_FALSE(test, pte_protnone(hmmt_get_pte(ctx, addr)));
	hmmt_expect_truthful(ctx, &range);

	/* And so does a write fault. */
	KUNIT_ASSERT_EQ(test, hmmt_numa_hint(ctx, addr, 4), 4UL);
	range.default_flags = HMM_PFN_REQ_FAULT | HMM_PFN_REQ_WRITE;
	KUNIT_ASSERT_EQ(test, hmmt_fault(ctx, &range, NULL), 0);
	for (i = 0; i < 4; i++) {
		hmmt_expect_private_page(test, range.hmm_pfns[i]);
		KUNIT_EXPECT_EQ(test, hmmt_pfn(range.hmm_pfns[i]), pfns[i]);
	}
	hmmt_expect_truthful(ctx, &range);
}

#ifdef CONFIG_TRANSPARENT_HUGEPAGE
/* The same for a NUMA-hinting huge PMD, which must come back huge. */
static void hmm_test_protnone_pmd(struct kunit *test)
{
	struct hmmt_ctx *ctx = test->priv;
	const unsigned long nr = HPAGE_PMD_NR;
	unsigned long huge, head, i;
	struct hmm_range range;
	struct page *page;

	huge = hmmt_setup_thp(ctx, &range);
	page = hmm_pfn_to_page(range.hmm_pfns[0]);
	head = hmmt_pfn(range.hmm_pfns[0]);

	KUNIT_ASSERT_EQ(test, hmmt_numa_hint(ctx, huge, nr), nr);
	KUNIT_ASSERT_EQ(test, hmmt_fault(ctx, &range, NULL), 0);
	for (i = 0; i < nr; i++) {
		KUNIT_EXPECT_EQ(test, range.hmm_pfns[i], 0UL);
		if (range.hmm_pfns[i])
			break;
	}

	range.default_flags = HMM_PFN_REQ_FAULT;
	KUNIT_ASSERT_EQ(test, hmmt_fault(ctx, &range, NULL), 0);
	hmmt_expect_thp(test, &range, head, HMM_PFN_VALID);
	KUNIT_EXPECT_EQ(test, hmmt_peek(range.hmm_pfns[0]), hmmt_magic(0));
	KUNIT_EXPECT_TRUE(test, PageTransHuge(page));
}
#else
static void hmm_test_protnone_pmd(struct kunit *test)
{
	kunit_skip(test, "needs CONFIG_TRANSPARENT_HUGEPAGE");
}
#endif

/*
 * The owner of a device private page gets its entry back as it is, even
 * when it asks for write access to a read-only one (after fork(), or any
 * change_protection(): mprotect(), NUMA balancing).  Faulting would call
 * the owner's own migrate_to_ram() from inside its own device fault, where
 * amdkfd, for one, does nothing: no progress, and a GPU VM fault.  The
 * owner decides what to do with the page.
 */
static void hmm_test_own_readonly_private(struct kunit *test)
{
	struct hmmt_ctx *ctx = test->priv;
	struct hmm_range range;
	unsigned long addr, pfn;
	struct hmmt_dev *dev;

	dev = hmmt_dev_add(ctx, MEMORY_DEVICE_PRIVATE, &hmmt_dev_ops);
	pfn = hmmt_dev_pfn(dev);
	addr = hmmt_setup(ctx, 1, PROT_READ | PROT_WRITE);
	KUNIT_ASSERT_EQ(test, hmmt_store(ctx, addr, hmmt_magic(0)), 0);
	KUNIT_ASSERT_TRUE(test, hmmt_migrate_to_dev(ctx, addr,
						    pfn_to_page(pfn)));
	atomic_set(&hmmt_migrate_calls, 0);

	hmmt_range_init(ctx, &range, addr, 1, 0, 0);
	range.dev_private_owner = ctx;
	KUNIT_ASSERT_EQ(test, hmmt_fault(ctx, &range, NULL), 0);
	KUNIT_EXPECT_EQ(test, range.hmm_pfns[0],
			pfn | HMM_PFN_VALID | HMM_PFN_WRITE);

	/* NUMA balancing makes the entry read-only (and nothing else). */
	hmmt_numa_hint(ctx, addr, 1);
	KUNIT_ASSERT_EQ(test, hmmt_fault(ctx, &range, NULL), 0);
	KUNIT_EXPECT_EQ(test, range.hmm_pfns[0], pfn | HMM_PFN_VALID);

	range.default_flags = HMM_PFN_REQ_FAULT | HMM_PFN_REQ_WRITE;
	KUNIT_EXPECT_EQ(test, hmmt_fault(ctx, &range, NULL), 0);
	KUNIT_EXPECT_EQ(test, range.hmm_pfns[0], pfn | HMM_PFN_VALID);
	KUNIT_EXPECT_EQ(test, atomic_read(&hmmt_migrate_calls), 0);

	/* Free the device page before its memory goes away. */
	KUNIT_EXPECT_EQ(test, hmmt_munmap(ctx, addr, 1), 0);
}
#else
static void hmm_test_protnone_pte(struct kunit *test)
{
	kunit_skip(test, "needs CONFIG_NUMA_BALANCING");
}

static void hmm_test_protnone_pmd(struct kunit *test)
{
	kunit_skip(test, "needs CONFIG_NUMA_BALANCING");
}

static void hmm_test_own_readonly_private(struct kunit *test)
{
	kunit_skip(test, "needs CONFIG_NUMA_BALANCING");
}
#endif

#if defined(CONFIG_DEVICE_MIGRATION) && defined(CONFIG_KPROBES)
/*
 * A driver evicting its memory migrates by pfn (migrate_device_range()),
 * without the mmap_lock of whoever maps the pages: their process may unmap
 * a page, or exit, while it migrates, and free the anon_vma the page still
 * points to. Putting the page's mappings back walks that anon_vma, so it
 * must be pinned while the page is under migration, and a page nobody maps
 * any more must not be walked at all (hmm-fuzz, seed 4 under fault
 * injection: KASAN use-after-free in rmap_walk_anon() from
 * remove_migration_ptes(), test_hmm's eviction racing with an exit).
 * A kprobe on remove_migration_ptes() looks at every walk for the case's
 * page: the anon_vma it walks must still be alive.
 */
struct hmmt_walk_probe {
	struct kprobe kp;
	struct folio *folio;
	atomic_t walks;
	atomic_t dead;
};

static int hmmt_walk_pre(struct kprobe *kp, struct pt_regs *regs)
{
	struct hmmt_walk_probe *p = container_of(kp, struct hmmt_walk_probe, kp);
	struct folio *src = (struct folio *)regs_get_kernel_argument(regs, 0);
	struct folio *dst = (struct folio *)regs_get_kernel_argument(regs, 1);
	struct anon_vma *anon_vma;

	if (src != p->folio)
		return 0;
	anon_vma = folio_anon_vma(dst);
	if (!anon_vma)
		return 0;
	atomic_inc(&p->walks);
	/* Freed anon_vmas stay readable: their cache is SLAB_TYPESAFE_BY_RCU. */
	if (!atomic_read(&anon_vma->refcount))
		atomic_inc(&p->dead);
	return 0;
}

NOKPROBE_SYMBOL(hmmt_walk_pre);

static struct hmmt_walk_probe *hmmt_walk_probe_arm(struct kunit *test,
						   struct page *page)
{
	struct hmmt_walk_probe *p;

	p = kunit_kzalloc(test, sizeof(*p), GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, p);
	p->folio = page_folio(page);
	p->kp.symbol_name = "remove_migration_ptes";
	p->kp.pre_handler = hmmt_walk_pre;
	KUNIT_ASSERT_EQ(test, register_kprobe(&p->kp), 0);
	return p;
}

/* Evict the device page at @pfn to @dpage (NULL: no page, it stays). */
static unsigned long hmmt_evict(unsigned long pfn, struct page *dpage)
{
	unsigned long src = 0, dst = 0;

	migrate_device_range(&src, pfn, 1);
	if (dpage && (src & MIGRATE_PFN_MIGRATE)) {
		lock_page(dpage);
		dst = migrate_pfn(page_to_pfn(dpage));
	} else if (dpage) {
		put_page(dpage);
	}
	migrate_device_pages(&src, &dst, 1);
	migrate_device_finalize(&src, &dst, 1);
	return src;
}

/* One written page of anonymous memory, moved to device private page @pfn. */
static unsigned long hmmt_setup_on_device(struct hmmt_ctx *ctx,
					  unsigned long *pfn)
{
	struct hmmt_dev *dev;
	unsigned long addr;

	dev = hmmt_dev_add(ctx, MEMORY_DEVICE_PRIVATE, &hmmt_dev_ops);
	*pfn = hmmt_dev_pfn(dev);
	addr = hmmt_setup(ctx, 1, PROT_READ | PROT_WRITE);
	KUNIT_ASSERT_EQ(ctx->test, hmmt_store(ctx, addr, hmmt_magic(0)), 0);
	KUNIT_ASSERT_TRUE(ctx->test,
			  hmmt_migrate_to_dev(ctx, addr, pfn_to_page(*pfn)));
	return addr;
}

/* A device page kept by a reference after its mapping went away. */
static void hmm_test_evict_unmapped(struct kunit *test)
{
	struct hmmt_ctx *ctx = test->priv;
	struct hmmt_walk_probe *p;
	unsigned long addr, pfn;
	struct page *page;

	addr = hmmt_setup_on_device(ctx, &pfn);
	page = pfn_to_page(pfn);
	get_page(page);
	/* The only mapping, and with it the anon_vma, goes away. */
	KUNIT_ASSERT_EQ(test, hmmt_munmap(ctx, addr, 1), 0);
	KUNIT_ASSERT_EQ(test, page_ref_count(page), 1);

	p = hmmt_walk_probe_arm(test, page);
	hmmt_evict(pfn, alloc_page(GFP_HIGHUSER_MOVABLE));
	unregister_kprobe(&p->kp);
	KUNIT_EXPECT_EQ(test, atomic_read(&p->dead), 0);
	KUNIT_EXPECT_EQ(test, page_ref_count(page), 1);
	KUNIT_EXPECT_FALSE(test, PageLocked(page));
	put_page(page);
}

/* The page's only mapping goes away while the page is being evicted. */
static void hmm_test_evict_racing_munmap(struct kunit *test)
{
	struct hmmt_ctx *ctx = test->priv;
	unsigned long addr, pfn, src = 0, dst = 0;
	struct hmmt_walk_probe *p;
	struct page *page, *dpage;

	addr = hmmt_setup_on_device(ctx, &pfn);
	page = pfn_to_page(pfn);
	dpage = alloc_page(GFP_HIGHUSER_MOVABLE);
	KUNIT_ASSERT_NOT_NULL(test, dpage);

	p = hmmt_walk_probe_arm(test, page);
	migrate_device_range(&src, pfn, 1);
	if (!(src & MIGRATE_PFN_MIGRATE)) {
		unregister_kprobe(&p->kp);
		put_page(dpage);
		KUNIT_FAIL(test, "the mapped device page did not migrate");
		return;
	}
	/* Its process unmaps it: the migration entry goes, the anon_vma too. */
	KUNIT_EXPECT_EQ(test, hmmt_munmap(ctx, addr, 1), 0);
	lock_page(dpage);
	dst = migrate_pfn(page_to_pfn(dpage));
	migrate_device_pages(&src, &dst, 1);
	migrate_device_finalize(&src, &dst, 1);
	unregister_kprobe(&p->kp);

	KUNIT_EXPECT_EQ(test, atomic_read(&p->walks), 1);
	KUNIT_EXPECT_EQ(test, atomic_read(&p->dead), 0);
	/* Nobody maps it: the device page was freed, so was the copy. */
	KUNIT_EXPECT_EQ(test, page_ref_count(page), 0);
}
#else
static void hmm_test_evict_unmapped(struct kunit *test)
{
	kunit_skip(test, "needs CONFIG_DEVICE_MIGRATION and CONFIG_KPROBES");
}

static void hmm_test_evict_racing_munmap(struct kunit *test)
{
	kunit_skip(test, "needs CONFIG_DEVICE_MIGRATION and CONFIG_KPROBES");
}
#endif

/* Write-protect the PTE mapping @addr, as fork() does for copy-on-write. */
static void hmmt_wrprotect(struct hmmt_ctx *ctx, unsigned long addr)
{
	spinlock_t *ptl;	/* page table lock of the entry */
	bool present = false;
	pte_t *ptep;
	pmd_t *pmd;

	mmap_read_lock(ctx->mm);
	pmd = hmmt_pte_table(ctx->mm, addr);
	if (pmd) {
		ptep = pte_offset_map_lock(ctx->mm, pmd, addr, &ptl);
		present = pte_present(ptep_get(ptep));
		if (present)
			ptep_set_wrprotect(ctx->mm, addr, ptep);
		pte_unmap_unlock(ptep, ptl);
	}
	mmap_read_unlock(ctx->mm);
	KUNIT_ASSERT_TRUE(ctx->test, present);
}

/* w: written, r: read (zero page), -: empty, o: read-only, n: NUMA hint */
static const char hmmt_mixed_layout[] = "wow-rwwnwww";
#define HMMT_MIXED_PAGES (sizeof(hmmt_mixed_layout) - 1)

/*
 * One page table laid out as hmmt_mixed_layout from its first entry on,
 * so that hmm_plain_ptes() sees the pairs (w o), (w -), (r w), (w n),
 * (w w) and the last w on its own: every way out of its paired loop, and
 * a read-only PTE before any that needs a fault.
 */
static unsigned long hmmt_mixed_table(struct hmmt_ctx *ctx)
{
	unsigned long addr, i;
	u64 val;

	addr = hmmt_setup(ctx, PTRS_PER_PTE + HMMT_MIXED_PAGES,
			  PROT_READ | PROT_WRITE);
	hmmt_set_vm_flags(ctx, addr, VM_NOHUGEPAGE, 0);
	addr = ALIGN(addr, PMD_SIZE);
	for (i = 0; i < HMMT_MIXED_PAGES; i++) {
		unsigned long a = addr + i * PAGE_SIZE;
		char c = hmmt_mixed_layout[i];

		if (c == 'r')
			KUNIT_ASSERT_EQ(ctx->test, hmmt_load(ctx, a, &val), 0);
		else if (c != '-')
			KUNIT_ASSERT_EQ(ctx->test,
					hmmt_store(ctx, a, hmmt_magic(i)), 0);
		if (c == 'o')
			hmmt_wrprotect(ctx, a);
#ifdef CONFIG_NUMA_BALANCING
		if (c == 'n')
			KUNIT_ASSERT_EQ(ctx->test, hmmt_numa_hint(ctx, a, 1), 1UL);
#endif
	}
	return addr;
}

/*
 * A range that requests nothing is read by hmm_range_fault()'s snapshot
 * loops (hmm_plain_ptes() two PTEs at a time, then one at a time, and
 * hmm_decode_pte() for the rest); one that could request a fault but does
 * not is read entry by entry.  Over writable, read-only, zero-page, NUMA
 * hinting and empty PTEs in one table, both must report exactly the same
 * entries.
 */
static void hmm_test_snapshot_as_full_walk(struct kunit *test)
{
	struct hmmt_ctx *ctx = test->priv;
	const unsigned long npages = HMMT_MIXED_PAGES;
	struct hmm_range fast, full;
	unsigned long addr, i;

	addr = hmmt_mixed_table(ctx);
	hmmt_range_init(ctx, &fast, addr, npages, 0, 0);
	hmmt_range_init(ctx, &full, addr, npages, 0, HMM_PFN_REQ_FAULT);
	KUNIT_ASSERT_EQ(test, hmmt_fault(ctx, &fast, NULL), 0);
	KUNIT_ASSERT_EQ(test, hmmt_fault(ctx, &full, NULL), 0);
	for (i = 0; i < npages; i++)
		KUNIT_EXPECT_EQ_MSG(test, fast.hmm_pfns[i], full.hmm_pfns[i],
				    "page %lu (%c)", i, hmmt_mixed_layout[i]);
	for (i = 0; i < npages; i++) {
		switch (hmmt_mixed_layout[i]) {
		case 'w':
			hmmt_expect_private_page(test, fast.hmm_pfns[i]);
			break;
		case 'r':
			hmmt_expect_zero_page(test, fast.hmm_pfns[i]);
			break;
		case 'o':
			KUNIT_EXPECT_TRUE(test, fast.hmm_pfns[i] & HMM_PFN_VALID);
			KUNIT_EXPECT_FALSE(test, fast.hmm_pfns[i] & HMM_PFN_WRITE);
			KUNIT_EXPECT_EQ(test, hmmt_peek(fast.hmm_pfns[i]),
					hmmt_magic(i));
			break;
		case 'n':
			if (IS_ENABLED(CONFIG_NUMA_BALANCING))
				hmmt_expect_unpopulated(test, fast.hmm_pfns[i]);
			else
				hmmt_expect_private_page(test, fast.hmm_pfns[i]);
			break;
		default:
			hmmt_expect_unpopulated(test, fast.hmm_pfns[i]);
		}
	}
}

/*
 * A fault request made by default_flags alone (no pfn_flags_mask) is
 * served first by hmm_plain_ptes(), which reports the plain PTEs that
 * already grant it; the same request made per entry goes entry by entry.
 * Over the mixed table, a read request then a write request by default
 * must fault exactly what is missing, and leave what a per-entry request
 * reads right after.
 */
static void hmm_test_default_as_per_entry(struct kunit *test)
{
	static const unsigned long reqs[] = {
		HMM_PFN_REQ_FAULT, HMM_PFN_REQ_FAULT | HMM_PFN_REQ_WRITE,
	};
	struct hmmt_ctx *ctx = test->priv;
	const unsigned long npages = HMMT_MIXED_PAGES;
	unsigned long addr, *in, i, r, pfn_o = 0;
	struct hmm_range dflt, each;

	addr = hmmt_mixed_table(ctx);
	in = kunit_kcalloc(test, npages, sizeof(*in), GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, in);
	for (r = 0; r < ARRAY_SIZE(reqs); r++) {
		hmmt_range_init(ctx, &dflt, addr, npages, reqs[r], 0);
		KUNIT_ASSERT_EQ(test, hmmt_fault(ctx, &dflt, NULL), 0);
		for (i = 0; i < npages; i++)
			in[i] = reqs[r];
		hmmt_range_init(ctx, &each, addr, npages, 0,
				HMM_PFN_REQ_FAULT | HMM_PFN_REQ_WRITE);
		KUNIT_ASSERT_EQ(test, hmmt_fault(ctx, &each, in), 0);
		for (i = 0; i < npages; i++) {
			char c = hmmt_mixed_layout[i];

			KUNIT_EXPECT_EQ_MSG(test, dflt.hmm_pfns[i],
					    each.hmm_pfns[i], "%s, page %lu (%c)",
					    r ? "write" : "read", i, c);
			KUNIT_EXPECT_TRUE(test, dflt.hmm_pfns[i] & HMM_PFN_VALID);
			if (r || c == 'w')
				KUNIT_EXPECT_TRUE_MSG(test, dflt.hmm_pfns[i] &
						      HMM_PFN_WRITE,
						      "%s, page %lu (%c)",
						      r ? "write" : "read", i, c);
			if (c == 'o' && !r) {
				/* Read access it has: reported, not faulted. */
				KUNIT_EXPECT_FALSE(test,
						   dflt.hmm_pfns[i] & HMM_PFN_WRITE);
				pfn_o = hmmt_pfn(dflt.hmm_pfns[i]);
			}
			if (c != '-' && c != 'r')
				KUNIT_EXPECT_EQ(test, hmmt_peek(dflt.hmm_pfns[i]),
						hmmt_magic(i));
		}
	}
	/* The write fault reused the read-only page: it was exclusive. */
	i = strchr(hmmt_mixed_layout, 'o') - hmmt_mixed_layout;
	KUNIT_EXPECT_EQ(test, hmmt_pfn(dflt.hmm_pfns[i]), pfn_o);
}

/* One PTE: pte_present_plain() must be false, true (1) or either (-1). */
static void hmmt_check_plain(struct kunit *test, pte_t pte, int expect,
			     const char *what, unsigned long vm_flags)
{
	bool plain = pte_present_plain(pte);

	if (plain) {
		KUNIT_EXPECT_TRUE_MSG(test, pte_present(pte) &&
				      !pte_protnone(pte) && !pte_special(pte),
				      "%s, vm_flags %#lx", what, vm_flags);
		KUNIT_EXPECT_EQ_MSG(test, pte_present_pfn(pte), pte_pfn(pte),
				    "%s, vm_flags %#lx", what, vm_flags);
	}
	if (expect >= 0)
		KUNIT_EXPECT_EQ_MSG(test, plain, (bool)expect,
				    "%s, vm_flags %#lx", what, vm_flags);
}

/*
 * pte_present_plain() and pte_present_pfn(), on which the snapshot loop
 * relies, against the helpers they stand for (x86 has its own versions):
 * over PTEs of every protection vm_get_page_prot() gives, each with its
 * special, devmap, old, young, clean, dirty, read-only, writable and NUMA
 * hinting variants, and over empty, swap and migration entries.
 */
static void hmm_test_pte_present_plain(struct kunit *test)
{
	const unsigned long all = VM_READ | VM_WRITE | VM_EXEC | VM_SHARED;
	struct page *page = alloc_page(GFP_KERNEL);
	unsigned long pfns[3], vm_flags, i;
	pte_t pte;

	KUNIT_ASSERT_NOT_NULL(test, page);
	pfns[0] = 1;
	pfns[1] = my_zero_pfn(0);
	pfns[2] = page_to_pfn(page);
	for (vm_flags = 0; vm_flags <= all; vm_flags++) {
		pgprot_t prot;
		int usable;

		if (vm_flags & ~all)
			continue;
		prot = vm_get_page_prot(vm_flags);
		/* Without NUMA balancing a PROT_NONE PTE counts as present. */
		usable = vm_flags & (VM_READ | VM_WRITE | VM_EXEC) ? 1 : -1;
		for (i = 0; i < ARRAY_SIZE(pfns); i++) {
			pte = pfn_pte(pfns[i], prot);
			hmmt_check_plain(test, pte, usable, "pfn_pte", vm_flags);
			hmmt_check_plain(test, pte_mkspecial(pte), 0, "special",
					 vm_flags);
#ifdef CONFIG_ARCH_HAS_PTE_DEVMAP
			hmmt_check_plain(test, pte_mkdevmap(pte), -1, "devmap",
					 vm_flags);
#endif
			hmmt_check_plain(test, pte_mkold(pte), usable, "old",
					 vm_flags);
			hmmt_check_plain(test, pte_mkyoung(pte), usable, "young",
					 vm_flags);
			hmmt_check_plain(test, pte_mkclean(pte), usable, "clean",
					 vm_flags);
			hmmt_check_plain(test, pte_mkdirty(pte), usable, "dirty",
					 vm_flags);
			hmmt_check_plain(test, pte_wrprotect(pte), usable,
					 "read-only", vm_flags);
			hmmt_check_plain(test, pte_mkwrite(pte), usable,
					 "writable", vm_flags);
#ifdef CONFIG_NUMA_BALANCING
			/* What change_prot_numa() makes of it. */
			hmmt_check_plain(test, pte_modify(pte, PAGE_NONE), 0,
					 "NUMA hinting", vm_flags);
#endif
		}
	}
	hmmt_check_plain(test, __pte(0), 0, "empty", 0);
	hmmt_check_plain(test, swp_entry_to_pte(swp_entry(0, 1)), 0, "swap", 0);
	hmmt_check_plain(test,
			 swp_entry_to_pte(make_readable_migration_entry(pfns[2])),
			 0, "migration", 0);
	__free_page(page);
}

#if defined(CONFIG_ZONE_DEVICE) && defined(CONFIG_TRANSPARENT_HUGEPAGE) && \
	defined(CONFIG_ARCH_ENABLE_THP_MIGRATION)
/* What the core tells the driver of a 2 MiB device folio. */
static atomic_t hmmt_thp_freed;		/* pages given back */
static atomic_t hmmt_thp_split;		/* new folios reported */
static atomic_t hmmt_thp_faults;	/* migrate_to_ram() calls */

static void hmmt_thp_page_free(struct page *page)
{
	atomic_add(folio_nr_pages(page_folio(page)), &hmmt_thp_freed);
}

/* Each new folio of a split gets a mark only the callback leaves. */
static void hmmt_thp_folio_split(struct folio *head, struct folio *tail)
{
	tail->page.zone_device_data = head;
	atomic_inc(&hmmt_thp_split);
}

static vm_fault_t hmmt_thp_migrate_to_ram(struct vm_fault *vmf)
{
	atomic_inc(&hmmt_thp_faults);
	return VM_FAULT_SIGBUS;
}

static const struct dev_pagemap_ops hmmt_thp_ops = {
	.page_free	= hmmt_thp_page_free,
	.migrate_to_ram	= hmmt_thp_migrate_to_ram,
	.folio_split	= hmmt_thp_folio_split,
};

/*
 * migrate_vma over [@addr, @addr + @npages) with @flags, the source of
 * the first entry going to @dpage if given: a 2 MiB folio for a compound
 * entry, nothing moves otherwise. Nothing is copied: the device pages
 * have no memory behind them. Returns the first source entry after the
 * migration, or 0 if migrate_vma_setup() failed.
 */
static unsigned long hmmt_thp_migrate(struct hmmt_ctx *ctx, unsigned long addr,
				      unsigned long npages, unsigned long flags,
				      struct page *dpage)
{
	struct kunit *test = ctx->test;
	struct migrate_vma args = {
		.start		= addr,
		.end		= addr + (npages << PAGE_SHIFT),
		.pgmap_owner	= ctx,
		.flags		= flags,
	};
	unsigned long first = 0;

	args.src = kunit_kcalloc(test, npages, sizeof(*args.src), GFP_KERNEL);
	args.dst = kunit_kcalloc(test, npages, sizeof(*args.dst), GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, args.src);
	KUNIT_ASSERT_NOT_NULL(test, args.dst);

	lru_add_drain_all();
	mmap_read_lock(ctx->mm);
	args.vma = vma_lookup(ctx->mm, addr);
	if (args.vma && !migrate_vma_setup(&args)) {
		if (dpage && (args.src[0] & MIGRATE_PFN_MIGRATE) &&
		    (args.src[0] & MIGRATE_PFN_COMPOUND)) {
			zone_device_folio_init((struct folio *)dpage,
					       HPAGE_PMD_ORDER);
			args.dst[0] = migrate_pfn(page_to_pfn(dpage)) |
				      MIGRATE_PFN_COMPOUND;
		}
		migrate_vma_pages(&args);
		migrate_vma_finalize(&args);
		first = args.src[0];
	}
	mmap_read_unlock(ctx->mm);
	return first;
}

/*
 * A THP migrated whole into a 2 MiB device private folio: its owner sees
 * one PMD-sized mapping of it, anyone else nothing. Unmapping half of it
 * splits the mapping, not the folio; migrating one of its pages splits
 * the folio, which the driver hears about once per new folio, and the
 * pages nobody maps any more go back to the driver one by one. Every pin
 * on the map is returned: the map's teardown in hmmt_exit() waits for it.
 */
static void hmm_test_private_thp(struct kunit *test)
{
	struct hmmt_ctx *ctx = test->priv;
	const unsigned long nr = HPAGE_PMD_NR, half = nr / 2;
	unsigned long huge, pfn, i, src, write = HMM_PFN_WRITE;
	struct hmm_range range;
	struct hmmt_dev *dev;
	struct page *head;

	dev = hmmt_dev_add(ctx, MEMORY_DEVICE_PRIVATE, &hmmt_thp_ops);
	pfn = hmmt_dev_pfn(dev);
	KUNIT_ASSERT_TRUE(test, IS_ALIGNED(pfn, nr));
	head = pfn_to_page(pfn);
	huge = hmmt_setup_thp(ctx, &range);
	atomic_set(&hmmt_thp_freed, 0);
	atomic_set(&hmmt_thp_split, 0);
	atomic_set(&hmmt_thp_faults, 0);

	src = hmmt_thp_migrate(ctx, huge, nr, MIGRATE_VMA_SELECT_SYSTEM |
			       MIGRATE_VMA_SELECT_COMPOUND, head);
	KUNIT_ASSERT_TRUE(test, src & MIGRATE_PFN_MIGRATE);
	KUNIT_ASSERT_TRUE(test, src & MIGRATE_PFN_COMPOUND);

	/* The owner: one device private mapping of the PMD's order. */
	hmmt_range_init(ctx, &range, huge, nr, 0, 0);
	range.dev_private_owner = ctx;
	KUNIT_ASSERT_EQ(test, hmmt_fault(ctx, &range, NULL), 0);
	hmmt_expect_thp(test, &range, pfn, HMM_PFN_VALID | HMM_PFN_WRITE);
	KUNIT_EXPECT_TRUE(test,
			  is_device_private_page(head + nr - 1) &&
			  hmm_pfn_to_page(range.hmm_pfns[nr - 1]) == head + nr - 1);
#ifdef CONFIG_NUMA_BALANCING
	/*
	 * NUMA balancing leaves it read-only, and still one mapping (not
	 * counted as changed: nothing was present).
	 */
	hmmt_numa_hint(ctx, huge, nr);
	KUNIT_ASSERT_EQ(test, hmmt_fault(ctx, &range, NULL), 0);
	hmmt_expect_thp(test, &range, pfn, HMM_PFN_VALID);
	KUNIT_EXPECT_FALSE(test, range.hmm_pfns[0] & HMM_PFN_WRITE);
	write = 0;
#endif
	/* Anyone else: not present, and a snapshot moves nothing. */
	range.dev_private_owner = NULL;
	KUNIT_ASSERT_EQ(test, hmmt_fault(ctx, &range, NULL), 0);
	for (i = 0; i < nr; i++)
		if (range.hmm_pfns[i])
			break;
	KUNIT_EXPECT_EQ(test, i, nr);
	KUNIT_EXPECT_EQ(test, atomic_read(&hmmt_thp_faults), 0);

	/* Half unmapped: the rest is mapped by PTEs of the same folio. */
	KUNIT_ASSERT_EQ(test, hmmt_munmap(ctx, huge, half), 0);
	hmmt_range_init(ctx, &range, huge + half * PAGE_SIZE, half, 0, 0);
	range.dev_private_owner = ctx;
	KUNIT_ASSERT_EQ(test, hmmt_fault(ctx, &range, NULL), 0);
	for (i = 0; i < half; i++) {
		KUNIT_EXPECT_EQ(test, range.hmm_pfns[i],
				(pfn + half + i) | HMM_PFN_VALID | write);
		if (range.hmm_pfns[i] != ((pfn + half + i) | HMM_PFN_VALID | write))
			break;
	}
	KUNIT_EXPECT_EQ(test, folio_order(page_folio(head)),
			(unsigned int)HPAGE_PMD_ORDER);
	KUNIT_EXPECT_EQ(test, atomic_read(&hmmt_thp_split), 0);
	KUNIT_EXPECT_EQ(test, atomic_read(&hmmt_thp_freed), 0);

	/* Migrating one page (nowhere: nothing moves) splits the folio. */
	hmmt_thp_migrate(ctx, huge + (half + 10) * PAGE_SIZE, 1,
			 MIGRATE_VMA_SELECT_DEVICE_PRIVATE, NULL);
	KUNIT_EXPECT_EQ(test, atomic_read(&hmmt_thp_split), (int)nr - 1);
	KUNIT_EXPECT_EQ(test, atomic_read(&hmmt_thp_freed), (int)half);
	for (i = half; i < nr; i++) {
		struct page *page = head + i;

		KUNIT_EXPECT_FALSE(test, PageTail(page));
		KUNIT_EXPECT_EQ(test, folio_order(page_folio(page)), 0U);
		KUNIT_EXPECT_EQ(test, page_ref_count(page), 1);
		KUNIT_EXPECT_EQ(test, page_mapcount(page), 1);
		KUNIT_EXPECT_PTR_EQ(test, page_pgmap(page), &dev->pgmap);
		KUNIT_EXPECT_PTR_EQ(test, page->zone_device_data, (void *)head);
		if (PageTail(page) || page_ref_count(page) != 1)
			break;
	}
	KUNIT_ASSERT_EQ(test, hmmt_fault(ctx, &range, NULL), 0);
	KUNIT_EXPECT_EQ(test, range.hmm_pfns[10],
			(pfn + half + 10) | HMM_PFN_VALID | write);

	/* The rest unmapped: every page is back with the driver. */
	KUNIT_EXPECT_EQ(test, hmmt_munmap(ctx, huge + half * PAGE_SIZE, half), 0);
	KUNIT_EXPECT_EQ(test, atomic_read(&hmmt_thp_freed), (int)nr);
	KUNIT_EXPECT_EQ(test, atomic_read(&hmmt_thp_faults), 0);
}
#else
static void hmm_test_private_thp(struct kunit *test)
{
	kunit_skip(test, "needs ZONE_DEVICE, THP and THP migration");
}
#endif

static struct kunit_case hmm_test_cases[] = {
	KUNIT_CASE_PARAM(hmm_test_request_flags, hmmt_req_gen_params),
	KUNIT_CASE(hmm_test_write_breaks_zero_page),
	KUNIT_CASE_PARAM(hmm_test_unmirrorable, hmmt_unmirrorable_gen_params),
	KUNIT_CASE(hmm_test_hole_between_vmas),
	KUNIT_CASE(hmm_test_write_to_readonly),
	KUNIT_CASE(hmm_test_busy_after_invalidate),
	KUNIT_CASE(hmm_test_migration_entry),
	KUNIT_CASE(hmm_test_busy_after_munmap),
	KUNIT_CASE(hmm_test_thp_map_order),
	KUNIT_CASE(hmm_test_fault_without_progress),
	KUNIT_CASE(hmm_test_unlocked_fills),
	KUNIT_CASE(hmm_test_unlocked_deadline),
	KUNIT_CASE(hmm_test_devmap_pte),
	KUNIT_CASE(hmm_test_snapshot_as_full_walk),
	KUNIT_CASE(hmm_test_default_as_per_entry),
	KUNIT_CASE(hmm_test_pte_present_plain),
	KUNIT_CASE(hmm_test_swapin_error_entry),
	KUNIT_CASE(hmm_test_protnone_pte),
	KUNIT_CASE(hmm_test_protnone_pmd),
	KUNIT_CASE(hmm_test_own_readonly_private),
	KUNIT_CASE(hmm_test_evict_unmapped),
	KUNIT_CASE(hmm_test_evict_racing_munmap),
	KUNIT_CASE(hmm_test_private_thp),
	{}
};

static struct kunit_suite hmm_test_suite = {
	.name = "hmm_range_fault",
	.init = hmmt_init,
	.exit = hmmt_exit,
	.test_cases = hmm_test_cases,
};

kunit_test_suite(hmm_test_suite);

MODULE_LICENSE("GPL");

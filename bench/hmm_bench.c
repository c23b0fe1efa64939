// SPDX-License-Identifier: GPL-2.0
/*
 * hmm_bench - time the HMM core from inside the kernel.
 *
 * The same source is built against every kernel under comparison, so all of
 * them are measured by identical code. Each timed window (ktime_get() on
 * both sides) holds only the operation being measured; argument checks,
 * allocations, notifier setup and result checks stay outside it.
 *
 * The module owns a small pool of device-private memory (struct pages from
 * memremap_pages(), the data of each device page kept in a system page), so
 * migration to a device and back is timed without any other driver. Where
 * the kernel can move THPs whole (MIGRATE_VMA_SELECT_COMPOUND), a second
 * pool hands out 2 MiB device-private folios.
 */
#include <linux/delay.h>
#include <linux/highmem.h>
#include <linux/hmm.h>
#include <linux/ioport.h>
#include <linux/ktime.h>
#include <linux/memremap.h>
#include <linux/migrate.h>
#include <linux/miscdevice.h>
#include <linux/mm.h>
#include <linux/mmu_notifier.h>
#include <linux/module.h>
#include <linux/pagemap.h>
#include <linux/slab.h>
#include <linux/uaccess.h>
#include <linux/workqueue.h>

#include "hmm_bench_uapi.h"

static unsigned int dmem_mib = 64;
module_param(dmem_mib, uint, 0444);
MODULE_PARM_DESC(dmem_mib, "device-private memory to create, in MiB (default 64)");

#define BENCH_MAX_PAGES		(SZ_4G >> PAGE_SHIFT)
#define BENCH_MAX_NOTIFIERS	1000000UL
#define BENCH_MAX_ITERS		1000000000ULL
#define BENCH_MIGRATE_BATCH	512UL
#define BENCH_MAX_FLUSH_DEVS	16UL
#define BENCH_MAX_FLUSH_US	100000ULL

#ifdef MIGRATE_PFN_COMPOUND
#define BENCH_HAVE_THP
static unsigned int dmem_thp_mib = 64;
module_param(dmem_thp_mib, uint, 0444);
MODULE_PARM_DESC(dmem_thp_mib, "device-private memory in 2 MiB folios, in MiB (default 64)");
#endif

/* Device-private memory: struct pages only, the data lives in @backing. */
struct bench_dmem {
	struct dev_pagemap pgmap;
	struct resource *res;
	struct page **backing;
	unsigned long npages;
	spinlock_t lock;	/* protects @free */
	struct page *free;	/* linked through zone_device_data */
	atomic_long_t to_ram;	/* pages migrate_to_ram() brought back */
};

static struct bench_dmem dmem;

/*
 * Sequence updates of every notifier the module inserts are made under this
 * lock, as a driver makes them under its page-table lock.
 */
static DEFINE_SPINLOCK(bench_seq_lock);

/* A device of the flush benchmark: each invalidation flushes its TLB. */
struct bench_flush_dev {
	struct mmu_interval_notifier sub;
	unsigned int delay_us;
};

/* Per open file: the notifiers of the invalidation benchmarks. */
struct bench_file {
	struct mutex lock;	/* protects everything below */
	struct mmu_interval_notifier *subs;
	unsigned long nsubs;
	struct bench_flush_dev *devs;
	unsigned long ndevs;
};

static u64 bench_ns_since(ktime_t start)
{
	return ktime_to_ns(ktime_sub(ktime_get(), start));
}

static bool bench_invalidate(struct mmu_interval_notifier *sub,
			     const struct mmu_notifier_range *range,
			     unsigned long cur_seq)
{
	spin_lock(&bench_seq_lock);
	mmu_interval_set_seq(sub, cur_seq);
	spin_unlock(&bench_seq_lock);
	return true;
}

static const struct mmu_interval_notifier_ops bench_notifier_ops = {
	.invalidate = bench_invalidate,
};

/* Checks a user range and returns its end, or 0 when it is not usable. */
static unsigned long bench_range_end(const struct hmm_bench_req *req)
{
	unsigned long end;

	if (!req->addr || !PAGE_ALIGNED(req->addr) || !req->npages ||
	    req->npages > BENCH_MAX_PAGES)
		return 0;
	if (check_add_overflow((unsigned long)req->addr,
			       (unsigned long)req->npages << PAGE_SHIFT, &end) ||
	    end > TASK_SIZE)
		return 0;
	return end;
}

static int bench_snapshot(struct hmm_bench_req *req)
{
	struct mm_struct *mm = current->mm;
	struct mmu_interval_notifier *sub;
	struct hmm_range range = {
		.start = req->addr,
		.end = bench_range_end(req),
		.dev_private_owner = &dmem,
	};
	unsigned long i;
	ktime_t start;
	bool changed;
	int ret;

	if (!range.end ||
	    (req->flags & ~(HMM_BENCH_FAULT_WRITE | HMM_BENCH_SPARSE_FAULT)) ||
	    ((req->flags & HMM_BENCH_SPARSE_FAULT) && !req->iters))
		return -EINVAL;
	if (req->flags & HMM_BENCH_FAULT_WRITE)
		range.default_flags = HMM_PFN_REQ_FAULT | HMM_PFN_REQ_WRITE;

	range.hmm_pfns = kvcalloc(req->npages, sizeof(*range.hmm_pfns), GFP_KERNEL);
	sub = kzalloc(sizeof(*sub), GFP_KERNEL);
	if (!range.hmm_pfns || !sub) {
		ret = -ENOMEM;
		goto out;
	}
	if (req->flags & HMM_BENCH_SPARSE_FAULT) {
		range.pfn_flags_mask = HMM_PFN_REQ_FAULT;
		for (i = 0; i < req->npages; i += req->iters)
			range.hmm_pfns[i] = HMM_PFN_REQ_FAULT;
	}
	ret = mmu_interval_notifier_insert(sub, mm, range.start,
					   range.end - range.start,
					   &bench_notifier_ops);
	if (ret)
		goto out;
	range.notifier = sub;
	range.notifier_seq = mmu_interval_read_begin(sub);

	mmap_read_lock(mm);
	start = ktime_get();
	ret = hmm_range_fault(&range);
	req->ns = bench_ns_since(start);
	mmap_read_unlock(mm);

	spin_lock(&bench_seq_lock);
	changed = mmu_interval_read_retry(sub, range.notifier_seq);
	spin_unlock(&bench_seq_lock);
	mmu_interval_notifier_remove(sub);
	/* a snapshot something else invalidated did not time the pure walk */
	if (ret == -EBUSY || (!ret && changed)) {
		ret = -EAGAIN;
		goto out;
	}
	if (ret)
		goto out;

	req->count = 0;
	req->count2 = 0;
	for (i = 0; i < req->npages; i++) {
		unsigned long pfn = range.hmm_pfns[i];

		if (!(pfn & HMM_PFN_VALID))
			continue;
		req->count++;
		if (hmm_pfn_to_map_order(pfn) == PMD_SHIFT - PAGE_SHIFT)
			req->count2++;
	}
out:
	kfree(sub);
	kvfree(range.hmm_pfns);
	return ret;
}

#ifdef BENCH_HAVE_THP
/*
 * 2 MiB device-private folios, each backed by 512 contiguous system pages.
 * A folio the core splits comes back page by page: a block is free again
 * once all 512 of its pages are.
 */
struct bench_thp {
	struct dev_pagemap pgmap;
	struct resource *res;
	struct page **backing;	/* per block: an order-9 block of system pages */
	unsigned long nblocks;
	spinlock_t lock;	/* protects @free and @nfree */
	unsigned long *free;	/* stack of free block numbers */
	unsigned long nfree;
	atomic_t *freed;	/* pages of each block given back so far */
};

static struct bench_thp thp;

static bool bench_is_thp_page(struct page *page)
{
	return thp.nblocks && page_pgmap(page) == &thp.pgmap;
}

static unsigned long bench_thp_index(struct page *page)
{
	return page_to_pfn(page) - PHYS_PFN(thp.pgmap.range.start);
}
#endif

static struct page *bench_backing(struct page *dpage)
{
#ifdef BENCH_HAVE_THP
	if (bench_is_thp_page(dpage)) {
		unsigned long idx = bench_thp_index(dpage);

		return thp.backing[idx / HPAGE_PMD_NR] + idx % HPAGE_PMD_NR;
	}
#endif
	return dmem.backing[page_to_pfn(dpage) - PHYS_PFN(dmem.pgmap.range.start)];
}

static struct page *bench_dmem_alloc(void)
{
	struct page *page;

	spin_lock(&dmem.lock);
	page = dmem.free;
	if (page)
		dmem.free = page->zone_device_data;
	spin_unlock(&dmem.lock);
	if (!page)
		return NULL;
	page->zone_device_data = NULL;
	zone_device_page_init(page);
	return page;
}

static void bench_page_free(struct page *page)
{
	spin_lock(&dmem.lock);
	page->zone_device_data = dmem.free;
	dmem.free = page;
	spin_unlock(&dmem.lock);
}

/* Moves one device page back to a new system page, as a CPU fault needs. */
static vm_fault_t bench_migrate_to_ram(struct vm_fault *vmf)
{
	unsigned long src = 0, dst = 0;
	struct migrate_vma args = {
		.vma = vmf->vma,
		.start = vmf->address & PAGE_MASK,
		.end = (vmf->address & PAGE_MASK) + PAGE_SIZE,
		.src = &src,
		.dst = &dst,
		.pgmap_owner = &dmem,
		.flags = MIGRATE_VMA_SELECT_DEVICE_PRIVATE,
		.fault_page = vmf->page,
	};
	struct page *spage, *dpage;
	vm_fault_t ret = 0;

	if (migrate_vma_setup(&args))
		return VM_FAULT_SIGBUS;
	if (!args.cpages)
		return 0;
	spage = migrate_pfn_to_page(src);
	if (spage && (src & MIGRATE_PFN_MIGRATE)) {
		dpage = alloc_page_vma(GFP_HIGHUSER_MOVABLE, vmf->vma, args.start);
		if (dpage) {
			lock_page(dpage);
			copy_highpage(dpage, bench_backing(spage));
			dst = migrate_pfn(page_to_pfn(dpage));
			migrate_vma_pages(&args);
			if (src & MIGRATE_PFN_MIGRATE)
				atomic_long_inc(&dmem.to_ram);
		} else {
			ret = VM_FAULT_OOM;
		}
	}
	migrate_vma_finalize(&args);
	return ret;
}

static const struct dev_pagemap_ops bench_pgmap_ops = {
	.page_free = bench_page_free,
	.migrate_to_ram = bench_migrate_to_ram,
};

#ifdef BENCH_HAVE_THP
/* A locked 2 MiB device-private folio, or NULL when the pool is empty. */
static struct page *bench_thp_alloc(void)
{
	unsigned long block;
	struct page *page;

	spin_lock(&thp.lock);
	if (!thp.nfree) {
		spin_unlock(&thp.lock);
		return NULL;
	}
	block = thp.free[--thp.nfree];
	spin_unlock(&thp.lock);
	page = pfn_to_page(PHYS_PFN(thp.pgmap.range.start) + block * HPAGE_PMD_NR);
	zone_device_folio_init((struct folio *)page, HPAGE_PMD_ORDER);
	return page;
}

static void bench_thp_page_free(struct page *page)
{
	unsigned long block = bench_thp_index(page) / HPAGE_PMD_NR;

	if (atomic_add_return(folio_nr_pages(page_folio(page)),
			      &thp.freed[block]) < HPAGE_PMD_NR)
		return;
	atomic_set(&thp.freed[block], 0);
	spin_lock(&thp.lock);
	thp.free[thp.nfree++] = block;
	spin_unlock(&thp.lock);
}

/*
 * Fills dst[] for a migration back to system memory: a THP for a 2 MiB
 * device folio when one is to be had, small pages otherwise (the core then
 * splits the folio). Without @vma (eviction) small pages must not fail.
 */
static void bench_thp_copy_back(struct vm_area_struct *vma, unsigned long start,
				unsigned long *src, unsigned long *dst,
				unsigned long npages)
{
	unsigned long i, j, nr;

	for (i = 0; i < npages; i += nr) {
		struct page *spage = migrate_pfn_to_page(src[i]);
		unsigned long addr = start + (i << PAGE_SHIFT);
		struct folio *folio = NULL;
		struct page *dpage;

		nr = (src[i] & MIGRATE_PFN_COMPOUND) ? HPAGE_PMD_NR : 1;
		for (j = 0; j < nr; j++)
			dst[i + j] = 0;
		if (!spage || !(src[i] & MIGRATE_PFN_MIGRATE))
			continue;
		if (nr > 1)
			folio = vma ? vma_alloc_folio(GFP_TRANSHUGE_LIGHT | __GFP_NOWARN,
						      HPAGE_PMD_ORDER, vma, addr, true) :
				      folio_alloc(GFP_TRANSHUGE_LIGHT | __GFP_NOWARN,
						  HPAGE_PMD_ORDER);
		if (folio) {
			folio_lock(folio);
			for (j = 0; j < nr; j++)
				copy_highpage(folio_page(folio, j),
					      bench_backing(spage + j));
			dst[i] = migrate_pfn(folio_pfn(folio)) | MIGRATE_PFN_COMPOUND;
			continue;
		}
		for (j = 0; j < nr; j++) {
			dpage = vma ? alloc_page_vma(GFP_HIGHUSER_MOVABLE, vma,
						     addr + (j << PAGE_SHIFT)) :
				      alloc_page(GFP_HIGHUSER_MOVABLE | __GFP_NOFAIL);
			if (!dpage)
				continue;
			lock_page(dpage);
			copy_highpage(dpage, bench_backing(spage + j));
			dst[i + j] = migrate_pfn(page_to_pfn(dpage));
		}
	}
}

/* A CPU fault on a 2 MiB device folio brings the whole PMD back. */
static vm_fault_t bench_thp_migrate_to_ram(struct vm_fault *vmf)
{
	unsigned long start = ALIGN_DOWN(vmf->address, HPAGE_PMD_SIZE), i;
	struct migrate_vma args = {
		.vma = vmf->vma,
		.start = start,
		.end = start + HPAGE_PMD_SIZE,
		.pgmap_owner = &dmem,
		.flags = MIGRATE_VMA_SELECT_DEVICE_PRIVATE | MIGRATE_VMA_SELECT_COMPOUND,
		.fault_page = vmf->page,
	};
	vm_fault_t ret = 0;

	/* A page of a folio split earlier: move just that page. */
	if (start < vmf->vma->vm_start || args.end > vmf->vma->vm_end ||
	    !folio_test_large(page_folio(vmf->page))) {
		args.start = vmf->address & PAGE_MASK;
		args.end = args.start + PAGE_SIZE;
		args.flags = MIGRATE_VMA_SELECT_DEVICE_PRIVATE;
	}
	args.src = kcalloc(HPAGE_PMD_NR, sizeof(*args.src), GFP_KERNEL);
	args.dst = kcalloc(HPAGE_PMD_NR, sizeof(*args.dst), GFP_KERNEL);
	if (!args.src || !args.dst) {
		ret = VM_FAULT_OOM;
		goto out;
	}
	if (migrate_vma_setup(&args)) {
		ret = VM_FAULT_SIGBUS;
		goto out;
	}
	bench_thp_copy_back(args.vma, args.start, args.src, args.dst, args.npages);
	migrate_vma_pages(&args);
	for (i = 0; i < args.npages; i++)
		if (args.dst[i] && (args.src[i] & MIGRATE_PFN_MIGRATE))
			atomic_long_add((args.src[i] & MIGRATE_PFN_COMPOUND) ?
					HPAGE_PMD_NR : 1, &dmem.to_ram);
	migrate_vma_finalize(&args);
out:
	kfree(args.src);
	kfree(args.dst);
	return ret;
}

static const struct dev_pagemap_ops bench_thp_ops = {
	.page_free = bench_thp_page_free,
	.migrate_to_ram = bench_thp_migrate_to_ram,
};

/*
 * Migrates [start, end) of @vma, THPs whole into 2 MiB device folios
 * (small device pages when the pool is empty); returns the pages moved,
 * and in @large those moved in 2 MiB folios.
 */
static unsigned long bench_migrate_batch_thp(struct vm_area_struct *vma,
					     unsigned long start, unsigned long end,
					     unsigned long *src, unsigned long *dst,
					     unsigned long *large)
{
	struct migrate_vma args = {
		.vma = vma,
		.start = start,
		.end = end,
		.src = src,
		.dst = dst,
		.pgmap_owner = &dmem,
		.flags = MIGRATE_VMA_SELECT_SYSTEM | MIGRATE_VMA_SELECT_COMPOUND,
	};
	unsigned long i, j, nr, moved = 0;

	if (migrate_vma_setup(&args))
		return 0;
	for (i = 0; i < args.npages; i += nr) {
		struct page *spage = migrate_pfn_to_page(src[i]);
		struct page *dpage;

		nr = (src[i] & MIGRATE_PFN_COMPOUND) ? HPAGE_PMD_NR : 1;
		for (j = 0; j < nr; j++)
			dst[i + j] = 0;
		if (!(src[i] & MIGRATE_PFN_MIGRATE))
			continue;
		dpage = nr > 1 ? bench_thp_alloc() : NULL;
		if (dpage) {
			for (j = 0; j < nr; j++) {
				if (spage)
					copy_highpage(bench_backing(dpage + j), spage + j);
				else
					clear_highpage(bench_backing(dpage + j));
			}
			dst[i] = migrate_pfn(page_to_pfn(dpage)) | MIGRATE_PFN_COMPOUND;
			continue;
		}
		for (j = 0; j < nr; j++) {
			dpage = bench_dmem_alloc();
			if (!dpage)
				break;
			if (spage)
				copy_highpage(bench_backing(dpage), spage + j);
			else
				clear_highpage(bench_backing(dpage));
			dst[i + j] = migrate_pfn(page_to_pfn(dpage));
		}
	}
	migrate_vma_pages(&args);
	for (i = 0; i < args.npages; i++) {
		if (!dst[i] || !(src[i] & MIGRATE_PFN_MIGRATE))
			continue;
		nr = (src[i] & MIGRATE_PFN_COMPOUND) ? HPAGE_PMD_NR : 1;
		moved += nr;
		if (nr > 1)
			*large += nr;
	}
	migrate_vma_finalize(&args);
	return moved;
}
#endif

/* Migrates [start, end) of @vma to device pages; returns the pages moved. */
static unsigned long bench_migrate_batch(struct vm_area_struct *vma,
					 unsigned long start, unsigned long end,
					 unsigned long *src, unsigned long *dst)
{
	struct migrate_vma args = {
		.vma = vma,
		.start = start,
		.end = end,
		.src = src,
		.dst = dst,
		.pgmap_owner = &dmem,
		.flags = MIGRATE_VMA_SELECT_SYSTEM,
	};
	unsigned long i, moved = 0;

	if (migrate_vma_setup(&args))
		return 0;
	for (i = 0; i < args.npages; i++) {
		struct page *spage = migrate_pfn_to_page(src[i]);
		struct page *dpage;

		dst[i] = 0;
		if (!(src[i] & MIGRATE_PFN_MIGRATE))
			continue;
		dpage = bench_dmem_alloc();
		if (!dpage)
			continue;
		if (spage)
			copy_highpage(bench_backing(dpage), spage);
		else
			clear_highpage(bench_backing(dpage));
		dst[i] = migrate_pfn(page_to_pfn(dpage));
	}
	migrate_vma_pages(&args);
	for (i = 0; i < args.npages; i++)
		if (dst[i] && (src[i] & MIGRATE_PFN_MIGRATE))
			moved++;
	migrate_vma_finalize(&args);
	return moved;
}

/* Faults every page of [start, end) as a CPU read does; 0 or -EFAULT. */
static int bench_fault_range(struct vm_area_struct *vma, unsigned long start,
			     unsigned long end)
{
	unsigned long addr;

	for (addr = start; addr < end; addr += PAGE_SIZE)
		if (handle_mm_fault(vma, addr, 0, NULL) & VM_FAULT_ERROR)
			return -EFAULT;
	return 0;
}

static int bench_migrate(struct hmm_bench_req *req)
{
	unsigned long start = req->addr, end = bench_range_end(req), addr;
	struct mm_struct *mm = current->mm;
	unsigned long *src, *dst;
	struct vm_area_struct *vma;
	ktime_t t0;
	int ret = 0;

	if (!end || (req->flags & ~(HMM_BENCH_ONE_WAY | HMM_BENCH_THP)) ||
	    req->npages > dmem.npages)
		return -EINVAL;
#ifndef BENCH_HAVE_THP
	if (req->flags & HMM_BENCH_THP)
		return -EOPNOTSUPP;
#endif
	src = kcalloc(BENCH_MIGRATE_BATCH, sizeof(*src), GFP_KERNEL);
	dst = kcalloc(BENCH_MIGRATE_BATCH, sizeof(*dst), GFP_KERNEL);
	if (!src || !dst) {
		ret = -ENOMEM;
		goto out;
	}

	mmap_read_lock(mm);
	vma = vma_lookup(mm, start);
	if (!vma || end > vma->vm_end || !vma_is_anonymous(vma)) {
		mmap_read_unlock(mm);
		ret = -EINVAL;
		goto out;
	}
	req->count = 0;
	req->iters = 0;
	t0 = ktime_get();
	for (addr = start; addr < end; addr += BENCH_MIGRATE_BATCH << PAGE_SHIFT) {
		unsigned long next = min(end, addr + (BENCH_MIGRATE_BATCH << PAGE_SHIFT));

#ifdef BENCH_HAVE_THP
		if (req->flags & HMM_BENCH_THP) {
			unsigned long large = 0;

			req->count += bench_migrate_batch_thp(vma, addr, next,
							      src, dst, &large);
			req->iters += large;
			continue;
		}
#endif
		req->count += bench_migrate_batch(vma, addr, next, src, dst);
	}
	req->ns = bench_ns_since(t0);
	mmap_read_unlock(mm);
	if (req->flags & HMM_BENCH_ONE_WAY)
		goto out;

	atomic_long_set(&dmem.to_ram, 0);
	mmap_read_lock(mm);
	vma = vma_lookup(mm, start);
	if (!vma || end > vma->vm_end) {
		mmap_read_unlock(mm);
		ret = -EINVAL;
		goto out;
	}
	t0 = ktime_get();
	ret = bench_fault_range(vma, start, end);
	req->ns2 = bench_ns_since(t0);
	mmap_read_unlock(mm);
	req->count2 = atomic_long_read(&dmem.to_ram);
out:
	kfree(dst);
	kfree(src);
	return ret;
}

static void bench_notifiers_remove(struct bench_file *bf)
{
	unsigned long i;

	for (i = 0; i < bf->nsubs; i++)
		mmu_interval_notifier_remove(&bf->subs[i]);
	kvfree(bf->subs);
	bf->subs = NULL;
	bf->nsubs = 0;
	for (i = 0; i < bf->ndevs; i++)
		mmu_interval_notifier_remove(&bf->devs[i].sub);
	kfree(bf->devs);
	bf->devs = NULL;
	bf->ndevs = 0;
}

/*
 * A simulated device TLB flush: a work item that completes after the
 * device's delay, started by the invalidation and waited for by it, at
 * once (one pass) or after every device has started its own (two passes).
 */
struct bench_flush {
#ifdef HMM_BENCH_TWO_PASS_OPS
	struct mmu_interval_notifier_finish finish;
#endif
	struct work_struct work;
	struct completion done;
	unsigned int delay_us;
};

static void bench_flush_work(struct work_struct *work)
{
	struct bench_flush *f = container_of(work, struct bench_flush, work);

	usleep_range(f->delay_us, f->delay_us + 10);
	complete(&f->done);
}

/* Unmap (the sequence), start the flush; NULL when there is none to wait for. */
static struct bench_flush *bench_flush_start(struct mmu_interval_notifier *sub,
					     const struct mmu_notifier_range *range,
					     unsigned long cur_seq)
{
	struct bench_flush_dev *dev = container_of(sub, struct bench_flush_dev, sub);
	struct bench_flush *f;

	spin_lock(&bench_seq_lock);
	mmu_interval_set_seq(sub, cur_seq);
	spin_unlock(&bench_seq_lock);
	if (!mmu_notifier_range_blockable(range))
		return NULL;
	f = kmalloc(sizeof(*f), GFP_NOWAIT | __GFP_NOWARN);
	if (!f) {
		usleep_range(dev->delay_us, dev->delay_us + 10);
		return NULL;
	}
	INIT_WORK(&f->work, bench_flush_work);
	init_completion(&f->done);
	f->delay_us = dev->delay_us;
	queue_work(system_unbound_wq, &f->work);
	return f;
}

static void bench_flush_wait(struct bench_flush *f)
{
	wait_for_completion(&f->done);
	kfree(f);
}

static bool bench_flush_invalidate(struct mmu_interval_notifier *sub,
				   const struct mmu_notifier_range *range,
				   unsigned long cur_seq)
{
	struct bench_flush *f = bench_flush_start(sub, range, cur_seq);

	if (f)
		bench_flush_wait(f);
	return true;
}

static const struct mmu_interval_notifier_ops bench_flush_ops = {
	.invalidate = bench_flush_invalidate,
};

#ifdef HMM_BENCH_TWO_PASS_OPS
static bool bench_flush_invalidate_start(struct mmu_interval_notifier *sub,
					 const struct mmu_notifier_range *range,
					 unsigned long cur_seq,
					 struct mmu_interval_notifier_finish **finish)
{
	struct bench_flush *f = bench_flush_start(sub, range, cur_seq);

	if (f)
		*finish = &f->finish;
	return true;
}

static void bench_flush_invalidate_finish(struct mmu_interval_notifier_finish *finish)
{
	bench_flush_wait(container_of(finish, struct bench_flush, finish));
}

static const struct mmu_interval_notifier_ops bench_flush_two_pass_ops = {
	.invalidate_start = bench_flush_invalidate_start,
	.invalidate_finish = bench_flush_invalidate_finish,
};
#endif

/* req->iters devices over the page at req->addr, flushing req->npages us. */
static int bench_flush_insert(struct bench_file *bf, struct hmm_bench_req *req)
{
	const struct mmu_interval_notifier_ops *ops = &bench_flush_ops;
	unsigned long i;
	int ret = 0;

	if (!req->addr || !PAGE_ALIGNED(req->addr) || req->addr >= TASK_SIZE ||
	    !req->iters || req->iters > BENCH_MAX_FLUSH_DEVS ||
	    req->npages > BENCH_MAX_FLUSH_US)
		return -EINVAL;
	if (req->flags & HMM_BENCH_TWO_PASS) {
#ifdef HMM_BENCH_TWO_PASS_OPS
		ops = &bench_flush_two_pass_ops;
#else
		return -EOPNOTSUPP;
#endif
	}
	if (bf->devs)
		return -EBUSY;
	bf->devs = kcalloc(req->iters, sizeof(*bf->devs), GFP_KERNEL);
	if (!bf->devs)
		return -ENOMEM;
	for (i = 0; i < req->iters; i++) {
		bf->devs[i].delay_us = req->npages;
		ret = mmu_interval_notifier_insert(&bf->devs[i].sub, current->mm,
						   req->addr, PAGE_SIZE, ops);
		if (ret)
			break;
		bf->ndevs++;
	}
	if (ret)
		bench_notifiers_remove(bf);
	return ret;
}

/*
 * Inserts req->iters notifiers over disjoint one-page ranges: the first over
 * the page at req->addr, the others over the pages above it, so an
 * invalidation of that page overlaps exactly one of them.
 */
static int bench_notifiers_insert(struct bench_file *bf, struct hmm_bench_req *req)
{
	struct hmm_bench_req span = { .addr = req->addr, .npages = req->iters };
	unsigned long i;
	int ret = 0;

	if (!req->iters || req->iters > BENCH_MAX_NOTIFIERS || !bench_range_end(&span))
		return -EINVAL;
	if (bf->subs)
		return -EBUSY;
	bf->subs = kvcalloc(req->iters, sizeof(*bf->subs), GFP_KERNEL);
	if (!bf->subs)
		return -ENOMEM;
	for (i = 0; i < req->iters; i++) {
		ret = mmu_interval_notifier_insert(&bf->subs[i], current->mm,
						   req->addr + (i << PAGE_SHIFT),
						   PAGE_SIZE, &bench_notifier_ops);
		if (ret)
			break;
		bf->nsubs++;
	}
	if (ret)
		bench_notifiers_remove(bf);
	return ret;
}

static int bench_seq(struct hmm_bench_req *req)
{
	struct mmu_interval_notifier *sub;
	unsigned long seq;
	u64 i, retries = 0;
	ktime_t t0;
	int ret;

	if (!req->addr || !PAGE_ALIGNED(req->addr) || req->addr >= TASK_SIZE ||
	    !req->iters || req->iters > BENCH_MAX_ITERS)
		return -EINVAL;
	sub = kzalloc(sizeof(*sub), GFP_KERNEL);
	if (!sub)
		return -ENOMEM;
	ret = mmu_interval_notifier_insert(sub, current->mm, req->addr, PAGE_SIZE,
					   &bench_notifier_ops);
	if (ret)
		goto out;
	t0 = ktime_get();
	for (i = 0; i < req->iters; i++) {
		seq = mmu_interval_read_begin(sub);
		if (mmu_interval_read_retry(sub, seq))
			retries++;
	}
	req->ns = bench_ns_since(t0);
	req->count = retries;
	mmu_interval_notifier_remove(sub);
out:
	kfree(sub);
	return ret;
}

/* The reference: one u64 read and one u64 written per page. */
static int bench_mempass(struct hmm_bench_req *req)
{
	u64 *in, *out, i;
	ktime_t t0;

	if (!req->npages || req->npages > BENCH_MAX_PAGES)
		return -EINVAL;
	in = kvmalloc_array(req->npages, sizeof(*in), GFP_KERNEL);
	out = kvmalloc_array(req->npages, sizeof(*out), GFP_KERNEL);
	if (!in || !out) {
		kvfree(in);
		kvfree(out);
		return -ENOMEM;
	}
	for (i = 0; i < req->npages; i++) {
		in[i] = (i << PAGE_SHIFT) | 0x67;
		out[i] = 0;
	}
	t0 = ktime_get();
	for (i = 0; i < req->npages; i++)
		WRITE_ONCE(out[i], READ_ONCE(in[i]));
	req->ns = bench_ns_since(t0);
	req->count = out[req->npages - 1] == in[req->npages - 1];
	kvfree(in);
	kvfree(out);
	return 0;
}

static int bench_open(struct inode *inode, struct file *file)
{
	struct bench_file *bf = kzalloc(sizeof(*bf), GFP_KERNEL);

	if (!bf)
		return -ENOMEM;
	mutex_init(&bf->lock);
	file->private_data = bf;
	return 0;
}

static int bench_release(struct inode *inode, struct file *file)
{
	struct bench_file *bf = file->private_data;

	bench_notifiers_remove(bf);
	mutex_destroy(&bf->lock);
	kfree(bf);
	return 0;
}

static long bench_ioctl(struct file *file, unsigned int cmd, unsigned long arg)
{
	struct bench_file *bf = file->private_data;
	void __user *uarg = (void __user *)arg;
	struct hmm_bench_req req;
	long ret;

	if (!current->mm)
		return -EINVAL;
	if (cmd == HMM_BENCH_NOTIFIERS_DEL) {
		mutex_lock(&bf->lock);
		bench_notifiers_remove(bf);
		mutex_unlock(&bf->lock);
		return 0;
	}
	if (_IOC_SIZE(cmd) != sizeof(req))
		return -EINVAL;
	if (copy_from_user(&req, uarg, sizeof(req)))
		return -EFAULT;

	mutex_lock(&bf->lock);
	switch (cmd) {
	case HMM_BENCH_SNAPSHOT:
		ret = bench_snapshot(&req);
		break;
	case HMM_BENCH_MIGRATE:
		ret = bench_migrate(&req);
		break;
	case HMM_BENCH_NOTIFIERS:
		ret = bench_notifiers_insert(bf, &req);
		break;
	case HMM_BENCH_FLUSH_NOTIFIERS:
		ret = bench_flush_insert(bf, &req);
		break;
	case HMM_BENCH_SEQ:
		ret = bench_seq(&req);
		break;
	case HMM_BENCH_MEMPASS:
		ret = bench_mempass(&req);
		break;
	default:
		ret = -EINVAL;
		break;
	}
	mutex_unlock(&bf->lock);

	if (!ret && copy_to_user(uarg, &req, sizeof(req)))
		ret = -EFAULT;
	return ret;
}

static const struct file_operations bench_fops = {
	.owner = THIS_MODULE,
	.open = bench_open,
	.release = bench_release,
	.unlocked_ioctl = bench_ioctl,
	.llseek = noop_llseek,
};

static struct miscdevice bench_misc = {
	.minor = MISC_DYNAMIC_MINOR,
	.name = "hmm_bench",
	.fops = &bench_fops,
};

static void bench_backing_free(void)
{
	unsigned long i;

	for (i = 0; i < dmem.npages; i++)
		if (dmem.backing[i])
			__free_page(dmem.backing[i]);
	kvfree(dmem.backing);
	dmem.backing = NULL;
}

static int bench_dmem_create(void)
{
	unsigned long size = (unsigned long)dmem_mib << 20, i, first;
	void *ptr;
	int ret;

	if (!dmem_mib || dmem_mib > 4096)
		return -EINVAL;
	spin_lock_init(&dmem.lock);
	dmem.npages = size >> PAGE_SHIFT;
	dmem.backing = kvcalloc(dmem.npages, sizeof(*dmem.backing), GFP_KERNEL);
	if (!dmem.backing)
		return -ENOMEM;
	for (i = 0; i < dmem.npages; i++) {
		dmem.backing[i] = alloc_page(GFP_HIGHUSER);
		if (!dmem.backing[i]) {
			ret = -ENOMEM;
			goto free_backing;
		}
	}

	dmem.res = request_free_mem_region(&iomem_resource, size, "hmm_bench");
	if (IS_ERR(dmem.res)) {
		ret = PTR_ERR(dmem.res);
		goto free_backing;
	}
	dmem.pgmap.type = MEMORY_DEVICE_PRIVATE;
	dmem.pgmap.range.start = dmem.res->start;
	dmem.pgmap.range.end = dmem.res->end;
	dmem.pgmap.nr_range = 1;
	dmem.pgmap.ops = &bench_pgmap_ops;
	dmem.pgmap.owner = &dmem;
	ptr = memremap_pages(&dmem.pgmap, numa_node_id());
	if (IS_ERR(ptr)) {
		ret = PTR_ERR(ptr);
		goto release;
	}

	/* lowest pfn first out, so a migration walks device memory in order */
	first = PHYS_PFN(dmem.pgmap.range.start);
	for (i = dmem.npages; i-- > 0;) {
		struct page *page = pfn_to_page(first + i);

		page->zone_device_data = dmem.free;
		dmem.free = page;
	}
	return 0;

release:
	release_mem_region(dmem.res->start, resource_size(dmem.res));
free_backing:
	bench_backing_free();
	return ret;
}

#ifdef BENCH_HAVE_THP
static void bench_thp_backing_free(void)
{
	unsigned long i;

	for (i = 0; thp.backing && i < thp.nblocks; i++)
		if (thp.backing[i])
			__free_pages(thp.backing[i], HPAGE_PMD_ORDER);
	kvfree(thp.backing);
	kvfree(thp.free);
	kvfree(thp.freed);
	thp.backing = NULL;
	thp.free = NULL;
	thp.freed = NULL;
}

static int bench_thp_create(void)
{
	unsigned long size = (unsigned long)dmem_thp_mib << 20, i;
	void *ptr;
	int ret = -ENOMEM;

	if (!dmem_thp_mib)
		return 0;
	if (dmem_thp_mib > 4096 || !IS_ALIGNED(size, HPAGE_PMD_SIZE))
		return -EINVAL;
	spin_lock_init(&thp.lock);
	thp.nblocks = size / HPAGE_PMD_SIZE;
	thp.backing = kvcalloc(thp.nblocks, sizeof(*thp.backing), GFP_KERNEL);
	thp.free = kvcalloc(thp.nblocks, sizeof(*thp.free), GFP_KERNEL);
	thp.freed = kvcalloc(thp.nblocks, sizeof(*thp.freed), GFP_KERNEL);
	if (!thp.backing || !thp.free || !thp.freed)
		goto free;
	for (i = 0; i < thp.nblocks; i++) {
		thp.backing[i] = alloc_pages(GFP_HIGHUSER | __GFP_NOWARN,
					     HPAGE_PMD_ORDER);
		if (!thp.backing[i])
			goto free;
	}
	/* lowest block first out */
	for (i = 0; i < thp.nblocks; i++)
		thp.free[i] = thp.nblocks - 1 - i;
	thp.nfree = thp.nblocks;

	thp.res = request_free_mem_region(&iomem_resource, size, "hmm_bench");
	if (IS_ERR(thp.res)) {
		ret = PTR_ERR(thp.res);
		goto free;
	}
	thp.pgmap.type = MEMORY_DEVICE_PRIVATE;
	thp.pgmap.range.start = thp.res->start;
	thp.pgmap.range.end = thp.res->end;
	thp.pgmap.nr_range = 1;
	thp.pgmap.ops = &bench_thp_ops;
	thp.pgmap.owner = &dmem;
	ptr = memremap_pages(&thp.pgmap, numa_node_id());
	if (IS_ERR(ptr)) {
		ret = PTR_ERR(ptr);
		release_mem_region(thp.res->start, resource_size(thp.res));
		goto free;
	}
	return 0;
free:
	bench_thp_backing_free();
	thp.nblocks = 0;
	/* The THP benchmark then reports what is missing; the rest runs. */
	pr_warn("hmm_bench: no 2 MiB device folios: %d\n", ret);
	return 0;
}

/* Brings back every 2 MiB folio still in use, then drops the pool. */
static void bench_thp_destroy(void)
{
	unsigned long n = thp.nblocks * HPAGE_PMD_NR, *src, *dst;

	if (!thp.nblocks)
		return;
	src = kvcalloc(n, sizeof(*src), GFP_KERNEL | __GFP_NOFAIL);
	dst = kvcalloc(n, sizeof(*dst), GFP_KERNEL | __GFP_NOFAIL);
	migrate_device_range(src, PHYS_PFN(thp.pgmap.range.start), n);
	bench_thp_copy_back(NULL, 0, src, dst, n);
	migrate_device_pages(src, dst, n);
	migrate_device_finalize(src, dst, n);
	kvfree(dst);
	kvfree(src);
	memunmap_pages(&thp.pgmap);
	release_mem_region(thp.res->start, resource_size(thp.res));
	bench_thp_backing_free();
	thp.nblocks = 0;
}
#else
static int bench_thp_create(void)
{
	return 0;
}

static void bench_thp_destroy(void)
{
}
#endif

/* Brings back to system memory every device page still in use. */
static void bench_dmem_evict(void)
{
	unsigned long *src, *dst, i;

	src = kvcalloc(dmem.npages, sizeof(*src), GFP_KERNEL | __GFP_NOFAIL);
	dst = kvcalloc(dmem.npages, sizeof(*dst), GFP_KERNEL | __GFP_NOFAIL);
	migrate_device_range(src, PHYS_PFN(dmem.pgmap.range.start), dmem.npages);
	for (i = 0; i < dmem.npages; i++) {
		struct page *dpage;

		if (!(src[i] & MIGRATE_PFN_MIGRATE))
			continue;
		/* the data has nowhere else to go: wait for memory */
		dpage = alloc_page(GFP_HIGHUSER | __GFP_NOFAIL);
		lock_page(dpage);
		copy_highpage(dpage, dmem.backing[i]);
		dst[i] = migrate_pfn(page_to_pfn(dpage));
	}
	migrate_device_pages(src, dst, dmem.npages);
	migrate_device_finalize(src, dst, dmem.npages);
	kvfree(dst);
	kvfree(src);
}

static void bench_dmem_destroy(void)
{
	bench_dmem_evict();
	memunmap_pages(&dmem.pgmap);
	release_mem_region(dmem.res->start, resource_size(dmem.res));
	bench_backing_free();
}

static int __init bench_init(void)
{
	int ret;

	ret = bench_dmem_create();
	if (ret)
		return ret;
	ret = bench_thp_create();
	if (ret) {
		bench_dmem_destroy();
		return ret;
	}
	ret = misc_register(&bench_misc);
	if (ret) {
		bench_thp_destroy();
		bench_dmem_destroy();
	}
	return ret;
}

static void __exit bench_exit(void)
{
	misc_deregister(&bench_misc);
	bench_thp_destroy();
	bench_dmem_destroy();
}

module_init(bench_init);
module_exit(bench_exit);
MODULE_DESCRIPTION("HMM core benchmarks, timed in the kernel");
MODULE_LICENSE("GPL");

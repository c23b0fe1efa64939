// SPDX-License-Identifier: GPL-2.0
/*
 * HMM test driver: simulated devices that mirror a process address space.
 *
 * Every /dev/hmm_dmirrorN node plays a GPU. Opening it attaches a mirror to
 * the caller's mm: a device page table (an xarray indexed by virtual page
 * number) that hmm_range_fault() fills and an mmu_interval_notifier keeps
 * coherent with the CPU page tables. The ioctls of test_hmm_uapi.h make the
 * device read, write, snapshot, migrate or take exclusive access to parts of
 * that address space; tools/testing/selftests/vm/hmm-tests.c drives them.
 *
 * Devices 0 and 1 own device private memory: ZONE_DEVICE pages the CPU cannot
 * map, each one paired while in use with a hidden system page that stands in
 * for the device's RAM. Devices 2 and 3 exist only when spm_addr_dev0 and
 * spm_addr_dev1 name reserved physical memory; they own device coherent
 * memory carved out of it, which the CPU maps like any other page.
 */
#include <linux/cdev.h>
#include <linux/delay.h>
#include <linux/device.h>
#include <linux/fs.h>
#include <linux/highmem.h>
#include <linux/hmm.h>
#include <linux/ioport.h>
#include <linux/kernel.h>
#include <linux/memremap.h>
#include <linux/migrate.h>
#include <linux/mm.h>
#include <linux/mmu_notifier.h>
#include <linux/module.h>
#include <linux/mutex.h>
#include <linux/pagemap.h>
#include <linux/rmap.h>
#include <linux/sched/mm.h>
#include <linux/sched/signal.h>
#include <linux/slab.h>
#include <linux/spinlock.h>
#include <linux/uaccess.h>
#include <linux/workqueue.h>
#include <linux/xarray.h>
#ifdef CONFIG_X86
#include <asm/e820/api.h>
#endif

#include "test_hmm_uapi.h"

#define DMIRROR_NDEVICES	4
#define DMIRROR_NPRIVATE	2

/* Device memory comes and goes in chunks of this size. */
#define DMIRROR_CHUNK_SIZE	(256UL << 20)
#define DMIRROR_CHUNK_PAGES	(DMIRROR_CHUNK_SIZE >> PAGE_SHIFT)
/* A private device grows to at most this many chunks (4 GiB). */
#define DMIRROR_MAX_CHUNKS	16

/* Pages per hmm_range_fault() or exclusive access step. */
#define DMIRROR_BATCH		64
/*
 * Pages per migrate_vma_setup() or eviction step: a PMD's worth, so that a
 * step can move a THP, or a 2 MiB device folio, whole.
 */
#define DMIRROR_MIGRATE_PAGES	(PMD_SIZE >> PAGE_SHIFT)
/* A mirror pass that keeps colliding with invalidations gives up after this. */
#define DMIRROR_MIRROR_TIMEOUT	msecs_to_jiffies(2000)
/* HMM_DMIRROR_RELEASE reports -EBUSY when memory stays in use this long. */
#define DMIRROR_RELEASE_PASSES	100
#define DMIRROR_RELEASE_WAIT_MS	10
/* Largest mapping of the device file (see dmirror_mmap()). */
#define DMIRROR_MMAP_MAX	(256UL << 20)

static unsigned long spm_addr_dev0;
module_param(spm_addr_dev0, ulong, 0444);
MODULE_PARM_DESC(spm_addr_dev0,
		 "Reserved physical memory (256 MiB) for device coherent /dev/hmm_dmirror2");

static unsigned long spm_addr_dev1;
module_param(spm_addr_dev1, ulong, 0444);
MODULE_PARM_DESC(spm_addr_dev1,
		 "Reserved physical memory (256 MiB) for device coherent /dev/hmm_dmirror3");

static unsigned int flush_delay_us;
module_param(flush_delay_us, uint, 0644);
MODULE_PARM_DESC(flush_delay_us,
		 "Simulated device TLB flush after each blockable invalidation, in microseconds (0: none)");

static bool two_pass;
module_param(two_pass, bool, 0644);
MODULE_PARM_DESC(two_pass,
		 "Mirrors opened while set invalidate in two passes: every device starts its flush, then all are waited for");

struct dmirror_device;

/*
 * One range of device memory. @used has a bit set for every page handed
 * out, alone or as part of a 2 MiB folio. A device private folio in use
 * keeps its backing system pages, one per page and contiguous, in the
 * zone_device_data of its head page.
 */
struct dmirror_chunk {
	struct dev_pagemap	pagemap;
	struct dmirror_device	*mdev;
	struct list_head	node;
	unsigned long		*used;
	unsigned long		nfree;
};

struct dmirror_device {
	struct device		dev;
	struct cdev		cdev;
	unsigned int		kind;		/* HMM_DMIRROR_MEMORY_DEVICE_* */
	phys_addr_t		spm_base;	/* device coherent memory only */
	bool			spm_claimed;
	/* Serialises growing and retiring; @nchunks includes retiring ones. */
	struct mutex		chunk_lock;
	unsigned int		nchunks;
	/* Protects @chunks (the chunks pages may be taken from) and free lists. */
	spinlock_t		lock;
	struct list_head	chunks;
	/* HMM_DMIRROR_FLAG_* bits, set by HMM_DMIRROR_FLAGS. */
	unsigned long		flags;
};

/*
 * One open file: the device page table of one address space. Entries are
 * struct page pointers tagged with the device's access. DPTE_ATOMIC entries
 * come from make_device_exclusive_range() and hold a page reference: they are
 * not published under the notifier sequence, so a racing unmap may leave
 * one behind until the next invalidation of its address, and the reference
 * keeps that page alive for the device meanwhile.
 */
enum {
	DPTE_READ	= 0,
	DPTE_WRITE	= 1,
	DPTE_ATOMIC	= 3,	/* includes DPTE_WRITE */
};

struct dmirror {
	struct mmu_interval_notifier	notifier;
	struct mm_struct		*mm;
	struct dmirror_device		*mdev;
	struct mutex			lock;	/* @pt and the notifier sequence */
	struct xarray			pt;
};

/* Per ioctl work space, too big for the stack. */
struct dmirror_scratch {
	unsigned long	pfns[DMIRROR_BATCH];
	struct page	*pages[DMIRROR_BATCH];
	u8		perm[DMIRROR_BATCH];
	unsigned long	*src;		/* DMIRROR_MIGRATE_PAGES each */
	unsigned long	*dst;
	void		*bounce;	/* one page */
	/*
	 * A step of a migration to the device that found no room: the
	 * largest order it wanted (-1: none), and whether the device failed
	 * to grow, so that the step is done again without more memory.
	 */
	int		grow_order;
	bool		no_grow;
	/* HMM_DMIRROR_FLAG_FAIL_ALLOC refused a large folio in this step */
	bool		large_refused;
	/* Fault through hmm_range_fault_unlocked_timeout() (*_UNLOCKED). */
	bool		unlocked;
};

/* What a mirror pass does with the pfns hmm_range_fault() returns. */
enum dmirror_pass {
	DMIRROR_FAULT_READ,	/* fault in and map everything */
	DMIRROR_FAULT_WRITE,	/* fault in writable and map everything */
	DMIRROR_MAP_LOCAL,	/* fault nothing, map this device's memory */
	DMIRROR_SNAPSHOT,	/* fault nothing, report what the CPU maps */
};

static dev_t dmirror_devt;
static struct dmirror_device *dmirror_devices[DMIRROR_NDEVICES];
/* Runs the simulated TLB flushes; reclaim may be waiting for one. */
static struct workqueue_struct *dmirror_flush_wq;
static const struct dev_pagemap_ops dmirror_pagemap_ops;

/* ---- device memory ---------------------------------------------------- */

static struct dmirror_chunk *dmirror_page_chunk(struct page *page)
{
	return container_of(page_pgmap(page), struct dmirror_chunk, pagemap);
}

static bool dmirror_page_is_ours(struct page *page)
{
	return is_zone_device_page(page) &&
	       page_pgmap(page)->ops == &dmirror_pagemap_ops;
}

static bool dmirror_page_is_local(struct dmirror_device *mdev,
				  struct page *page)
{
	return dmirror_page_is_ours(page) &&
	       dmirror_page_chunk(page)->mdev == mdev;
}

/*
 * The page holding the data the device sees through @page: the backing page
 * of our device private pages, @page itself for everything the CPU can
 * address, and NULL for private memory of some other driver.
 */
static struct page *dmirror_data_page(struct page *page)
{
	struct folio *folio;

	if (!is_device_private_page(page))
		return page;
	if (!dmirror_page_is_ours(page))
		return NULL;
	folio = page_folio(page);
	return (struct page *)folio->page.zone_device_data +
	       (page - &folio->page);
}

/* Index of @page in its chunk. */
static unsigned long dmirror_chunk_index(struct dmirror_chunk *chunk,
					 struct page *page)
{
	return page_to_pfn(page) - PHYS_PFN(chunk->pagemap.range.start);
}

/* The last reference to a page or 2 MiB folio is gone. */
static void dmirror_page_free(struct page *page)
{
	struct dmirror_chunk *chunk = dmirror_page_chunk(page);
	struct dmirror_device *mdev = chunk->mdev;
	unsigned long i, nr = folio_nr_pages(page_folio(page));

	if (is_device_private_page(page)) {
		struct page *backing = page->zone_device_data;

		for (i = 0; i < nr; i++)
			__free_page(backing + i);
	}

	spin_lock(&mdev->lock);
	bitmap_clear(chunk->used, dmirror_chunk_index(chunk, page), nr);
	chunk->nfree += nr;
	spin_unlock(&mdev->lock);
}

/*
 * The core splits one of our 2 MiB folios: @tail becomes a page of its
 * own, backed by its share of the folio's backing pages.
 */
static void dmirror_folio_split(struct folio *head, struct folio *tail)
{
	struct page *backing = head->page.zone_device_data;

	tail->page.zone_device_data = backing + (&tail->page - &head->page);
}

static bool dmirror_chunk_idle(struct dmirror_chunk *chunk)
{
	bool idle;

	spin_lock(&chunk->mdev->lock);
	idle = chunk->nfree == DMIRROR_CHUNK_PAGES;
	spin_unlock(&chunk->mdev->lock);
	return idle;
}

/* First free, aligned run of 1 << @order pages of @chunk, or -1. */
static long dmirror_chunk_find(struct dmirror_chunk *chunk, unsigned int order)
{
	unsigned long nr = 1UL << order, idx;

	if (chunk->nfree < nr)
		return -1;
	idx = bitmap_find_next_zero_area(chunk->used, DMIRROR_CHUNK_PAGES, 0,
					 nr, nr - 1);
	return idx < DMIRROR_CHUNK_PAGES ? idx : -1;
}

/* Take 1 << @order free pages, naturally aligned: the first, or NULL. */
static struct page *dmirror_take_free(struct dmirror_device *mdev,
				      unsigned int order)
{
	struct dmirror_chunk *chunk;
	struct page *page = NULL;
	long idx;

	spin_lock(&mdev->lock);
	list_for_each_entry(chunk, &mdev->chunks, node) {
		idx = dmirror_chunk_find(chunk, order);
		if (idx < 0)
			continue;
		bitmap_set(chunk->used, idx, 1UL << order);
		chunk->nfree -= 1UL << order;
		page = pfn_to_page(PHYS_PFN(chunk->pagemap.range.start) + idx);
		break;
	}
	spin_unlock(&mdev->lock);
	return page;
}

static bool dmirror_has_free(struct dmirror_device *mdev, unsigned int order)
{
	struct dmirror_chunk *chunk;
	bool found = false;

	spin_lock(&mdev->lock);
	list_for_each_entry(chunk, &mdev->chunks, node) {
		if (dmirror_chunk_find(chunk, order) >= 0) {
			found = true;
			break;
		}
	}
	spin_unlock(&mdev->lock);
	return found;
}

/* Where the next chunk of @mdev goes; private memory takes unused space. */
static int dmirror_chunk_place(struct dmirror_device *mdev,
			       struct dmirror_chunk *chunk)
{
	struct dev_pagemap *pgmap = &chunk->pagemap;
	struct resource *res;

	if (mdev->kind == HMM_DMIRROR_MEMORY_DEVICE_COHERENT) {
		/* The whole reserved range is one chunk. */
		if (mdev->nchunks)
			return -ENOSPC;
		pgmap->type = MEMORY_DEVICE_COHERENT;
		pgmap->range.start = mdev->spm_base;
		pgmap->range.end = mdev->spm_base + DMIRROR_CHUNK_SIZE - 1;
		return 0;
	}

	if (mdev->nchunks >= DMIRROR_MAX_CHUNKS)
		return -ENOSPC;
	res = request_free_mem_region(&iomem_resource, DMIRROR_CHUNK_SIZE,
				      dev_name(&mdev->dev));
	if (IS_ERR(res))
		return PTR_ERR(res);
	pgmap->type = MEMORY_DEVICE_PRIVATE;
	pgmap->range.start = res->start;
	pgmap->range.end = res->end;
	return 0;
}

static void dmirror_chunk_unplace(struct dmirror_chunk *chunk)
{
	if (chunk->pagemap.type == MEMORY_DEVICE_PRIVATE)
		release_mem_region(chunk->pagemap.range.start,
				   range_len(&chunk->pagemap.range));
}

/*
 * Give @mdev another chunk of memory unless it has 1 << @order free pages
 * in a row already.
 */
static int dmirror_chunk_add(struct dmirror_device *mdev, unsigned int order)
{
	struct dmirror_chunk *chunk;
	void *addr;
	int ret = 0;

	mutex_lock(&mdev->chunk_lock);
	if (dmirror_has_free(mdev, order))
		goto out;

	chunk = kzalloc(sizeof(*chunk), GFP_KERNEL);
	if (!chunk) {
		ret = -ENOMEM;
		goto out;
	}
	chunk->used = bitmap_zalloc(DMIRROR_CHUNK_PAGES, GFP_KERNEL);
	if (!chunk->used) {
		ret = -ENOMEM;
		goto out_free;
	}
	ret = dmirror_chunk_place(mdev, chunk);
	if (ret)
		goto out_free;

	chunk->mdev = mdev;
	chunk->pagemap.nr_range = 1;
	chunk->pagemap.ops = &dmirror_pagemap_ops;
	chunk->pagemap.owner = mdev;
	addr = memremap_pages(&chunk->pagemap, numa_node_id());
	if (IS_ERR(addr)) {
		ret = PTR_ERR(addr);
		goto out_unplace;
	}

	/* Pages are handed out first fit, in address order. */
	chunk->nfree = DMIRROR_CHUNK_PAGES;

	spin_lock(&mdev->lock);
	list_add_tail(&chunk->node, &mdev->chunks);
	spin_unlock(&mdev->lock);
	mdev->nchunks++;
	mutex_unlock(&mdev->chunk_lock);
	return 0;

out_unplace:
	dmirror_chunk_unplace(chunk);
out_free:
	bitmap_free(chunk->used);
	kfree(chunk);
out:
	mutex_unlock(&mdev->chunk_lock);
	return ret;
}

/*
 * Whether the device may allocate a large folio now: not when
 * HMM_DMIRROR_FLAG_FAIL_ALLOC asks for the next one to fail, which uses
 * the flag up.
 */
static bool dmirror_large_ok(struct dmirror_device *mdev)
{
	/* Device private THPs need PMD-level swap entries. */
	if (!IS_ENABLED(CONFIG_ARCH_ENABLE_THP_MIGRATION))
		return false;
	return !test_and_clear_bit(ilog2(HMM_DMIRROR_FLAG_FAIL_ALLOC),
				   &mdev->flags);
}

/*
 * A locked, referenced page (@order 0) or 2 MiB folio (HPAGE_PMD_ORDER,
 * device private memory only) of @mdev's memory whose data pages are ready
 * to be filled, or NULL when the device has none to give. The device does
 * not grow here, under the mmap lock: @s->grow_order says it should.
 */
static struct page *dmirror_page_alloc(struct dmirror_device *mdev,
				       unsigned int order,
				       struct dmirror_scratch *s)
{
	unsigned long i, nr = 1UL << order;
	struct page *backing = NULL;
	struct page *page;

	if (order && mdev->kind != HMM_DMIRROR_MEMORY_DEVICE_PRIVATE)
		return NULL;
	/* Refused once, refused again when the step is done again. */
	if (order && (s->large_refused || !dmirror_large_ok(mdev))) {
		s->large_refused = true;
		return NULL;
	}
	if (mdev->kind == HMM_DMIRROR_MEMORY_DEVICE_PRIVATE) {
		/* One system page per device page, each freed on its own. */
		backing = alloc_pages(GFP_HIGHUSER | __GFP_NOWARN, order);
		if (!backing)
			return NULL;
		if (order)
			split_page(backing, order);
	}

	page = dmirror_take_free(mdev, order);
	if (!page) {
		s->grow_order = max_t(int, s->grow_order, order);
		for (i = 0; backing && i < nr; i++)
			__free_page(backing + i);
		return NULL;
	}

	zone_device_folio_init((struct folio *)page, order);
	page->zone_device_data = backing;
	return page;
}

/*
 * A locked THP of system memory for the PMD at @addr of @vma (or anywhere,
 * without @vma), or NULL when there is none to be had.
 */
static struct folio *dmirror_sys_large(struct dmirror_device *mdev,
				       struct vm_area_struct *vma,
				       unsigned long addr)
{
	struct folio *folio;

	if (!dmirror_large_ok(mdev))
		return NULL;
	if (vma)
		folio = vma_alloc_folio(GFP_TRANSHUGE_LIGHT | __GFP_NOWARN,
					HPAGE_PMD_ORDER, vma, addr, true);
	else
		folio = folio_alloc(GFP_TRANSHUGE_LIGHT | __GFP_NOWARN,
				    HPAGE_PMD_ORDER);
	if (folio)
		folio_lock(folio);
	return folio;
}

/* Pages an entry of a migration array stands for. */
static unsigned long dmirror_mpfn_nr(unsigned long mpfn)
{
	return (mpfn & MIGRATE_PFN_COMPOUND) ? HPAGE_PMD_NR : 1;
}

/*
 * Fill dst[] with locked system pages holding a copy of the device pages in
 * src[] that are migrating. A 2 MiB device folio goes to a THP, @large if
 * the caller has one ready, or else to small pages, which makes the core
 * split it. With a @vma the pages are allocated for the matching addresses
 * from @start and small ones may fail; without one (eviction) they must
 * not.
 */
static void dmirror_copy_to_system(struct dmirror_device *mdev,
				   unsigned long *src, unsigned long *dst,
				   unsigned long npages,
				   struct vm_area_struct *vma,
				   unsigned long start, struct folio *large)
{
	unsigned long i, j, nr;

	for (i = 0; i < npages; i += nr) {
		struct page *spage = migrate_pfn_to_page(src[i]);
		unsigned long addr = start + (i << PAGE_SHIFT);
		struct page *data, *dpage;
		struct folio *folio;

		nr = dmirror_mpfn_nr(src[i]);
		for (j = 0; j < nr; j++)
			dst[i + j] = 0;
		if (!spage || !(src[i] & MIGRATE_PFN_MIGRATE))
			continue;
		if (!dmirror_data_page(spage))
			continue;

		if (nr > 1) {
			folio = large ? large : dmirror_sys_large(mdev, vma,
								   addr);
			large = NULL;
			if (folio) {
				for (j = 0; j < nr; j++)
					copy_highpage(folio_page(folio, j),
						      dmirror_data_page(spage + j));
				dst[i] = migrate_pfn(folio_pfn(folio)) |
					 MIGRATE_PFN_COMPOUND;
				continue;
			}
		}

		for (j = 0; j < nr; j++) {
			data = dmirror_data_page(spage + j);
			if (vma)
				dpage = alloc_page_vma(GFP_HIGHUSER_MOVABLE, vma,
						       addr + (j << PAGE_SHIFT));
			else
				dpage = alloc_page(GFP_HIGHUSER_MOVABLE |
						   __GFP_NOFAIL);
			if (!dpage)
				continue;
			lock_page(dpage);
			copy_highpage(dpage, data);
			dst[i + j] = migrate_pfn(page_to_pfn(dpage));
		}
	}
	/* A THP the caller had ready that found no use. */
	if (large) {
		folio_unlock(large);
		folio_put(large);
	}
}

/* Copy @nr source pages from @spage on (NULL: zeroes) into @dpage on. */
static void dmirror_fill_device(struct page *dpage, struct page *spage,
				unsigned long nr)
{
	unsigned long j;

	for (j = 0; j < nr; j++) {
		if (spage)
			copy_highpage(dmirror_data_page(dpage + j), spage + j);
		else
			clear_highpage(dmirror_data_page(dpage + j));
	}
}

/*
 * Fill dst[] with device pages holding a copy of what src[] migrates: a
 * 2 MiB folio for a THP or a PMD-sized hole when the device has one, else
 * small pages, which makes the core split the source.
 */
static void dmirror_copy_to_device(struct dmirror_device *mdev,
				   struct migrate_vma *args,
				   struct dmirror_scratch *s)
{
	unsigned long i, j, nr;

	/* Whatever is left at 0 when the device runs out does not move. */
	memset(args->dst, 0, args->npages * sizeof(*args->dst));
	for (i = 0; i < args->npages; i += nr) {
		struct page *spage = migrate_pfn_to_page(args->src[i]);
		struct page *dpage;

		nr = dmirror_mpfn_nr(args->src[i]);
		if (!(args->src[i] & MIGRATE_PFN_MIGRATE))
			continue;
		if (spage && is_zone_device_page(spage))
			continue;

		/* No source page means pte_none or the zero page. */
		if (nr > 1) {
			dpage = dmirror_page_alloc(mdev, HPAGE_PMD_ORDER, s);
			if (dpage) {
				dmirror_fill_device(dpage, spage, nr);
				args->dst[i] = migrate_pfn(page_to_pfn(dpage)) |
					       MIGRATE_PFN_COMPOUND;
				continue;
			}
			/* No room: whole, once the device has grown. */
			if (s->grow_order >= 0 && !s->no_grow)
				continue;
		}
		for (j = 0; j < nr; j++) {
			dpage = dmirror_page_alloc(mdev, 0, s);
			if (!dpage)
				return;
			dmirror_fill_device(dpage, spage ? spage + j : NULL, 1);
			args->dst[i + j] = migrate_pfn(page_to_pfn(dpage));
		}
	}
}

/*
 * A CPU access to a 2 MiB device folio: bring the whole of it back into a
 * THP when there is one to be had. Returns false to have the caller move
 * the page alone instead, which splits the folio.
 */
static bool dmirror_fault_large(struct vm_fault *vmf, struct dmirror_device *mdev,
				vm_fault_t *ret)
{
	struct vm_area_struct *vma = vmf->vma;
	unsigned long start = ALIGN_DOWN(vmf->address, HPAGE_PMD_SIZE);
	unsigned long nr = HPAGE_PMD_NR;
	struct migrate_vma args = {
		.vma		= vma,
		.start		= start,
		.end		= start + HPAGE_PMD_SIZE,
		.pgmap_owner	= mdev,
		.flags		= MIGRATE_VMA_SELECT_DEVICE_PRIVATE |
				  MIGRATE_VMA_SELECT_COMPOUND,
		.fault_page	= vmf->page,
	};
	struct folio *large;
	unsigned long i;

	if (!folio_test_large(page_folio(vmf->page)) ||
	    start < vma->vm_start || start + HPAGE_PMD_SIZE > vma->vm_end)
		return false;
	large = dmirror_sys_large(mdev, vma, start);
	if (!large)
		return false;
	args.src = kcalloc(nr, sizeof(*args.src), GFP_KERNEL);
	args.dst = kcalloc(nr, sizeof(*args.dst), GFP_KERNEL);
	if (!args.src || !args.dst || migrate_vma_setup(&args)) {
		folio_unlock(large);
		folio_put(large);
		*ret = args.src && args.dst ? VM_FAULT_SIGBUS : VM_FAULT_OOM;
		goto out;
	}
	dmirror_copy_to_system(mdev, args.src, args.dst, args.npages, vma,
			       start, large);
	*ret = 0;
	for (i = 0; i < args.npages; i++)
		if ((args.src[i] & MIGRATE_PFN_MIGRATE) && !args.dst[i])
			*ret = VM_FAULT_OOM;
	migrate_vma_pages(&args);
	migrate_vma_finalize(&args);
out:
	kfree(args.src);
	kfree(args.dst);
	return true;
}

static vm_fault_t dmirror_migrate_to_ram(struct vm_fault *vmf)
{
	struct dmirror_chunk *chunk = dmirror_page_chunk(vmf->page);
	unsigned long src = 0, dst = 0;
	struct migrate_vma args = {
		.vma		= vmf->vma,
		.start		= vmf->address & PAGE_MASK,
		.end		= (vmf->address & PAGE_MASK) + PAGE_SIZE,
		.src		= &src,
		.dst		= &dst,
		.pgmap_owner	= chunk->mdev,
		.flags		= MIGRATE_VMA_SELECT_DEVICE_PRIVATE,
		.fault_page	= vmf->page,
	};
	vm_fault_t ret = 0;

	if (dmirror_fault_large(vmf, chunk->mdev, &ret))
		return ret;
	if (migrate_vma_setup(&args))
		return VM_FAULT_SIGBUS;

	dmirror_copy_to_system(chunk->mdev, &src, &dst, args.npages, args.vma,
			       args.start, NULL);
	if ((src & MIGRATE_PFN_MIGRATE) && !dst)
		ret = VM_FAULT_OOM;
	migrate_vma_pages(&args);
	migrate_vma_finalize(&args);
	return ret;
}

static const struct dev_pagemap_ops dmirror_pagemap_ops = {
	.page_free	= dmirror_page_free,
	.migrate_to_ram	= dmirror_migrate_to_ram,
	.folio_split	= dmirror_folio_split,
};

/* Move every page of @chunk that is in use back to system memory. */
static void dmirror_chunk_evict(struct dmirror_chunk *chunk,
				struct dmirror_scratch *s)
{
	unsigned long pfn = PHYS_PFN(chunk->pagemap.range.start);
	unsigned long end = PHYS_PFN(chunk->pagemap.range.end) + 1;

	for (; pfn < end; pfn += DMIRROR_MIGRATE_PAGES) {
		unsigned long n = min_t(unsigned long, DMIRROR_MIGRATE_PAGES,
					end - pfn);

		migrate_device_range(s->src, pfn, n);
		dmirror_copy_to_system(chunk->mdev, s->src, s->dst, n, NULL, 0,
				       NULL);
		migrate_device_pages(s->src, s->dst, n);
		migrate_device_finalize(s->src, s->dst, n);
		cond_resched();
	}
}

/* Say which pages of @chunk keep it busy, for the console of a stuck unload. */
static void dmirror_chunk_report_busy(struct dmirror_chunk *chunk)
{
	unsigned long base = PHYS_PFN(chunk->pagemap.range.start);
	unsigned long idx, shown = 0;

	for_each_set_bit(idx, chunk->used, DMIRROR_CHUNK_PAGES) {
		if (shown++ == 4)
			break;
		dump_page(pfn_to_page(base + idx), "busy device page");
	}
}

/*
 * Empty @chunk and take its memory offline. Pages can be briefly busy (locked
 * by a racing migration, pinned), so eviction repeats until all came back;
 * unless @must, give up with -EBUSY after a while.
 */
static int dmirror_chunk_retire(struct dmirror_chunk *chunk,
				struct dmirror_scratch *s, bool must)
{
	unsigned int pass;

	for (pass = 1; ; pass++) {
		dmirror_chunk_evict(chunk, s);
		if (dmirror_chunk_idle(chunk))
			break;
		if (!must && pass >= DMIRROR_RELEASE_PASSES)
			return -EBUSY;
		if (must && !(pass % 1000)) {
			pr_warn("%s: still waiting for busy device pages\n",
				dev_name(&chunk->mdev->dev));
			dmirror_chunk_report_busy(chunk);
		}
		msleep(DMIRROR_RELEASE_WAIT_MS);
	}

	memunmap_pages(&chunk->pagemap);
	dmirror_chunk_unplace(chunk);
	return 0;
}

/*
 * Return all of @mdev's memory to the system. Chunks stop serving new
 * allocations first; any that stay busy go back into service.
 */
static int dmirror_release_memory(struct dmirror_device *mdev,
				  struct dmirror_scratch *s, bool must)
{
	struct dmirror_chunk *chunk, *next;
	LIST_HEAD(retiring);
	int ret = 0;

	mutex_lock(&mdev->chunk_lock);
	spin_lock(&mdev->lock);
	list_splice_init(&mdev->chunks, &retiring);
	spin_unlock(&mdev->lock);
	mutex_unlock(&mdev->chunk_lock);

	list_for_each_entry_safe(chunk, next, &retiring, node) {
		if (dmirror_chunk_retire(chunk, s, must)) {
			ret = -EBUSY;
			continue;
		}
		list_del(&chunk->node);
		bitmap_free(chunk->used);
		kfree(chunk);
		mutex_lock(&mdev->chunk_lock);
		mdev->nchunks--;
		mutex_unlock(&mdev->chunk_lock);
	}

	if (!list_empty(&retiring)) {
		mutex_lock(&mdev->chunk_lock);
		spin_lock(&mdev->lock);
		list_splice(&retiring, &mdev->chunks);
		spin_unlock(&mdev->lock);
		mutex_unlock(&mdev->chunk_lock);
	}
	return ret;
}

/* ---- device page table ------------------------------------------------ */

static void dmirror_pte_drop(void *entry)
{
	if (xa_pointer_tag(entry) == DPTE_ATOMIC)
		put_page(xa_untag_pointer(entry));
}

static int dmirror_pte_set(struct dmirror *dm, unsigned long addr,
			   struct page *page, unsigned int tag)
{
	void *old;

	if (tag == DPTE_ATOMIC)
		get_page(page);
	/* Atomic: reclaim may call our notifier, which takes dm->lock. */
	old = xa_store(&dm->pt, addr >> PAGE_SHIFT, xa_tag_pointer(page, tag),
		       GFP_ATOMIC);
	if (xa_is_err(old)) {
		if (tag == DPTE_ATOMIC)
			put_page(page);
		return xa_err(old);
	}
	if (old)
		dmirror_pte_drop(old);
	return 0;
}

static void dmirror_pt_zap(struct dmirror *dm, unsigned long start,
			   unsigned long end)
{
	unsigned long index;
	void *entry;

	lockdep_assert_held(&dm->lock);
	if (end <= start)
		return;
	xa_for_each_range(&dm->pt, index, entry, start >> PAGE_SHIFT,
			  (end - 1) >> PAGE_SHIFT) {
		xa_erase(&dm->pt, index);
		dmirror_pte_drop(entry);
	}
}

/*
 * A simulated device TLB flush: the "device" takes flush_delay_us to
 * complete it, on a work item, and the invalidation waits for @done.
 */
struct dmirror_flush {
	struct mmu_interval_notifier_finish finish;
	struct work_struct work;
	struct completion done;
	unsigned int delay_us;
};

static void dmirror_flush_work(struct work_struct *work)
{
	struct dmirror_flush *flush = container_of(work, struct dmirror_flush,
						   work);

	usleep_range(flush->delay_us, flush->delay_us + 100);
	complete(&flush->done);
}

/*
 * Drop the mirror of the invalidated range and start the device's flush.
 * With a flush to wait for, *@finish is set to it; a non-blockable
 * invalidation could not wait, so it gets none.  Without memory for the
 * flush, it is done here and now.
 */
static bool dmirror_invalidate_start(struct mmu_interval_notifier *mni,
				     const struct mmu_notifier_range *range,
				     unsigned long cur_seq,
				     struct mmu_interval_notifier_finish **finish)
{
	struct dmirror *dm = container_of(mni, struct dmirror, notifier);
	unsigned int delay_us = READ_ONCE(flush_delay_us);
	struct dmirror_flush *flush;

	if (mmu_notifier_range_blockable(range))
		mutex_lock(&dm->lock);
	else if (!mutex_trylock(&dm->lock))
		return false;

	mmu_interval_set_seq(mni, cur_seq);
	dmirror_pt_zap(dm, range->start, range->end);
	mutex_unlock(&dm->lock);

	if (!delay_us || !mmu_notifier_range_blockable(range))
		return true;
	/* Reclaim may be what invalidates: no GFP_KERNEL here. */
	flush = kmalloc(sizeof(*flush), GFP_NOWAIT | __GFP_NOWARN);
	if (!flush) {
		usleep_range(delay_us, delay_us + 100);
		return true;
	}
	INIT_WORK(&flush->work, dmirror_flush_work);
	init_completion(&flush->done);
	flush->delay_us = delay_us;
	queue_work(dmirror_flush_wq, &flush->work);
	*finish = &flush->finish;
	return true;
}

static void dmirror_invalidate_finish(struct mmu_interval_notifier_finish *finish)
{
	struct dmirror_flush *flush = container_of(finish, struct dmirror_flush,
						   finish);

	wait_for_completion(&flush->done);
	kfree(flush);
}

/* One pass: start the flush and wait for it at once. */
static bool dmirror_invalidate(struct mmu_interval_notifier *mni,
			       const struct mmu_notifier_range *range,
			       unsigned long cur_seq)
{
	struct mmu_interval_notifier_finish *finish = NULL;

	if (!dmirror_invalidate_start(mni, range, cur_seq, &finish))
		return false;
	if (finish)
		dmirror_invalidate_finish(finish);
	return true;
}

static const struct mmu_interval_notifier_ops dmirror_notifier_ops = {
	.invalidate = dmirror_invalidate,
};

/*
 * Two passes: the core starts the flushes of every device mirroring the
 * range before it waits for any, so they overlap.
 */
static const struct mmu_interval_notifier_ops dmirror_two_pass_ops = {
	.invalidate_start = dmirror_invalidate_start,
	.invalidate_finish = dmirror_invalidate_finish,
};

static u8 dmirror_perm(struct dmirror_device *mdev, unsigned long hpfn)
{
	unsigned int order;
	struct page *page;
	u8 perm;

	if (hpfn & HMM_PFN_ERROR)
		return HMM_DMIRROR_PROT_ERROR;
	if (!(hpfn & HMM_PFN_VALID))
		return HMM_DMIRROR_PROT_NONE;

	page = hmm_pfn_to_page(hpfn);
	if (is_device_private_page(page))
		perm = dmirror_page_is_local(mdev, page) ?
			HMM_DMIRROR_PROT_DEV_PRIVATE_LOCAL :
			HMM_DMIRROR_PROT_DEV_PRIVATE_REMOTE;
	else if (is_device_coherent_page(page))
		perm = dmirror_page_is_local(mdev, page) ?
			HMM_DMIRROR_PROT_DEV_COHERENT_LOCAL :
			HMM_DMIRROR_PROT_DEV_COHERENT_REMOTE;
	else if (is_zero_pfn(page_to_pfn(page)))
		perm = HMM_DMIRROR_PROT_ZERO;
	else
		perm = HMM_DMIRROR_PROT_NONE;

	perm |= (hpfn & HMM_PFN_WRITE) ? HMM_DMIRROR_PROT_WRITE :
					 HMM_DMIRROR_PROT_READ;
	order = hmm_pfn_to_map_order(hpfn);
	if (order == PMD_SHIFT - PAGE_SHIFT)
		perm |= HMM_DMIRROR_PROT_PMD;
	else if (order == PUD_SHIFT - PAGE_SHIFT)
		perm |= HMM_DMIRROR_PROT_PUD;
	return perm;
}

/*
 * Consume the result of a mirror pass. Called under dm->lock with the
 * notifier sequence still valid, so every page in @range is mapped by the
 * CPU and cannot be freed until we drop the lock.
 */
static int dmirror_pass_apply(struct dmirror *dm, struct dmirror_scratch *s,
			      struct hmm_range *range, enum dmirror_pass pass)
{
	unsigned long i, npages = (range->end - range->start) >> PAGE_SHIFT;

	for (i = 0; i < npages; i++) {
		unsigned long hpfn = range->hmm_pfns[i];
		unsigned int tag = DPTE_READ;
		struct page *page;
		int ret;

		if (pass == DMIRROR_SNAPSHOT) {
			s->perm[i] = dmirror_perm(dm->mdev, hpfn);
			continue;
		}
		if (!(hpfn & HMM_PFN_VALID)) {
			if (pass == DMIRROR_MAP_LOCAL)
				continue;
			return -EFAULT;
		}
		page = hmm_pfn_to_page(hpfn);
		if (pass == DMIRROR_MAP_LOCAL &&
		    !dmirror_page_is_local(dm->mdev, page))
			continue;
		if (!dmirror_data_page(page))
			return -EFAULT;
		if (hpfn & HMM_PFN_WRITE)
			tag = DPTE_WRITE;
		else if (pass == DMIRROR_FAULT_WRITE)
			return -EPERM;

		ret = dmirror_pte_set(dm, range->start + (i << PAGE_SHIFT),
				      page, tag);
		if (ret)
			return ret;
	}
	return 0;
}

/*
 * Move the pages in [start, end) of @vma into the device's memory or, not
 * @to_dev, this device's pages back to system memory. Returns how many
 * pages were selected for the move, or an error.
 */
static long dmirror_vma_migrate(struct dmirror *dm, struct dmirror_scratch *s,
				struct vm_area_struct *vma, unsigned long start,
				unsigned long end, bool to_dev)
{
	struct migrate_vma args = {
		.vma		= vma,
		.start		= start,
		.end		= end,
		.src		= s->src,
		.dst		= s->dst,
		.pgmap_owner	= dm->mdev,
	};
	unsigned long i;
	long moved = 0;
	int ret;

	if (to_dev)
		args.flags = MIGRATE_VMA_SELECT_SYSTEM;
	else if (dm->mdev->kind == HMM_DMIRROR_MEMORY_DEVICE_PRIVATE)
		args.flags = MIGRATE_VMA_SELECT_DEVICE_PRIVATE;
	else
		args.flags = MIGRATE_VMA_SELECT_DEVICE_COHERENT;
	/*
	 * A whole THP, empty PMD or huge zero page goes in as a 2 MiB device
	 * folio, and such a folio comes back whole, when they can.
	 */
	if (dm->mdev->kind == HMM_DMIRROR_MEMORY_DEVICE_PRIVATE)
		args.flags |= MIGRATE_VMA_SELECT_COMPOUND;
	ret = migrate_vma_setup(&args);
	if (ret)
		return ret;
	if (to_dev)
		dmirror_copy_to_device(dm->mdev, &args, s);
	else
		dmirror_copy_to_system(dm->mdev, args.src, args.dst,
				       args.npages, args.vma, args.start, NULL);
	migrate_vma_pages(&args);
	for (i = 0; i < args.npages; i++)
		if (migrate_pfn_to_page(args.src[i]) &&
		    (args.src[i] & MIGRATE_PFN_MIGRATE))
			moved += dmirror_mpfn_nr(args.src[i]);
	migrate_vma_finalize(&args);
	return moved;
}

/*
 * hmm_range_fault() hands the device its own private pages as they are,
 * even for a write fault, so one that is read-only in the CPU page table
 * (after fork(), mprotect() or NUMA balancing) comes back without
 * HMM_PFN_WRITE.  Writing it in place could write to a page a child still
 * shares.  Like a CPU write fault, refuse if the mapping is read-only;
 * otherwise move the page back to system memory, where the next pass
 * write-faults it and copy-on-write does the rest.  Returns the index of
 * the first such entry, or the number of entries if there is none.
 */
static unsigned long dmirror_own_readonly(struct dmirror *dm,
					  const struct hmm_range *range)
{
	unsigned long i, npages = (range->end - range->start) >> PAGE_SHIFT;

	for (i = 0; i < npages; i++) {
		unsigned long hpfn = range->hmm_pfns[i];

		if ((hpfn & (HMM_PFN_VALID | HMM_PFN_WRITE)) == HMM_PFN_VALID &&
		    is_device_private_page(hmm_pfn_to_page(hpfn)))
			break;
	}
	return i;
}

static int dmirror_unshare(struct dmirror *dm, struct dmirror_scratch *s,
			   unsigned long addr)
{
	struct vm_area_struct *vma;
	long ret = 0;

	mmap_read_lock(dm->mm);
	vma = vma_lookup(dm->mm, addr);
	/* No VMA any more: the next pass reports what there is. */
	if (vma && !(vma->vm_flags & VM_WRITE))
		ret = -EPERM;
	else if (vma)
		ret = dmirror_vma_migrate(dm, s, vma, addr, addr + PAGE_SIZE,
					  false);
	mmap_read_unlock(dm->mm);
	return ret < 0 ? ret : 0;
}

/*
 * One mirror pass over at most DMIRROR_BATCH pages: look up (and for a
 * device fault, fault in) the CPU mappings, then publish them under dm->lock
 * unless an invalidation ran in between, in which case start over.
 *
 * The lookup goes through hmm_range_fault_unlocked_timeout(), which owns the
 * retry loop and may let faults drop the mmap lock, for the *_UNLOCKED
 * commands and for the passes that fault nothing.  READ and WRITE fault as
 * 6.1's driver did, with hmm_range_fault() under our own mmap lock, so
 * that, for one, a userfaultfd range still fails there as it did.
 */
static int dmirror_pass(struct dmirror *dm, struct dmirror_scratch *s,
			unsigned long start, unsigned long end,
			enum dmirror_pass pass)
{
	unsigned long timeout = jiffies + DMIRROR_MIRROR_TIMEOUT, left;
	struct hmm_range range = {
		.notifier		= &dm->notifier,
		.start			= start,
		.end			= end,
		.hmm_pfns		= s->pfns,
		.dev_private_owner	= dm->mdev,
	};
	unsigned long i, npages = (end - start) >> PAGE_SHIFT;
	bool unlocked = s->unlocked || pass == DMIRROR_MAP_LOCAL ||
			pass == DMIRROR_SNAPSHOT;
	int ret;

	if (pass == DMIRROR_FAULT_READ)
		range.default_flags = HMM_PFN_REQ_FAULT;
	else if (pass == DMIRROR_FAULT_WRITE)
		range.default_flags = HMM_PFN_REQ_FAULT | HMM_PFN_REQ_WRITE;

	for (;;) {
		if (fatal_signal_pending(current))
			return -EINTR;
		if (time_after(jiffies, timeout))
			return -EBUSY;

		if (unlocked) {
			/* At least 1: 0 would be no deadline at all. */
			left = max(timeout - jiffies, 1UL);
			ret = hmm_range_fault_unlocked_timeout(&range, left);
		} else {
			range.notifier_seq =
				mmu_interval_read_begin(range.notifier);
			mmap_read_lock(dm->mm);
			ret = hmm_range_fault(&range);
			mmap_read_unlock(dm->mm);
			if (ret == -EBUSY)
				continue;
		}
		if (ret)
			return ret;

		if (pass == DMIRROR_FAULT_WRITE) {
			i = dmirror_own_readonly(dm, &range);
			if (i < npages) {
				ret = dmirror_unshare(dm, s,
						      start + (i << PAGE_SHIFT));
				if (ret)
					return ret;
				continue;
			}
		}

		mutex_lock(&dm->lock);
		if (!mmu_interval_read_retry(range.notifier, range.notifier_seq))
			break;
		mutex_unlock(&dm->lock);
	}

	ret = dmirror_pass_apply(dm, s, &range, pass);
	mutex_unlock(&dm->lock);
	return ret;
}

static int dmirror_pass_range(struct dmirror *dm, struct dmirror_scratch *s,
			      unsigned long start, unsigned long end,
			      enum dmirror_pass pass)
{
	unsigned long addr, next;
	int ret = 0;

	for (addr = start; addr < end && !ret; addr = next) {
		next = min(end, addr + DMIRROR_BATCH * PAGE_SIZE);
		ret = dmirror_pass(dm, s, addr, next, pass);
		cond_resched();
	}
	return ret;
}

/*
 * Device access to one page through its page table: copy between @buf and
 * the page mapped at @addr. Fails if there is no mapping allowing it.
 */
static bool dmirror_access(struct dmirror *dm, unsigned long addr, void *buf,
			   bool write)
{
	struct page *page, *data;
	void *entry;
	void *vaddr;

	mutex_lock(&dm->lock);
	entry = xa_load(&dm->pt, addr >> PAGE_SHIFT);
	if (!entry || (write && !(xa_pointer_tag(entry) & DPTE_WRITE))) {
		mutex_unlock(&dm->lock);
		return false;
	}

	page = xa_untag_pointer(entry);
	data = dmirror_data_page(page);
	vaddr = kmap_local_page(data);
	if (write)
		memcpy(vaddr, buf, PAGE_SIZE);
	else
		memcpy(buf, vaddr, PAGE_SIZE);
	kunmap_local(vaddr);
	/*
	 * A write through a CPU mapping dirties the PTE; this one went around
	 * it. A writable PTE need not be dirty (a read fault on shmem maps the
	 * page writable and clean), and reclaim would then drop the page and
	 * the data with it. The entry is only here while the CPU maps the
	 * page, which keeps truncation away, so no page lock is needed.
	 */
	if (write && !is_zone_device_page(page))
		set_page_dirty(page);
	mutex_unlock(&dm->lock);
	return true;
}

/* ---- commands --------------------------------------------------------- */

static unsigned long dmirror_cmd_end(const struct hmm_dmirror_cmd *cmd)
{
	return cmd->addr + (cmd->npages << PAGE_SHIFT);
}

/*
 * The device reads the range, faulting it in when its page table lacks a
 * mapping (a device fault covers everything up to the end of the request),
 * or, without @fault, reading only what it maps: -ENOENT on a hole.
 */
static int dmirror_read(struct dmirror *dm, struct dmirror_scratch *s,
			struct hmm_dmirror_cmd *cmd, bool fault)
{
	char __user *uptr = u64_to_user_ptr(cmd->ptr);
	unsigned long end = dmirror_cmd_end(cmd);
	unsigned long addr;
	int ret;

	for (addr = cmd->addr; addr < end; addr += PAGE_SIZE) {
		while (!dmirror_access(dm, addr, s->bounce, false)) {
			if (!fault)
				return -ENOENT;
			ret = dmirror_pass_range(dm, s, addr, end,
						 DMIRROR_FAULT_READ);
			if (ret)
				return ret;
			cmd->faults++;
		}
		if (copy_to_user(uptr, s->bounce, PAGE_SIZE))
			return -EFAULT;
		uptr += PAGE_SIZE;
		cmd->cpages++;
		cond_resched();
	}
	return 0;
}

static int dmirror_write(struct dmirror *dm, struct dmirror_scratch *s,
			 struct hmm_dmirror_cmd *cmd)
{
	const char __user *uptr = u64_to_user_ptr(cmd->ptr);
	unsigned long end = dmirror_cmd_end(cmd);
	unsigned long addr;
	int ret;

	for (addr = cmd->addr; addr < end; addr += PAGE_SIZE) {
		if (copy_from_user(s->bounce, uptr, PAGE_SIZE))
			return -EFAULT;
		while (!dmirror_access(dm, addr, s->bounce, true)) {
			ret = dmirror_pass_range(dm, s, addr, end,
						 DMIRROR_FAULT_WRITE);
			if (ret)
				return ret;
			cmd->faults++;
		}
		uptr += PAGE_SIZE;
		cmd->cpages++;
		cond_resched();
	}
	return 0;
}

static int dmirror_snapshot(struct dmirror *dm, struct dmirror_scratch *s,
			    struct hmm_dmirror_cmd *cmd)
{
	u8 __user *uptr = u64_to_user_ptr(cmd->ptr);
	unsigned long end = dmirror_cmd_end(cmd);
	unsigned long addr, next, n;
	int ret;

	for (addr = cmd->addr; addr < end; addr = next) {
		next = min(end, addr + DMIRROR_BATCH * PAGE_SIZE);
		n = (next - addr) >> PAGE_SHIFT;
		ret = dmirror_pass(dm, s, addr, next, DMIRROR_SNAPSHOT);
		if (ret)
			return ret;
		if (copy_to_user(uptr, s->perm, n))
			return -EFAULT;
		uptr += n;
		cmd->cpages += n;
		cond_resched();
	}
	return 0;
}

/*
 * Migrate the command's range to the device or back to system memory, VMA
 * by VMA in steps that end on a PMD boundary, so that a step starting on
 * one can move a THP or a 2 MiB device folio whole. Every VMA must be
 * readable; a hole or an inaccessible VMA is -EINVAL. Going back, the
 * pages moved are counted in @cmd->cpages.
 */
static int dmirror_migrate(struct dmirror *dm, struct dmirror_scratch *s,
			   struct hmm_dmirror_cmd *cmd, bool to_dev)
{
	unsigned long end = dmirror_cmd_end(cmd);
	struct vm_area_struct *vma;
	unsigned long addr, next;
	int ret = 0, grown = 0;
	long moved;

	s->no_grow = false;
	s->large_refused = false;
	mmap_read_lock(dm->mm);
	for (addr = cmd->addr; addr < end; addr = next) {
		vma = vma_lookup(dm->mm, addr);
		if (!vma || !(vma->vm_flags & VM_READ)) {
			ret = -EINVAL;
			break;
		}
		next = min3(end, vma->vm_end, ALIGN(addr + 1, PMD_SIZE));
		s->grow_order = -1;
		moved = dmirror_vma_migrate(dm, s, vma, addr, next, to_dev);
		if (moved < 0) {
			ret = moved;
			break;
		}
		if (!to_dev)
			cmd->cpages += moved;
		if (fatal_signal_pending(current)) {
			ret = -EINTR;
			break;
		}
		/*
		 * Out of device memory: grow the device with the mmap lock
		 * dropped and do the step again (what moved stays moved).
		 * memremap_pages() takes the memory hotplug locks, which
		 * memory offlining holds while KSM's notifier waits for ksmd,
		 * which may wait for this mmap lock: lockdep's circular
		 * dependency, and a deadlock, under the lock.
		 */
		if (s->grow_order >= 0 && !s->no_grow) {
			mmap_read_unlock(dm->mm);
			s->no_grow = ++grown > 3 ||
				     dmirror_chunk_add(dm->mdev, s->grow_order);
			mmap_read_lock(dm->mm);
			next = addr;
			continue;
		}
		s->no_grow = false;
		s->large_refused = false;
		grown = 0;
	}
	mmap_read_unlock(dm->mm);
	return ret;
}

static int dmirror_migrate_to_dev(struct dmirror *dm,
				  struct dmirror_scratch *s,
				  struct hmm_dmirror_cmd *cmd)
{
	int ret;

	ret = dmirror_migrate(dm, s, cmd, true);
	if (ret)
		return ret;

	/*
	 * The device maps what now lives in its memory, including pages that
	 * were there already, and reads the range back for verification.
	 */
	ret = dmirror_pass_range(dm, s, cmd->addr, dmirror_cmd_end(cmd),
				 DMIRROR_MAP_LOCAL);
	if (ret)
		return ret;
	return dmirror_read(dm, s, cmd, false);
}

static void dmirror_put_exclusive(struct page **pages, long npages)
{
	long i;

	for (i = 0; i < npages; i++) {
		if (pages[i]) {
			unlock_page(pages[i]);
			put_page(pages[i]);
		}
	}
}

/*
 * Keep device coherent memory out of exclusive access: with 6.1's core an
 * exclusive entry on such a page has been seen to leak page references once
 * the page gets migrated, after which the memory can never be released.
 * A long term pin moves coherent pages to system memory, so pin and unpin
 * the range first. Returns the pages pinned, which can be fewer than asked
 * for (an allocation failed): pages past them were not looked at, and may
 * still be in device memory. Or an error.
 */
static long dmirror_exclusive_prepare(struct dmirror *dm,
				      struct dmirror_scratch *s,
				      unsigned long addr, unsigned long end)
{
	long n;

	n = pin_user_pages_remote(dm->mm, addr, (end - addr) >> PAGE_SHIFT,
				  FOLL_WRITE | FOLL_LONGTERM, s->pages, NULL,
				  NULL);
	if (n > 0)
		unpin_user_pages(s->pages, n);
	return n;
}

/*
 * Which of the @npages pages make_device_exclusive_range() returned are
 * device memory: a migration to the device (under the mmap read lock too)
 * can bring a page back between the pin and the exclusive call.
 */
static void dmirror_exclusive_on_device(struct page **pages, long npages,
					unsigned long *on_device)
{
	long i;

	bitmap_zero(on_device, DMIRROR_BATCH);
	for (i = 0; i < npages; i++)
		if (pages[i] && is_zone_device_page(pages[i]))
			__set_bit(i, on_device);
}

/*
 * Give the CPU back the pages of @on_device: an exclusive entry on device
 * memory must not outlive the call, as nothing would ever restore it (see
 * dmirror_exclusive_prepare()). A write fault restores the PTE. The pages
 * must be unlocked, and the mmap lock held.
 */
static void dmirror_exclusive_undo(struct dmirror *dm, unsigned long addr,
				   const unsigned long *on_device)
{
	unsigned long i;

	/* A failed fault leaves the entry, as a failed CPU access would. */
	for_each_set_bit(i, on_device, DMIRROR_BATCH)
		fixup_user_fault(dm->mm, addr + (i << PAGE_SHIFT),
				 FAULT_FLAG_WRITE, NULL);
}

/*
 * Take exclusive access to the range so the device can do atomics on it;
 * the CPU gets it back (and the device loses it) on its next access.
 */
static int dmirror_exclusive(struct dmirror *dm, struct dmirror_scratch *s,
			     struct hmm_dmirror_cmd *cmd)
{
	DECLARE_BITMAP(on_device, DMIRROR_BATCH);
	unsigned long end = dmirror_cmd_end(cmd);
	unsigned long addr, next;
	long i, n;
	int ret = 0;

	for (addr = cmd->addr; addr < end; addr = next) {
		next = min(end, addr + DMIRROR_BATCH * PAGE_SIZE);

		mmap_read_lock(dm->mm);
		n = dmirror_exclusive_prepare(dm, s, addr, next);
		/* Only what the pin looked at is out of device memory. */
		if (n > 0) {
			next = addr + (n << PAGE_SHIFT);
			n = make_device_exclusive_range(dm->mm, addr, next,
							s->pages, dm->mdev);
		}
		if (n < 0) {
			mmap_read_unlock(dm->mm);
			return n;
		}
		if (n != (next - addr) >> PAGE_SHIFT)
			ret = -EBUSY;
		for (i = 0; i < n && !ret; i++)
			if (!s->pages[i])
				ret = -EBUSY;
		dmirror_exclusive_on_device(s->pages, n, on_device);
		if (!bitmap_empty(on_device, DMIRROR_BATCH))
			ret = -EBUSY;

		/* The pages stay locked, so the CPU cannot take them back yet. */
		mutex_lock(&dm->lock);
		for (i = 0; i < n && !ret; i++)
			ret = dmirror_pte_set(dm, addr + (i << PAGE_SHIFT),
					      s->pages[i], DPTE_ATOMIC);
		mutex_unlock(&dm->lock);

		dmirror_put_exclusive(s->pages, n);
		dmirror_exclusive_undo(dm, addr, on_device);
		mmap_read_unlock(dm->mm);
		if (ret)
			return ret;
		if (fatal_signal_pending(current))
			return -EINTR;
	}
	return dmirror_read(dm, s, cmd, false);
}

static int dmirror_check_exclusive(struct dmirror *dm,
				   struct hmm_dmirror_cmd *cmd)
{
	unsigned long last = (dmirror_cmd_end(cmd) - 1) >> PAGE_SHIFT;
	unsigned long index;
	void *entry;
	int ret = 0;

	mutex_lock(&dm->lock);
	xa_for_each_range(&dm->pt, index, entry, cmd->addr >> PAGE_SHIFT,
			  last) {
		if (xa_pointer_tag(entry) == DPTE_ATOMIC) {
			ret = -EPERM;
			break;
		}
	}
	mutex_unlock(&dm->lock);
	return ret;
}

/* The range must be page aligned, non-empty and inside user space. */
static int dmirror_check_range(const struct hmm_dmirror_cmd *cmd)
{
	if (!cmd->npages || !PAGE_ALIGNED(cmd->addr))
		return -EINVAL;
	if (cmd->addr >= TASK_SIZE_MAX ||
	    cmd->npages > (TASK_SIZE_MAX - cmd->addr) >> PAGE_SHIFT)
		return -EINVAL;
	return 0;
}

/* Bytes of the caller's buffer @op uses, 0 if it uses none. */
static u64 dmirror_buffer_size(unsigned int op,
			       const struct hmm_dmirror_cmd *cmd)
{
	switch (op) {
	case HMM_DMIRROR_READ:
	case HMM_DMIRROR_WRITE:
	case HMM_DMIRROR_MIGRATE_TO_DEV:
	case HMM_DMIRROR_EXCLUSIVE:
	case HMM_DMIRROR_READ_UNLOCKED:
	case HMM_DMIRROR_WRITE_UNLOCKED:
		return cmd->npages << PAGE_SHIFT;
	case HMM_DMIRROR_SNAPSHOT:
		return cmd->npages;
	default:
		return 0;
	}
}

/* HMM_DMIRROR_FLAGS: the new flags are in @npages. */
static int dmirror_set_flags(struct dmirror_device *mdev, u64 flags)
{
	if (flags & ~(u64)HMM_DMIRROR_FLAG_FAIL_ALLOC)
		return -EINVAL;
	WRITE_ONCE(mdev->flags, flags);
	return 0;
}

static int dmirror_run(struct dmirror *dm, struct dmirror_scratch *s,
		       unsigned int op, struct hmm_dmirror_cmd *cmd)
{
	u64 size;
	int ret;

	if (op == HMM_DMIRROR_FLAGS)
		return dmirror_set_flags(dm->mdev, cmd->npages);

	/* RELEASE frees the whole device, but its range is checked all the same. */
	ret = dmirror_check_range(cmd);
	if (ret)
		return ret;
	if (op == HMM_DMIRROR_RELEASE)
		return dmirror_release_memory(dm->mdev, s, false);
	size = dmirror_buffer_size(op, cmd);
	if (size && (!cmd->ptr || !access_ok(u64_to_user_ptr(cmd->ptr), size)))
		return -EFAULT;
	if (op == HMM_DMIRROR_CHECK_EXCLUSIVE)
		return dmirror_check_exclusive(dm, cmd);

	/* The mirrored process may be exiting. */
	if (!mmget_not_zero(dm->mm))
		return -EINVAL;

	switch (op) {
	case HMM_DMIRROR_READ:
		ret = dmirror_read(dm, s, cmd, true);
		break;
	case HMM_DMIRROR_WRITE:
		ret = dmirror_write(dm, s, cmd);
		break;
	case HMM_DMIRROR_READ_UNLOCKED:
		s->unlocked = true;
		ret = dmirror_read(dm, s, cmd, true);
		break;
	case HMM_DMIRROR_WRITE_UNLOCKED:
		s->unlocked = true;
		ret = dmirror_write(dm, s, cmd);
		break;
	case HMM_DMIRROR_MIGRATE_TO_DEV:
		ret = dmirror_migrate_to_dev(dm, s, cmd);
		break;
	case HMM_DMIRROR_MIGRATE_TO_SYS:
		ret = dmirror_migrate(dm, s, cmd, false);
		break;
	case HMM_DMIRROR_SNAPSHOT:
		ret = dmirror_snapshot(dm, s, cmd);
		break;
	case HMM_DMIRROR_EXCLUSIVE:
		ret = dmirror_exclusive(dm, s, cmd);
		break;
	default:
		ret = -EINVAL;
		break;
	}
	mmput(dm->mm);
	return ret;
}

static void dmirror_scratch_free(struct dmirror_scratch *s)
{
	kfree(s->bounce);
	kfree(s->src);
	kfree(s->dst);
	kfree(s);
}

static struct dmirror_scratch *dmirror_scratch_alloc(gfp_t gfp)
{
	struct dmirror_scratch *s = kzalloc(sizeof(*s), gfp);

	if (!s)
		return NULL;
	s->bounce = kmalloc(PAGE_SIZE, gfp);
	s->src = kmalloc_array(DMIRROR_MIGRATE_PAGES, sizeof(*s->src), gfp);
	s->dst = kmalloc_array(DMIRROR_MIGRATE_PAGES, sizeof(*s->dst), gfp);
	if (!s->bounce || !s->src || !s->dst) {
		dmirror_scratch_free(s);
		return NULL;
	}
	s->unlocked = false;
	return s;
}

static long dmirror_ioctl(struct file *filp, unsigned int op,
			  unsigned long arg)
{
	struct dmirror *dm = filp->private_data;
	void __user *uarg = (void __user *)arg;
	struct hmm_dmirror_cmd cmd;
	struct dmirror_scratch *s;
	int ret;

	switch (op) {
	case HMM_DMIRROR_READ:
	case HMM_DMIRROR_WRITE:
	case HMM_DMIRROR_MIGRATE_TO_DEV:
	case HMM_DMIRROR_MIGRATE_TO_SYS:
	case HMM_DMIRROR_SNAPSHOT:
	case HMM_DMIRROR_EXCLUSIVE:
	case HMM_DMIRROR_CHECK_EXCLUSIVE:
	case HMM_DMIRROR_RELEASE:
	case HMM_DMIRROR_FLAGS:
	case HMM_DMIRROR_READ_UNLOCKED:
	case HMM_DMIRROR_WRITE_UNLOCKED:
		break;
	default:
		/* What 6.1's driver answered, and what its users check for. */
		return -EINVAL;
	}

	if (copy_from_user(&cmd, uarg, sizeof(cmd)))
		return -EFAULT;
	cmd.cpages = 0;
	cmd.faults = 0;

	s = dmirror_scratch_alloc(GFP_KERNEL);
	if (!s)
		return -ENOMEM;
	ret = dmirror_run(dm, s, op, &cmd);
	dmirror_scratch_free(s);
	if (ret)
		return ret;

	if (copy_to_user(uarg, &cmd, sizeof(cmd)))
		return -EFAULT;
	return 0;
}

/*
 * Mapping the device file gives ordinary zeroed pages in a VM_MIXEDMAP vma,
 * so that tests can mirror that kind of mapping.
 */
static int dmirror_mmap(struct file *filp, struct vm_area_struct *vma)
{
	unsigned long addr;
	int ret;

	if (vma->vm_end - vma->vm_start > DMIRROR_MMAP_MAX)
		return -EINVAL;

	for (addr = vma->vm_start; addr < vma->vm_end; addr += PAGE_SIZE) {
		struct page *page;

		page = alloc_page(GFP_HIGHUSER | __GFP_ZERO | __GFP_ACCOUNT |
				  __GFP_NOWARN);
		if (!page)
			return -ENOMEM;
		/* The mapping takes its own reference. */
		ret = vm_insert_page(vma, addr, page);
		put_page(page);
		if (ret)
			return ret;
		if (fatal_signal_pending(current))
			return -EINTR;
	}
	return 0;
}

static int dmirror_open(struct inode *inode, struct file *filp)
{
	struct dmirror_device *mdev;
	struct dmirror *dm;
	int ret;

	if (!current->mm)
		return -EINVAL;

	mdev = container_of(inode->i_cdev, struct dmirror_device, cdev);
	dm = kzalloc(sizeof(*dm), GFP_KERNEL);
	if (!dm)
		return -ENOMEM;
	dm->mdev = mdev;
	mutex_init(&dm->lock);
	xa_init(&dm->pt);

	/* Keep the mm_struct itself around for as long as the file is. */
	dm->mm = current->mm;
	mmgrab(dm->mm);
	ret = mmu_interval_notifier_insert(&dm->notifier, dm->mm, 0,
					   ULONG_MAX & PAGE_MASK,
					   READ_ONCE(two_pass) ?
					   &dmirror_two_pass_ops :
					   &dmirror_notifier_ops);
	if (ret) {
		mmdrop(dm->mm);
		kfree(dm);
		return ret;
	}

	filp->private_data = dm;
	return 0;
}

static int dmirror_release(struct inode *inode, struct file *filp)
{
	struct dmirror *dm = filp->private_data;

	mmu_interval_notifier_remove(&dm->notifier);
	mutex_lock(&dm->lock);
	dmirror_pt_zap(dm, 0, ULONG_MAX);
	mutex_unlock(&dm->lock);
	xa_destroy(&dm->pt);
	mmdrop(dm->mm);
	kfree(dm);
	return 0;
}

static const struct file_operations dmirror_fops = {
	.owner		= THIS_MODULE,
	.open		= dmirror_open,
	.release	= dmirror_release,
	.mmap		= dmirror_mmap,
	.unlocked_ioctl	= dmirror_ioctl,
	.llseek		= default_llseek,
};

/* ---- devices ---------------------------------------------------------- */

/*
 * Is there memory behind @base that the firmware keeps from the kernel?
 * Only x86 can tell (memmap=256M$ADDR makes such a range); elsewhere the
 * System RAM check below has to do.
 */
static bool dmirror_spm_reserved(phys_addr_t base)
{
#ifdef CONFIG_X86
	return e820__mapped_any(base, base + DMIRROR_CHUNK_SIZE,
				E820_TYPE_RESERVED);
#else
	return true;
#endif
}

/*
 * Device coherent memory must be a whole chunk of reserved memory: never
 * System RAM, and not claimed by anybody else.
 */
static int dmirror_spm_claim(struct dmirror_device *mdev, phys_addr_t base)
{
	const char *name = dev_name(&mdev->dev);
	phys_addr_t last = base + DMIRROR_CHUNK_SIZE - 1;

	if (!base || !IS_ALIGNED(base, 1UL << SECTION_SIZE_BITS) ||
	    last < base || PHYS_PFN(last) >> (MAX_PHYSMEM_BITS - PAGE_SHIFT)) {
		pr_err("%s: bad device memory address %pa\n", name, &base);
		return -EINVAL;
	}
	if (region_intersects(base, DMIRROR_CHUNK_SIZE, IORESOURCE_SYSTEM_RAM,
			      IORES_DESC_NONE) != REGION_DISJOINT ||
	    !dmirror_spm_reserved(base)) {
		pr_err("%s: %pa is not reserved memory\n", name, &base);
		return -EINVAL;
	}
	if (!request_mem_region(base, DMIRROR_CHUNK_SIZE, name)) {
		pr_err("%s: %pa is in use\n", name, &base);
		return -EBUSY;
	}
	mdev->spm_base = base;
	mdev->spm_claimed = true;
	return 0;
}

static void dmirror_device_free(struct device *dev)
{
	kfree(container_of(dev, struct dmirror_device, dev));
}

/* Take @mdev away; every page it still lends out is copied back first. */
static void dmirror_device_teardown(struct dmirror_device *mdev)
{
	struct dmirror_scratch *s;

	s = dmirror_scratch_alloc(GFP_KERNEL | __GFP_NOFAIL);
	dmirror_release_memory(mdev, s, true);
	dmirror_scratch_free(s);
	if (mdev->spm_claimed)
		release_mem_region(mdev->spm_base, DMIRROR_CHUNK_SIZE);
	put_device(&mdev->dev);
}

static int dmirror_device_create(unsigned int id, unsigned int kind,
				 phys_addr_t spm)
{
	struct dmirror_device *mdev;
	int ret;

	mdev = kzalloc(sizeof(*mdev), GFP_KERNEL);
	if (!mdev)
		return -ENOMEM;
	mdev->kind = kind;
	mutex_init(&mdev->chunk_lock);
	spin_lock_init(&mdev->lock);
	INIT_LIST_HEAD(&mdev->chunks);

	device_initialize(&mdev->dev);
	mdev->dev.release = dmirror_device_free;
	mdev->dev.devt = MKDEV(MAJOR(dmirror_devt), id);
	ret = dev_set_name(&mdev->dev, "hmm_dmirror%u", id);
	if (ret)
		goto err;

	/* Map coherent memory now, so that a bad range fails the load. */
	if (kind == HMM_DMIRROR_MEMORY_DEVICE_COHERENT) {
		ret = dmirror_spm_claim(mdev, spm);
		if (ret)
			goto err;
		ret = dmirror_chunk_add(mdev, 0);
		if (ret) {
			pr_err("%s: cannot map device memory: %d\n",
			       dev_name(&mdev->dev), ret);
			goto err;
		}
	}

	cdev_init(&mdev->cdev, &dmirror_fops);
	mdev->cdev.owner = THIS_MODULE;
	ret = cdev_device_add(&mdev->cdev, &mdev->dev);
	if (ret)
		goto err;

	dmirror_devices[id] = mdev;
	return 0;

err:
	dmirror_device_teardown(mdev);
	return ret;
}

static void dmirror_remove_all(void)
{
	unsigned int id;

	for (id = 0; id < DMIRROR_NDEVICES; id++) {
		struct dmirror_device *mdev = dmirror_devices[id];

		if (!mdev)
			continue;
		cdev_device_del(&mdev->cdev, &mdev->dev);
		dmirror_devices[id] = NULL;
		dmirror_device_teardown(mdev);
	}
}

static int __init hmm_dmirror_init(void)
{
	unsigned long spm[DMIRROR_NDEVICES - DMIRROR_NPRIVATE] = {
		spm_addr_dev0, spm_addr_dev1,
	};
	unsigned int id;
	int ret;

	dmirror_flush_wq = alloc_workqueue("hmm_dmirror_flush",
					   WQ_UNBOUND | WQ_MEM_RECLAIM, 0);
	if (!dmirror_flush_wq)
		return -ENOMEM;
	ret = alloc_chrdev_region(&dmirror_devt, 0, DMIRROR_NDEVICES,
				  "HMM_DMIRROR");
	if (ret) {
		destroy_workqueue(dmirror_flush_wq);
		return ret;
	}

	for (id = 0; id < DMIRROR_NPRIVATE; id++) {
		ret = dmirror_device_create(id, HMM_DMIRROR_MEMORY_DEVICE_PRIVATE,
					    0);
		if (ret)
			goto err;
	}
	/* Coherent devices only for the ranges the user handed us. */
	for (; id < DMIRROR_NDEVICES; id++) {
		if (!spm[id - DMIRROR_NPRIVATE])
			continue;
		ret = dmirror_device_create(id, HMM_DMIRROR_MEMORY_DEVICE_COHERENT,
					    spm[id - DMIRROR_NPRIVATE]);
		if (ret)
			goto err;
	}

	pr_info("HMM test module loaded. This is only for testing HMM.\n");
	return 0;

err:
	dmirror_remove_all();
	unregister_chrdev_region(dmirror_devt, DMIRROR_NDEVICES);
	destroy_workqueue(dmirror_flush_wq);
	return ret;
}

static void __exit hmm_dmirror_exit(void)
{
	dmirror_remove_all();
	unregister_chrdev_region(dmirror_devt, DMIRROR_NDEVICES);
	destroy_workqueue(dmirror_flush_wq);
}

module_init(hmm_dmirror_init);
module_exit(hmm_dmirror_exit);
MODULE_DESCRIPTION("HMM test driver: simulated devices mirroring an address space");
MODULE_LICENSE("GPL");

// SPDX-License-Identifier: GPL-2.0
/*
 * ZONE_DEVICE maps: struct pages for memory owned by a device.
 *
 * memremap_pages() turns each physical range of a struct dev_pagemap into
 * hotplugged ZONE_DEVICE memory whose struct pages point back at the map.
 * Three things keep that safe to use and to tear down:
 *
 *  - pgmap_array maps every pfn of a live map to its dev_pagemap, so that
 *    get_dev_pagemap() (GUP, memory-failure, pfn_to_online_page()) can find
 *    the owner of a ZONE_DEVICE pfn.
 *
 *  - dev_pagemap.ref counts users of the map: the map itself, every lookup
 *    and every device private or coherent page the driver has handed out.
 *    memunmap_pages() kills it and waits until it drains before anything is
 *    torn down.
 *
 *  - Set up and teardown are mirror images, range by range, so a failure
 *    at any point unwinds exactly what was done and nothing else.
 */
#define pr_fmt(fmt) "memremap: " fmt

#include <linux/device.h>
#include <linux/error-injection.h>
#include <linux/export.h>
#include <linux/io.h>
#include <linux/jump_label.h>
#include <linux/kasan.h>
#include <linux/memcontrol.h>
#include <linux/memory_hotplug.h>
#include <linux/memremap.h>
#include <linux/mm.h>
#include <linux/mmzone.h>
#include <linux/mutex.h>
#include <linux/pagemap.h>
#include <linux/pfn.h>
#include <linux/pgtable.h>
#include <linux/rcupdate.h>
#include <linux/wait_bit.h>
#include <linux/xarray.h>

#include "internal.h"

#define CREATE_TRACE_POINTS
#include <trace/events/memremap.h>

/*
 * pfn -> dev_pagemap for every range of every live map. Readers use RCU and
 * must then win percpu_ref_tryget_live(); writers hold pgmap_claim_lock so
 * that checking a range is free and storing it is one step.
 */
static DEFINE_XARRAY(pgmap_array);
static DEFINE_MUTEX(pgmap_claim_lock);

static bool pgmap_is_private(struct dev_pagemap *pgmap)
{
	return pgmap->type == MEMORY_DEVICE_PRIVATE;
}

/* Private and coherent pages are allocated by the driver, one at a time. */
static bool pgmap_driver_allocates(struct dev_pagemap *pgmap)
{
	return pgmap->type == MEMORY_DEVICE_PRIVATE ||
	       pgmap->type == MEMORY_DEVICE_COHERENT;
}

static unsigned long range_start_pfn(const struct range *range)
{
	return PHYS_PFN(range->start);
}

static unsigned long range_nr_pfns(const struct range *range)
{
	return PHYS_PFN(range_len(range));
}

/*
 * First pfn of range @i that is a usable device page: with an altmap the
 * start of the first range holds the memmap itself.
 */
static unsigned long pgmap_first_pfn(struct dev_pagemap *pgmap, int i)
{
	unsigned long pfn = range_start_pfn(&pgmap->ranges[i]);

	if (i == 0)
		pfn += vmem_altmap_offset(pgmap_altmap(pgmap));
	return pfn;
}

/**
 * vmem_altmap_offset - pfns at the start of an altmap that are not pages
 * @altmap: the altmap, or %NULL
 *
 * Return: how many pfns from @altmap->base_pfn on are kept back for the
 * driver or lent out to hold struct pages, 0 without an altmap.
 */
unsigned long vmem_altmap_offset(struct vmem_altmap *altmap)
{
	if (!altmap)
		return 0;
	return altmap->reserve + altmap->free;
}

/**
 * vmem_altmap_free - give memmap pfns back to an altmap
 * @altmap: the altmap the pfns came from
 * @nr_pfns: how many pfns vmemmap teardown no longer uses
 */
void vmem_altmap_free(struct vmem_altmap *altmap, unsigned long nr_pfns)
{
	altmap->alloc -= nr_pfns;
}

#ifndef CONFIG_ARCH_HAS_MEMREMAP_COMPAT_ALIGN
/**
 * memremap_compat_align - alignment every architecture can remap at
 *
 * Namespaces created on one kernel must stay usable on another, so their
 * layout is aligned to the largest hotplug granularity any configuration
 * of this architecture requires. Architectures whose answer depends on the
 * MMU in use provide their own version.
 *
 * Return: the alignment in bytes.
 */
unsigned long memremap_compat_align(void)
{
	return SUBSECTION_SIZE;
}
EXPORT_SYMBOL_GPL(memremap_compat_align);
#endif

#ifdef CONFIG_FS_DAX
/*
 * fsdax pages are idle at refcount one. put_page() only takes the slow path
 * that notices the 2 -> 1 transition while some fsdax map exists.
 */
struct static_key_false devmap_managed_key = STATIC_KEY_FALSE_INIT;
EXPORT_SYMBOL(devmap_managed_key);

static void devmap_managed_get(struct dev_pagemap *pgmap)
{
	if (pgmap->type == MEMORY_DEVICE_FS_DAX)
		static_branch_inc(&devmap_managed_key);
}

static void devmap_managed_put(struct dev_pagemap *pgmap)
{
	if (pgmap->type == MEMORY_DEVICE_FS_DAX)
		static_branch_dec(&devmap_managed_key);
}

/*
 * Drop @refs references to an fsdax page. Truncate and hole punch sleep on
 * the page's refcount until DMA is done with it, so wake them when it is
 * back to the idle count of one.
 *
 * Return: true if the page was an fsdax page and has been dealt with.
 */
bool __put_devmap_managed_page_refs(struct page *page, int refs)
{
	if (page->pgmap->type != MEMORY_DEVICE_FS_DAX)
		return false;

	if (page_ref_sub_return(page, refs) == 1)
		wake_up_var(&page->_refcount);
	return true;
}
EXPORT_SYMBOL(__put_devmap_managed_page_refs);
#else
static void devmap_managed_get(struct dev_pagemap *pgmap)
{
}

static void devmap_managed_put(struct dev_pagemap *pgmap)
{
}
#endif /* CONFIG_FS_DAX */

static const char *pgmap_type_name(struct dev_pagemap *pgmap)
{
	switch (pgmap->type) {
	case MEMORY_DEVICE_PRIVATE:
		return "device private";
	case MEMORY_DEVICE_COHERENT:
		return "device coherent";
	case MEMORY_DEVICE_FS_DAX:
		return "fsdax";
	case MEMORY_DEVICE_GENERIC:
		return "generic";
	case MEMORY_DEVICE_PCI_P2PDMA:
		return "p2pdma";
	}
	return "unknown";
}

/* Pages the driver hands out need a way back to it, and an owner. */
static int pgmap_check_ops(struct dev_pagemap *pgmap)
{
	const struct dev_pagemap_ops *ops = pgmap->ops;
	const char *type = pgmap_type_name(pgmap);

	if (!ops || !ops->page_free) {
		pr_err("%s memory needs a page_free callback\n", type);
		return -EINVAL;
	}
	if (!pgmap->owner) {
		pr_err("%s memory needs an owner\n", type);
		return -EINVAL;
	}
	return 0;
}

static int pgmap_check_type(struct dev_pagemap *pgmap)
{
	switch (pgmap->type) {
	case MEMORY_DEVICE_PRIVATE:
		if (!IS_ENABLED(CONFIG_DEVICE_PRIVATE)) {
			pr_err("device private memory needs CONFIG_DEVICE_PRIVATE\n");
			return -EINVAL;
		}
		/*
		 * The CPU cannot touch private memory: its faults on such a
		 * page are how the data comes back. Coherent pages are mapped
		 * by ordinary PTEs and never fault that way.
		 */
		if (!pgmap->ops || !pgmap->ops->migrate_to_ram) {
			pr_err("device private memory needs a migrate_to_ram callback\n");
			return -EINVAL;
		}
		return pgmap_check_ops(pgmap);
	case MEMORY_DEVICE_COHERENT:
		return pgmap_check_ops(pgmap);
	case MEMORY_DEVICE_FS_DAX:
		/* Limited fsdax (s390 dcssblk) works without struct pages. */
		if (IS_ENABLED(CONFIG_FS_DAX_LIMITED)) {
			pr_err("fsdax memory cannot have struct pages with CONFIG_FS_DAX_LIMITED\n");
			return -EINVAL;
		}
		return 0;
	case MEMORY_DEVICE_GENERIC:
	case MEMORY_DEVICE_PCI_P2PDMA:
		return 0;
	}
	pr_err("invalid dev_pagemap type %d\n", pgmap->type);
	return -EINVAL;
}

/* The smallest span sparse memory can hotplug. */
static unsigned long pgmap_hotplug_align(void)
{
	if (IS_ENABLED(CONFIG_SPARSEMEM_VMEMMAP))
		return SUBSECTION_SIZE;
	return 1UL << PA_SECTION_SHIFT;
}

/*
 * Whether any pfn of @range already belongs to a map, with the code a 6.1
 * caller gets for it: -ENOMEM when the first or last pfn does, -EEXIST when
 * only pfns in between do (6.1 then only trips over the sections in place).
 */
static int pgmap_range_conflict(struct dev_pagemap *pgmap,
				const struct range *range)
{
	unsigned long first = range_start_pfn(range);
	unsigned long last = PHYS_PFN(range->end);
	unsigned long index = first;

	lockdep_assert_held(&pgmap_claim_lock);
	if (!xa_find(&pgmap_array, &index, last, XA_PRESENT))
		return 0;

	pr_err("%s range [%#llx-%#llx] overlaps a dev_pagemap range\n",
	       pgmap_type_name(pgmap), range->start, range->end);
	if (xa_load(&pgmap_array, first) || xa_load(&pgmap_array, last))
		return -ENOMEM;
	return -EEXIST;
}

/*
 * The checks that have an error code of their own come in 6.1's order, so
 * that a range with several faults fails as it did there.
 */
static int pgmap_check_range(struct dev_pagemap *pgmap,
			     const struct range *range)
{
	const char *type = pgmap_type_name(pgmap);
	u64 len = range_len(range);
	int err;

	if (range->end < range->start) {
		pr_err("%s range [%#llx-%#llx] is empty\n", type,
		       range->start, range->end);
		return -EINVAL;
	}

	/* Checked again, for good, when the pfns are claimed. */
	mutex_lock(&pgmap_claim_lock);
	err = pgmap_range_conflict(pgmap, range);
	mutex_unlock(&pgmap_claim_lock);
	if (err)
		return err;

	if (region_intersects(range->start, len, IORESOURCE_SYSTEM_RAM,
			      IORES_DESC_NONE) != REGION_DISJOINT) {
		pr_err("%s range [%#llx-%#llx] overlaps System RAM\n", type,
		       range->start, range->end);
		return -ENXIO;
	}
	/* Only memory the CPU cannot reach goes without a linear map. */
	if (!mhp_range_allowed(range->start, len, !pgmap_is_private(pgmap)))
		return -EINVAL;
	if (!IS_ALIGNED(range->start | len, pgmap_hotplug_align())) {
		pr_err("%s range [%#llx-%#llx] is not aligned to %#lx\n",
		       type, range->start, range->end, pgmap_hotplug_align());
		return -EINVAL;
	}
	return 0;
}

/* A memmap 6.1 would build wrong: refused once nothing else is amiss. */
static int pgmap_check_memmap(struct dev_pagemap *pgmap)
{
	int i;

	if (pgmap->vmemmap_shift >= BITS_PER_LONG - PAGE_SHIFT) {
		pr_err("vmemmap_shift %lu is too large\n", pgmap->vmemmap_shift);
		return -EINVAL;
	}
	for (i = 0; i < pgmap->nr_range; i++) {
		const struct range *range = &pgmap->ranges[i];

		if (range_nr_pfns(range) < pgmap_vmemmap_nr(pgmap)) {
			pr_err("%s range [%#llx-%#llx] is smaller than one compound page\n",
			       pgmap_type_name(pgmap), range->start, range->end);
			return -EINVAL;
		}
	}
	if (!pgmap_altmap(pgmap))
		return 0;
	/* The memmap would sit in memory the CPU cannot access. */
	if (pgmap_is_private(pgmap)) {
		pr_err("device private memory cannot hold an altmap\n");
		return -EINVAL;
	}
	if (vmem_altmap_offset(&pgmap->altmap) >= range_nr_pfns(&pgmap->range)) {
		pr_err("altmap leaves no pages in [%#llx-%#llx]\n",
		       pgmap->range.start, pgmap->range.end);
		return -EINVAL;
	}
	return 0;
}

/* Refuse a map the core could not serve before touching anything. */
static int pgmap_check(struct dev_pagemap *pgmap)
{
	int err, i;

	err = pgmap_check_type(pgmap);
	if (err)
		return err;

	/* An altmap only ever describes the first range. */
	if (pgmap_altmap(pgmap) && pgmap->nr_range > 1) {
		pr_err("an altmap needs a single range, not %d\n",
		       pgmap->nr_range);
		return -EINVAL;
	}
	if (pgmap->nr_range < 1) {
		pr_err("dev_pagemap without ranges\n");
		return -EINVAL;
	}

	for (i = 0; i < pgmap->nr_range; i++) {
		err = pgmap_check_range(pgmap, &pgmap->ranges[i]);
		if (err)
			return err;
	}
	return pgmap_check_memmap(pgmap);
}

/*
 * The fallible steps of setting up a map each sit in a small function of
 * their own that either succeeds or fails having done nothing. They allow
 * error injection (fail_function, or a kprobe as mm/memremap_kunit.c uses),
 * so that every unwind path can be taken on purpose.
 */

/* Make the pfns of @range resolve to @pgmap, unless someone has them. */
static noinline int pgmap_claim_pfns(struct dev_pagemap *pgmap,
				     const struct range *range)
{
	unsigned long first = range_start_pfn(range);
	unsigned long last = PHYS_PFN(range->end);
	int err;

	mutex_lock(&pgmap_claim_lock);
	err = pgmap_range_conflict(pgmap, range);
	if (!err) {
		err = xa_err(xa_store_range(&pgmap_array, first, last, pgmap,
					    GFP_KERNEL));
		/* A store that ran out of memory half way must leave nothing. */
		if (err)
			xa_store_range(&pgmap_array, first, last, NULL,
				       GFP_KERNEL);
	}
	mutex_unlock(&pgmap_claim_lock);
	return err;
}

ALLOW_ERROR_INJECTION(pgmap_claim_pfns, ERRNO);

static void pgmap_release_pfns(const struct range *range)
{
	mutex_lock(&pgmap_claim_lock);
	xa_store_range(&pgmap_array, range_start_pfn(range),
		       PHYS_PFN(range->end), NULL, GFP_KERNEL);
	mutex_unlock(&pgmap_claim_lock);
}

/* Agree a memory type (PAT) for the pfns before anything maps them. */
static noinline int pgmap_track_pfns(const struct range *range,
				     struct mhp_params *params)
{
	return track_pfn_remap(NULL, &params->pgprot, range_start_pfn(range),
			       0, range_len(range));
}

ALLOW_ERROR_INJECTION(pgmap_track_pfns, ERRNO);

/* KASAN shadow for memory the CPU maps. */
static noinline int pgmap_add_shadow(const struct range *range)
{
	return kasan_add_zero_shadow(__va(range->start), range_len(range));
}

ALLOW_ERROR_INJECTION(pgmap_add_shadow, ERRNO);

/*
 * add_pages() and arch_add_memory() add @range a section at a time and stop
 * at the first section that fails, keeping the ones before it; 6.1's
 * memremap_pages() left them there, and the next map of the same range
 * then failed with -EEXIST (hmm-fuzz under fault injection: test_hmm could
 * not map its device coherent memory again).  Take them out.  A piece of
 * one section is all there or not at all (sparse_add_section() undoes its
 * own failure), so its first pfn says which.  A linear mapping
 * arch_add_memory() made stays, as it did in 6.1.
 */
static void pgmap_remove_added(struct dev_pagemap *pgmap,
			       const struct range *range)
{
	struct vmem_altmap *altmap = pgmap_is_private(pgmap) ? NULL :
				     pgmap_altmap(pgmap);
	unsigned long pfn = range_start_pfn(range);
	unsigned long end = pfn + range_nr_pfns(range), next;

	for (; pfn < end; pfn = next) {
		next = min(end, SECTION_ALIGN_UP(pfn + 1));
		if (pfn_valid(pfn))
			__remove_pages(pfn, next - pfn, altmap);
	}
}

/* Sections and memmap for @range; CPU-visible memory also gets a linear map. */
static noinline int pgmap_add_pages(struct dev_pagemap *pgmap,
				    const struct range *range, int nid,
				    struct mhp_params *params)
{
	int err;

	if (pgmap_is_private(pgmap))
		err = add_pages(nid, range_start_pfn(range),
				range_nr_pfns(range), params);
	else
		err = arch_add_memory(nid, range->start, range_len(range),
				      params);
	if (err)
		pgmap_remove_added(pgmap, range);
	return err;
}

ALLOW_ERROR_INJECTION(pgmap_add_pages, ERRNO);

static int pgmap_add_memory(struct dev_pagemap *pgmap, const struct range *range,
			    int nid, struct mhp_params *params)
{
	int err;

	if (pgmap_is_private(pgmap))
		return pgmap_add_pages(pgmap, range, nid, params);

	err = pgmap_add_shadow(range);
	if (err)
		return err;
	err = pgmap_add_pages(pgmap, range, nid, params);
	if (err)
		kasan_remove_zero_shadow(__va(range->start), range_len(range));
	return err;
}

static void pgmap_remove_memory(struct dev_pagemap *pgmap,
				const struct range *range)
{
	if (pgmap_is_private(pgmap)) {
		__remove_pages(range_start_pfn(range), range_nr_pfns(range),
			       NULL);
		return;
	}
	arch_remove_memory(range->start, range_len(range),
			   pgmap_altmap(pgmap));
	kasan_remove_zero_shadow(__va(range->start), range_len(range));
}

/* Bring range @i of @pgmap to life; on failure nothing of it is left. */
static int pgmap_map_range(struct dev_pagemap *pgmap, int i, int nid,
			   struct mhp_params *params)
{
	const struct range *range = &pgmap->ranges[i];
	unsigned long pfn = range_start_pfn(range);
	unsigned long nr = range_nr_pfns(range);
	struct zone *zone = &NODE_DATA(nid)->node_zones[ZONE_DEVICE];
	int err;

	err = pgmap_claim_pfns(pgmap, range);
	if (err)
		return err;

	err = pgmap_track_pfns(range, params);
	if (err)
		goto release_pfns;

	mem_hotplug_begin();
	err = pgmap_add_memory(pgmap, range, nid, params);
	if (!err)
		move_pfn_range_to_zone(zone, pfn, nr, params->altmap,
				       MIGRATE_MOVABLE);
	mem_hotplug_done();
	if (err)
		goto untrack;

	/* Heavy for large ranges, and needs no hotplug lock: done after. */
	memmap_init_zone_device(zone, pfn, nr, pgmap);
	return 0;

untrack:
	untrack_pfn(NULL, pfn, range_len(range));
release_pfns:
	pgmap_release_pfns(range);
	return err;
}

/* Exact reverse of pgmap_map_range(). */
static void pgmap_unmap_range(struct dev_pagemap *pgmap, int i)
{
	const struct range *range = &pgmap->ranges[i];
	unsigned long pfn = range_start_pfn(range);
	struct zone *zone;

	/* Pages kept back for an altmap never got a zone: ask a real one. */
	zone = page_zone(pfn_to_page(pgmap_first_pfn(pgmap, i)));

	mem_hotplug_begin();
	remove_pfn_range_from_zone(zone, pfn, range_nr_pfns(range));
	pgmap_remove_memory(pgmap, range);
	mem_hotplug_done();

	untrack_pfn(NULL, pfn, range_len(range));
	pgmap_release_pfns(range);
}

static void pgmap_ref_release(struct percpu_ref *ref)
{
	struct dev_pagemap *pgmap = container_of(ref, struct dev_pagemap, ref);

	complete(&pgmap->done);
}

/* The map's own reference, dropped by pgmap_teardown(). */
static noinline int pgmap_ref_init(struct dev_pagemap *pgmap)
{
	return percpu_ref_init(&pgmap->ref, pgmap_ref_release, 0, GFP_KERNEL);
}

ALLOW_ERROR_INJECTION(pgmap_ref_init, ERRNO);

/*
 * Tear down the first @nr_mapped ranges of @pgmap, last first. Shared by
 * memunmap_pages() and by memremap_pages() failing half way, since by then
 * a lookup may already hold a reference.
 */
static void pgmap_teardown(struct dev_pagemap *pgmap, int nr_mapped)
{
	percpu_ref_kill(&pgmap->ref);
	wait_for_completion(&pgmap->done);

	while (nr_mapped--)
		pgmap_unmap_range(pgmap, nr_mapped);

	/*
	 * A get_dev_pagemap() that found the map just before its pfns were
	 * released may still be looking at it under RCU: let it finish
	 * before the caller gets to free the dev_pagemap.
	 */
	synchronize_rcu();

	devmap_managed_put(pgmap);
	percpu_ref_exit(&pgmap->ref);
}

/**
 * memremap_pages - create struct pages for device memory
 * @pgmap: the memory: type, ranges, callbacks and optional altmap
 * @nid: NUMA node for the struct pages, or %NUMA_NO_NODE for the local one
 *
 * Hotplug every range of @pgmap into ZONE_DEVICE. Device private memory,
 * which the CPU cannot access, only gets struct pages; every other type
 * also gets a linear mapping. The pages of private and coherent memory
 * start out free (refcount zero) and are handed out by the driver with
 * zone_device_page_init(); all other pages start at refcount one.
 *
 * The caller fills in everything but @pgmap->ref and @pgmap->done, which
 * belong to the core. A map the core cannot serve is refused, with a
 * message, before anything is set up.
 *
 * Return: the kernel virtual address of the first range (meaningless for
 * device private memory) or an ERR_PTR(); on error nothing is left mapped.
 * -ENOMEM: the first or last pfn of a range is already in a map, or memory
 * ran out. -EEXIST: pfns inside a range are. -ENXIO: a range overlaps
 * System RAM. -EINVAL: anything else the core cannot serve (unknown type,
 * missing callbacks or owner, a range hotplug cannot take...).
 */
void *memremap_pages(struct dev_pagemap *pgmap, int nid)
{
	struct mhp_params params = {
		.altmap = pgmap_altmap(pgmap),
		.pgmap = pgmap,
		.pgprot = PAGE_KERNEL,
	};
	int err, i;

	err = pgmap_check(pgmap);
	if (err)
		return ERR_PTR(err);

	switch (pgmap->type) {
	case MEMORY_DEVICE_PCI_P2PDMA:
		/* A BAR for peer-to-peer DMA must not be cached by the CPU. */
		params.pgprot = pgprot_noncached(params.pgprot);
		break;
	case MEMORY_DEVICE_FS_DAX:
		/* Persistent memory is never encrypted by the host. */
		params.pgprot = pgprot_decrypted(params.pgprot);
		break;
	default:
		break;
	}
	if (nid < 0)
		nid = numa_mem_id();

	init_completion(&pgmap->done);
	err = pgmap_ref_init(pgmap);
	if (err)
		return ERR_PTR(err);
	devmap_managed_get(pgmap);

	for (i = 0; i < pgmap->nr_range; i++) {
		err = pgmap_map_range(pgmap, i, nid, &params);
		if (err) {
			pgmap_teardown(pgmap, i);
			return ERR_PTR(err);
		}
	}
	if (trace_memremap_pages_enabled())
		for (i = 0; i < pgmap->nr_range; i++)
			trace_memremap_pages(pgmap, i);
	return __va(pgmap->ranges[0].start);
}
EXPORT_SYMBOL_GPL(memremap_pages);

/**
 * memunmap_pages - tear down a map made by memremap_pages()
 * @pgmap: the map
 *
 * No new lookup or page allocation succeeds once this starts. It then
 * sleeps until every reference is gone: lookups must be put and the driver
 * must have got every page it handed out back through ->page_free(), which
 * for device private memory means migrating the data out first. Finally the
 * ranges are removed, last first. @pgmap may be freed or reused afterwards.
 */
void memunmap_pages(struct dev_pagemap *pgmap)
{
	int i;

	if (trace_memunmap_pages_enabled())
		for (i = 0; i < pgmap->nr_range; i++)
			trace_memunmap_pages(pgmap, i);
	pgmap_teardown(pgmap, pgmap->nr_range);
	WARN_ONCE(pgmap_altmap(pgmap) && pgmap->altmap.alloc,
		  "memremap: %lu memmap pages not given back to the altmap\n",
		  pgmap->altmap.alloc);
}
EXPORT_SYMBOL_GPL(memunmap_pages);

static void devm_memremap_pages_release(void *data)
{
	memunmap_pages(data);
}

/**
 * devm_memremap_pages - memremap_pages() undone when @dev is unbound
 * @dev: the device owning the memory; its node places the struct pages
 * @pgmap: the memory, see memremap_pages()
 *
 * Return: as memremap_pages().
 */
void *devm_memremap_pages(struct device *dev, struct dev_pagemap *pgmap)
{
	void *addr;
	int err;

	addr = memremap_pages(pgmap, dev_to_node(dev));
	if (IS_ERR(addr))
		return addr;

	err = devm_add_action_or_reset(dev, devm_memremap_pages_release, pgmap);
	return err ? ERR_PTR(err) : addr;
}
EXPORT_SYMBOL_GPL(devm_memremap_pages);

/**
 * devm_memunmap_pages - tear down a devm_memremap_pages() map early
 * @dev: the device passed to devm_memremap_pages()
 * @pgmap: the map
 */
void devm_memunmap_pages(struct device *dev, struct dev_pagemap *pgmap)
{
	devm_release_action(dev, devm_memremap_pages_release, pgmap);
}
EXPORT_SYMBOL_GPL(devm_memunmap_pages);

/* The index of the range of @pgmap that @pfn lies in, or -1. */
static int pgmap_range_of(struct dev_pagemap *pgmap, unsigned long pfn)
{
	int i;

	for (i = 0; i < pgmap->nr_range; i++) {
		const struct range *range = &pgmap->ranges[i];

		if (pfn >= range_start_pfn(range) &&
		    pfn <= PHYS_PFN(range->end))
			return i;
	}
	return -1;
}

/**
 * get_dev_pagemap - find the dev_pagemap of a ZONE_DEVICE pfn
 * @pfn: the pfn to look up
 * @pgmap: a map the caller already holds a reference on, or %NULL
 *
 * Walkers of many pfns pass the previous result back in: if it covers @pfn
 * it is returned as it is, without taking another reference; otherwise its
 * reference is dropped and @pfn is looked up afresh.
 *
 * Return: the map with a reference the caller drops with put_dev_pagemap(),
 * or %NULL if @pfn belongs to no map or its map is being torn down.
 */
struct dev_pagemap *get_dev_pagemap(unsigned long pfn,
				    struct dev_pagemap *pgmap)
{
	if (pgmap) {
		if (pgmap_range_of(pgmap, pfn) >= 0)
			return pgmap;
		put_dev_pagemap(pgmap);
	}

	rcu_read_lock();
	pgmap = xa_load(&pgmap_array, pfn);
	if (pgmap && !percpu_ref_tryget_live_rcu(&pgmap->ref))
		pgmap = NULL;
	rcu_read_unlock();
	return pgmap;
}
EXPORT_SYMBOL_GPL(get_dev_pagemap);

/**
 * pgmap_pfn_valid - is @pfn a device page of @pgmap
 * @pgmap: the map
 * @pfn: the pfn
 *
 * Return: true if @pfn lies in one of @pgmap's ranges and is not part of
 * the space an altmap keeps for the memmap.
 */
bool pgmap_pfn_valid(struct dev_pagemap *pgmap, unsigned long pfn)
{
	int i = pgmap_range_of(pgmap, pfn);

	return i >= 0 && pfn >= pgmap_first_pfn(pgmap, i);
}

/*
 * Make each of the @nr free pages from @page on a page of its own again.
 * One of them may be what is left of a large folio freed earlier: its
 * tails still point at their old head (which has the pgmap for all of
 * them) and its head still says it is one. The driver owns every page of
 * the range, and pages outside it are not touched.
 */
static void zone_device_pages_reset(struct page *page, unsigned long nr,
				    struct dev_pagemap *pgmap)
{
	unsigned long i;

	for (i = 0; i < nr; i++, page++) {
		VM_WARN_ON_ONCE_PAGE(page_ref_count(page), page);
		WRITE_ONCE(page->pgmap, pgmap);
		if (PageHead(page))
			__clear_bit(PG_head, &page->flags);
		page->mapping = NULL;
		page->index = 0;
		page_mapcount_reset(page);
	}
}

/*
 * Large device folios are PMD-sized device private folios, which only
 * exist where a PMD can hold a swap entry (as THP migration needs).
 */
static bool zone_device_order_ok(struct page *page, unsigned int order)
{
#if defined(CONFIG_TRANSPARENT_HUGEPAGE) && \
	defined(CONFIG_ARCH_ENABLE_THP_MIGRATION)
	return order == HPAGE_PMD_ORDER && is_device_private_page(page) &&
	       IS_ALIGNED(page_to_pfn(page), 1UL << order);
#else
	return false;
#endif
}

/* A free page of @order from @page on becomes a folio with one reference. */
static void zone_device_init(struct page *page, unsigned int order)
{
	struct dev_pagemap *pgmap = page_pgmap(page);

	/* A dying map must not hand out pages: the driver is tearing down. */
	WARN_ON_ONCE(!percpu_ref_tryget_live(&pgmap->ref));
	zone_device_pages_reset(page, 1UL << order, pgmap);
	if (order) {
		prep_compound_page(page, order);
		/* For the deferred split list, which stays empty. */
		prep_transhuge_page(page);
	}
	set_page_count(page, 1);
	lock_page(page);
}

/**
 * zone_device_page_init - hand out a free device page
 * @page: a private or coherent page the driver has just allocated
 *
 * The page gets a refcount of one, is locked (ready to be a migration
 * target) and pins its dev_pagemap until the last put_page() returns it
 * to the driver through ->page_free().
 */
void zone_device_page_init(struct page *page)
{
	zone_device_init(page, 0);
}
EXPORT_SYMBOL_GPL(zone_device_page_init);

/**
 * zone_device_folio_init - hand out a free device private folio
 * @folio: the first of 1 << @order free pages the driver has just
 *	allocated, naturally aligned (cast the page: page_folio() of a free
 *	page may still point at a folio freed earlier)
 * @order: 0, or the order of a PMD (HPAGE_PMD_ORDER) for a folio that
 *	migrate_vma can map with one PMD-level entry
 *
 * As zone_device_page_init(), for a folio of @order: one reference, the
 * folio locked, one pin on the dev_pagemap for the whole folio. When its
 * last reference goes, ->page_free() gets the head page, once; when the
 * core splits it first, ->folio_split() hears about each new folio.
 */
void zone_device_folio_init(struct folio *folio, unsigned int order)
{
	struct page *page = &folio->page;

	if (WARN_ON_ONCE(order && !zone_device_order_ok(page, order)))
		order = 0;
	zone_device_init(page, order);
}
EXPORT_SYMBOL_GPL(zone_device_folio_init);

/**
 * zone_device_private_split_cb - a large device folio is being split
 * @original_folio: the folio, still large while this runs
 * @new_folio: one of its tail pages, just made a folio of its own
 *
 * Called by the core for every tail page of a device folio it splits: the
 * new folio takes its own pin on the dev_pagemap, which its ->page_free()
 * drops, and the driver's ->folio_split() learns about it.
 */
void zone_device_private_split_cb(struct folio *original_folio,
				  struct folio *new_folio)
{
	struct dev_pagemap *pgmap = original_folio->page.pgmap;

	percpu_ref_get(&pgmap->ref);
	if (pgmap->ops && pgmap->ops->folio_split)
		pgmap->ops->folio_split(original_folio, new_folio);
}

/*
 * The last reference to a ZONE_DEVICE page is gone (from __folio_put() or
 * release_pages()): scrub what the page's last user left and give it back.
 */
void free_zone_device_page(struct page *page)
{
	struct dev_pagemap *pgmap = page->pgmap;

	if (WARN_ON_ONCE(pgmap_driver_allocates(pgmap) &&
			 (!pgmap->ops || !pgmap->ops->page_free)))
		return;

	mem_cgroup_uncharge(page_folio(page));

	/*
	 * The next owner must not inherit the anon-exclusive bit, which a
	 * large folio has on every page it was mapped by a PTE.
	 */
	if (PageAnon(page)) {
		unsigned long i, nr = compound_nr(page);

		for (i = 0; i < nr; i++)
			__ClearPageAnonExclusive(page + i);
	}
	page->mapping = NULL;

	/*
	 * A large folio goes back whole and stays one until the driver
	 * hands its pages out again: then zone_device_folio_init() or
	 * zone_device_page_init() take it apart. Nothing here touches the
	 * pages once the driver has them.
	 */
	if (pgmap->ops && pgmap->ops->page_free)
		pgmap->ops->page_free(page);

	if (pgmap_driver_allocates(pgmap)) {
		/*
		 * The page stays at refcount zero until the driver hands it
		 * out again; the map no longer has to wait for it.
		 */
		put_dev_pagemap(pgmap);
		return;
	}
	/* Other types are idle at one: there is no allocator to restore it. */
	set_page_count(page, 1);
}

/* SPDX-License-Identifier: GPL-2.0 */
/*
 * ZONE_DEVICE memory: struct pages for memory that a device owns.
 *
 * A driver describes its memory with a struct dev_pagemap and hands it to
 * memremap_pages(). The core creates struct pages for every range of the
 * map, in ZONE_DEVICE, each pointing back at the dev_pagemap, and keeps the
 * map alive for as long as any of those pages or any get_dev_pagemap()
 * lookup still holds a reference to it.
 */
#ifndef _LINUX_MEMREMAP_H_
#define _LINUX_MEMREMAP_H_

#include <linux/bits.h>
#include <linux/mmzone.h>
#include <linux/range.h>
#include <linux/ioport.h>
#include <linux/percpu-refcount.h>

struct resource;
struct device;
struct folio;

/**
 * struct vmem_altmap - device memory lent to hold the map's own memmap
 * @base_pfn: first pfn of the device range; the loan starts here
 * @end_pfn: pfn just past the last page that may be lent
 * @reserve: pages at @base_pfn kept back for the driver's own use
 * @free: pages after @reserve available for memmap allocations
 * @align: pages skipped to keep memmap allocations aligned
 * @alloc: pages handed out so far (owned by vmemmap_populate())
 *
 * A large device range would cost a lot of RAM for its struct pages. With
 * an altmap, vmemmap_populate() carves them out of the device memory itself.
 */
struct vmem_altmap {
	unsigned long base_pfn;
	const unsigned long end_pfn;
	const unsigned long reserve;
	unsigned long free;
	unsigned long align;
	unsigned long alloc;
};

/*
 * What kind of memory a dev_pagemap describes. The type decides how the core
 * treats the pages:
 *
 * MEMORY_DEVICE_PRIVATE:
 * Memory the CPU cannot reach (a GPU's VRAM behind a non-coherent link).
 * The struct pages exist so that a process page can be migrated to the
 * device and be represented by a special swap entry while it lives there;
 * the CPU must never dereference the memory itself. A CPU fault on such an
 * entry calls ->migrate_to_ram(). See include/linux/hmm.h and
 * Documentation/mm/hmm.rst.
 *
 * MEMORY_DEVICE_COHERENT:
 * Device memory the CPU can access coherently (CXL, CAPI and similar
 * links). Process pages can be migrated to it and are mapped normally, but
 * the memory must stay evictable, so such pages are never pinned long term.
 *
 * MEMORY_DEVICE_FS_DAX:
 * Persistent memory behind a DAX-capable filesystem. Pages behave like
 * ordinary memory and can be pinned; whenever a page goes back to idle the
 * filesystem is woken so that truncate and hole punch can wait for DMA to
 * finish.
 *
 * MEMORY_DEVICE_GENERIC:
 * Memory that behaves like RAM and can be pinned, exposed through a
 * character device (device-dax) rather than a filesystem.
 *
 * MEMORY_DEVICE_PCI_P2PDMA:
 * A PCI BAR given out for peer-to-peer DMA between devices.
 */
enum memory_type {
	/* Zero is left unused so that an unset type is caught. */
	MEMORY_DEVICE_PRIVATE = 1,
	MEMORY_DEVICE_COHERENT,
	MEMORY_DEVICE_FS_DAX,
	MEMORY_DEVICE_GENERIC,
	MEMORY_DEVICE_PCI_P2PDMA,
};

/**
 * struct dev_pagemap_ops - driver callbacks for a dev_pagemap
 * @page_free: a page's last reference is gone. For private and coherent
 *	memory the page stays at refcount zero until the driver hands it out
 *	again with zone_device_page_init() or zone_device_folio_init(); for
 *	the other types the core sets the refcount back to one once this
 *	returns. A large device private folio is freed whole, by one call
 *	with its head page: folio_order(page_folio(page)) is its order.
 * @migrate_to_ram: the CPU faulted on a device private page; move the data
 *	into system memory (usually with migrate_vma_setup()) and return a
 *	vm_fault_t. Required for device private memory; never called for
 *	the other types, whose pages the CPU maps directly.
 * @memory_failure: the pfns [@pfn, @pfn + @nr_pages) are poisoned. Tell
 *	whoever uses them and recover what can be recovered; @mf_flags is
 *	passed on to the recovery code. Returning -EOPNOTSUPP (or leaving
 *	this NULL) makes memory_failure() fall back to killing the processes
 *	that map the pages.
 * @folio_split: optional, device private memory only. The core is
 *	splitting the large folio @head (partial unmap or protection change
 *	of a folio mapped by its PMD, or a migration that moves it as small
 *	pages), and @tail has just become a page of its own, with the same
 *	pgmap and a NULL zone_device_data that the driver may fill in. Runs
 *	with interrupts off: it must not sleep. @head is still large while
 *	this runs, and each of its tails is reported once.
 */
struct dev_pagemap_ops {
	void (*page_free)(struct page *page);
	vm_fault_t (*migrate_to_ram)(struct vm_fault *vmf);
	int (*memory_failure)(struct dev_pagemap *pgmap, unsigned long pfn,
			      unsigned long nr_pages, int mf_flags);
	void (*folio_split)(struct folio *head, struct folio *tail);
};

/* dev_pagemap.altmap is filled in and must be used for the memmap. */
#define PGMAP_ALTMAP_VALID	BIT(0)

/**
 * struct dev_pagemap - a driver's ZONE_DEVICE memory
 * @altmap: where the memmap goes when PGMAP_ALTMAP_VALID is set
 * @ref: live while the map can be used. The map itself, every successful
 *	get_dev_pagemap() and every private or coherent page the driver has
 *	handed out hold a reference. Set up by memremap_pages(), not the
 *	caller.
 * @done: completed when the last reference to a dying map is dropped
 * @type: one of &enum memory_type
 * @flags: PGMAP_* flags
 * @vmemmap_shift: order of the compound pages the memmap is built from;
 *	zero gives ordinary order-0 pages, larger values build compound
 *	pages of 1 << @vmemmap_shift base pages
 * @ops: driver callbacks, see &struct dev_pagemap_ops
 * @owner: opaque cookie naming the driver instance that owns the memory,
 *	so helpers such as hmm_range_fault() and migrate_vma_setup() only
 *	ever hand a driver its own device private pages
 * @nr_range: number of entries of @ranges
 * @range: the physical range mapped, when @nr_range is 1
 * @ranges: the physical ranges mapped, @nr_range of them
 */
struct dev_pagemap {
	struct vmem_altmap altmap;
	struct percpu_ref ref;
	struct completion done;
	enum memory_type type;
	unsigned int flags;
	unsigned long vmemmap_shift;
	const struct dev_pagemap_ops *ops;
	void *owner;
	int nr_range;
	union {
		struct range range;
		struct range ranges[0];
	};
};

static inline bool pgmap_has_memory_failure(struct dev_pagemap *pgmap)
{
	return pgmap->ops && pgmap->ops->memory_failure;
}

/* The altmap of @pgmap, or NULL when the memmap lives in normal RAM. */
static inline struct vmem_altmap *pgmap_altmap(struct dev_pagemap *pgmap)
{
	return (pgmap->flags & PGMAP_ALTMAP_VALID) ? &pgmap->altmap : NULL;
}

/* Base pages per memmap compound page of @pgmap. */
static inline unsigned long pgmap_vmemmap_nr(struct dev_pagemap *pgmap)
{
	return 1UL << pgmap->vmemmap_shift;
}

/**
 * page_pgmap - the dev_pagemap of a ZONE_DEVICE page
 * @page: a ZONE_DEVICE page, a tail page of a large device folio included
 *
 * A tail page keeps its compound_head where other ZONE_DEVICE pages keep
 * their pgmap; the head of the folio has it for all of them.
 *
 * Return: the page's dev_pagemap.
 */
static inline struct dev_pagemap *page_pgmap(const struct page *page)
{
	return compound_head(page)->pgmap;
}

static inline bool is_device_private_page(const struct page *page)
{
	if (!IS_ENABLED(CONFIG_DEVICE_PRIVATE) || !is_zone_device_page(page))
		return false;
	return page_pgmap(page)->type == MEMORY_DEVICE_PRIVATE;
}

static inline bool folio_is_device_private(const struct folio *folio)
{
	return is_device_private_page(&folio->page);
}

static inline bool is_pci_p2pdma_page(const struct page *page)
{
	if (!IS_ENABLED(CONFIG_PCI_P2PDMA) || !is_zone_device_page(page))
		return false;
	return page_pgmap(page)->type == MEMORY_DEVICE_PCI_P2PDMA;
}

static inline bool is_device_coherent_page(const struct page *page)
{
	if (!is_zone_device_page(page))
		return false;
	return page_pgmap(page)->type == MEMORY_DEVICE_COHERENT;
}

static inline bool folio_is_device_coherent(const struct folio *folio)
{
	return is_device_coherent_page(&folio->page);
}

#ifdef CONFIG_ZONE_DEVICE
void zone_device_page_init(struct page *page);
void zone_device_folio_init(struct folio *folio, unsigned int order);
void zone_device_private_split_cb(struct folio *original_folio,
				  struct folio *new_folio);
void *memremap_pages(struct dev_pagemap *pgmap, int nid);
void memunmap_pages(struct dev_pagemap *pgmap);
void *devm_memremap_pages(struct device *dev, struct dev_pagemap *pgmap);
void devm_memunmap_pages(struct device *dev, struct dev_pagemap *pgmap);
struct dev_pagemap *get_dev_pagemap(unsigned long pfn,
				    struct dev_pagemap *pgmap);
bool pgmap_pfn_valid(struct dev_pagemap *pgmap, unsigned long pfn);

unsigned long vmem_altmap_offset(struct vmem_altmap *altmap);
void vmem_altmap_free(struct vmem_altmap *altmap, unsigned long nr_pfns);
unsigned long memremap_compat_align(void);
#else
static inline void *devm_memremap_pages(struct device *dev,
					struct dev_pagemap *pgmap)
{
	/*
	 * Without ZONE_DEVICE there are no struct pages to give out: callers
	 * are expected to check the config and use plain devm_memremap().
	 */
	WARN_ON_ONCE(1);
	return ERR_PTR(-ENXIO);
}

static inline void devm_memunmap_pages(struct device *dev,
				       struct dev_pagemap *pgmap)
{
}

static inline void zone_device_private_split_cb(struct folio *original_folio,
						struct folio *new_folio)
{
}

static inline struct dev_pagemap *get_dev_pagemap(unsigned long pfn,
						  struct dev_pagemap *pgmap)
{
	return NULL;
}

static inline bool pgmap_pfn_valid(struct dev_pagemap *pgmap, unsigned long pfn)
{
	return false;
}

static inline unsigned long vmem_altmap_offset(struct vmem_altmap *altmap)
{
	return 0;
}

static inline void vmem_altmap_free(struct vmem_altmap *altmap,
				    unsigned long nr_pfns)
{
}

/* Nothing is hotplugged, so any page-aligned range can be remapped. */
static inline unsigned long memremap_compat_align(void)
{
	return PAGE_SIZE;
}
#endif /* CONFIG_ZONE_DEVICE */

/* Drop a reference taken by get_dev_pagemap(); @pgmap may be NULL. */
static inline void put_dev_pagemap(struct dev_pagemap *pgmap)
{
	if (pgmap)
		percpu_ref_put(&pgmap->ref);
}

#endif /* _LINUX_MEMREMAP_H_ */

/* SPDX-License-Identifier: GPL-2.0 */
/*
 * ZONE_DEVICE memory: each range memremap_pages() sets up or
 * memunmap_pages() takes down, and every CPU fault that asked a device
 * private page's owner to migrate it back (migrate_to_ram()).
 */
#undef TRACE_SYSTEM
#define TRACE_SYSTEM memremap

#if !defined(_TRACE_MEMREMAP_H) || defined(TRACE_HEADER_MULTI_READ)
#define _TRACE_MEMREMAP_H

#include <linux/memremap.h>
#include <linux/mm.h>
#include <linux/tracepoint.h>

TRACE_DEFINE_ENUM(MEMORY_DEVICE_PRIVATE);
TRACE_DEFINE_ENUM(MEMORY_DEVICE_COHERENT);
TRACE_DEFINE_ENUM(MEMORY_DEVICE_FS_DAX);
TRACE_DEFINE_ENUM(MEMORY_DEVICE_GENERIC);
TRACE_DEFINE_ENUM(MEMORY_DEVICE_PCI_P2PDMA);

#define show_memory_type(t)						\
	__print_symbolic(t,						\
			 { MEMORY_DEVICE_PRIVATE, "DEVICE_PRIVATE" },	\
			 { MEMORY_DEVICE_COHERENT, "DEVICE_COHERENT" },	\
			 { MEMORY_DEVICE_FS_DAX, "FS_DAX" },		\
			 { MEMORY_DEVICE_GENERIC, "GENERIC" },		\
			 { MEMORY_DEVICE_PCI_P2PDMA, "PCI_P2PDMA" })

DECLARE_EVENT_CLASS(memremap_range,
		    TP_PROTO(const struct dev_pagemap *pgmap, int range_id),
		    TP_ARGS(pgmap, range_id),
		    TP_STRUCT__entry(__field(const void *, pgmap)
				     __field(const void *, owner)
				     __field(unsigned int, type)
				     __field(int, range_id)
				     __field(int, nr_range)
				     __field(u64, start)
				     __field(u64, end)),
		    TP_fast_assign(__entry->pgmap = pgmap;
				   __entry->owner = pgmap->owner;
				   __entry->type = pgmap->type;
				   __entry->range_id = range_id;
				   __entry->nr_range = pgmap->nr_range;
				   __entry->start = pgmap->ranges[range_id].start;
				   __entry->end = pgmap->ranges[range_id].end;),
		    TP_printk("pgmap=%p owner=%p type=%s range=%d/%d start=%#llx end=%#llx pages=%llu",
			      __entry->pgmap, __entry->owner,
			      show_memory_type(__entry->type), __entry->range_id,
			      __entry->nr_range, __entry->start, __entry->end,
			      (__entry->end - __entry->start + 1) >> PAGE_SHIFT)
);

DEFINE_EVENT(memremap_range, memremap_pages,
	     TP_PROTO(const struct dev_pagemap *pgmap, int range_id),
	     TP_ARGS(pgmap, range_id)
);

DEFINE_EVENT(memremap_range, memunmap_pages,
	     TP_PROTO(const struct dev_pagemap *pgmap, int range_id),
	     TP_ARGS(pgmap, range_id)
);

TRACE_EVENT(migrate_to_ram,
	    TP_PROTO(const struct vm_fault *vmf, vm_fault_t ret),
	    TP_ARGS(vmf, ret),
	    TP_STRUCT__entry(__field(const void *, mm)
			     __field(unsigned long, address)
			     __field(unsigned long, pfn)
			     __field(const void *, owner)
			     __field(unsigned int, ret)),
	    TP_fast_assign(__entry->mm = vmf->vma->vm_mm;
			   __entry->address = vmf->address;
			   __entry->pfn = page_to_pfn(vmf->page);
			   __entry->owner = page_pgmap(vmf->page)->owner;
			   __entry->ret = (__force unsigned int)ret;),
	    TP_printk("mm=%p addr=%#lx pfn=%#lx owner=%p ret=0x%x",
		      __entry->mm, __entry->address, __entry->pfn, __entry->owner,
		      __entry->ret)
);

#endif /* _TRACE_MEMREMAP_H */

/* This part must be outside protection */
#include <trace/define_trace.h>

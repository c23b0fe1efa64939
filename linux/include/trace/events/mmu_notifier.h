/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Interval notifiers: the start and end of an invalidation that reached
 * the interval tree, a read_begin() that had to wait, and a read_retry()
 * that found a collision.
 */
#undef TRACE_SYSTEM
#define TRACE_SYSTEM mmu_notifier

#if !defined(_TRACE_MMU_NOTIFIER_H) || defined(TRACE_HEADER_MULTI_READ)
#define _TRACE_MMU_NOTIFIER_H

#include <linux/mmu_notifier.h>
#include <linux/tracepoint.h>

TRACE_DEFINE_ENUM(MMU_NOTIFY_UNMAP);
TRACE_DEFINE_ENUM(MMU_NOTIFY_CLEAR);
TRACE_DEFINE_ENUM(MMU_NOTIFY_PROTECTION_VMA);
TRACE_DEFINE_ENUM(MMU_NOTIFY_PROTECTION_PAGE);
TRACE_DEFINE_ENUM(MMU_NOTIFY_SOFT_DIRTY);
TRACE_DEFINE_ENUM(MMU_NOTIFY_RELEASE);
TRACE_DEFINE_ENUM(MMU_NOTIFY_MIGRATE);
TRACE_DEFINE_ENUM(MMU_NOTIFY_EXCLUSIVE);

#define show_mmu_notify_event(e)					\
	__print_symbolic(e,						\
			 { MMU_NOTIFY_UNMAP, "UNMAP" },			\
			 { MMU_NOTIFY_CLEAR, "CLEAR" },			\
			 { MMU_NOTIFY_PROTECTION_VMA, "PROTECTION_VMA" },	\
			 { MMU_NOTIFY_PROTECTION_PAGE, "PROTECTION_PAGE" },	\
			 { MMU_NOTIFY_SOFT_DIRTY, "SOFT_DIRTY" },	\
			 { MMU_NOTIFY_RELEASE, "RELEASE" },		\
			 { MMU_NOTIFY_MIGRATE, "MIGRATE" },		\
			 { MMU_NOTIFY_EXCLUSIVE, "EXCLUSIVE" })

TRACE_EVENT(mmu_interval_invalidate_start,
	    TP_PROTO(const struct mmu_notifier_range *range, unsigned long seq,
		     unsigned int called, unsigned int finished, int ret),
	    TP_ARGS(range, seq, called, finished, ret),
	    TP_STRUCT__entry(__field(const void *, mm)
			     __field(unsigned long, start)
			     __field(unsigned long, end)
			     __field(unsigned int, event)
			     __field(bool, blockable)
			     __field(unsigned long, seq)
			     __field(unsigned int, called)
			     __field(unsigned int, finished)
			     __field(int, ret)),
	    TP_fast_assign(__entry->mm = range->mm;
			   __entry->start = range->start;
			   __entry->end = range->end;
			   __entry->event = range->event;
			   __entry->blockable = mmu_notifier_range_blockable(range);
			   __entry->seq = seq;
			   __entry->called = called;
			   __entry->finished = finished;
			   __entry->ret = ret;),
	    TP_printk("mm=%p start=%#lx end=%#lx event=%s blockable=%d intervals=%u finishes=%u seq=%lu ret=%d",
		      __entry->mm, __entry->start, __entry->end,
		      show_mmu_notify_event(__entry->event), __entry->blockable,
		      __entry->called, __entry->finished, __entry->seq,
		      __entry->ret)
);

TRACE_EVENT(mmu_interval_invalidate_end,
	    TP_PROTO(const struct mmu_notifier_range *range, unsigned long seq),
	    TP_ARGS(range, seq),
	    TP_STRUCT__entry(__field(const void *, mm)
			     __field(unsigned long, start)
			     __field(unsigned long, end)
			     __field(unsigned int, event)
			     __field(unsigned long, seq)),
	    TP_fast_assign(__entry->mm = range->mm;
			   __entry->start = range->start;
			   __entry->end = range->end;
			   __entry->event = range->event;
			   __entry->seq = seq;),
	    TP_printk("mm=%p start=%#lx end=%#lx event=%s seq=%lu",
		      __entry->mm, __entry->start, __entry->end,
		      show_mmu_notify_event(__entry->event), __entry->seq)
);

TRACE_EVENT(mmu_interval_read_begin_wait,
	    TP_PROTO(const struct mmu_interval_notifier *sub, unsigned long seq,
		     u64 waited_ns),
	    TP_ARGS(sub, seq, waited_ns),
	    TP_STRUCT__entry(__field(const void *, mm)
			     __field(unsigned long, start)
			     __field(unsigned long, last)
			     __field(unsigned long, seq)
			     __field(u64, waited_ns)),
	    TP_fast_assign(__entry->mm = sub->mm;
			   __entry->start = sub->interval_tree.start;
			   __entry->last = sub->interval_tree.last;
			   __entry->seq = seq;
			   __entry->waited_ns = waited_ns;),
	    TP_printk("mm=%p start=%#lx last=%#lx seq=%lu waited_us=%llu",
		      __entry->mm, __entry->start, __entry->last, __entry->seq,
		      div_u64(__entry->waited_ns, NSEC_PER_USEC))
);

TRACE_EVENT(mmu_interval_read_retry,
	    TP_PROTO(const struct mmu_interval_notifier *sub, unsigned long seq),
	    TP_ARGS(sub, seq),
	    TP_STRUCT__entry(__field(const void *, mm)
			     __field(unsigned long, start)
			     __field(unsigned long, last)
			     __field(unsigned long, seq)
			     __field(unsigned long, now)),
	    TP_fast_assign(__entry->mm = sub->mm;
			   __entry->start = sub->interval_tree.start;
			   __entry->last = sub->interval_tree.last;
			   __entry->seq = seq;
			   __entry->now = READ_ONCE(sub->invalidate_seq);),
	    TP_printk("mm=%p start=%#lx last=%#lx seq=%lu now=%lu",
		      __entry->mm, __entry->start, __entry->last, __entry->seq,
		      __entry->now)
);

#endif /* _TRACE_MMU_NOTIFIER_H */

/* This part must be outside protection */
#include <trace/define_trace.h>

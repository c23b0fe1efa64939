/* SPDX-License-Identifier: GPL-2.0 */
/*
 * hmm_range_fault() and hmm_range_fault_unlocked_timeout(): one begin/end
 * pair per walk of a range, and the helper's retries and deadline.
 */
#undef TRACE_SYSTEM
#define TRACE_SYSTEM hmm

#if !defined(_TRACE_HMM_H) || defined(TRACE_HEADER_MULTI_READ)
#define _TRACE_HMM_H

#include <linux/hmm.h>
#include <linux/mmu_notifier.h>
#include <linux/tracepoint.h>

TRACE_EVENT(hmm_range_fault_begin,
	    TP_PROTO(const struct hmm_range *range, unsigned long from),
	    TP_ARGS(range, from),
	    TP_STRUCT__entry(__field(const void *, mm)
			     __field(unsigned long, start)
			     __field(unsigned long, end)
			     __field(unsigned long, from)
			     __field(unsigned long, seq)
			     __field(unsigned long, default_flags)
			     __field(unsigned long, pfn_flags_mask)),
	    TP_fast_assign(__entry->mm = range->notifier->mm;
			   __entry->start = range->start;
			   __entry->end = range->end;
			   __entry->from = from;
			   __entry->seq = range->notifier_seq;
			   __entry->default_flags = range->default_flags;
			   __entry->pfn_flags_mask = range->pfn_flags_mask;),
	    TP_printk("mm=%p start=%#lx end=%#lx npages=%lu from=%#lx seq=%lu default_flags=%#lx pfn_flags_mask=%#lx",
		      __entry->mm, __entry->start, __entry->end,
		      (__entry->end - __entry->start) >> PAGE_SHIFT, __entry->from,
		      __entry->seq, __entry->default_flags, __entry->pfn_flags_mask)
);

TRACE_EVENT(hmm_range_fault_end,
	    TP_PROTO(const struct hmm_range *range, unsigned long faults,
		     unsigned int passes, bool unlocked, int ret),
	    TP_ARGS(range, faults, passes, unlocked, ret),
	    TP_STRUCT__entry(__field(const void *, mm)
			     __field(unsigned long, start)
			     __field(unsigned long, end)
			     __field(unsigned long, faults)
			     __field(unsigned int, passes)
			     __field(bool, unlocked)
			     __field(int, ret)),
	    TP_fast_assign(__entry->mm = range->notifier->mm;
			   __entry->start = range->start;
			   __entry->end = range->end;
			   __entry->faults = faults;
			   __entry->passes = passes;
			   __entry->unlocked = unlocked;
			   __entry->ret = ret;),
	    TP_printk("mm=%p start=%#lx end=%#lx npages=%lu faulted=%lu passes=%u unlocked=%d ret=%d",
		      __entry->mm, __entry->start, __entry->end,
		      (__entry->end - __entry->start) >> PAGE_SHIFT,
		      __entry->faults, __entry->passes, __entry->unlocked,
		      __entry->ret)
);

/* Why hmm_range_fault_unlocked_timeout() goes round again. */
#define HMM_RETRY_BUSY		0	/* invalidated: a new sequence */
#define HMM_RETRY_UNLOCKED	1	/* a fault dropped the mmap lock */

#define show_hmm_retry_reason(r)					\
	__print_symbolic(r,						\
			 { HMM_RETRY_BUSY, "busy" },			\
			 { HMM_RETRY_UNLOCKED, "unlocked" })

TRACE_EVENT(hmm_range_fault_retry,
	    TP_PROTO(const struct hmm_range *range, unsigned int tries,
		     unsigned int reason, long left),
	    TP_ARGS(range, tries, reason, left),
	    TP_STRUCT__entry(__field(const void *, mm)
			     __field(unsigned long, start)
			     __field(unsigned long, end)
			     __field(unsigned int, tries)
			     __field(unsigned int, reason)
			     __field(long, left)),
	    TP_fast_assign(__entry->mm = range->notifier->mm;
			   __entry->start = range->start;
			   __entry->end = range->end;
			   __entry->tries = tries;
			   __entry->reason = reason;
			   __entry->left = left;),
	    TP_printk("mm=%p start=%#lx end=%#lx tries=%u reason=%s left_ms=%ld",
		      __entry->mm, __entry->start, __entry->end, __entry->tries,
		      show_hmm_retry_reason(__entry->reason), __entry->left)
);

TRACE_EVENT(hmm_range_fault_deadline,
	    TP_PROTO(const struct hmm_range *range, unsigned int tries,
		     unsigned long elapsed, unsigned long excluded,
		     unsigned long timeout),
	    TP_ARGS(range, tries, elapsed, excluded, timeout),
	    TP_STRUCT__entry(__field(const void *, mm)
			     __field(unsigned long, start)
			     __field(unsigned long, end)
			     __field(unsigned int, tries)
			     __field(unsigned int, elapsed_ms)
			     __field(unsigned int, excluded_ms)
			     __field(unsigned int, timeout_ms)),
	    TP_fast_assign(__entry->mm = range->notifier->mm;
			   __entry->start = range->start;
			   __entry->end = range->end;
			   __entry->tries = tries;
			   __entry->elapsed_ms = jiffies_to_msecs(elapsed);
			   __entry->excluded_ms = jiffies_to_msecs(excluded);
			   __entry->timeout_ms = jiffies_to_msecs(timeout);),
	    TP_printk("mm=%p start=%#lx end=%#lx tries=%u elapsed_ms=%u excluded_ms=%u timeout_ms=%u",
		      __entry->mm, __entry->start, __entry->end, __entry->tries,
		      __entry->elapsed_ms, __entry->excluded_ms,
		      __entry->timeout_ms)
);

#endif /* _TRACE_HMM_H */

/* This part must be outside protection */
#include <trace/define_trace.h>

// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * hmm_range_fault(): report, and fault in where the caller asks for it, the
 * CPU mapping of every page in a range of a process, so that a device can
 * mirror it in its own page tables.
 *
 * A call is a series of passes of walk_page_range() over the part of the
 * range that has no output yet.  A pass writes output entries in address
 * order and stops at the first page that needs handle_mm_fault() (or is
 * being migrated).  Input requests above that point are left untouched,
 * the faults are taken with no page table lock held, and the next pass
 * resumes at the first address without output.
 *
 * Before every pass the interval notifier sequence is checked: once
 * anything has changed the CPU page tables of the range since the caller's
 * mmu_interval_read_begin(), including a copy-on-write done by one of our
 * own faults, the result could be stale and the call ends with -EBUSY.
 * So does a call whose faults stop making progress: the caller retries
 * within its own time limit.
 *
 * hmm_range_fault_unlocked_timeout() is that retry loop, owned by the core.
 * It takes the mmap lock itself, so its faults may let handle_mm_fault()
 * drop the lock (userfaultfd, page lock and I/O waits): the walk is then
 * abandoned where it stood, and resumed from there once the lock is back.
 */
#include <linux/export.h>
#include <linux/hmm.h>
#include <linux/huge_mm.h>
#include <linux/hugetlb.h>
#include <linux/jiffies.h>
#include <linux/memremap.h>
#include <linux/mm.h>
#include <linux/mmu_notifier.h>
#include <linux/pagewalk.h>
#include <linux/sched.h>
#include <linux/sched/mm.h>
#include <linux/sched/signal.h>
#include <linux/swapops.h>

#define CREATE_TRACE_POINTS
#include <trace/events/hmm.h>

/* A walk callback returns this to end the pass and ask for another one. */
#define HMM_PASS_AGAIN		1
/* ... and this when a fault released the mmap lock: stop touching the mm. */
#define HMM_PASS_UNLOCKED	2

/*
 * Consecutive passes allowed to stop at the same address.  Legitimate
 * sequences (fault a hole, then upgrade the huge page it got, then its
 * split PTEs) need a handful; a fault handler that reports success but
 * never maps anything would otherwise keep us looping with the mmap lock
 * held.  Running out is -EBUSY, not -EFAULT: it also happens, for a few
 * microseconds, when migrate_to_ram() loses a page lock to another
 * migration, and every in-tree caller treats -EFAULT as fatal but bounds
 * its -EBUSY retries with a timeout of its own.
 */
#define HMM_MAX_STALLS		32

/* What one entry needs from handle_mm_fault(). */
#define HMM_NEED_FAULT		BIT(0)
#define HMM_NEED_WRITE		BIT(1)
#define HMM_NEED_ALL		(HMM_NEED_FAULT | HMM_NEED_WRITE)

/* Verdicts of hmm_decode_pte() besides a negative errno. */
enum hmm_pte_verdict {
	HMM_PTE_REPORT,		/* output is ready */
	HMM_PTE_FAULT,		/* fault first */
	HMM_PTE_WAIT,		/* wait for a migration first */
};

struct hmm_pass {
	struct hmm_range *range;
	/* First address without output: where the next pass starts. */
	unsigned long next;
	/* FAULT_FLAG_* added to every fault; the helper allows retries. */
	unsigned int fault_flags;
	/* A fault returned with the mmap lock released ... */
	bool unlocked;
	/* ... after this many jiffies inside handle_mm_fault(). */
	unsigned long unlocked_jiffies;
	/* For the tracepoints: faults taken and passes walked. */
	unsigned long faults;
	unsigned int passes;
};

static unsigned long *hmm_entry(const struct hmm_range *range,
				unsigned long addr)
{
	return &range->hmm_pfns[(addr - range->start) >> PAGE_SHIFT];
}

static unsigned long hmm_order_bits(unsigned int order)
{
	return (unsigned long)order << HMM_PFN_ORDER_SHIFT;
}

/*
 * What has to be faulted for one entry whose input is @in, when the CPU
 * mapping already grants @have (HMM_PFN_VALID, possibly HMM_PFN_WRITE).
 * Only the request bits let through by pfn_flags_mask count, on top of
 * default_flags; a write request without a fault request means nothing.
 */
static unsigned int hmm_entry_need(const struct hmm_range *range,
				   unsigned long in, unsigned long have)
{
	unsigned long req = (in & range->pfn_flags_mask) | range->default_flags;

	if (!(req & HMM_PFN_REQ_FAULT))
		return 0;
	if (req & HMM_PFN_REQ_WRITE)
		return (have & HMM_PFN_WRITE) ? 0 : HMM_NEED_ALL;
	return (have & HMM_PFN_VALID) ? 0 : HMM_NEED_FAULT;
}

/* The bitwise OR of the @n inputs from @in on, four at a time. */
static unsigned long hmm_or_inputs(const unsigned long *in, unsigned long n)
{
	unsigned long i, any = 0;

	for (i = 0; i + 4 <= n; i += 4)
		any |= in[i] | in[i + 1] | in[i + 2] | in[i + 3];
	for (; i < n; i++)
		any |= in[i];
	return any;
}

/* The needs of all entries of [addr, end) when they share @have. */
static unsigned int hmm_span_need(const struct hmm_range *range,
				  unsigned long addr, unsigned long end,
				  unsigned long have)
{
	unsigned long i, n = (end - addr) >> PAGE_SHIFT;
	const unsigned long *in;
	unsigned int need = 0;

	/* With a zero mask the input array plays no part at all. */
	if (!range->pfn_flags_mask)
		return hmm_entry_need(range, 0, have);

	/*
	 * An entry needs something only if it asks for a fault, and most
	 * spans (holes of a sparse range) have no entry that does: the OR
	 * of all inputs says so without decoding each of them.
	 */
	in = hmm_entry(range, addr);
	if (!hmm_entry_need(range, hmm_or_inputs(in, n), 0))
		return 0;
	for (i = 0; i < n && need != HMM_NEED_ALL; i++)
		need |= hmm_entry_need(range, in[i], have);
	return need;
}

/*
 * Output @val, @val + @step, @val + 2 * @step, ... to the @n entries from
 * @out on, four at a time: holes and huge mappings write whole page tables
 * of entries.
 */
static void hmm_fill_run(unsigned long *out, unsigned long n,
			 unsigned long val, unsigned long step)
{
	unsigned long i;

	for (i = 0; i + 4 <= n; i += 4) {
		out[i] = val;
		out[i + 1] = val + step;
		out[i + 2] = val + 2 * step;
		out[i + 3] = val + 3 * step;
		val += 4 * step;
	}
	for (; i < n; i++, val += step)
		out[i] = val;
}

static void hmm_fill(struct hmm_range *range, unsigned long addr,
		     unsigned long end, unsigned long val)
{
	hmm_fill_run(hmm_entry(range, addr), (end - addr) >> PAGE_SHIFT, val, 0);
}

/*
 * Output consecutive pfns from @pfn on, each with @flags.  The flags are
 * all above the pfn (HMM_PFN_FLAGS), and no pfn carries into them, so
 * (@pfn + i) | @flags is (@pfn | @flags) + i.
 */
static void hmm_fill_pfns(struct hmm_range *range, unsigned long addr,
			  unsigned long end, unsigned long pfn,
			  unsigned long flags)
{
	hmm_fill_run(hmm_entry(range, addr), (end - addr) >> PAGE_SHIFT,
		     pfn | flags, 1);
}

/*
 * Fault one page.  Returns 0, a negative errno, or HMM_PASS_UNLOCKED when
 * handle_mm_fault() released the mmap lock, which it only does when the
 * helper passed FAULT_FLAG_ALLOW_RETRY: the VMA may be gone by now.
 */
static int hmm_fault_page(struct mm_walk *walk, unsigned long addr,
			  unsigned int need)
{
	struct hmm_pass *pass = walk->private;
	unsigned int flags = FAULT_FLAG_REMOTE | pass->fault_flags;
	unsigned long began = jiffies;
	vm_fault_t fault;

	if (need & HMM_NEED_WRITE) {
		/*
		 * The fault handler would refuse as well, but the caller
		 * must be able to tell a permission problem from a hole.
		 */
		if (!(walk->vma->vm_flags & VM_WRITE))
			return -EPERM;
		flags |= FAULT_FLAG_WRITE;
	}
	pass->faults++;
	fault = handle_mm_fault(walk->vma, addr, flags, NULL);
	if (fault & (VM_FAULT_RETRY | VM_FAULT_COMPLETED)) {
		pass->unlocked = true;
		pass->unlocked_jiffies = jiffies - began;
		return HMM_PASS_UNLOCKED;
	}
	if (fault & VM_FAULT_ERROR)
		return -EFAULT;
	return 0;
}

/*
 * Fault the pages of [start, end), all currently granting @have, that need
 * it.  A single huge mapping is fixed up by its first fault, so @all is
 * false there and the next pass looks at the result.  Nothing of the span
 * has output yet, so the next pass starts at @start.
 */
static int hmm_fault_span(struct mm_walk *walk, unsigned long start,
			  unsigned long end, unsigned long have, bool all)
{
	struct hmm_pass *pass = walk->private;
	struct hmm_range *range = pass->range;
	unsigned long addr;
	unsigned int need;
	int ret;

	for (addr = start; addr < end; addr += PAGE_SIZE) {
		need = hmm_entry_need(range, *hmm_entry(range, addr), have);
		if (!need)
			continue;
		ret = hmm_fault_page(walk, addr, need);
		if (ret < 0)
			return ret;
		if (ret || !all)
			break;
	}
	pass->next = start;
	return ret ? ret : HMM_PASS_AGAIN;
}

/*
 * [start, end) can never be mirrored: fail if any entry insists on a
 * fault, report it as an error otherwise.
 */
static int hmm_unmirrorable_span(struct hmm_range *range, unsigned long start,
				 unsigned long end)
{
	if (hmm_span_need(range, start, end, 0))
		return -EFAULT;
	hmm_fill(range, start, end, HMM_PFN_ERROR);
	return 0;
}

/*
 * [start, end) lies in one huge mapping (PMD, PUD or hugetlb page) of
 * @order whose first pfn is @pfn, and which grants nothing, or read access
 * if @valid, or write access too if @write as well.  Fault it if an entry
 * needs more, otherwise report it as one unit.  Called with the page table
 * lock @ptl held, which it drops.
 */
static int hmm_report_huge(struct mm_walk *walk, spinlock_t *ptl,
			   unsigned long start, unsigned long end,
			   unsigned long pfn, bool valid, bool write,
			   unsigned int order)
	__releases(ptl)
{
	struct hmm_pass *pass = walk->private;
	struct hmm_range *range = pass->range;
	unsigned long have = 0;

	if (valid)
		have = write ? HMM_PFN_VALID | HMM_PFN_WRITE : HMM_PFN_VALID;
	pfn += (start & ((PAGE_SIZE << order) - 1)) >> PAGE_SHIFT;
	if (hmm_span_need(range, start, end, have)) {
		spin_unlock(ptl);
		return hmm_fault_span(walk, start, end, have, false);
	}
	if (have)
		hmm_fill_pfns(range, start, end, pfn,
			      have | hmm_order_bits(order));
	else
		hmm_fill(range, start, end, 0);
	spin_unlock(ptl);
	return 0;
}

/* Ranges without page tables, inside a VMA or not. */
static int hmm_walk_hole(unsigned long start, unsigned long end,
			 __always_unused int depth, struct mm_walk *walk)
{
	struct hmm_pass *pass = walk->private;
	struct hmm_range *range = pass->range;

	if (!walk->vma)
		return hmm_unmirrorable_span(range, start, end);
	/*
	 * One fault maps a whole hugetlb page, so fault one at a time there;
	 * elsewhere each page needs its own fault and all are taken now.
	 */
	if (hmm_span_need(range, start, end, 0))
		return hmm_fault_span(walk, start, end, 0,
				      !is_vm_hugetlb_page(walk->vma));
	hmm_fill(range, start, end, 0);
	return 0;
}

static int hmm_unmirrorable_pte(const struct hmm_range *range,
				unsigned long in, unsigned long *out)
{
	if (hmm_entry_need(range, in, 0))
		return -EFAULT;
	*out = HMM_PFN_ERROR;
	return HMM_PTE_REPORT;
}

/*
 * A non-present, non-empty PTE: same contract as hmm_decode_pte().  Only
 * the owner's own device private memory is mirrored; everything else is
 * absent for the device, and a fault request either lets the CPU fault
 * path bring it back (swap, device exclusive, another owner's device
 * private memory), waits for a migration, or fails.
 */
static int hmm_decode_swap_pte(const struct hmm_range *range, unsigned long in,
			       pte_t pte, unsigned long *out,
			       unsigned int *need)
{
	swp_entry_t entry = pte_to_swp_entry(pte);

	if (is_device_private_entry(entry)) {
		struct page *page = pfn_swap_entry_to_page(entry);

		/*
		 * The owner gets its memory back as it is, whatever it asked
		 * for: a fault would call its own migrate_to_ram() from
		 * inside its own device fault.  A read-only entry (fork(),
		 * mprotect(), NUMA balancing) is the owner's to deal with.
		 */
		if (page_pgmap(page)->owner == range->dev_private_owner) {
			*out = page_to_pfn(page) | HMM_PFN_VALID;
			if (is_writable_device_private_entry(entry))
				*out |= HMM_PFN_WRITE;
			return HMM_PTE_REPORT;
		}
		/* Another device's memory: a CPU fault migrates it back. */
	}

	*need = hmm_entry_need(range, in, 0);
	if (!*need) {
		*out = 0;
		return HMM_PTE_REPORT;
	}
	if (!non_swap_entry(entry) || is_device_private_entry(entry) ||
	    is_device_exclusive_entry(entry))
		return HMM_PTE_FAULT;
	if (is_migration_entry(entry))
		return HMM_PTE_WAIT;
	/* Poisoned memory and anything else no fault can repair. */
	return -EFAULT;
}

/*
 * Decide what to do with one PTE whose entry has input @in.  Returns a
 * negative errno, HMM_PTE_REPORT with the output in *@out, HMM_PTE_FAULT
 * with what is missing in *@need, or HMM_PTE_WAIT.
 */
static int hmm_decode_pte(const struct hmm_range *range, unsigned long in,
			  pte_t pte, unsigned long *out, unsigned int *need)
{
	unsigned long val = 0;

	/*
	 * Empty and NUMA-hinting PTEs grant nothing.  The latter keep their
	 * pfn (on x86 even their write bit), but the CPU may not use them
	 * before a fault has looked at the page's placement.
	 */
	if (!pte_present(pte)) {
		if (!pte_none_mostly(pte))
			return hmm_decode_swap_pte(range, in, pte, out, need);
	} else if (!pte_protnone(pte)) {
		unsigned long pfn = pte_pfn(pte);

		/*
		 * Special PTEs have no struct page a device could use, but
		 * the zero page has, and so have DAX pages: pte_mkdevmap()
		 * makes their PTEs special as well.
		 */
		if (pte_special(pte) && !pte_devmap(pte) && !is_zero_pfn(pfn))
			return hmm_unmirrorable_pte(range, in, out);
		val = pfn | HMM_PFN_VALID;
		if (pte_write(pte))
			val |= HMM_PFN_WRITE;
	}

	*need = hmm_entry_need(range, in, val & (HMM_PFN_VALID | HMM_PFN_WRITE));
	if (*need)
		return HMM_PTE_FAULT;
	*out = val;
	return HMM_PTE_REPORT;
}

/*
 * The output bits every entry of a range without pfn_flags_mask asks for,
 * by default_flags alone: HMM_PFN_VALID for a fault, HMM_PFN_WRITE as well
 * for a write fault, none without a fault request (hmm_entry_need()).
 */
static unsigned long hmm_default_want(const struct hmm_range *range)
{
	if (!(range->default_flags & HMM_PFN_REQ_FAULT))
		return 0;
	if (range->default_flags & HMM_PFN_REQ_WRITE)
		return HMM_PFN_VALID | HMM_PFN_WRITE;
	return HMM_PFN_VALID;
}

/* No entry of @range can ask for a fault: every PTE is only reported. */
static bool hmm_range_is_snapshot(const struct hmm_range *range)
{
	return !((range->default_flags | range->pfn_flags_mask) &
		 HMM_PFN_REQ_FAULT);
}

/* The output for a PTE for which pte_present_plain() holds. */
static unsigned long hmm_plain_entry(pte_t pte)
{
	return pte_present_pfn(pte) |
	       (pte_write(pte) ? HMM_PFN_VALID | HMM_PFN_WRITE : HMM_PFN_VALID);
}

/*
 * The plain present PTEs (pte_present_plain()) from index @i on whose
 * output has all the bits of @want, up to @n or the first other one;
 * returns the index where it stopped.  A snapshot wants nothing (0); a
 * range without per-entry requests (no pfn_flags_mask) asks every entry
 * for the same, and an entry that has it needs no fault.  Nearly every
 * PTE of a populated range is decoded here, so this loop does only that,
 * two PTEs per round: one mask test each on x86, no call, no state to
 * keep across a call.  Inlined, so that @want == 0 costs nothing.
 */
static __always_inline unsigned long
hmm_plain_ptes(pte_t *ptep, unsigned long *out, unsigned long i,
	       unsigned long n, unsigned long want)
{
	unsigned long val, next_val;
	pte_t pte, next;

	for (; i + 1 < n; i += 2) {
		pte = ptep_get(ptep + i);
		next = ptep_get(ptep + i + 1);
		if (unlikely(!pte_present_plain(pte) ||
			     !pte_present_plain(next)))
			break;
		val = hmm_plain_entry(pte);
		next_val = hmm_plain_entry(next);
		if (unlikely((val & next_val & want) != want))
			break;
		out[i] = val;
		out[i + 1] = next_val;
	}
	/* The last PTE, or the pair with another one in it. */
	for (; i < n; i++) {
		pte = ptep_get(ptep + i);
		if (!pte_present_plain(pte))
			break;
		val = hmm_plain_entry(pte);
		if ((val & want) != want)
			break;
		out[i] = val;
	}
	return i;
}

/*
 * The PTEs of one page table of a snapshot, which nothing can stop: no
 * fault, no wait.  hmm_plain_ptes() takes the plain present ones,
 * hmm_decode_pte() the rest, and with nothing requested its verdict is
 * always a report.
 */
static void hmm_snapshot_ptes(const struct hmm_range *range, pte_t *ptep,
			      unsigned long *out, unsigned long n)
{
	unsigned long i;
	unsigned int need;

	for (i = 0; ; i++) {
		i = hmm_plain_ptes(ptep, out, i, n, 0);
		if (i == n)
			break;
		hmm_decode_pte(range, out[i], ptep_get(ptep + i), &out[i],
			       &need);
	}
}

/*
 * The PTEs of one page table.  Output is written up to the first entry
 * that needs a fault; the rest of the table is still scanned so that all
 * of its faults are taken in one go once the lock is dropped.
 */
static int hmm_walk_ptes(struct mm_walk *walk, pmd_t *pmdp,
			 unsigned long start, unsigned long end)
{
	struct hmm_pass *pass = walk->private;
	struct hmm_range *range = pass->range;
	/* PTRS_PER_PTE is not a compile-time constant on ppc64 book3s. */
	DECLARE_BITMAP(fault, MAX_PTRS_PER_PTE);
	DECLARE_BITMAP(write, MAX_PTRS_PER_PTE);
	unsigned int i, nr = 0, need, n = (end - start) >> PAGE_SHIFT;
	unsigned long addr, stop = end, out, *entry;
	bool wait = false;
	spinlock_t *ptl;	/* page table lock of the entry */
	pte_t *ptep;
	int ret = 0;

	ptep = pte_offset_map_lock(walk->mm, pmdp, start, &ptl);
	if (hmm_range_is_snapshot(range)) {
		hmm_snapshot_ptes(range, ptep, hmm_entry(range, start), n);
		pte_unmap_unlock(ptep, ptl);
		return 0;
	}
	for (i = 0; i < n; i++) {
		pte_t pte;

		/*
		 * Without per-entry requests, runs of plain PTEs that already
		 * grant what every entry asks for need no fault: they are
		 * reported at once, up to the first fault planned.
		 */
		if (!range->pfn_flags_mask && !nr) {
			i = hmm_plain_ptes(ptep, hmm_entry(range, start), i, n,
					   hmm_default_want(range));
			if (i == n)
				break;
		}
		addr = start + ((unsigned long)i << PAGE_SHIFT);
		entry = hmm_entry(range, addr);
		pte = ptep_get(ptep + i);
		if (likely(pte_present_plain(pte))) {
			/* hmm_decode_pte()'s verdict, without the call */
			out = hmm_plain_entry(pte);
			need = hmm_entry_need(range, *entry, out & (HMM_PFN_VALID |
								    HMM_PFN_WRITE));
			ret = need ? HMM_PTE_FAULT : HMM_PTE_REPORT;
		} else {
			ret = hmm_decode_pte(range, *entry, pte, &out, &need);
		}
		if (ret < 0)
			break;
		if (ret == HMM_PTE_WAIT) {
			/* Faults already planned go first. */
			wait = !nr;
			if (wait)
				stop = addr;
			break;
		}
		if (ret == HMM_PTE_FAULT) {
			if (!nr++) {
				stop = addr;
				bitmap_zero(fault, n);
				bitmap_zero(write, n);
			}
			__set_bit(i, fault);
			if (need & HMM_NEED_WRITE)
				__set_bit(i, write);
			continue;
		}
		/*
		 * Past the first fault nothing may be written: the next pass
		 * reads these entries as requests again.
		 */
		if (!nr)
			*entry = out;
	}
	pte_unmap_unlock(ptep, ptl);
	if (ret < 0)
		return ret;

	if (wait) {
		migration_entry_wait(walk->mm, pmdp, stop);
		pass->next = stop;
		return HMM_PASS_AGAIN;
	}
	if (!nr)
		return 0;

	for_each_set_bit(i, fault, n) {
		need = HMM_NEED_FAULT;
		if (test_bit(i, write))
			need |= HMM_NEED_WRITE;
		ret = hmm_fault_page(walk, start + i * PAGE_SIZE, need);
		if (ret)
			break;
	}
	pass->next = stop;
	return ret ? ret : HMM_PASS_AGAIN;
}

#ifdef CONFIG_TRANSPARENT_HUGEPAGE
/* A PMD mapping a huge page: reported as one unit, never split here. */
static int hmm_walk_huge_pmd(struct mm_walk *walk, pmd_t *pmdp,
			     unsigned long start, unsigned long end)
{
	spinlock_t *ptl;	/* page table lock of the entry */
	pmd_t pmd;

	ptl = pmd_lock(walk->mm, pmdp);
	pmd = *pmdp;
	if (!pmd_present(pmd) || !(pmd_trans_huge(pmd) || pmd_devmap(pmd))) {
		/* Split or zapped since we looked: look again. */
		spin_unlock(ptl);
		walk->action = ACTION_AGAIN;
		return 0;
	}

	/* NUMA hinting: nothing is granted until a fault has looked. */
	return hmm_report_huge(walk, ptl, start, end, pmd_pfn(pmd),
			       !pmd_protnone(pmd), pmd_write(pmd),
			       PMD_SHIFT - PAGE_SHIFT);
}
#else
static int hmm_walk_huge_pmd(struct mm_walk *walk, pmd_t *pmdp,
			     unsigned long start, unsigned long end)
{
	struct hmm_pass *pass = walk->private;

	/* Cannot happen without THP; never report garbage as a page. */
	return hmm_unmirrorable_span(pass->range, start, end);
}
#endif

/*
 * A PMD-level entry for a PMD-sized device private folio.  As for its
 * PTEs, the owner gets it as it is, whatever it asked for, here with the
 * order of the PMD; anyone else sees nothing there, and a fault request
 * has the CPU fault path ask the owner to migrate it back.
 */
static int hmm_walk_private_pmd(struct mm_walk *walk, pmd_t *pmdp,
				unsigned long start, unsigned long end)
{
	struct hmm_pass *pass = walk->private;
	struct hmm_range *range = pass->range;
	unsigned long pfn, flags;
	spinlock_t *ptl;	/* page table lock of the entry */
	swp_entry_t entry;
	struct page *page;
	pmd_t pmd;

	ptl = pmd_lock(walk->mm, pmdp);
	pmd = *pmdp;
	if (!is_pmd_device_private_entry(pmd)) {
		/* Migrated, split or zapped since we looked: look again. */
		spin_unlock(ptl);
		walk->action = ACTION_AGAIN;
		return 0;
	}
	entry = pmd_to_swp_entry(pmd);
	page = pfn_swap_entry_to_page(entry);
	if (page_pgmap(page)->owner == range->dev_private_owner) {
		flags = HMM_PFN_VALID | hmm_order_bits(PMD_SHIFT - PAGE_SHIFT);
		if (is_writable_device_private_entry(entry))
			flags |= HMM_PFN_WRITE;
		pfn = page_to_pfn(page) + ((start & ~PMD_MASK) >> PAGE_SHIFT);
		hmm_fill_pfns(range, start, end, pfn, flags);
		spin_unlock(ptl);
		return 0;
	}
	spin_unlock(ptl);

	if (hmm_span_need(range, start, end, 0))
		return hmm_fault_span(walk, start, end, 0, false);
	hmm_fill(range, start, end, 0);
	return 0;
}

static int hmm_walk_pmd(pmd_t *pmdp, unsigned long start, unsigned long end,
			struct mm_walk *walk)
{
	struct hmm_pass *pass = walk->private;
	struct hmm_range *range = pass->range;
	pmd_t pmd = pmd_read_atomic(pmdp);

	/* PTE tables are walked here; the generic walker must not split. */
	walk->action = ACTION_CONTINUE;

	if (pmd_none(pmd))
		return hmm_walk_hole(start, end, -1, walk);

	if (is_pmd_migration_entry(pmd)) {
		if (!hmm_span_need(range, start, end, 0)) {
			hmm_fill(range, start, end, 0);
			return 0;
		}
		pmd_migration_entry_wait(walk->mm, pmdp);
		pass->next = start;
		return HMM_PASS_AGAIN;
	}
	if (is_pmd_device_private_entry(pmd))
		return hmm_walk_private_pmd(walk, pmdp, start, end);
	if (!pmd_present(pmd))
		return hmm_unmirrorable_span(range, start, end);

	if (pmd_trans_huge(pmd) || pmd_devmap(pmd))
		return hmm_walk_huge_pmd(walk, pmdp, start, end);

	/*
	 * Under the mmap read lock a table cannot turn into a huge PMD, but
	 * a PMD that was huge or empty a moment ago may just have become
	 * one; in that case look at it again.
	 */
	if (pmd_trans_unstable(pmdp)) {
		walk->action = ACTION_AGAIN;
		return 0;
	}
	return hmm_walk_ptes(walk, pmdp, start, end);
}

#ifdef CONFIG_HAVE_ARCH_TRANSPARENT_HUGEPAGE_PUD
/* A PUD mapping a huge page (device DAX): one unit, like a huge PMD. */
static int hmm_walk_pud(pud_t *pudp, unsigned long start, unsigned long end,
			struct mm_walk *walk)
{
	struct hmm_pass *pass = walk->private;
	spinlock_t *ptl;	/* page table lock of the entry */
	pud_t pud;

	pud = READ_ONCE(*pudp);
	if (pud_none(pud) || (pud_present(pud) && !pud_leaf(pud)))
		return 0;	/* the walker handles holes and tables */

	ptl = pud_lock(walk->mm, pudp);
	pud = *pudp;
	if (pud_none(pud) || (pud_present(pud) && !pud_leaf(pud))) {
		spin_unlock(ptl);
		walk->action = ACTION_AGAIN;
		return 0;
	}
	walk->action = ACTION_CONTINUE;
	if (!pud_present(pud)) {
		spin_unlock(ptl);
		return hmm_unmirrorable_span(pass->range, start, end);
	}
	return hmm_report_huge(walk, ptl, start, end, pud_pfn(pud), true,
			       pud_write(pud), PUD_SHIFT - PAGE_SHIFT);
}
#else
#define hmm_walk_pud	NULL
#endif

#ifdef CONFIG_HUGETLB_PAGE
/* One hugetlb page (or the part of it inside the range). */
static int hmm_walk_hugetlb(pte_t *ptep, unsigned long hmask,
			    unsigned long start, unsigned long end,
			    struct mm_walk *walk)
{
	struct hstate *h = hstate_vma(walk->vma);
	spinlock_t *ptl;	/* page table lock of the entry */
	bool present;
	pte_t pte;

	ptl = huge_pte_lock(h, walk->mm, ptep);
	pte = huge_ptep_get(ptep);
	/*
	 * Anything not present (none, swap, migration, poison) is absent
	 * for the mirror; hugetlb_fault() knows how to wait or fail.
	 */
	present = pte_present(pte);
	return hmm_report_huge(walk, ptl, start, end,
			       present ? pte_pfn(pte) : 0, present,
			       present && huge_pte_write(pte),
			       huge_page_order(h));
}
#else
#define hmm_walk_hugetlb	NULL
#endif

/*
 * VMAs without struct pages behind them (VM_IO, VM_PFNMAP) and VMAs the
 * process may not even read are never walked.
 */
static int hmm_walk_test(unsigned long start, unsigned long end,
			 struct mm_walk *walk)
{
	struct hmm_pass *pass = walk->private;
	struct vm_area_struct *vma = walk->vma;
	int ret;

	if ((vma->vm_flags & VM_READ) &&
	    !(vma->vm_flags & (VM_IO | VM_PFNMAP)))
		return 0;

	ret = hmm_unmirrorable_span(pass->range, start, end);
	/* 1 tells the walker to go on with the next VMA. */
	return ret ? ret : 1;
}

static const struct mm_walk_ops hmm_walk_ops = {
	.pud_entry	= hmm_walk_pud,
	.pmd_entry	= hmm_walk_pmd,
	.pte_hole	= hmm_walk_hole,
	.hugetlb_entry	= hmm_walk_hugetlb,
	.test_walk	= hmm_walk_test,
};

/*
 * Run passes from @pass->next on until the range is filled in (0), an
 * error, or HMM_PASS_UNLOCKED when a fault released the mmap lock.
 */
static int __hmm_walk_range(struct hmm_range *range, struct hmm_pass *pass)
{
	struct mm_struct *mm = range->notifier->mm;
	unsigned long last_stop = pass->next;
	unsigned int stalls = 0;
	int ret;

	for (;;) {
		/* Anything reported from here on might already be stale. */
		if (mmu_interval_check_retry(range->notifier,
					     range->notifier_seq))
			return -EBUSY;
		pass->passes++;
		ret = walk_page_range(mm, pass->next, range->end, &hmm_walk_ops,
				      pass);
		if (ret != HMM_PASS_AGAIN)
			return ret;

		if (pass->next != last_stop) {
			last_stop = pass->next;
			stalls = 0;
		} else if (++stalls > HMM_MAX_STALLS) {
			return -EBUSY;
		}
		cond_resched();
	}
}

static int hmm_walk_range(struct hmm_range *range, struct hmm_pass *pass)
{
	int ret;

	trace_hmm_range_fault_begin(range, pass->next);
	pass->faults = 0;
	pass->passes = 0;
	ret = __hmm_walk_range(range, pass);
	/* The lock is gone, but @range is the caller's: still there. */
	trace_hmm_range_fault_end(range, pass->faults, pass->passes,
				  ret == HMM_PASS_UNLOCKED,
				  ret == HMM_PASS_UNLOCKED ? 0 : ret);
	return ret;
}

/**
 * hmm_range_fault() - report the CPU mapping of a range, faulting as asked
 * @range: the range, its request flags and the output array
 *
 * Fills @range->hmm_pfns with one entry per page of [@range->start,
 * @range->end): the pfn and HMM_PFN_VALID/HMM_PFN_WRITE for pages the CPU
 * maps, 0 for pages it does not map (NUMA-hinting, swap, migration and
 * poisoned entries included), HMM_PFN_ERROR where nothing can ever be
 * mirrored.  Pages whose request (the entry's input masked with
 * @range->pfn_flags_mask, plus @range->default_flags) asks for more than
 * the CPU mapping grants are faulted in first.  The exception is device
 * private memory of @range->dev_private_owner, which is always reported
 * as it is, read-only or not (a PMD-sized device private folio mapped by
 * its PMD with the PMD's order): its owner decides what to do with it.
 *
 * The caller holds the mmap lock of @range->notifier->mm for read and
 * took @range->notifier_seq from mmu_interval_read_begin().  The result is
 * only usable if mmu_interval_read_retry() then confirms, under the lock
 * the driver's invalidate callback takes, that nothing changed since.
 * hmm_range_fault_unlocked_timeout() does all of this but the last step,
 * and retries; it is what most drivers want.
 *
 * Context: may sleep; mmap read lock held.
 *
 * Return: 0 when every entry is filled in, or
 * -EBUSY if the range was invalidated, or faults keep succeeding without
 * mapping what was asked for (a page held by another migration, say): the
 * caller should start over, within a time limit of its own;
 * -EFAULT if a requested fault cannot be satisfied (no VMA, no read
 * permission, IO or pfn mapping, poisoned page, fault failure);
 * -EPERM if write access was requested on a VMA without write permission;
 * -EINVAL if the range is empty.
 */
int hmm_range_fault(struct hmm_range *range)
{
	struct hmm_pass pass = {
		.range = range,
		.next = range->start,
	};

	mmap_assert_locked(range->notifier->mm);
	return hmm_walk_range(range, &pass);
}
EXPORT_SYMBOL(hmm_range_fault);

/* Milliseconds to @deadline, for the tracepoints; -1 without a deadline. */
static long hmm_ms_left(unsigned long deadline, unsigned long timeout)
{
	if (!timeout)
		return -1;
	if (time_after(jiffies, deadline))
		return 0;
	return jiffies_to_msecs(deadline - jiffies);
}

/**
 * hmm_range_fault_unlocked_timeout() - hmm_range_fault() with its retry loop
 * @range: the range, its request flags and the output array, as for
 *	hmm_range_fault(); @range->notifier_seq is set here
 * @timeout_jiffies: how long to keep trying while the range is being
 *	invalidated; 0 means for as long as it takes
 *
 * Runs the loop every driver wraps around hmm_range_fault(): takes a
 * sequence with mmu_interval_read_begin(), takes the mmap read lock of
 * @range->notifier->mm (killable), faults, drops the lock, and starts over
 * with a new sequence while the result is -EBUSY.  Unlike hmm_range_fault()
 * its faults are taken with FAULT_FLAG_ALLOW_RETRY | FAULT_FLAG_KILLABLE,
 * so handle_mm_fault() may release the mmap lock to wait: for a userfaultfd
 * handler, a page lock or I/O.  The lock is then taken again and the walk
 * resumes where it stopped, under the same sequence.  Ranges registered
 * with userfaultfd can be mirrored this way; with hmm_range_fault() they
 * fail with -EFAULT.
 *
 * What counts against @timeout_jiffies is the time of the whole call
 * except every handle_mm_fault() call that returned with the mmap lock
 * released: that one is not counted at all, from its start to its return,
 * since the wait in it may be for user space, which can take as long as it
 * likes.  Waiting for the mmap lock and in mmu_interval_read_begin()
 * counts.  The deadline is looked at each time a try ended with -EBUSY, so
 * the call can overrun it by one try.
 *
 * On success the caller still takes the lock its invalidate callback
 * takes and checks mmu_interval_read_retry() with @range->notifier_seq
 * before it uses the result, as after hmm_range_fault().  A result that
 * was already known to be stale when the call ended is not returned: the
 * call goes on with a new sequence instead.
 *
 * Context: may sleep.  The mmap lock must not be held; it is not held on
 * return either.
 *
 * Return: 0 when every entry is filled in; -EBUSY if the range was still
 * being invalidated when @timeout_jiffies had passed; -EINTR on a fatal
 * signal; -EFAULT also when the mm has no users left; otherwise what
 * hmm_range_fault() returns.
 */
int hmm_range_fault_unlocked_timeout(struct hmm_range *range,
				     unsigned long timeout_jiffies)
{
	struct mm_struct *mm = range->notifier->mm;
	unsigned long deadline = jiffies + timeout_jiffies;
	struct hmm_pass pass = {
		.range = range,
		.fault_flags = FAULT_FLAG_ALLOW_RETRY | FAULT_FLAG_KILLABLE,
	};
	unsigned long began = jiffies, excluded = 0;
	unsigned int tries = 1;
	bool fresh = true;
	int ret;

	might_sleep();
	lockdep_assert_not_held(&mm->mmap_lock);
	if (!mmget_not_zero(mm))
		return -EFAULT;

	for (;;) {
		if (fresh) {
			range->notifier_seq =
				mmu_interval_read_begin(range->notifier);
			pass.next = range->start;
			fresh = false;
		}
		if (mmap_read_lock_killable(mm)) {
			ret = -EINTR;
			break;
		}
		pass.unlocked = false;
		ret = hmm_walk_range(range, &pass);
		if (pass.unlocked) {
			/* Resume at pass.next, with the lock taken again. */
			deadline += pass.unlocked_jiffies;
			excluded += pass.unlocked_jiffies;
			pass.fault_flags |= FAULT_FLAG_TRIED;
			if (fatal_signal_pending(current)) {
				ret = -EINTR;
				break;
			}
			trace_hmm_range_fault_retry(range, tries,
						    HMM_RETRY_UNLOCKED,
						    hmm_ms_left(deadline, timeout_jiffies));
			continue;
		}
		mmap_read_unlock(mm);
		pass.fault_flags &= ~FAULT_FLAG_TRIED;

		if (!ret && mmu_interval_check_retry(range->notifier,
						     range->notifier_seq))
			ret = -EBUSY;
		if (ret != -EBUSY)
			break;
		if (fatal_signal_pending(current)) {
			ret = -EINTR;
			break;
		}
		if (timeout_jiffies && time_after(jiffies, deadline)) {
			trace_hmm_range_fault_deadline(range, tries,
						       jiffies - began,
						       excluded,
						       timeout_jiffies);
			break;
		}
		tries++;
		trace_hmm_range_fault_retry(range, tries, HMM_RETRY_BUSY,
					    hmm_ms_left(deadline, timeout_jiffies));
		fresh = true;
	}
	mmput(mm);
	return ret;
}
EXPORT_SYMBOL_GPL(hmm_range_fault_unlocked_timeout);

// SPDX-License-Identifier: GPL-2.0
/*
 * hmm-fuzz: random operation streams against the HMM test driver, with a
 * data oracle.
 *
 * Worker threads (in one or more processes) each own a few memory regions
 * and drive them through random operations: CPU reads and writes, every
 * test_hmm ioctl on devices 0-3, mmap, munmap, mprotect, mremap, madvise,
 * fork, closing and reopening a device. Each thread knows what every page
 * of its own regions must contain (a 64-bit version from which the page's
 * bytes are generated; 0 is a page of zeroes), so every CPU read, every
 * device READ and every copy the driver hands back after a migration or an
 * exclusive grab is compared with it. Operations that cannot change data
 * (migrations, snapshots, exclusive access, RELEASE, page-out) are also
 * aimed at the regions of other threads, to race with their owners; those
 * only check that the error is one the operation may return.
 *
 * Every failure must be one of the errors documented for the operation
 * (Documentation/mm/hmm.rst, "The test driver"). On a data mismatch or an
 * unexpected error the program prints the seed, the thread and its last
 * operations, and exits with status 1.
 *
 * With -f the worker threads mark themselves make-it-fail, so that failslab
 * and fail_page_alloc (set up by the caller with task-filter) fail their
 * allocations in the kernel at random: then -ENOMEM, and -EFAULT where a
 * fault could not allocate, are accepted from every operation that may
 * allocate, and operations that may have done part of their work are
 * retried or their pages marked uncertain.
 *
 * With one process and one thread, the same seed gives the same operation
 * stream, so a failure found that way can be replayed.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/time.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "lib/test_hmm_uapi.h"

#ifndef MREMAP_DONTUNMAP
#define MREMAP_DONTUNMAP	4
#endif
#ifndef MADV_COLD
#define MADV_COLD		20
#endif
#ifndef MADV_PAGEOUT
#define MADV_PAGEOUT		21
#endif
#ifndef MADV_FREE
#define MADV_FREE		8
#endif

#define PAGE		4096UL
#define HPAGE		(2UL << 20)
#define HPAGE_PAGES	(HPAGE / PAGE)
#define NDEV		4
#define MAX_THREADS	16
#define MAX_REGIONS	8	/* per thread */
#define LOG_LINES	48	/* operations kept for a failure report */
#define LOG_LEN		160
#define MAX_OP_PAGES	64	/* pages one data operation touches at most */
/*
 * Below mmap_min_addr nothing is ever mapped, yet it is user space: the
 * driver must take it as a range and fail on it.
 */
#define HOLE		((char *)(4 * PAGE))

/* ---- random numbers ------------------------------------------------------ */

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

static uint64_t splitmix(uint64_t x)
{
	x += 0x9e3779b97f4a7c15ULL;
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
	return x ^ (x >> 31);
}

struct rng {
	uint64_t s;
};

static uint64_t rnd(struct rng *r)
{
	r->s = splitmix(r->s);
	return r->s;
}

/* Uniform in [0, n). */
static unsigned long below(struct rng *r, unsigned long n)
{
	return n ? rnd(r) % n : 0;
}

static bool chance(struct rng *r, unsigned int pct)
{
	return below(r, 100) < pct;
}

/* ---- page contents --------------------------------------------------------- */

/* The bytes of a page at version @v: zeroes for 0, a pattern otherwise. */
static void fill_page(void *p, uint64_t v)
{
	uint64_t *w = p;
	unsigned long i;

	if (!v) {
		memset(p, 0, PAGE);
		return;
	}
	for (i = 0; i < PAGE / 8; i++)
		w[i] = splitmix(v + i);
}

static bool page_is(const void *p, uint64_t v)
{
	const uint64_t *w = p;
	unsigned long i;

	for (i = 0; i < PAGE / 8; i++)
		if (w[i] != (v ? splitmix(v + i) : 0))
			return false;
	return true;
}

/* ---- what each page of a region must hold ------------------------------- */

enum kind {
	K_ANON,		/* private anonymous */
	K_SHARED,	/* shared anonymous */
	K_FILE,		/* private mapping of a tmpfs file */
	K_FILE_SHARED,	/* shared mapping of a tmpfs file */
	K_HUGETLB,	/* private anonymous hugetlb */
	K_NR,
};

static const char *const kind_name[K_NR] = {
	"anon", "shared", "file", "file-shared", "hugetlb",
};

enum prot { P_RW, P_RO, P_NONE };
static const int prot_bits[] = { PROT_READ | PROT_WRITE, PROT_READ, PROT_NONE };
static const char *const prot_name[] = { "rw", "ro", "none" };

/*
 * A page's expected version. After an operation that failed half way
 * (a device WRITE returns no count on error) a page may hold either of two
 * versions until the next check settles it; after a second such failure
 * before that, any of three, which the oracle does not track: the page is
 * unknown until it is written again.
 */
struct pv {
	uint64_t v;
	uint64_t alt;
	bool maybe;
	bool lazy;	/* MADV_FREE: may turn to zeroes until written */
	bool unknown;
};

struct region {
	bool live;
	int id;
	char *addr;
	unsigned long npages;
	enum kind kind;
	enum prot prot;
	int fd;			/* the file of K_FILE and K_FILE_SHARED */
	struct pv *pv;
	uint64_t *filev;	/* K_FILE: what the file itself holds */
};

/* ---- threads, processes and the shared region table --------------------- */

struct worker {
	int tid;
	struct rng rng;
	int dev[NDEV];		/* -1 where the device does not exist */
	struct region reg[MAX_REGIONS];
	unsigned long ops, budget;
	char log[LOG_LINES][LOG_LEN];
	unsigned long nlog;
	uint64_t next_version;
	char *buf;		/* MAX_OP_PAGES pages */
	pthread_t thread;
};

struct stats {
	unsigned long ops;
	unsigned long by_errno[8][140];	/* [op class][errno] */
	unsigned long checked_pages;
	unsigned long forks;
};

static struct {
	uint64_t seed;
	unsigned long ops;
	int threads, procs;
	bool fail_alloc;	/* fault injection on: ENOMEM is always fine */
	bool verbose;
	bool have_dev[NDEV];
} cfg = { .threads = 1, .procs = 1 };

static pthread_mutex_t table_lock = PTHREAD_MUTEX_INITIALIZER;
static struct worker *workers[MAX_THREADS];
static int nworkers;
static struct stats *stats;	/* shared between processes */

enum op_class { C_IOCTL, C_CPU, C_MAP, C_MADV, C_FOREIGN, C_BAD, C_PROC, C_NR };
static const char *const class_name[C_NR] = {
	"ioctl", "cpu", "map", "madvise", "foreign", "bad-input", "process",
};

/* Write a line to stderr without stdio: safe in a child of a threaded fork. */
static void say(const char *fmt, ...)
{
	char line[512];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	if (n > (int)sizeof(line) - 1)
		n = sizeof(line) - 1;
	if (write(2, line, n) < 0)
		return;
}

static void note(struct worker *w, const char *fmt, ...)
{
	char *line = w->log[w->nlog++ % LOG_LINES];
	va_list ap;
	int n;

	n = snprintf(line, LOG_LEN, "#%lu t%d ", w->ops, w->tid);
	va_start(ap, fmt);
	vsnprintf(line + n, LOG_LEN - n, fmt, ap);
	va_end(ap);
	if (cfg.verbose)
		say("%s\n", line);
}

static void __attribute__((noreturn)) fail(struct worker *w, const char *fmt, ...)
{
	char why[256];
	unsigned long i, first;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	say("hmm-fuzz: FAIL seed %" PRIu64 " pid %d thread %d after %lu ops: %s\n",
	    cfg.seed, getpid(), w->tid, w->ops, why);
	say("hmm-fuzz: replay with: hmm-fuzz -s %" PRIu64 " -n %lu -t %d -p %d%s\n",
	    cfg.seed, cfg.ops, cfg.threads, cfg.procs,
	    cfg.fail_alloc ? " -f" : "");
	say("hmm-fuzz: last operations of thread %d:\n", w->tid);
	first = w->nlog > LOG_LINES ? w->nlog - LOG_LINES : 0;
	for (i = first; i < w->nlog; i++)
		say("  %s\n", w->log[i % LOG_LINES]);
	_exit(1);
}

static void count(int class, int err)
{
	if (err < 0)
		err = -err;
	if (err >= 140)
		err = 139;
	__atomic_add_fetch(&stats->by_errno[class][err], 1, __ATOMIC_RELAXED);
}

/*
 * calloc(), retried while it fails: with fault injection on, the kernel
 * fails the mmap() and brk() behind it now and then.
 */
static void *xcalloc(size_t n, size_t size)
{
	unsigned int tries;
	void *p;

	for (tries = 0; tries < 1000; tries++) {
		p = calloc(n ? n : 1, size);
		if (p)
			return p;
	}
	say("hmm-fuzz: out of memory\n");
	_exit(1);
}

#define MAKE_IT_FAIL "/proc/thread-self/make-it-fail"

/*
 * Mark (or unmark) the calling thread for fault injection: failslab and
 * fail_page_alloc, set up with task-filter, fail only the allocations of
 * marked tasks. A fork()ed child inherits the mark, so its own open() of
 * the file may fail too, with -ENOENT where procfs could not allocate the
 * inode of a /proc/PID directory: try again (main() checked that the file
 * exists).
 */
static void make_it_fail(bool on)
{
	unsigned int tries;
	int fd;

	for (tries = 0; tries < 1000; tries++) {
		fd = open(MAKE_IT_FAIL, O_WRONLY);
		if (fd >= 0 && write(fd, on ? "1" : "0", 1) == 1) {
			close(fd);
			return;
		}
		if (fd >= 0)
			close(fd);
	}
	say("hmm-fuzz: -f: cannot %smark this thread for fault injection: %s\n",
	    on ? "" : "un", strerror(errno));
	_exit(2);
}

/* ---- the driver's commands ----------------------------------------------- */

static int dm(int fd, unsigned long req, unsigned long addr, void *ptr,
	      unsigned long npages, struct hmm_dmirror_cmd *out)
{
	struct hmm_dmirror_cmd cmd = {
		.addr = addr,
		.ptr = (uintptr_t)ptr,
		.npages = npages,
	};
	int ret;

	do {
		ret = ioctl(fd, req, &cmd);
	} while (ret < 0 && errno == EINTR);
	if (out)
		*out = cmd;
	return ret < 0 ? -errno : 0;
}

static const char *req_name(unsigned long req)
{
	switch (req) {
	case HMM_DMIRROR_READ:			return "READ";
	case HMM_DMIRROR_WRITE:			return "WRITE";
	case HMM_DMIRROR_MIGRATE_TO_DEV:	return "TO_DEV";
	case HMM_DMIRROR_MIGRATE_TO_SYS:	return "TO_SYS";
	case HMM_DMIRROR_SNAPSHOT:		return "SNAPSHOT";
	case HMM_DMIRROR_EXCLUSIVE:		return "EXCLUSIVE";
	case HMM_DMIRROR_CHECK_EXCLUSIVE:	return "CHECK_EXCL";
	case HMM_DMIRROR_RELEASE:		return "RELEASE";
	case HMM_DMIRROR_FLAGS:			return "FLAGS";
	case HMM_DMIRROR_READ_UNLOCKED:		return "READ_UNL";
	case HMM_DMIRROR_WRITE_UNLOCKED:	return "WRITE_UNL";
	}
	return "?";
}

/*
 * With fault injection on (-f), what an allocation that failed turns into:
 * -ENOMEM, or -EFAULT where a page fault could not allocate (in
 * hmm_range_fault() or in a copy to or from the caller's buffer).
 */
static bool alloc_failure(int err)
{
	return cfg.fail_alloc && (err == -ENOMEM || err == -EFAULT);
}

/*
 * Errors each command may return on a range the caller owns, by the kind
 * of memory and the VMA's protection: the contract hmm.rst documents for
 * the test driver.
 */
static bool allowed(unsigned long req, enum kind kind, enum prot prot, int err)
{
	if (!err)
		return true;
	if (alloc_failure(err))
		return true;
	/* migrate_vma does not take hugetlb VMAs. */
	if (kind == K_HUGETLB && err == -EINVAL &&
	    (req == HMM_DMIRROR_MIGRATE_TO_DEV ||
	     req == HMM_DMIRROR_MIGRATE_TO_SYS))
		return true;
	switch (req) {
	case HMM_DMIRROR_READ:
	case HMM_DMIRROR_READ_UNLOCKED:
		return err == -EBUSY || (prot == P_NONE && err == -EFAULT);
	case HMM_DMIRROR_WRITE:
	case HMM_DMIRROR_WRITE_UNLOCKED:
		return err == -EBUSY || (prot == P_NONE && err == -EFAULT) ||
		       (prot == P_RO && err == -EPERM);
	case HMM_DMIRROR_MIGRATE_TO_DEV:
		return err == -ENOENT || err == -EBUSY ||
		       (prot == P_NONE && err == -EINVAL);
	case HMM_DMIRROR_MIGRATE_TO_SYS:
		return prot == P_NONE && err == -EINVAL;
	case HMM_DMIRROR_SNAPSHOT:
		return err == -EBUSY;
	case HMM_DMIRROR_EXCLUSIVE:
		return err == -EBUSY || err == -ENOENT ||
		       (prot != P_RW && err == -EFAULT);
	case HMM_DMIRROR_CHECK_EXCLUSIVE:
		return err == -EPERM;
	case HMM_DMIRROR_RELEASE:
		return err == -EBUSY;
	}
	return false;
}

/* Errors on a range that may have been unmapped or remapped meanwhile. */
static bool allowed_foreign(unsigned long req, int err)
{
	return allowed(req, K_HUGETLB, P_NONE, err) ||
	       allowed(req, K_HUGETLB, P_RO, err) ||
	       err == -EFAULT || err == -EINVAL || err == -ENOENT;
}

/* ---- the oracle --------------------------------------------------------------- */

/*
 * A fresh version; a quarter of them come from a pool of four, so that
 * pages with equal contents are common and KSM has something to merge.
 */
static uint64_t new_version(struct worker *w)
{
	uint64_t v;

	if (chance(&w->rng, 25))
		return 1 + below(&w->rng, 4);
	do {
		v = rnd(&w->rng);
	} while (!v);
	return v;
}

/* Page @i of @r must hold what @p holds: settle a maybe, or fail. */
static void check_page(struct worker *w, struct region *r, unsigned long i,
		       const void *p, const char *what)
{
	struct pv *pv = &r->pv[i];
	const uint64_t *got = p;

	if (pv->unknown)
		return;
	if (page_is(p, pv->v)) {
		pv->maybe = false;
	} else if (pv->maybe && page_is(p, pv->alt)) {
		pv->v = pv->alt;
		pv->maybe = false;
	} else if (pv->lazy && page_is(p, 0)) {
		pv->v = 0;
		pv->maybe = false;
		pv->lazy = false;
	} else {
		fail(w, "%s: region %d (%s) page %lu at %p: want version %#" PRIx64
		     "%s%" PRIx64 "%s, first word %#" PRIx64, what, r->id,
		     kind_name[r->kind], i, r->addr + i * PAGE, pv->v,
		     pv->maybe ? " or " : "", pv->maybe ? pv->alt : 0,
		     pv->lazy ? " or zeroes" : "", got[0]);
	}
	__atomic_add_fetch(&stats->checked_pages, 1, __ATOMIC_RELAXED);
}

/* Page contents are known again: @pv holds version @v. */
static void set_version(struct pv *pv, uint64_t v)
{
	pv->v = v;
	pv->maybe = false;
	pv->lazy = false;
	pv->unknown = false;
}

/* The page holds its version or @alt, until a check settles which. */
static void maybe_version(struct pv *pv, uint64_t alt)
{
	if (pv->maybe && pv->alt != alt)
		pv->unknown = true;
	pv->alt = alt;
	pv->maybe = true;
}

static void check_buf(struct worker *w, struct region *r, unsigned long first,
		      unsigned long n, const char *what)
{
	unsigned long i;

	for (i = 0; i < n; i++)
		check_page(w, r, first + i, w->buf + i * PAGE, what);
}

/* ---- regions -------------------------------------------------------------- */

static void publish(struct region *r, bool live)
{
	pthread_mutex_lock(&table_lock);
	r->live = live;
	pthread_mutex_unlock(&table_lock);
}

static struct region *free_slot(struct worker *w)
{
	int i;

	for (i = 0; i < MAX_REGIONS; i++)
		if (!w->reg[i].live && !w->reg[i].pv)
			return &w->reg[i];
	return NULL;
}

static void forget(struct region *r)
{
	publish(r, false);
	free(r->pv);
	free(r->filev);
	if (r->fd >= 0)
		close(r->fd);
	memset(r, 0, sizeof(*r));
	r->fd = -1;
}

/* Map @len bytes aligned to @align (a power of two). */
static void *map_aligned(size_t len, size_t align, int prot, int flags, int fd)
{
	char *p, *a;

	if (align <= PAGE)
		return mmap(NULL, len, prot, flags, fd, 0);
	p = mmap(NULL, len + align, PROT_NONE,
		 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (p == MAP_FAILED)
		return p;
	a = (char *)(((uintptr_t)p + align - 1) & ~(align - 1));
	if (a > p)
		munmap(p, a - p);
	munmap(a + len, p + len + align - (a + len));
	return mmap(a, len, prot, flags | MAP_FIXED, fd, 0);
}

static int open_file(struct worker *w, unsigned long npages, uint64_t *filev)
{
	unsigned long i;
	char name[64];
	int fd;

	snprintf(name, sizeof(name), "/tmp/hmm-fuzz.%d.%d.%lu", getpid(),
		 w->tid, w->ops);
	fd = open(name, O_RDWR | O_CREAT | O_TRUNC, 0600);
	if (fd < 0)
		return -1;
	unlink(name);
	for (i = 0; i < npages; i++) {
		filev[i] = chance(&w->rng, 30) ? 0 : new_version(w);
		fill_page(w->buf, filev[i]);
		if (pwrite(fd, w->buf, PAGE, i * PAGE) != (ssize_t)PAGE) {
			close(fd);
			return -1;
		}
	}
	return fd;
}

static void op_mmap(struct worker *w)
{
	static const unsigned long sizes[] = { 1, 2, 4, 8, 16, 31, 64,
					       HPAGE_PAGES };
	struct region *r = free_slot(w);
	enum kind kind = below(&w->rng, K_NR);
	unsigned long n = sizes[below(&w->rng, 8)], i;
	int flags, fd = -1;
	size_t align = PAGE;
	uint64_t *filev = NULL;
	void *p;

	if (!r)
		return;
	if (kind == K_HUGETLB)
		n = HPAGE_PAGES;
	if (n == HPAGE_PAGES)
		align = HPAGE;
	switch (kind) {
	case K_ANON:
		flags = MAP_PRIVATE | MAP_ANONYMOUS;
		break;
	case K_SHARED:
		flags = MAP_SHARED | MAP_ANONYMOUS;
		break;
	case K_HUGETLB:
		flags = MAP_PRIVATE | MAP_ANONYMOUS | MAP_HUGETLB;
		break;
	default:
		filev = xcalloc(n, sizeof(*filev));
		fd = open_file(w, n, filev);
		if (fd < 0) {
			free(filev);
			return;
		}
		flags = kind == K_FILE ? MAP_PRIVATE : MAP_SHARED;
		break;
	}
	p = map_aligned(n * PAGE, align, PROT_READ | PROT_WRITE, flags, fd);
	note(w, "mmap %s %lu pages -> %p", kind_name[kind], n,
	     p == MAP_FAILED ? NULL : p);
	count(C_MAP, p == MAP_FAILED ? errno : 0);
	if (p == MAP_FAILED) {
		/*
		 * Only hugetlb may run out: the pool is small. With fault
		 * injection any mapping may fail to allocate, and shared
		 * anonymous and hugetlb memory report an inode they could
		 * not allocate as -ENOSPC (shmem_zero_setup(),
		 * hugetlb_file_setup()).
		 */
		bool ok = errno == ENOMEM &&
			  (kind == K_HUGETLB || alloc_failure(-errno));

		ok |= errno == ENOSPC && alloc_failure(-ENOMEM) &&
		      (kind == K_SHARED || kind == K_HUGETLB);
		if (!ok)
			fail(w, "mmap %s: %s", kind_name[kind], strerror(errno));
		free(filev);
		if (fd >= 0)
			close(fd);
		return;
	}
	memset(r, 0, sizeof(*r));
	r->id = w->tid * 1000 + (int)(w->ops % 1000);
	r->addr = p;
	r->npages = n;
	r->kind = kind;
	r->prot = P_RW;
	r->fd = fd;
	r->pv = xcalloc(n, sizeof(*r->pv));
	if (kind == K_FILE_SHARED) {
		for (i = 0; i < n; i++)
			r->pv[i].v = filev[i];
		free(filev);
		filev = NULL;
	} else if (kind == K_FILE) {
		for (i = 0; i < n; i++)
			r->pv[i].v = filev[i];
	}
	r->filev = filev;
	if (n == HPAGE_PAGES && kind == K_ANON && chance(&w->rng, 50))
		madvise(p, n * PAGE, MADV_HUGEPAGE);
	publish(r, true);
}

static struct region *pick(struct worker *w)
{
	int i, start = below(&w->rng, MAX_REGIONS);

	for (i = 0; i < MAX_REGIONS; i++) {
		struct region *r = &w->reg[(start + i) % MAX_REGIONS];

		if (r->live)
			return r;
	}
	return NULL;
}

/* A random page range of @r: [*first, *first + *n), at most @max pages. */
static void span(struct worker *w, struct region *r, unsigned long max,
		 unsigned long *first, unsigned long *n)
{
	*first = below(&w->rng, r->npages);
	*n = 1 + below(&w->rng, r->npages - *first);
	if (*n > max)
		*n = max;
}

/* ---- CPU access ----------------------------------------------------------- */

static void op_cpu_read(struct worker *w)
{
	struct region *r = pick(w);
	unsigned long first, n, i;

	if (!r || r->prot == P_NONE)
		return;
	span(w, r, MAX_OP_PAGES, &first, &n);
	note(w, "cpu read r%d [%lu,+%lu)", r->id, first, n);
	for (i = 0; i < n; i++)
		check_page(w, r, first + i, r->addr + (first + i) * PAGE,
			   "cpu read");
	count(C_CPU, 0);
}

static void op_cpu_write(struct worker *w)
{
	struct region *r = pick(w);
	unsigned long first, n, i;

	if (!r || r->prot != P_RW)
		return;
	span(w, r, MAX_OP_PAGES, &first, &n);
	note(w, "cpu write r%d [%lu,+%lu)", r->id, first, n);
	for (i = 0; i < n; i++) {
		struct pv *pv = &r->pv[first + i];

		set_version(pv, chance(&w->rng, 10) ? 0 : new_version(w));
		fill_page(r->addr + (first + i) * PAGE, pv->v);
	}
	count(C_CPU, 0);
}

/* ---- device commands on the thread's own regions ---------------------- */

static int pick_dev(struct worker *w)
{
	int d, i, start = below(&w->rng, NDEV);

	for (i = 0; i < NDEV; i++) {
		d = (start + i) % NDEV;
		if (w->dev[d] >= 0)
			return d;
	}
	return -1;
}

static void op_dev(struct worker *w, unsigned long req)
{
	struct region *r = pick(w);
	unsigned long first, n, i;
	struct hmm_dmirror_cmd cmd;
	int d = pick_dev(w), err;
	uint64_t *vers = NULL;

	if (!r || d < 0)
		return;
	span(w, r, MAX_OP_PAGES, &first, &n);
	if (req == HMM_DMIRROR_WRITE || req == HMM_DMIRROR_WRITE_UNLOCKED) {
		vers = xcalloc(n, sizeof(*vers));
		for (i = 0; i < n; i++) {
			vers[i] = chance(&w->rng, 10) ? 0 : new_version(w);
			fill_page(w->buf + i * PAGE, vers[i]);
		}
	}
	err = dm(w->dev[d], req, (uintptr_t)(r->addr + first * PAGE), w->buf, n,
		 &cmd);
	note(w, "%s dev%d r%d %s/%s [%lu,+%lu) -> %d", req_name(req), d, r->id,
	     kind_name[r->kind], prot_name[r->prot], first, n, err);
	count(C_IOCTL, err);
	if (!allowed(req, r->kind, r->prot, err))
		fail(w, "%s dev%d on %s %s memory: unexpected error %d (%s)",
		     req_name(req), d, prot_name[r->prot], kind_name[r->kind],
		     err, strerror(-err));

	switch (req) {
	case HMM_DMIRROR_READ:
	case HMM_DMIRROR_READ_UNLOCKED:
	case HMM_DMIRROR_MIGRATE_TO_DEV:
	case HMM_DMIRROR_EXCLUSIVE:
		/* What the device read, or read back after moving it. */
		if (!err)
			check_buf(w, r, first, n, req_name(req));
		break;
	case HMM_DMIRROR_WRITE:
	case HMM_DMIRROR_WRITE_UNLOCKED:
		for (i = 0; i < n; i++) {
			struct pv *pv = &r->pv[first + i];

			/*
			 * Some pages may have been written, unless the
			 * mapping refused writes from the first page on
			 * (-EPERM, or -EFAULT but when a fault could not
			 * allocate).
			 */
			if (!err)
				set_version(pv, vers[i]);
			else if (err != -EPERM &&
				 (err != -EFAULT || cfg.fail_alloc))
				maybe_version(pv, vers[i]);
		}
		break;
	case HMM_DMIRROR_SNAPSHOT:
		for (i = 0; !err && i < n; i++) {
			unsigned char c = ((unsigned char *)w->buf)[i];

			if (r->prot == P_NONE && c != HMM_DMIRROR_PROT_ERROR)
				fail(w, "snapshot of PROT_NONE page %lu: %#x",
				     first + i, c);
			if (r->prot == P_RO && c != HMM_DMIRROR_PROT_ERROR &&
			    (c & HMM_DMIRROR_PROT_WRITE))
				fail(w, "snapshot of read-only page %lu: %#x",
				     first + i, c);
		}
		break;
	}
	free(vers);
}

/* ---- mapping changes -------------------------------------------------------- */

/* Unmap all of @r, or pages [first, first + n) of it, splitting it. */
static void op_munmap(struct worker *w)
{
	struct region *r = pick(w), *tail;
	unsigned long first, n, rest;

	if (!r)
		return;
	first = 0;
	n = r->npages;
	if (r->kind != K_HUGETLB && r->npages > 1 && chance(&w->rng, 60))
		span(w, r, r->npages - 1, &first, &n);
	note(w, "munmap r%d [%lu,+%lu) of %lu", r->id, first, n, r->npages);
	rest = r->npages - first - n;
	tail = rest && first ? free_slot(w) : NULL;
	if (rest && first && !tail)
		return;		/* no slot for the second half */

	publish(r, false);
	/* Splitting a VMA allocates: retry what fault injection failed. */
	while (munmap(r->addr + first * PAGE, n * PAGE)) {
		count(C_MAP, errno);
		if (!alloc_failure(-errno))
			fail(w, "munmap: %s", strerror(errno));
	}
	count(C_MAP, 0);
	if (first == 0 && !rest) {
		forget(r);
		return;
	}
	if (tail) {
		*tail = *r;
		tail->id = r->id + 100000;
		tail->addr = r->addr + (first + n) * PAGE;
		tail->npages = rest;
		tail->pv = xcalloc(rest, sizeof(*tail->pv));
		memcpy(tail->pv, r->pv + first + n, rest * sizeof(*tail->pv));
		tail->filev = NULL;
		if (r->filev) {
			tail->filev = xcalloc(rest, sizeof(*tail->filev));
			memcpy(tail->filev, r->filev + first + n,
			       rest * sizeof(*tail->filev));
		}
		tail->fd = r->fd >= 0 ? dup(r->fd) : -1;
		publish(tail, true);
		r->npages = first;
	} else if (first) {
		r->npages = first;
	} else {
		/* The head went: keep the tail. */
		memmove(r->pv, r->pv + n, rest * sizeof(*r->pv));
		if (r->filev)
			memmove(r->filev, r->filev + n, rest * sizeof(*r->filev));
		r->addr += n * PAGE;
		r->npages = rest;
	}
	publish(r, true);
}

static void op_mprotect(struct worker *w)
{
	struct region *r = pick(w);
	enum prot prot = below(&w->rng, 3);
	int err;

	if (!r)
		return;
	/*
	 * A failed mprotect() may have changed part of the range: retry what
	 * fault injection failed until all of it has the new protection.
	 */
	do {
		err = mprotect(r->addr, r->npages * PAGE, prot_bits[prot]) ?
			errno : 0;
		note(w, "mprotect r%d %s -> %d", r->id, prot_name[prot], err);
		count(C_MAP, err);
	} while (err && alloc_failure(-err));
	if (err)
		fail(w, "mprotect: %s", strerror(err));
	r->prot = prot;
}

/*
 * Move @r elsewhere; private anonymous memory may stay mapped where it was
 * (MREMAP_DONTUNMAP), empty, as a region of its own.
 */
static void op_mremap(struct worker *w)
{
	struct region *r = pick(w), *old;
	bool keep;
	size_t len;
	void *p;

	if (!r || r->kind == K_HUGETLB)
		return;
	keep = r->kind == K_ANON && chance(&w->rng, 50);
	old = keep ? free_slot(w) : NULL;
	if (keep && !old)
		return;
	len = r->npages * PAGE;
	publish(r, false);
	/* Some C libraries read the new address for DONTUNMAP: give one. */
	p = mremap(r->addr, len, len,
		   MREMAP_MAYMOVE | (keep ? MREMAP_DONTUNMAP : 0), NULL);
	note(w, "mremap r%d %p -> %p%s", r->id, r->addr, p,
	     keep ? " dontunmap" : "");
	count(C_MAP, p == MAP_FAILED ? errno : 0);
	if (p == MAP_FAILED) {
		/*
		 * madvise() on part of the region may have split it into
		 * several VMAs, and mremap() moves only one: -EFAULT.
		 */
		if (errno != ENOMEM && errno != EFAULT)
			fail(w, "mremap: %s", strerror(errno));
		publish(r, true);
		return;
	}
	if (keep) {
		memset(old, 0, sizeof(*old));
		old->id = r->id + 200000;
		old->addr = r->addr;
		old->npages = r->npages;
		old->kind = K_ANON;
		old->prot = r->prot;
		old->fd = -1;
		old->pv = xcalloc(r->npages, sizeof(*old->pv));
		publish(old, true);
	}
	r->addr = p;
	publish(r, true);
}

static void op_madvise(struct worker *w)
{
	static const struct { int advice; const char *name; } adv[] = {
		{ MADV_DONTNEED, "DONTNEED" }, { MADV_PAGEOUT, "PAGEOUT" },
		{ MADV_COLD, "COLD" }, { MADV_HUGEPAGE, "HUGEPAGE" },
		{ MADV_NOHUGEPAGE, "NOHUGEPAGE" }, { MADV_FREE, "FREE" },
		{ MADV_MERGEABLE, "MERGEABLE" },
		{ MADV_UNMERGEABLE, "UNMERGEABLE" },
	};
	struct region *r = pick(w);
	unsigned long first = 0, n, i;
	int a = below(&w->rng, 8), err;

	if (!r)
		return;
	n = r->npages;
	if (r->kind != K_HUGETLB)
		span(w, r, r->npages, &first, &n);
	err = madvise(r->addr + first * PAGE, n * PAGE, adv[a].advice) ?
		errno : 0;
	note(w, "madvise r%d %s [%lu,+%lu) -> %d", r->id, adv[a].name, first,
	     n, err);
	count(C_MADV, err);
	/*
	 * hugetlb takes no THP or KSM advice and cannot be aged, paged out
	 * or freed lazily; lazy freeing is for private anonymous memory.
	 */
	if (err == EINVAL && (r->kind == K_HUGETLB ||
			      (adv[a].advice == MADV_FREE && r->kind != K_ANON)))
		return;
	/*
	 * Advice that changes VMA flags splits VMAs, and KSM allocates: these
	 * may fail with fault injection on, with -EAGAIN where a VMA could not
	 * be split (madvise_vma_behavior() turns that -ENOMEM into -EAGAIN).
	 * Advice that drops data must not.
	 */
	if ((err == ENOMEM || err == EAGAIN) && alloc_failure(-ENOMEM) &&
	    adv[a].advice != MADV_DONTNEED && adv[a].advice != MADV_FREE)
		return;
	if (err)
		fail(w, "madvise %s: %s", adv[a].name, strerror(err));
	if (adv[a].advice == MADV_FREE) {
		/* Until written again each page may be reclaimed to zero. */
		for (i = first; i < first + n; i++)
			r->pv[i].lazy = true;
		return;
	}
	if (adv[a].advice != MADV_DONTNEED)
		return;
	/* Private memory goes back to zero or to the file; shared stays. */
	for (i = first; i < first + n; i++) {
		struct pv *pv = &r->pv[i];

		if (r->kind == K_ANON || r->kind == K_HUGETLB)
			set_version(pv, 0);
		else if (r->kind == K_FILE)
			set_version(pv, r->filev[i]);
	}
}

/* ---- other threads' memory, bad input, devices, processes ------------- */

/*
 * A data-preserving command on a range some thread (maybe this one) has
 * mapped: it races with that thread's own operations, and the range may
 * be gone by the time the command runs.
 */
static void op_foreign(struct worker *w)
{
	static const unsigned long reqs[] = {
		HMM_DMIRROR_MIGRATE_TO_DEV, HMM_DMIRROR_MIGRATE_TO_SYS,
		HMM_DMIRROR_SNAPSHOT, HMM_DMIRROR_EXCLUSIVE,
		HMM_DMIRROR_CHECK_EXCLUSIVE, HMM_DMIRROR_READ,
		HMM_DMIRROR_READ_UNLOCKED,
	};
	unsigned long req = reqs[below(&w->rng, ARRAY_SIZE(reqs))];
	unsigned long addr = 0, n = 0;
	int d = pick_dev(w), i, j, err;
	struct worker *o;

	pthread_mutex_lock(&table_lock);
	o = workers[below(&w->rng, nworkers)];
	for (i = 0, j = below(&w->rng, MAX_REGIONS); i < MAX_REGIONS; i++) {
		struct region *r = &o->reg[(i + j) % MAX_REGIONS];

		if (r->live) {
			addr = (uintptr_t)r->addr;
			n = r->npages < MAX_OP_PAGES ? r->npages : MAX_OP_PAGES;
			break;
		}
	}
	pthread_mutex_unlock(&table_lock);
	if (!n || d < 0)
		return;
	err = dm(w->dev[d], req, addr, w->buf, n, NULL);
	note(w, "foreign %s dev%d t%d %#lx+%lu -> %d", req_name(req), d,
	     o->tid, addr, n, err);
	count(C_FOREIGN, err);
	if (!allowed_foreign(req, err))
		fail(w, "foreign %s: unexpected error %d (%s)", req_name(req),
		     err, strerror(-err));
}

/* Malformed commands: each must fail with its own error, nothing else. */
static void op_bad(struct worker *w)
{
	static const unsigned long reqs[] = {
		HMM_DMIRROR_READ, HMM_DMIRROR_WRITE, HMM_DMIRROR_MIGRATE_TO_DEV,
		HMM_DMIRROR_MIGRATE_TO_SYS, HMM_DMIRROR_SNAPSHOT,
		HMM_DMIRROR_EXCLUSIVE, HMM_DMIRROR_CHECK_EXCLUSIVE,
		HMM_DMIRROR_RELEASE, HMM_DMIRROR_READ_UNLOCKED,
		HMM_DMIRROR_WRITE_UNLOCKED,
	};
	unsigned long req = reqs[below(&w->rng, ARRAY_SIZE(reqs))];
	struct region *r = pick(w);
	unsigned long addr = r ? (uintptr_t)r->addr : (uintptr_t)w->buf;
	int d = pick_dev(w), what = below(&w->rng, 6), err, want;
	bool has_buf = req == HMM_DMIRROR_READ || req == HMM_DMIRROR_WRITE ||
		       req == HMM_DMIRROR_MIGRATE_TO_DEV ||
		       req == HMM_DMIRROR_SNAPSHOT ||
		       req == HMM_DMIRROR_EXCLUSIVE ||
		       req == HMM_DMIRROR_READ_UNLOCKED ||
		       req == HMM_DMIRROR_WRITE_UNLOCKED;
	const char *name;

	if (d < 0)
		return;
	switch (what) {
	case 0:
		name = "unaligned";
		err = dm(w->dev[d], req, addr + 8, w->buf, 1, NULL);
		want = -EINVAL;
		break;
	case 1:
		name = "zero pages";
		err = dm(w->dev[d], req, addr, w->buf, 0, NULL);
		want = -EINVAL;
		break;
	case 2:
		name = "overflowing";
		err = dm(w->dev[d], req, addr, w->buf, ~0UL / PAGE, NULL);
		want = -EINVAL;
		break;
	case 3:
		name = "kernel address";
		err = dm(w->dev[d], req, 0xffff888000000000UL, w->buf, 1, NULL);
		want = -EINVAL;
		break;
	case 4:
		if (!has_buf)
			return;
		name = "NULL buffer";
		err = dm(w->dev[d], req, addr, NULL, 1, NULL);
		want = -EFAULT;
		break;
	default:
		/*
		 * The command itself may fail first (a racing migration, say),
		 * but it must never succeed.
		 */
		if (!has_buf || !r || r->kind != K_ANON || r->prot != P_RW)
			return;
		name = "unmapped buffer";
		err = dm(w->dev[d], req, addr, HOLE, 1, NULL);
		want = err && allowed(req, K_ANON, P_RW, err) ? err : -EFAULT;
		break;
	}
	note(w, "bad %s %s dev%d -> %d", name, req_name(req), d, err);
	count(C_BAD, err);
	if (err != want && !(err && alloc_failure(err)))
		fail(w, "%s %s: got %d, want %d", name, req_name(req), err,
		     want);
}

/* An unmapped range: every command there fails as documented. */
static void op_hole(struct worker *w)
{
	static const struct { unsigned long req; int want; } cases[] = {
		{ HMM_DMIRROR_READ, -EFAULT },
		{ HMM_DMIRROR_WRITE, -EFAULT },
		{ HMM_DMIRROR_MIGRATE_TO_DEV, -EINVAL },
		{ HMM_DMIRROR_MIGRATE_TO_SYS, -EINVAL },
		{ HMM_DMIRROR_SNAPSHOT, 0 },
		{ HMM_DMIRROR_EXCLUSIVE, -EFAULT },
		{ HMM_DMIRROR_READ_UNLOCKED, -EFAULT },
		{ HMM_DMIRROR_WRITE_UNLOCKED, -EFAULT },
	};
	int c = below(&w->rng, ARRAY_SIZE(cases)), d = pick_dev(w), err;
	unsigned long i;

	if (d < 0)
		return;
	err = dm(w->dev[d], cases[c].req, (uintptr_t)HOLE, w->buf, 4, NULL);
	note(w, "hole %s dev%d -> %d", req_name(cases[c].req), d, err);
	count(C_BAD, err);
	if (err != cases[c].want && !alloc_failure(err))
		fail(w, "%s on a hole: got %d, want %d", req_name(cases[c].req),
		     err, cases[c].want);
	for (i = 0; !err && cases[c].req == HMM_DMIRROR_SNAPSHOT && i < 4; i++)
		if ((unsigned char)w->buf[i] != HMM_DMIRROR_PROT_ERROR)
			fail(w, "snapshot of a hole: page %lu is %#x", i,
			     (unsigned char)w->buf[i]);
}

static void op_release(struct worker *w)
{
	int d = pick_dev(w), err;

	if (d < 0)
		return;
	err = dm(w->dev[d], HMM_DMIRROR_RELEASE, (uintptr_t)w->buf, NULL, 1,
		 NULL);
	note(w, "RELEASE dev%d -> %d", d, err);
	count(C_IOCTL, err);
	if (!allowed(HMM_DMIRROR_RELEASE, K_ANON, P_RW, err))
		fail(w, "RELEASE dev%d: unexpected error %d", d, err);
}

/*
 * HMM_DMIRROR_FLAGS: usually FAIL_ALLOC, so that the device's next 2 MiB
 * folio is refused and a migration falls back to 4 KiB pages (the oracle
 * checks the data all the same), sometimes 0, sometimes a flag the driver
 * does not know, which it must refuse.
 */
static void op_flags(struct worker *w)
{
	int d = pick_dev(w), err, want = 0;
	unsigned long flags = HMM_DMIRROR_FLAG_FAIL_ALLOC;

	if (d < 0)
		return;
	if (chance(&w->rng, 20)) {
		flags = 0;
	} else if (chance(&w->rng, 25)) {
		flags = 1UL << below(&w->rng, 64);
		if (flags != HMM_DMIRROR_FLAG_FAIL_ALLOC)
			want = -EINVAL;
	}
	/* The range is not looked at: the flags travel in npages. */
	err = dm(w->dev[d], HMM_DMIRROR_FLAGS, 0, NULL, flags, NULL);
	note(w, "FLAGS dev%d %#lx -> %d", d, flags, err);
	count(want ? C_BAD : C_IOCTL, err);
	/* Every command allocates its work space first. */
	if (err != want && !(err == -ENOMEM && alloc_failure(err)))
		fail(w, "FLAGS dev%d %#lx: got %d, want %d", d, flags, err,
		     want);
}

static int open_dev(int d)
{
	char name[32];

	snprintf(name, sizeof(name), "/dev/hmm_dmirror%d", d);
	return open(name, O_RDWR | O_CLOEXEC);
}

static void op_reopen(struct worker *w)
{
	int d = pick_dev(w);

	if (d < 0)
		return;
	note(w, "reopen dev%d", d);
	close(w->dev[d]);
	/* Opening allocates (the mirror, its notifier): retry those. */
	do {
		w->dev[d] = open_dev(d);
		count(C_PROC, w->dev[d] < 0 ? errno : 0);
	} while (w->dev[d] < 0 && alloc_failure(-errno));
	if (w->dev[d] < 0)
		fail(w, "reopen /dev/hmm_dmirror%d: %s", d, strerror(errno));
}

static void run(struct worker *w);

/*
 * fork(): the child keeps a copy of this thread's private regions (shared
 * ones are the parent's to write), works on them with devices of its own and
 * exits, sometimes right after moving its memory into a device.
 */
static void op_fork(struct worker *w)
{
	unsigned long child_ops = 1 + below(&w->rng, 100);
	uint64_t child_seed = rnd(&w->rng);
	bool to_dev_and_exit = chance(&w->rng, 30);
	int status, i;
	pid_t pid;

	note(w, "fork (%lu ops%s)", child_ops,
	     to_dev_and_exit ? ", exits with memory on a device" : "");
	pid = fork();
	if (pid < 0 && (errno == ENOMEM || errno == EAGAIN) &&
	    alloc_failure(-ENOMEM)) {
		count(C_PROC, errno);
		return;
	}
	if (pid < 0)
		fail(w, "fork: %s", strerror(errno));
	if (!pid) {
		/* Only this thread exists here; the table is ours alone. */
		pthread_mutex_init(&table_lock, NULL);
		workers[0] = w;
		nworkers = 1;
		for (i = 0; i < MAX_REGIONS; i++) {
			struct region *r = &w->reg[i];

			if (r->live && (r->kind == K_SHARED ||
					r->kind == K_FILE_SHARED))
				r->live = false;
		}
		for (i = 0; i < NDEV; i++)
			if (w->dev[i] >= 0)
				w->dev[i] = open_dev(i);
		w->tid += 100;
		w->rng.s = child_seed;
		w->budget = child_ops;
		w->ops = 0;
		if (to_dev_and_exit) {
			for (i = 0; i < MAX_REGIONS; i++)
				if (w->reg[i].live && w->dev[0] >= 0)
					dm(w->dev[0], HMM_DMIRROR_MIGRATE_TO_DEV,
					   (uintptr_t)w->reg[i].addr, w->buf,
					   w->reg[i].npages < MAX_OP_PAGES ?
					   w->reg[i].npages : MAX_OP_PAGES,
					   NULL);
			_exit(0);
		}
		run(w);
		_exit(0);
	}
	__atomic_add_fetch(&stats->forks, 1, __ATOMIC_RELAXED);
	/* The child's operations come out of this thread's budget. */
	w->ops += to_dev_and_exit ? 1 : child_ops;
	if (waitpid(pid, &status, 0) != pid)
		fail(w, "waitpid: %s", strerror(errno));
	count(C_PROC, 0);
	if (!WIFEXITED(status) || WEXITSTATUS(status))
		fail(w, "child %d %s %d", pid,
		     WIFEXITED(status) ? "exited with" : "killed by signal",
		     WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status));
}

/* ---- the operation mix ------------------------------------------------------ */

static const struct {
	void (*fn)(struct worker *w);
	unsigned long req;
	unsigned int weight;
} ops[] = {
	{ op_mmap, 0, 6 },
	{ op_munmap, 0, 3 },
	{ op_mprotect, 0, 3 },
	{ op_mremap, 0, 2 },
	{ op_madvise, 0, 5 },
	{ op_cpu_read, 0, 10 },
	{ op_cpu_write, 0, 10 },
	{ NULL, HMM_DMIRROR_READ, 10 },
	{ NULL, HMM_DMIRROR_WRITE, 10 },
	{ NULL, HMM_DMIRROR_MIGRATE_TO_DEV, 8 },
	{ NULL, HMM_DMIRROR_MIGRATE_TO_SYS, 5 },
	{ NULL, HMM_DMIRROR_SNAPSHOT, 4 },
	{ NULL, HMM_DMIRROR_EXCLUSIVE, 4 },
	{ NULL, HMM_DMIRROR_CHECK_EXCLUSIVE, 2 },
	{ NULL, HMM_DMIRROR_READ_UNLOCKED, 4 },
	{ NULL, HMM_DMIRROR_WRITE_UNLOCKED, 4 },
	{ op_flags, 0, 1 },
	{ op_foreign, 0, 6 },
	{ op_bad, 0, 3 },
	{ op_hole, 0, 1 },
	{ op_release, 0, 1 },
	{ op_reopen, 0, 1 },
	{ op_fork, 0, 1 },
};

static void step(struct worker *w)
{
	unsigned int total = 0, pick_w, i;

	for (i = 0; i < sizeof(ops) / sizeof(ops[0]); i++)
		total += ops[i].weight;
	pick_w = below(&w->rng, total);
	for (i = 0; pick_w >= ops[i].weight; i++)
		pick_w -= ops[i].weight;
	if (ops[i].fn)
		ops[i].fn(w);
	else
		op_dev(w, ops[i].req);
}

static void run(struct worker *w)
{
	if (cfg.fail_alloc)
		make_it_fail(true);
	for (w->ops = 0; w->ops < w->budget; w->ops++) {
		step(w);
		__atomic_add_fetch(&stats->ops, 1, __ATOMIC_RELAXED);
	}
	if (cfg.fail_alloc)
		make_it_fail(false);
}

static void *thread_main(void *arg)
{
	run(arg);
	return NULL;
}

static struct worker *worker_new(int tid, uint64_t seed, unsigned long budget)
{
	struct worker *w = xcalloc(1, sizeof(*w));
	int d, i;

	w->tid = tid;
	w->rng.s = seed;
	w->budget = budget;
	for (d = 0; d < NDEV; d++)
		w->dev[d] = cfg.have_dev[d] ? open_dev(d) : -1;
	for (i = 0; i < MAX_REGIONS; i++)
		w->reg[i].fd = -1;
	w->buf = mmap(NULL, MAX_OP_PAGES * PAGE, PROT_READ | PROT_WRITE,
		      MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
	return w;
}

/* One process: its threads split its share of the operations. */
static int process_main(int proc)
{
	unsigned long share = cfg.ops / cfg.procs;
	int t;

	for (t = 0; t < cfg.threads; t++)
		workers[t] = worker_new(proc * MAX_THREADS + t,
					splitmix(cfg.seed + proc * 131 + t),
					share / cfg.threads);
	nworkers = cfg.threads;
	if (cfg.threads == 1) {
		run(workers[0]);
		return 0;
	}
	for (t = 0; t < cfg.threads; t++)
		pthread_create(&workers[t]->thread, NULL, thread_main,
			       workers[t]);
	for (t = 0; t < cfg.threads; t++)
		pthread_join(workers[t]->thread, NULL);
	return 0;
}

static void usage(void)
{
	fprintf(stderr,
		"usage: hmm-fuzz [-s SEED] [-n OPS] [-t THREADS] [-p PROCS] [-f] [-v]\n"
		"  -f  fault injection: mark the worker threads make-it-fail; an\n"
		"      allocation failure (-ENOMEM, -EFAULT from a fault) is fine\n");
	exit(2);
}

int main(int argc, char **argv)
{
	struct timespec t0, t1;
	int opt, p, status, bad = 0, d, c, e;
	pid_t pids[MAX_THREADS];
	double secs;

	cfg.ops = 10000;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	cfg.seed = splitmix(t0.tv_nsec ^ ((uint64_t)getpid() << 32));
	while ((opt = getopt(argc, argv, "s:n:t:p:fv")) != -1) {
		switch (opt) {
		case 's': cfg.seed = strtoull(optarg, NULL, 0); break;
		case 'n': cfg.ops = strtoul(optarg, NULL, 0); break;
		case 't': cfg.threads = atoi(optarg); break;
		case 'p': cfg.procs = atoi(optarg); break;
		case 'f': cfg.fail_alloc = true; break;
		case 'v': cfg.verbose = true; break;
		default: usage();
		}
	}
	if (cfg.threads < 1 || cfg.threads > MAX_THREADS || cfg.procs < 1 ||
	    cfg.procs > MAX_THREADS)
		usage();
	for (d = 0; d < NDEV; d++) {
		int fd = open_dev(d);

		cfg.have_dev[d] = fd >= 0;
		if (fd >= 0)
			close(fd);
	}
	/* Without a device the streams would test nothing of ours. */
	if (!cfg.have_dev[0] && !cfg.have_dev[1]) {
		fprintf(stderr, "hmm-fuzz: no test_hmm device to open (%s)\n",
			strerror(errno));
		exit(2);
	}
	if (cfg.fail_alloc && access(MAKE_IT_FAIL, W_OK)) {
		fprintf(stderr, "hmm-fuzz: -f: %s: %s (CONFIG_FAULT_INJECTION?)\n",
			MAKE_IT_FAIL, strerror(errno));
		exit(2);
	}
	stats = mmap(NULL, sizeof(*stats), PROT_READ | PROT_WRITE,
		     MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	printf("hmm-fuzz: seed %" PRIu64 ", %lu ops, %d process(es) x %d thread(s), devices%s%s%s%s%s\n",
	       cfg.seed, cfg.ops, cfg.procs, cfg.threads,
	       cfg.have_dev[0] ? " 0" : "", cfg.have_dev[1] ? " 1" : "",
	       cfg.have_dev[2] ? " 2" : "", cfg.have_dev[3] ? " 3" : "",
	       cfg.fail_alloc ? ", allocation failures allowed" : "");
	fflush(stdout);

	if (cfg.procs == 1) {
		process_main(0);
	} else {
		for (p = 0; p < cfg.procs; p++) {
			pids[p] = fork();
			if (!pids[p])
				_exit(process_main(p));
		}
		for (p = 0; p < cfg.procs; p++) {
			if (waitpid(pids[p], &status, 0) != pids[p] ||
			    !WIFEXITED(status) || WEXITSTATUS(status))
				bad = 1;
		}
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	secs = t1.tv_sec - t0.tv_sec + (t1.tv_nsec - t0.tv_nsec) / 1e9;
	printf("hmm-fuzz: %lu ops, %lu pages checked, %lu forks, %.1f s\n",
	       stats->ops, stats->checked_pages, stats->forks, secs);
	for (c = 0; c < C_NR; c++) {
		printf("hmm-fuzz: %-9s", class_name[c]);
		for (e = 0; e < 140; e++)
			if (stats->by_errno[c][e])
				printf(" %s %lu", e ? strerrorname_np(e) : "ok",
				       stats->by_errno[c][e]);
		printf("\n");
	}
	printf("hmm-fuzz: %s (seed %" PRIu64 ")\n", bad ? "FAILED" : "passed",
	       cfg.seed);
	return bad;
}

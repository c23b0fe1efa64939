// SPDX-License-Identifier: GPL-2.0
/*
 * Userspace checks for HMM through the test_hmm pseudo device.
 *
 * Each /dev/hmm_dmirrorN file mirrors the address space of the process that
 * opened it: the driver keeps its own "device page table", fills it with
 * hmm_range_fault() and keeps it coherent through an interval notifier.
 * Units 0 and 1 own device-private memory, units 2 and 3 device-coherent
 * memory (when test_hmm was loaded with spm_addr_dev0/1).
 *
 * Every case checks content or the flags the device reports, never just
 * that an ioctl returned.  Cases that cannot run say why in their SKIP
 * message, which always starts with the case name.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <glob.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <linux/userfaultfd.h>

#include "../kselftest_harness.h"

#include <lib/test_hmm_uapi.h>
#include <mm/gup_test.h>

#ifndef MAP_HUGE_SHIFT
#define MAP_HUGE_SHIFT		26
#endif
#ifndef MAP_FIXED_NOREPLACE
#define MAP_FIXED_NOREPLACE	0x100000
#endif

#define GUP_TEST_PATH		"/sys/kernel/debug/gup_test"
#define HUGE_1G_SYSFS \
	"/sys/kernel/mm/hugepages/hugepages-1048576kB/nr_hugepages"
#define FOLL_WRITE_FLAG		0x01	/* FOLL_WRITE in include/linux/mm.h */

#define PMD_BYTES		(2UL << 20)
#define PUD_BYTES		(1024UL << 20)

/* All ioctls the driver implements, for the argument checking cases. */
static const struct {
	unsigned long req;
	const char *name;
} all_cmds[] = {
	{ HMM_DMIRROR_READ, "READ" },
	{ HMM_DMIRROR_WRITE, "WRITE" },
	{ HMM_DMIRROR_MIGRATE_TO_DEV, "MIGRATE_TO_DEV" },
	{ HMM_DMIRROR_MIGRATE_TO_SYS, "MIGRATE_TO_SYS" },
	{ HMM_DMIRROR_SNAPSHOT, "SNAPSHOT" },
	{ HMM_DMIRROR_EXCLUSIVE, "EXCLUSIVE" },
	{ HMM_DMIRROR_CHECK_EXCLUSIVE, "CHECK_EXCLUSIVE" },
	{ HMM_DMIRROR_RELEASE, "RELEASE" },
	{ HMM_DMIRROR_READ_UNLOCKED, "READ_UNLOCKED" },
	{ HMM_DMIRROR_WRITE_UNLOCKED, "WRITE_UNLOCKED" },
};

static const char *cmd_name(unsigned int i)
{
	return i < ARRAY_SIZE(all_cmds) ? all_cmds[i].name : "?";
}

static unsigned long psz;

static void __attribute__((constructor)) hmm_tests_init(void)
{
	psz = sysconf(_SC_PAGESIZE);
}

static int unit_open(int unit)
{
	char path[64];

	snprintf(path, sizeof(path), "/dev/hmm_dmirror%d", unit);
	return open(path, O_RDWR | O_CLOEXEC);
}

/*
 * Issue one driver command.  Returns 0 or -errno; @out (optional) receives
 * the command block as the driver left it.
 */
static int dm_cmd(int fd, unsigned long req, void *addr, void *ptr,
		  unsigned long npages, struct hmm_dmirror_cmd *out)
{
	struct hmm_dmirror_cmd c = {
		.addr = (uintptr_t)addr,
		.ptr = (uintptr_t)ptr,
		.npages = npages,
	};
	int ret;

	do {
		ret = ioctl(fd, req, &c);
	} while (ret < 0 && errno == EINTR);
	if (out)
		*out = c;
	return ret < 0 ? -errno : 0;
}

static int dm_read(int fd, void *addr, void *dst, unsigned long n)
{
	return dm_cmd(fd, HMM_DMIRROR_READ, addr, dst, n, NULL);
}

static int dm_write(int fd, void *addr, void *src, unsigned long n)
{
	return dm_cmd(fd, HMM_DMIRROR_WRITE, addr, src, n, NULL);
}

/*
 * MIGRATE_TO_DEV and EXCLUSIVE copy a per-page result out through .ptr, so
 * they need a writable buffer as large as the range.
 */
#define SCRATCH_PAGES	2048

static void *scratch;

/*
 * Allocated before any test runs, so it never lands in a hole a test
 * punched on purpose.
 */
static void __attribute__((constructor)) scratch_init(void)
{
	scratch = mmap(NULL, SCRATCH_PAGES * sysconf(_SC_PAGESIZE),
		       PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
		       -1, 0);
	if (scratch == MAP_FAILED)
		scratch = NULL;
}

static void *scratch_for(unsigned long npages)
{
	return npages > SCRATCH_PAGES ? NULL : scratch;
}

static int dm_to_dev(int fd, void *addr, unsigned long n)
{
	return dm_cmd(fd, HMM_DMIRROR_MIGRATE_TO_DEV, addr, scratch_for(n), n,
		      NULL);
}

static int dm_to_sys(int fd, void *addr, unsigned long n)
{
	return dm_cmd(fd, HMM_DMIRROR_MIGRATE_TO_SYS, addr, NULL, n, NULL);
}

static int dm_snap(int fd, void *addr, unsigned char *out, unsigned long n)
{
	memset(out, 0xee, n);
	return dm_cmd(fd, HMM_DMIRROR_SNAPSHOT, addr, out, n, NULL);
}

static int dm_excl(int fd, void *addr, unsigned long n)
{
	return dm_cmd(fd, HMM_DMIRROR_EXCLUSIVE, addr, scratch_for(n), n, NULL);
}

static int dm_check_excl(int fd, void *addr, unsigned long n)
{
	return dm_cmd(fd, HMM_DMIRROR_CHECK_EXCLUSIVE, addr, NULL, n, NULL);
}

/* RELEASE acts on the whole unit but still wants a valid range. */
static int dm_release(int fd)
{
	return dm_cmd(fd, HMM_DMIRROR_RELEASE, scratch, scratch, 1, NULL);
}

/* Word @i of a buffer stamped with @seed. Never zero for a non-zero seed. */
static inline uint64_t stamp_word(uint64_t seed, size_t i)
{
	return (seed << 32) ^ (i * 0x9e3779b1UL) ^ 0x5aUL;
}

static void stamp(void *p, size_t bytes, uint64_t seed)
{
	uint64_t *w = p;
	size_t i;

	for (i = 0; i < bytes / sizeof(*w); i++)
		w[i] = stamp_word(seed, i);
}

/* Index of the first word that does not carry @seed's stamp, or -1. */
static long stamp_diff(const void *p, size_t bytes, uint64_t seed)
{
	const uint64_t *w = p;
	size_t i;

	for (i = 0; i < bytes / sizeof(*w); i++)
		if (w[i] != stamp_word(seed, i))
			return i;
	return -1;
}

/* Index of the first bad word of page @i of a range stamped with @seed. */
static long page_diff(const void *range, size_t i, uint64_t seed)
{
	const uint64_t *w = (const uint64_t *)((const char *)range + i * psz);
	size_t k, first = i * psz / sizeof(*w);

	for (k = 0; k < psz / sizeof(*w); k++)
		if (w[k] != stamp_word(seed, first + k))
			return k;
	return -1;
}

/*
 * Index of the first of @n snapshot entries that is not @want, or -1: the
 * one check of a snapshot range, as stamp_diff() is of data.
 */
static long snap_diff(const unsigned char *snap, unsigned long n,
		      unsigned char want)
{
	unsigned long i;

	for (i = 0; i < n; i++)
		if (snap[i] != want)
			return i;
	return -1;
}

/* Fault a page in for reading (maps the zero page in an empty spot). */
static void touch_read(const void *p)
{
	(void)__atomic_load_n((const char *)p, __ATOMIC_RELAXED);
}

/* True when every byte of @p is @v. */
static bool all_bytes(const void *p, size_t bytes, unsigned char v)
{
	const unsigned char *c = p;
	size_t i;

	for (i = 0; i < bytes; i++)
		if (c[i] != v)
			return false;
	return true;
}

static void *map_anon(size_t bytes, int prot)
{
	void *p = mmap(NULL, bytes, prot, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	return p == MAP_FAILED ? NULL : p;
}

/*
 * @n pages of fresh private anonymous memory, stamped with @seed unless it
 * is 0; ends the case if there is no memory.  Cases munmap() it themselves.
 * The cases expect 4 KiB mappings: under THP=always a new mapping merges
 * with its anonymous neighbours, and a write fault in a 2 MiB block that
 * the merged VMA covers maps a THP, so whether a case saw PMD entries
 * depended on where ASLR put the mappings (five cases failed together in
 * one boot, rw.read_anon among them). MADV_NOHUGEPAGE keeps them 4 KiB.
 */
static char *map_pages(struct __test_metadata *_metadata, unsigned long n,
		       uint64_t seed)
{
	char *p = map_anon(n * psz, PROT_READ | PROT_WRITE);

	ASSERT_NE(p, NULL) TH_LOG("cannot map %lu pages", n);
	ASSERT_EQ(madvise(p, n * psz, MADV_NOHUGEPAGE), 0);
	if (seed)
		stamp(p, n * psz, seed);
	return p;
}

#ifndef MADV_PAGEOUT
#define MADV_PAGEOUT	21
#endif
#define PM_SWAP		0x4000000000000000ULL	/* bit 62 */
#define PM_PRESENT	0x8000000000000000ULL	/* bit 63 */

#define PM_FRAME	((1ULL << 55) - 1)	/* bits 0-54: pfn, or swap entry */
#define PM_SWP_TYPE_BITS	5		/* MAX_SWAPFILES_SHIFT */

/* The /proc/self/pagemap entry of the page at @addr, 0 if unreadable. */
static uint64_t pagemap_entry(const void *addr)
{
	uint64_t entry = 0;
	int fd = open("/proc/self/pagemap", O_RDONLY);

	if (fd < 0)
		return 0;
	if (pread(fd, &entry, sizeof(entry),
		  (uintptr_t)addr / psz * sizeof(entry)) != sizeof(entry))
		entry = 0;
	close(fd);
	return entry;
}

/* /proc/self/pagemap flags (PM_SWAP, PM_PRESENT) of the page at @addr. */
static uint64_t pagemap_flags(const void *addr)
{
	return pagemap_entry(addr) & (PM_SWAP | PM_PRESENT);
}

/* Map @bytes aligned to @align (a power of two) by trimming a larger map. */
static void *map_aligned(size_t bytes, size_t align, int flags)
{
	size_t span = bytes + align;
	uintptr_t raw, start;
	void *p;

	p = mmap(NULL, span, PROT_READ | PROT_WRITE, flags, -1, 0);
	if (p == MAP_FAILED)
		return NULL;
	raw = (uintptr_t)p;
	start = (raw + align - 1) & ~(align - 1);
	if (start > raw)
		munmap(p, start - raw);
	if (raw + span > start + bytes)
		munmap((void *)(start + bytes), raw + span - start - bytes);
	return (void *)start;
}

/* A private file of @bytes in /tmp, already unlinked. */
static int tmp_file(size_t bytes, uint64_t seed)
{
	char path[] = "/tmp/hmm-tests-XXXXXX";
	void *data;
	int fd;

	fd = mkstemp(path);
	if (fd < 0)
		return -1;
	unlink(path);
	data = malloc(bytes);
	if (!data) {
		close(fd);
		return -1;
	}
	stamp(data, bytes, seed);
	if (pwrite(fd, data, bytes, 0) != (ssize_t)bytes) {
		free(data);
		close(fd);
		return -1;
	}
	free(data);
	return fd;
}

/* Read a whole decimal number from a sysfs/proc file, -1 on error. */
static long read_long(const char *path)
{
	char buf[32] = "";
	long v = -1;
	FILE *f;

	f = fopen(path, "r");
	if (!f)
		return -1;
	if (fgets(buf, sizeof(buf), f))
		v = strtol(buf, NULL, 10);
	fclose(f);
	return v;
}

static int write_long(const char *path, long v)
{
	FILE *f;
	int ret;

	f = fopen(path, "w");
	if (!f)
		return -1;
	ret = fprintf(f, "%ld", v) > 0 ? 0 : -1;
	if (fclose(f))
		ret = -1;
	return ret;
}

static double now_sec(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Wait for a child and return its exit code, or 128 + signal. */
static int reap(pid_t pid)
{
	int status;

	if (waitpid(pid, &status, 0) != pid)
		return -1;
	if (WIFEXITED(status))
		return WEXITSTATUS(status);
	if (WIFSIGNALED(status))
		return 128 + WTERMSIG(status);
	return -1;
}

/* Value the snapshot reports for a system page mapped as @writable. */
static inline unsigned char sys_prot(bool writable)
{
	return writable ? HMM_DMIRROR_PROT_WRITE : HMM_DMIRROR_PROT_READ;
}

/* ---------------------------------------------------------------------- */
/* Plain mirroring through unit 0: the device reads and writes CPU memory. */

FIXTURE(rw)
{
	int fd;
	unsigned char *buf;	/* bounce buffer handed to the driver */
	unsigned char *snap;
};

#define RW_MAX_PAGES	1024

FIXTURE_SETUP(rw)
{
	self->fd = unit_open(0);
	ASSERT_GE(self->fd, 0)
		TH_LOG("cannot open /dev/hmm_dmirror0: is test_hmm loaded?");
	self->buf = map_anon(RW_MAX_PAGES * psz, PROT_READ | PROT_WRITE);
	ASSERT_NE(self->buf, NULL);
	self->snap = malloc(RW_MAX_PAGES);
	ASSERT_NE(self->snap, NULL);
}

FIXTURE_TEARDOWN(rw)
{
	munmap(self->buf, RW_MAX_PAGES * psz);
	free(self->snap);
	close(self->fd);
}

/* The device reads what the CPU wrote, and reports writable pages. */
TEST_F(rw, read_anon)
{
	unsigned long n = 16;
	struct hmm_dmirror_cmd c;
	char *p;

	p = map_pages(_metadata, n, 1);
	ASSERT_EQ(dm_cmd(self->fd, HMM_DMIRROR_READ, p, self->buf, n, &c), 0);
	EXPECT_EQ(c.cpages, n);
	EXPECT_GE(c.faults, 1);
	EXPECT_EQ(stamp_diff(self->buf, n * psz, 1), -1);
	ASSERT_EQ(dm_snap(self->fd, p, self->snap, n), 0);
	EXPECT_EQ(snap_diff(self->snap, n, HMM_DMIRROR_PROT_WRITE), -1);
	munmap(p, n * psz);
}

/* Reading never-touched memory maps the shared zero page, read-only. */
TEST_F(rw, read_unpopulated)
{
	unsigned long n = 8;
	char *p;

	p = map_pages(_metadata, n, 0);
	memset(self->buf, 0xa5, n * psz);
	ASSERT_EQ(dm_read(self->fd, p, self->buf, n), 0);
	EXPECT_TRUE(all_bytes(self->buf, n * psz, 0));
	ASSERT_EQ(dm_snap(self->fd, p, self->snap, n), 0);
	EXPECT_EQ(snap_diff(self->snap, n,
			    HMM_DMIRROR_PROT_ZERO | HMM_DMIRROR_PROT_READ), -1);
	munmap(p, n * psz);
}

/* What the device writes is what the CPU reads afterwards. */
TEST_F(rw, write_anon)
{
	unsigned long n = 16;
	struct hmm_dmirror_cmd c;
	char *p;

	p = map_pages(_metadata, n, 0);
	memset(p, 0x11, n * psz);
	stamp(self->buf, n * psz, 2);
	ASSERT_EQ(dm_cmd(self->fd, HMM_DMIRROR_WRITE, p, self->buf, n, &c), 0);
	EXPECT_EQ(c.cpages, n);
	EXPECT_EQ(stamp_diff(p, n * psz, 2), -1);
	ASSERT_EQ(dm_snap(self->fd, p, self->snap, n), 0);
	EXPECT_EQ(snap_diff(self->snap, n, HMM_DMIRROR_PROT_WRITE), -1);
	munmap(p, n * psz);
}

/* A device write to holes and zero-page mappings allocates real pages. */
TEST_F(rw, write_unpopulated)
{
	unsigned long n = 8;
	char *p;

	p = map_pages(_metadata, n, 0);
	touch_read(p);		/* page 0 now maps the zero page */
	stamp(self->buf, n * psz, 3);
	ASSERT_EQ(dm_write(self->fd, (void *)p, self->buf, n), 0);
	EXPECT_EQ(stamp_diff((void *)p, n * psz, 3), -1);
	munmap((void *)p, n * psz);
}

/* Large transfers cross the driver's internal batching boundaries. */
TEST_F(rw, read_write_large)
{
	unsigned long n = RW_MAX_PAGES;
	char *p;

	p = map_pages(_metadata, n, 4);
	ASSERT_EQ(dm_read(self->fd, p, self->buf, n), 0);
	EXPECT_EQ(stamp_diff(self->buf, n * psz, 4), -1);
	stamp(self->buf, n * psz, 5);
	ASSERT_EQ(dm_write(self->fd, p, self->buf, n), 0);
	EXPECT_EQ(stamp_diff(p, n * psz, 5), -1);
	munmap(p, n * psz);
}

/* A read-only mapping reads fine but refuses device writes with EPERM. */
TEST_F(rw, readonly)
{
	unsigned long n = 8;
	char *p;

	p = map_pages(_metadata, n, 6);
	ASSERT_EQ(mprotect(p, n * psz, PROT_READ), 0);
	ASSERT_EQ(dm_read(self->fd, p, self->buf, n), 0);
	EXPECT_EQ(stamp_diff(self->buf, n * psz, 6), -1);
	ASSERT_EQ(dm_snap(self->fd, p, self->snap, n), 0);
	EXPECT_EQ(snap_diff(self->snap, n, HMM_DMIRROR_PROT_READ), -1);
	stamp(self->buf, n * psz, 7);
	EXPECT_EQ(dm_write(self->fd, p, self->buf, n), -EPERM);
	EXPECT_EQ(stamp_diff(p, n * psz, 6), -1);
	munmap(p, n * psz);
}

/* PROT_NONE: every device access fails, the snapshot flags an error. */
TEST_F(rw, noaccess)
{
	unsigned long n = 4;
	char *p;

	p = map_pages(_metadata, n, 8);
	ASSERT_EQ(mprotect(p, n * psz, PROT_NONE), 0);
	EXPECT_EQ(dm_read(self->fd, p, self->buf, n), -EFAULT);
	EXPECT_EQ(dm_write(self->fd, p, self->buf, n), -EFAULT);
	ASSERT_EQ(dm_snap(self->fd, p, self->snap, n), 0);
	EXPECT_EQ(snap_diff(self->snap, n, HMM_DMIRROR_PROT_ERROR), -1);
	/* Access comes back with the protection, content untouched. */
	ASSERT_EQ(mprotect(p, n * psz, PROT_READ | PROT_WRITE), 0);
	ASSERT_EQ(dm_read(self->fd, p, self->buf, n), 0);
	EXPECT_EQ(stamp_diff(self->buf, n * psz, 8), -1);
	munmap(p, n * psz);
}

/* mprotect() must shoot down the writable device mapping. */
TEST_F(rw, mprotect_downgrade)
{
	unsigned long n = 8;
	char *p;

	p = map_pages(_metadata, n, 0);
	stamp(self->buf, n * psz, 9);
	ASSERT_EQ(dm_write(self->fd, p, self->buf, n), 0);
	ASSERT_EQ(mprotect(p, n * psz, PROT_READ), 0);
	stamp(self->buf, n * psz, 10);
	EXPECT_EQ(dm_write(self->fd, p, self->buf, n), -EPERM);
	EXPECT_EQ(stamp_diff(p, n * psz, 9), -1);
	ASSERT_EQ(dm_snap(self->fd, p, self->snap, n), 0);
	EXPECT_EQ(snap_diff(self->snap, n, HMM_DMIRROR_PROT_READ), -1);
	munmap(p, n * psz);
}

/*
 * The mirror is cached: a second read needs no fault; an invalidation
 * (here mprotect) drops it so the next read faults again.
 */
TEST_F(rw, mirror_cached_until_invalidated)
{
	unsigned long n = 8;
	struct hmm_dmirror_cmd c;
	char *p;

	p = map_pages(_metadata, n, 11);
	ASSERT_EQ(dm_cmd(self->fd, HMM_DMIRROR_READ, p, self->buf, n, &c), 0);
	EXPECT_GE(c.faults, 1);
	ASSERT_EQ(dm_cmd(self->fd, HMM_DMIRROR_READ, p, self->buf, n, &c), 0);
	EXPECT_EQ(c.faults, 0);
	ASSERT_EQ(mprotect(p, n * psz, PROT_READ), 0);
	ASSERT_EQ(dm_cmd(self->fd, HMM_DMIRROR_READ, p, self->buf, n, &c), 0);
	EXPECT_GE(c.faults, 1);
	EXPECT_EQ(stamp_diff(self->buf, n * psz, 11), -1);
	munmap(p, n * psz);
}

/*
 * Pages pushed out to swap are swap entries in the page table: a snapshot
 * reports them as not present and leaves them in swap, a device read
 * faults them back in with their content. The guest swaps to a ramdisk.
 */
TEST_F(rw, swapped_out_pages)
{
	unsigned long n = 16, i, swapped = 0;
	char *p;

	p = map_pages(_metadata, n, 95);
	ASSERT_EQ(madvise(p, n * psz, MADV_PAGEOUT), 0);
	for (i = 0; i < n; i++)
		swapped += pagemap_flags(p + i * psz) == PM_SWAP;
	ASSERT_EQ(swapped, n)
		TH_LOG("only %lu of %lu pages went to swap: is swap on?", swapped, n);

	ASSERT_EQ(dm_snap(self->fd, p, self->snap, n), 0);
	EXPECT_EQ(snap_diff(self->snap, n, HMM_DMIRROR_PROT_NONE), -1);
	for (i = 0; i < n; i++)
		EXPECT_EQ(pagemap_flags(p + i * psz), PM_SWAP);

	ASSERT_EQ(dm_read(self->fd, p, self->buf, n), 0);
	EXPECT_EQ(stamp_diff(self->buf, n * psz, 95), -1);
	for (i = 0; i < n; i++)
		EXPECT_EQ(pagemap_flags(p + i * psz), PM_PRESENT);
	munmap(p, n * psz);
}

/*
 * A device write goes around the CPU page tables, so it leaves no dirty bit
 * there: the driver must mark the page dirty. Otherwise a shared page the
 * CPU maps writable but clean (what a read fault on shmem gives) looks clean
 * to reclaim, which drops it, and the device's data with it. Found by
 * hmm-fuzz (seed 1): the page read back as zeroes.
 */
TEST_F(rw, device_write_survives_pageout)
{
	unsigned long n = 8, i, out = 0;
	char *p;

	p = mmap(NULL, n * psz, PROT_READ | PROT_WRITE,
		 MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(p, MAP_FAILED);
	ASSERT_EQ(dm_read(self->fd, p, self->buf, n), 0);
	stamp(self->buf, n * psz, 97);
	ASSERT_EQ(dm_write(self->fd, p, self->buf, n), 0);

	ASSERT_EQ(madvise(p, n * psz, MADV_PAGEOUT), 0);
	for (i = 0; i < n; i++)
		out += !(pagemap_flags(p + i * psz) & PM_PRESENT);
	ASSERT_EQ(out, n)
		TH_LOG("only %lu of %lu pages were paged out: is swap on?", out, n);

	EXPECT_EQ(stamp_diff(p, n * psz, 97), -1);
	memset(self->buf, 0, n * psz);
	ASSERT_EQ(dm_read(self->fd, p, self->buf, n), 0);
	EXPECT_EQ(stamp_diff(self->buf, n * psz, 97), -1);
	munmap(p, n * psz);
}

/* After MADV_DONTNEED the device must see zeros, not the old pages. */
TEST_F(rw, read_after_dontneed)
{
	unsigned long n = 8;
	char *p;

	p = map_pages(_metadata, n, 12);
	ASSERT_EQ(dm_read(self->fd, p, self->buf, n), 0);
	ASSERT_EQ(madvise(p, n * psz, MADV_DONTNEED), 0);
	ASSERT_EQ(dm_read(self->fd, p, self->buf, n), 0);
	EXPECT_TRUE(all_bytes(self->buf, n * psz, 0));
	munmap(p, n * psz);
}

/* munmap + mmap at the same address: the device sees the new pages. */
TEST_F(rw, read_after_remap)
{
	unsigned long n = 8;
	char *p, *q;

	p = map_pages(_metadata, n, 13);
	ASSERT_EQ(dm_read(self->fd, p, self->buf, n), 0);
	ASSERT_EQ(munmap(p, n * psz), 0);
	q = mmap(p, n * psz, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
	ASSERT_EQ(q, p);
	stamp(q, n * psz, 14);
	ASSERT_EQ(dm_read(self->fd, q, self->buf, n), 0);
	EXPECT_EQ(stamp_diff(self->buf, n * psz, 14), -1);
	/* And a device write lands in the new mapping. */
	stamp(self->buf, n * psz, 15);
	ASSERT_EQ(dm_write(self->fd, q, self->buf, n), 0);
	EXPECT_EQ(stamp_diff(q, n * psz, 15), -1);
	munmap(q, n * psz);
}

/* A hole in the middle of the range fails the whole read with EFAULT. */
TEST_F(rw, read_across_hole)
{
	unsigned long n = 8;
	char *p;

	p = map_pages(_metadata, n, 16);
	ASSERT_EQ(munmap(p + 3 * psz, 2 * psz), 0);
	EXPECT_EQ(dm_read(self->fd, p, self->buf, n), -EFAULT);
	EXPECT_EQ(dm_write(self->fd, p, self->buf, n), -EFAULT);
	/* The mapped parts still work on their own and were not touched. */
	ASSERT_EQ(dm_read(self->fd, p, self->buf, 3), 0);
	EXPECT_EQ(stamp_diff(self->buf, 3 * psz, 16), -1);
	munmap(p, 3 * psz);
	munmap(p + 5 * psz, 3 * psz);
}

/* MAP_PRIVATE file: the device reads the file's data. */
TEST_F(rw, read_file_private)
{
	unsigned long n = 8;
	int ffd;
	char *p;

	ffd = tmp_file(n * psz, 17);
	ASSERT_GE(ffd, 0);
	p = mmap(NULL, n * psz, PROT_READ | PROT_WRITE, MAP_PRIVATE, ffd, 0);
	ASSERT_NE(p, MAP_FAILED);
	ASSERT_EQ(dm_read(self->fd, p, self->buf, n), 0);
	EXPECT_EQ(stamp_diff(self->buf, n * psz, 17), -1);
	munmap(p, n * psz);
	close(ffd);
}

/* A device write to a MAP_PRIVATE file mapping copies, the file stays. */
TEST_F(rw, write_file_private_cow)
{
	unsigned long n = 8;
	char *p, *back;
	int ffd;

	ffd = tmp_file(n * psz, 18);
	ASSERT_GE(ffd, 0);
	p = mmap(NULL, n * psz, PROT_READ | PROT_WRITE, MAP_PRIVATE, ffd, 0);
	ASSERT_NE(p, MAP_FAILED);
	ASSERT_EQ(dm_read(self->fd, p, self->buf, n), 0);
	stamp(self->buf, n * psz, 19);
	ASSERT_EQ(dm_write(self->fd, p, self->buf, n), 0);
	EXPECT_EQ(stamp_diff(p, n * psz, 19), -1);
	back = malloc(n * psz);
	ASSERT_NE(back, NULL);
	ASSERT_EQ(pread(ffd, back, n * psz, 0), (ssize_t)(n * psz));
	EXPECT_EQ(stamp_diff(back, n * psz, 18), -1);
	free(back);
	munmap(p, n * psz);
	close(ffd);
}

/* MAP_SHARED file: data written with pwrite() reaches the device. */
TEST_F(rw, read_file_shared)
{
	unsigned long n = 8;
	char *p, *data;
	int ffd;

	ffd = tmp_file(n * psz, 20);
	ASSERT_GE(ffd, 0);
	p = mmap(NULL, n * psz, PROT_READ | PROT_WRITE, MAP_SHARED, ffd, 0);
	ASSERT_NE(p, MAP_FAILED);
	ASSERT_EQ(dm_read(self->fd, p, self->buf, n), 0);
	EXPECT_EQ(stamp_diff(self->buf, n * psz, 20), -1);
	data = malloc(n * psz);
	ASSERT_NE(data, NULL);
	stamp(data, n * psz, 21);
	ASSERT_EQ(pwrite(ffd, data, n * psz, 0), (ssize_t)(n * psz));
	ASSERT_EQ(dm_read(self->fd, p, self->buf, n), 0);
	EXPECT_EQ(stamp_diff(self->buf, n * psz, 21), -1);
	free(data);
	munmap(p, n * psz);
	close(ffd);
}

/* MAP_SHARED file: a device write ends up in the file. */
TEST_F(rw, write_file_shared)
{
	unsigned long n = 8;
	char *p, *back;
	int ffd;

	ffd = tmp_file(n * psz, 22);
	ASSERT_GE(ffd, 0);
	p = mmap(NULL, n * psz, PROT_READ | PROT_WRITE, MAP_SHARED, ffd, 0);
	ASSERT_NE(p, MAP_FAILED);
	stamp(self->buf, n * psz, 23);
	ASSERT_EQ(dm_write(self->fd, p, self->buf, n), 0);
	back = malloc(n * psz);
	ASSERT_NE(back, NULL);
	ASSERT_EQ(pread(ffd, back, n * psz, 0), (ssize_t)(n * psz));
	EXPECT_EQ(stamp_diff(back, n * psz, 23), -1);
	free(back);
	munmap(p, n * psz);
	close(ffd);
}

/* Shared anonymous memory: a device write is seen by another process. */
TEST_F(rw, write_shared_anon)
{
	unsigned long n = 8;
	int go[2];
	pid_t pid;
	char *p;
	char c;

	p = mmap(NULL, n * psz, PROT_READ | PROT_WRITE,
		 MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(p, MAP_FAILED);
	memset(p, 0, n * psz);
	ASSERT_EQ(pipe(go), 0);
	pid = fork();
	ASSERT_GE(pid, 0);
	if (pid == 0) {
		if (read(go[0], &c, 1) != 1)
			_exit(2);
		_exit(stamp_diff(p, n * psz, 24) == -1 ? 0 : 1);
	}
	stamp(self->buf, n * psz, 24);
	ASSERT_EQ(dm_write(self->fd, p, self->buf, n), 0);
	ASSERT_EQ(write(go[1], "g", 1), 1);
	EXPECT_EQ(reap(pid), 0);
	close(go[0]);
	close(go[1]);
	munmap(p, n * psz);
}

/* Shared anonymous memory: another process's store reaches the device. */
TEST_F(rw, read_shared_anon)
{
	unsigned long n = 8;
	pid_t pid;
	char *p;

	p = mmap(NULL, n * psz, PROT_READ | PROT_WRITE,
		 MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(p, MAP_FAILED);
	stamp(p, n * psz, 25);
	ASSERT_EQ(dm_read(self->fd, p, self->buf, n), 0);
	EXPECT_EQ(stamp_diff(self->buf, n * psz, 25), -1);
	pid = fork();
	ASSERT_GE(pid, 0);
	if (pid == 0) {
		stamp(p, n * psz, 26);
		_exit(0);
	}
	ASSERT_EQ(reap(pid), 0);
	ASSERT_EQ(dm_read(self->fd, p, self->buf, n), 0);
	EXPECT_EQ(stamp_diff(self->buf, n * psz, 26), -1);
	munmap(p, n * psz);
}

/* A child's own mirror reads the child's copy, not the parent's. */
TEST_F(rw, fork_child_reads_own_copy)
{
	unsigned long n = 8;
	pid_t pid;
	char *p;

	p = map_pages(_metadata, n, 27);
	ASSERT_EQ(dm_read(self->fd, p, self->buf, n), 0);
	pid = fork();
	ASSERT_GE(pid, 0);
	if (pid == 0) {
		int cfd = unit_open(0);

		if (cfd < 0)
			_exit(2);
		stamp(p, n * psz, 28);	/* breaks COW in the child only */
		if (dm_read(cfd, p, self->buf, n))
			_exit(3);
		_exit(stamp_diff(self->buf, n * psz, 28) == -1 ? 0 : 1);
	}
	EXPECT_EQ(reap(pid), 0);
	ASSERT_EQ(dm_read(self->fd, p, self->buf, n), 0);
	EXPECT_EQ(stamp_diff(self->buf, n * psz, 27), -1);
	EXPECT_EQ(stamp_diff(p, n * psz, 27), -1);
	munmap(p, n * psz);
}

/* A device write in the child breaks COW: the parent keeps its data. */
TEST_F(rw, fork_child_writes_own_copy)
{
	unsigned long n = 8;
	pid_t pid;
	char *p;

	p = map_pages(_metadata, n, 29);
	pid = fork();
	ASSERT_GE(pid, 0);
	if (pid == 0) {
		int cfd = unit_open(0);

		if (cfd < 0)
			_exit(2);
		stamp(self->buf, n * psz, 30);
		if (dm_write(cfd, p, self->buf, n))
			_exit(3);
		_exit(stamp_diff(p, n * psz, 30) == -1 ? 0 : 1);
	}
	EXPECT_EQ(reap(pid), 0);
	EXPECT_EQ(stamp_diff(p, n * psz, 29), -1);
	ASSERT_EQ(dm_read(self->fd, p, self->buf, n), 0);
	EXPECT_EQ(stamp_diff(self->buf, n * psz, 29), -1);
	munmap(p, n * psz);
}

/* A mirror belongs to the mm that opened it, even when used by a child. */
TEST_F(rw, fork_inherited_fd_targets_parent)
{
	unsigned long n = 4;
	pid_t pid;
	char *p;

	p = map_pages(_metadata, n, 31);
	pid = fork();
	ASSERT_GE(pid, 0);
	if (pid == 0) {
		stamp(p, n * psz, 32);	/* child's copy differs */
		if (dm_read(self->fd, p, self->buf, n))
			_exit(3);
		_exit(stamp_diff(self->buf, n * psz, 31) == -1 ? 0 : 1);
	}
	EXPECT_EQ(reap(pid), 0);
	EXPECT_EQ(stamp_diff(p, n * psz, 31), -1);
	munmap(p, n * psz);
}

/*
 * The device file can be mapped: its pages are inserted with
 * vm_insert_page() into a VM_MIXEDMAP vma, which the device then mirrors.
 */
TEST_F(rw, mixedmap)
{
	unsigned long n = 4, i;
	char *p;

	p = mmap(NULL, n * psz, PROT_READ | PROT_WRITE, MAP_PRIVATE,
		 self->fd, 0);
	ASSERT_NE(p, MAP_FAILED);
	memset(self->buf, 0xa5, n * psz);
	ASSERT_EQ(dm_read(self->fd, p, self->buf, n), 0);
	EXPECT_TRUE(all_bytes(self->buf, n * psz, 0));
	ASSERT_EQ(dm_snap(self->fd, p, self->snap, n), 0);
	for (i = 0; i < n; i++) {
		unsigned char got = self->snap[i] & ~HMM_DMIRROR_PROT_WRITE;

		EXPECT_EQ(got, HMM_DMIRROR_PROT_READ)
			TH_LOG("page %lu: 0x%x", i, self->snap[i]);
	}
	munmap(p, n * psz);
}

/* ---------------------------------------------------------------------- */
/* Huge pages: THP and hugetlbfs. */

static bool thp_madvise_ok(void)
{
	char mode[64] = "";
	FILE *f = fopen("/sys/kernel/mm/transparent_hugepage/enabled", "r");

	if (!f)
		return false;
	if (!fgets(mode, sizeof(mode), f))
		mode[0] = 0;
	fclose(f);
	return !strstr(mode, "[never]") && mode[0];
}

/* An aligned, PMD-mapped anonymous THP, or NULL. */
static char *thp_map(void)
{
	char *p = map_aligned(PMD_BYTES, PMD_BYTES,
			      MAP_PRIVATE | MAP_ANONYMOUS);

	if (!p)
		return NULL;
	if (madvise(p, PMD_BYTES, MADV_HUGEPAGE)) {
		munmap(p, PMD_BYTES);
		return NULL;
	}
	p[0] = 1;	/* one fault fills the whole PMD */
	return p;
}

/* A mirror of a THP covers it with one PMD-sized entry. */
TEST_F(rw, thp_snapshot_pmd)
{
	unsigned long n = PMD_BYTES / psz;
	char *p;

	if (!thp_madvise_ok())
		SKIP(return, "thp_snapshot_pmd: transparent hugepages disabled");
	p = thp_map();
	ASSERT_NE(p, NULL);
	ASSERT_EQ(dm_snap(self->fd, p, self->snap, n), 0);
	EXPECT_EQ(snap_diff(self->snap, n,
			    HMM_DMIRROR_PROT_PMD | HMM_DMIRROR_PROT_WRITE), -1)
		TH_LOG("first entry 0x%x, no PMD mapping?", self->snap[0]);
	munmap(p, PMD_BYTES);
}

/* Device read and write over a whole THP. */
TEST_F(rw, thp_read_write)
{
	unsigned long n = PMD_BYTES / psz;
	unsigned char *big;
	char *p;

	if (!thp_madvise_ok())
		SKIP(return, "thp_read_write: transparent hugepages disabled");
	p = thp_map();
	ASSERT_NE(p, NULL);
	big = map_anon(PMD_BYTES, PROT_READ | PROT_WRITE);
	ASSERT_NE(big, NULL);
	stamp(p, PMD_BYTES, 33);
	ASSERT_EQ(dm_read(self->fd, p, big, n), 0);
	EXPECT_EQ(stamp_diff(big, PMD_BYTES, 33), -1);
	stamp(big, PMD_BYTES, 34);
	ASSERT_EQ(dm_write(self->fd, p, big, n), 0);
	EXPECT_EQ(stamp_diff(p, PMD_BYTES, 34), -1);
	munmap(big, PMD_BYTES);
	munmap(p, PMD_BYTES);
}

/* Splitting the PMD (mprotect of one page) ends the PMD-sized mirror. */
TEST_F(rw, thp_split_by_mprotect)
{
	unsigned long n = PMD_BYTES / psz;
	char *p;

	if (!thp_madvise_ok())
		SKIP(return, "thp_split_by_mprotect: transparent hugepages disabled");
	p = thp_map();
	ASSERT_NE(p, NULL);
	stamp(p, PMD_BYTES, 35);
	ASSERT_EQ(mprotect(p + 5 * psz, psz, PROT_READ), 0);
	ASSERT_EQ(dm_snap(self->fd, p, self->snap, n), 0);
	EXPECT_EQ(snap_diff(self->snap, 5, HMM_DMIRROR_PROT_WRITE), -1);
	EXPECT_EQ(self->snap[5], HMM_DMIRROR_PROT_READ);
	EXPECT_EQ(snap_diff(self->snap + 6, n - 6, HMM_DMIRROR_PROT_WRITE), -1);
	EXPECT_EQ(stamp_diff(p, PMD_BYTES, 35), -1);
	munmap(p, PMD_BYTES);
}

static bool hugetlb_free_2m(void)
{
	return read_long("/sys/kernel/mm/hugepages/hugepages-2048kB/free_hugepages") > 0;
}

/* A 2 MiB hugetlb page is mirrored as one PMD-sized entry. */
TEST_F(rw, hugetlb_snapshot_pmd)
{
	unsigned long n = PMD_BYTES / psz;
	char *p;

	if (!hugetlb_free_2m())
		SKIP(return, "hugetlb_snapshot_pmd: no free 2 MiB hugetlb page");
	p = mmap(NULL, PMD_BYTES, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS | MAP_HUGETLB, -1, 0);
	ASSERT_NE(p, MAP_FAILED);
	p[0] = 1;
	ASSERT_EQ(dm_snap(self->fd, p, self->snap, n), 0);
	EXPECT_EQ(snap_diff(self->snap, n,
			    HMM_DMIRROR_PROT_PMD | HMM_DMIRROR_PROT_WRITE), -1)
		TH_LOG("first entry 0x%x", self->snap[0]);
	/* Read-only hugetlb mapping is reported read-only. */
	ASSERT_EQ(mprotect(p, PMD_BYTES, PROT_READ), 0);
	ASSERT_EQ(dm_snap(self->fd, p, self->snap, n), 0);
	EXPECT_EQ(self->snap[0], HMM_DMIRROR_PROT_PMD | HMM_DMIRROR_PROT_READ);
	EXPECT_EQ(self->snap[n - 1],
		  HMM_DMIRROR_PROT_PMD | HMM_DMIRROR_PROT_READ);
	munmap(p, PMD_BYTES);
}

/* Device read and write through a hugetlb mapping. */
TEST_F(rw, hugetlb_read_write)
{
	unsigned long n = PMD_BYTES / psz;
	unsigned char *big;
	char *p;

	if (!hugetlb_free_2m())
		SKIP(return, "hugetlb_read_write: no free 2 MiB hugetlb page");
	p = mmap(NULL, PMD_BYTES, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS | MAP_HUGETLB, -1, 0);
	ASSERT_NE(p, MAP_FAILED);
	big = map_anon(PMD_BYTES, PROT_READ | PROT_WRITE);
	ASSERT_NE(big, NULL);
	stamp(p, PMD_BYTES, 36);
	ASSERT_EQ(dm_read(self->fd, p, big, n), 0);
	EXPECT_EQ(stamp_diff(big, PMD_BYTES, 36), -1);
	stamp(big, PMD_BYTES, 37);
	ASSERT_EQ(dm_write(self->fd, p, big, n), 0);
	EXPECT_EQ(stamp_diff(p, PMD_BYTES, 37), -1);
	munmap(big, PMD_BYTES);
	munmap(p, PMD_BYTES);
}

/* hugetlb pages are not migratable to device memory: EINVAL. */
TEST_F(rw, hugetlb_migrate_refused)
{
	unsigned long n = 16;
	char *p;

	if (!hugetlb_free_2m())
		SKIP(return, "hugetlb_migrate_refused: no free 2 MiB hugetlb page");
	p = mmap(NULL, PMD_BYTES, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS | MAP_HUGETLB, -1, 0);
	ASSERT_NE(p, MAP_FAILED);
	stamp(p, PMD_BYTES, 38);
	EXPECT_EQ(dm_to_dev(self->fd, p, n), -EINVAL);
	ASSERT_EQ(dm_snap(self->fd, p, self->snap, n), 0);
	EXPECT_EQ(self->snap[0], HMM_DMIRROR_PROT_PMD | HMM_DMIRROR_PROT_WRITE);
	EXPECT_EQ(stamp_diff(p, PMD_BYTES, 38), -1);
	munmap(p, PMD_BYTES);
}

/*
 * A 1 GiB hugetlb page is mirrored as one PUD-sized entry.  Needs a CPU
 * with 1 GiB pages and one such page the kernel can allocate at runtime.
 */
TEST_F_TIMEOUT(rw, hugetlb_snapshot_pud, 180)
{
	long before = read_long(HUGE_1G_SYSFS);
	unsigned long n = PUD_BYTES / psz;
	unsigned char *snap;
	char *p;

	if (before < 0)
		SKIP(return, "hugetlb_snapshot_pud: no 1 GiB hugetlb support (CPU lacks pdpe1gb?)");
	if (before == 0 && (write_long(HUGE_1G_SYSFS, 1) ||
			    read_long(HUGE_1G_SYSFS) < 1)) {
		write_long(HUGE_1G_SYSFS, 0);
		SKIP(return, "hugetlb_snapshot_pud: cannot allocate a 1 GiB hugetlb page");
	}
	p = map_aligned(PUD_BYTES, PUD_BYTES, MAP_PRIVATE | MAP_ANONYMOUS |
			MAP_NORESERVE);
	ASSERT_NE(p, NULL);
	munmap(p, PUD_BYTES);
	p = mmap(p, PUD_BYTES, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS | MAP_HUGETLB |
		 (30 << MAP_HUGE_SHIFT) | MAP_FIXED_NOREPLACE, -1, 0);
	if (p == MAP_FAILED) {
		if (before == 0)
			write_long(HUGE_1G_SYSFS, 0);
		ASSERT_NE(p, MAP_FAILED);
	}
	p[0] = 1;
	p[PUD_BYTES - 1] = 2;
	snap = malloc(n);
	ASSERT_NE(snap, NULL);
	EXPECT_EQ(dm_snap(self->fd, p, snap, n), 0);
	EXPECT_EQ(snap_diff(snap, n, HMM_DMIRROR_PROT_PUD | HMM_DMIRROR_PROT_WRITE),
		  -1) TH_LOG("first entry 0x%x", snap[0]);
	/* The device sees the data at both ends. */
	EXPECT_EQ(dm_read(self->fd, p + PUD_BYTES - psz, self->buf, 1), 0);
	EXPECT_EQ(self->buf[psz - 1], 2);
	free(snap);
	munmap(p, PUD_BYTES);
	if (before == 0)
		write_long(HUGE_1G_SYSFS, 0);
}

/* ---------------------------------------------------------------------- */
/* Bad input: each ioctl must reject it with the errno of Linux 6.1. */

FIXTURE(badarg)
{
	int fd;
	char *map;		/* 4 mapped, populated pages */
	char *hole;		/* 4 unmapped pages */
	unsigned char buf[16 * 4096];
};

FIXTURE_SETUP(badarg)
{
	self->fd = unit_open(0);
	ASSERT_GE(self->fd, 0);
	self->map = map_anon(4 * psz, PROT_READ | PROT_WRITE);
	ASSERT_NE(self->map, NULL);
	memset(self->map, 1, 4 * psz);
	self->hole = map_anon(4 * psz, PROT_NONE);
	ASSERT_NE(self->hole, NULL);
	ASSERT_EQ(munmap(self->hole, 4 * psz), 0);
}

FIXTURE_TEARDOWN(badarg)
{
	munmap(self->map, 4 * psz);
	close(self->fd);
}

TEST_F(badarg, unaligned_addr)
{
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(all_cmds); i++) {
		int ret = dm_cmd(self->fd, all_cmds[i].req, self->map + 8,
				 self->buf, 1, NULL);

		EXPECT_EQ(ret, -EINVAL) TH_LOG("%s", cmd_name(i));
	}
}

TEST_F(badarg, zero_npages)
{
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(all_cmds); i++) {
		int ret = dm_cmd(self->fd, all_cmds[i].req, self->map,
				 self->buf, 0, NULL);

		EXPECT_EQ(ret, -EINVAL) TH_LOG("%s", cmd_name(i));
	}
}

/* addr + npages * PAGE_SIZE wraps, or npages is absurd. */
TEST_F(badarg, range_overflow)
{
	void *top = (void *)(uintptr_t)(-2 * (long)psz);
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(all_cmds); i++) {
		EXPECT_EQ(dm_cmd(self->fd, all_cmds[i].req, top, self->buf, 4,
				 NULL), -EINVAL)
			TH_LOG("%s wrap", cmd_name(i));
		EXPECT_EQ(dm_cmd(self->fd, all_cmds[i].req, self->map,
				 self->buf, 1UL << 52, NULL), -EINVAL)
			TH_LOG("%s huge npages", cmd_name(i));
		EXPECT_EQ(dm_cmd(self->fd, all_cmds[i].req, self->map,
				 self->buf, ~0UL, NULL), -EINVAL)
			TH_LOG("%s npages ~0", cmd_name(i));
	}
}

/* The command block itself is unreadable. */
TEST_F(badarg, bad_cmd_pointer)
{
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(all_cmds); i++) {
		errno = 0;
		EXPECT_EQ(ioctl(self->fd, all_cmds[i].req, NULL), -1);
		EXPECT_EQ(errno, EFAULT) TH_LOG("%s NULL", cmd_name(i));
		errno = 0;
		EXPECT_EQ(ioctl(self->fd, all_cmds[i].req, self->hole), -1);
		EXPECT_EQ(errno, EFAULT) TH_LOG("%s hole", cmd_name(i));
	}
}

/*
 * A bad data pointer fails the commands that move data or results through
 * it; the others never look at it.
 */
TEST_F(badarg, bad_data_pointer)
{
	static const unsigned long uses_ptr[] = {
		HMM_DMIRROR_READ, HMM_DMIRROR_WRITE, HMM_DMIRROR_SNAPSHOT,
		HMM_DMIRROR_MIGRATE_TO_DEV, HMM_DMIRROR_EXCLUSIVE,
		HMM_DMIRROR_READ_UNLOCKED, HMM_DMIRROR_WRITE_UNLOCKED,
	};
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(uses_ptr); i++) {
		EXPECT_EQ(dm_cmd(self->fd, uses_ptr[i], self->map, NULL, 1,
				 NULL), -EFAULT) TH_LOG("cmd %u NULL", i);
		EXPECT_EQ(dm_cmd(self->fd, uses_ptr[i], self->map, self->hole,
				 1, NULL), -EFAULT) TH_LOG("cmd %u hole", i);
	}
	/* The data was not changed by the failed WRITE. */
	EXPECT_TRUE(all_bytes(self->map, 4 * psz, 1));
	/* MIGRATE_TO_SYS has no data pointer. */
	EXPECT_EQ(dm_to_sys(self->fd, self->map, 1), 0);
}

/* Unmapped address ranges. */
TEST_F(badarg, unmapped_range)
{
	EXPECT_EQ(dm_read(self->fd, self->hole, self->buf, 4), -EFAULT);
	EXPECT_EQ(dm_write(self->fd, self->hole, self->buf, 4), -EFAULT);
	EXPECT_EQ(dm_cmd(self->fd, HMM_DMIRROR_READ_UNLOCKED, self->hole,
			 self->buf, 4, NULL), -EFAULT);
	EXPECT_EQ(dm_cmd(self->fd, HMM_DMIRROR_WRITE_UNLOCKED, self->hole,
			 self->buf, 4, NULL), -EFAULT);
	EXPECT_EQ(dm_to_dev(self->fd, self->hole, 4), -EINVAL);
	EXPECT_EQ(dm_to_sys(self->fd, self->hole, 4), -EINVAL);
	/* GUP's answer for a hole, passed on as it is. */
	EXPECT_EQ(dm_excl(self->fd, self->hole, 4), -EFAULT);
	/* Nothing exclusive there, nothing to release: both succeed. */
	EXPECT_EQ(dm_check_excl(self->fd, self->hole, 4), 0);
	/* A snapshot of a hole succeeds and flags every page as an error. */
	ASSERT_EQ(dm_snap(self->fd, self->hole, self->buf, 4), 0);
	EXPECT_EQ(snap_diff(self->buf, 4, HMM_DMIRROR_PROT_ERROR), -1);
}

/* PROT_NONE ranges refuse migration and device access. */
TEST_F(badarg, prot_none_range)
{
	ASSERT_EQ(mprotect(self->map, 4 * psz, PROT_NONE), 0);
	EXPECT_EQ(dm_read(self->fd, self->map, self->buf, 4), -EFAULT);
	EXPECT_EQ(dm_write(self->fd, self->map, self->buf, 4), -EFAULT);
	EXPECT_EQ(dm_to_dev(self->fd, self->map, 4), -EINVAL);
	ASSERT_EQ(mprotect(self->map, 4 * psz, PROT_READ), 0);
	EXPECT_TRUE(all_bytes(self->map, 4 * psz, 1));
}

/* Unknown ioctl numbers, wrong sizes, and the file ops the driver lacks. */
TEST_F(badarg, unknown_cmd)
{
	struct hmm_dmirror_cmd c = { .addr = (uintptr_t)self->map,
				     .ptr = (uintptr_t)self->buf,
				     .npages = 1 };

	errno = 0;
	EXPECT_EQ(ioctl(self->fd, _IOWR('H', 0x0b, struct hmm_dmirror_cmd), &c), -1);
	EXPECT_EQ(errno, EINVAL);
	errno = 0;
	EXPECT_EQ(ioctl(self->fd, _IOWR('H', 0x7f, struct hmm_dmirror_cmd), &c), -1);
	EXPECT_EQ(errno, EINVAL);
	errno = 0;
	EXPECT_EQ(ioctl(self->fd, _IOWR('H', 0x00, __u32), &c), -1);
	EXPECT_EQ(errno, EINVAL);
	errno = 0;
	EXPECT_EQ(ioctl(self->fd, _IOWR('g', 0x00, struct hmm_dmirror_cmd), &c), -1);
	EXPECT_EQ(errno, EINVAL);
	errno = 0;
	EXPECT_EQ(read(self->fd, self->buf, 8), -1);
	EXPECT_EQ(errno, EINVAL);
	errno = 0;
	EXPECT_EQ(write(self->fd, self->buf, 8), -1);
	EXPECT_EQ(errno, EINVAL);
	/* None of this disturbed the mirror. */
	ASSERT_EQ(dm_read(self->fd, self->map, self->buf, 4), 0);
	EXPECT_TRUE(all_bytes(self->buf, 4 * psz, 1));
}

/* CHECK_EXCLUSIVE on pages that were never made exclusive: EPERM-free. */
TEST_F(badarg, check_exclusive_without_exclusive)
{
	/* Mirrored normally: no atomic entries, so the check passes. */
	ASSERT_EQ(dm_read(self->fd, self->map, self->buf, 4), 0);
	EXPECT_EQ(dm_check_excl(self->fd, self->map, 4), 0);
}

/* ---------------------------------------------------------------------- */
/*
 * Device memory: migration, snapshots, exclusive access, release, GUP and
 * two units.  The private variant runs on units 0/1, the coherent variant
 * on units 2/3.
 */

FIXTURE(devmem)
{
	int fd;			/* the unit under test */
	int peer;		/* another unit of the same memory type */
	unsigned char *buf;
	unsigned char *snap;
};

FIXTURE_VARIANT(devmem)
{
	int unit;
	int peer;
	bool coherent;
};

FIXTURE_VARIANT_ADD(devmem, private)
{
	.unit = 0,
	.peer = 1,
	.coherent = false,
};

FIXTURE_VARIANT_ADD(devmem, coherent)
{
	.unit = 2,
	.peer = 3,
	.coherent = true,
};

#define DEV_MAX_PAGES	2048

FIXTURE_SETUP(devmem)
{
	self->fd = unit_open(variant->unit);
	ASSERT_GE(self->fd, 0)
		TH_LOG("no /dev/hmm_dmirror%d (coherent units need spm_addr_dev0/1)",
		       variant->unit);
	self->peer = unit_open(variant->peer);
	ASSERT_GE(self->peer, 0);
	self->buf = map_anon(DEV_MAX_PAGES * psz, PROT_READ | PROT_WRITE);
	ASSERT_NE(self->buf, NULL);
	self->snap = malloc(DEV_MAX_PAGES);
	ASSERT_NE(self->snap, NULL);
}

FIXTURE_TEARDOWN(devmem)
{
	munmap(self->buf, DEV_MAX_PAGES * psz);
	free(self->snap);
	close(self->peer);
	close(self->fd);
}

/* Snapshot value of a page living in this unit's memory. */
static unsigned char local_prot(bool coherent, bool w)
{
	return (coherent ? HMM_DMIRROR_PROT_DEV_COHERENT_LOCAL :
			      HMM_DMIRROR_PROT_DEV_PRIVATE_LOCAL) | sys_prot(w);
}

/*
 * Snapshot value, seen from the peer, of a page in this unit's memory.
 * Coherent memory is mapped normally so every unit sees it; another owner's
 * private memory is not present for the peer (pgmap owner isolation).
 */
static unsigned char peer_view(bool coherent, bool w)
{
	if (coherent)
		return HMM_DMIRROR_PROT_DEV_COHERENT_REMOTE | sys_prot(w);
	return HMM_DMIRROR_PROT_NONE;
}

/* Populate, stamp and migrate @n pages of fresh anonymous memory. */
static char *migrated_region(int fd, unsigned long n, uint64_t seed)
{
	char *p = map_anon(n * psz, PROT_READ | PROT_WRITE);

	if (!p)
		return NULL;
	stamp(p, n * psz, seed);
	if (dm_to_dev(fd, p, n)) {
		munmap(p, n * psz);
		return NULL;
	}
	return p;
}

/* Migration keeps the data and the device reads it without faulting. */
TEST_F(devmem, migrate_anon)
{
	unsigned long n = 32;
	struct hmm_dmirror_cmd c;
	char *p;

	p = map_pages(_metadata, n, 40);
	ASSERT_EQ(dm_cmd(self->fd, HMM_DMIRROR_MIGRATE_TO_DEV, p, self->buf, n, &c), 0);
	EXPECT_EQ(c.cpages, n);
	ASSERT_EQ(dm_snap(self->fd, p, self->snap, n), 0);
	EXPECT_EQ(snap_diff(self->snap, n, local_prot(variant->coherent, true)), -1)
		TH_LOG("entry 0x%x", self->snap[0]);
	ASSERT_EQ(dm_cmd(self->fd, HMM_DMIRROR_READ, p, self->buf, n, &c), 0);
	EXPECT_EQ(c.faults, 0);
	EXPECT_EQ(stamp_diff(self->buf, n * psz, 40), -1);
	munmap(p, n * psz);
}

/* A CPU read of migrated pages: private memory comes back, coherent stays. */
TEST_F(devmem, migrate_cpu_read_back)
{
	unsigned long n = 16;
	unsigned char want;
	char *p;

	p = migrated_region(self->fd, n, 41);
	ASSERT_NE(p, NULL);
	EXPECT_EQ(stamp_diff(p, n * psz, 41), -1);
	ASSERT_EQ(dm_snap(self->fd, p, self->snap, n), 0);
	want = variant->coherent ? local_prot(variant->coherent, true) :
				   HMM_DMIRROR_PROT_WRITE;
	EXPECT_EQ(snap_diff(self->snap, n, want), -1)
		TH_LOG("entry 0x%x want 0x%x", self->snap[0], want);
	munmap(p, n * psz);
}

/* A CPU write to migrated pages lands and is visible to the device. */
TEST_F(devmem, migrate_cpu_write_back)
{
	unsigned long n = 16;
	char *p;

	p = migrated_region(self->fd, n, 42);
	ASSERT_NE(p, NULL);
	stamp(p, n * psz, 43);
	ASSERT_EQ(dm_read(self->fd, p, self->buf, n), 0);
	EXPECT_EQ(stamp_diff(self->buf, n * psz, 43), -1);
	if (!variant->coherent) {
		ASSERT_EQ(dm_snap(self->fd, p, self->snap, n), 0);
		EXPECT_EQ(snap_diff(self->snap, n, HMM_DMIRROR_PROT_WRITE), -1);
	}
	munmap(p, n * psz);
}

/* MIGRATE_TO_SYS brings every page back with its data. */
TEST_F(devmem, migrate_to_sys)
{
	unsigned long n = 32;
	struct hmm_dmirror_cmd c;
	char *p;

	p = migrated_region(self->fd, n, 44);
	ASSERT_NE(p, NULL);
	ASSERT_EQ(dm_cmd(self->fd, HMM_DMIRROR_MIGRATE_TO_SYS, p, NULL, n, &c), 0);
	EXPECT_EQ(c.cpages, n);
	ASSERT_EQ(dm_snap(self->fd, p, self->snap, n), 0);
	EXPECT_EQ(snap_diff(self->snap, n, HMM_DMIRROR_PROT_WRITE), -1);
	EXPECT_EQ(stamp_diff(p, n * psz, 44), -1);
	/* Nothing left on the device: a second call moves nothing. */
	ASSERT_EQ(dm_cmd(self->fd, HMM_DMIRROR_MIGRATE_TO_SYS, p, NULL, n, &c), 0);
	EXPECT_EQ(c.cpages, 0);
	munmap(p, n * psz);
}

/* Migrating pages already in this unit's memory changes nothing. */
TEST_F(devmem, migrate_twice)
{
	unsigned long n = 16;
	char *p;

	p = migrated_region(self->fd, n, 45);
	ASSERT_NE(p, NULL);
	EXPECT_EQ(dm_to_dev(self->fd, p, n), 0);
	ASSERT_EQ(dm_snap(self->fd, p, self->snap, n), 0);
	EXPECT_EQ(snap_diff(self->snap, n, local_prot(variant->coherent, true)), -1);
	ASSERT_EQ(dm_read(self->fd, p, self->buf, n), 0);
	EXPECT_EQ(stamp_diff(self->buf, n * psz, 45), -1);
	munmap(p, n * psz);
}

/* Holes and zero-page mappings migrate as zero-filled device pages. */
TEST_F(devmem, migrate_unpopulated)
{
	unsigned long n = 8;
	char *p;

	p = map_pages(_metadata, n, 0);
	touch_read(p);
	touch_read(p + psz);	/* pages 0 and 1 map the zero page */
	ASSERT_EQ(dm_to_dev(self->fd, (void *)p, n), 0);
	ASSERT_EQ(dm_snap(self->fd, (void *)p, self->snap, n), 0);
	EXPECT_EQ(snap_diff(self->snap, n, local_prot(variant->coherent, true)), -1);
	ASSERT_EQ(dm_read(self->fd, (void *)p, self->buf, n), 0);
	EXPECT_TRUE(all_bytes(self->buf, n * psz, 0));
	EXPECT_TRUE(all_bytes((void *)p, n * psz, 0));
	munmap((void *)p, n * psz);
}

/* Read-only pages migrate and stay read-only on the device. */
TEST_F(devmem, migrate_readonly)
{
	unsigned long n = 8;
	char *p;

	p = map_pages(_metadata, n, 46);
	ASSERT_EQ(mprotect(p, n * psz, PROT_READ), 0);
	ASSERT_EQ(dm_to_dev(self->fd, p, n), 0);
	ASSERT_EQ(dm_snap(self->fd, p, self->snap, n), 0);
	EXPECT_EQ(snap_diff(self->snap, n, local_prot(variant->coherent, false)), -1)
		TH_LOG("entry 0x%x", self->snap[0]);
	ASSERT_EQ(dm_read(self->fd, p, self->buf, n), 0);
	EXPECT_EQ(stamp_diff(self->buf, n * psz, 46), -1);
	EXPECT_EQ(stamp_diff(p, n * psz, 46), -1);
	munmap(p, n * psz);
}

/*
 * 6.1 migrates only private anonymous pages: a shared anonymous mapping is
 * refused with ENOENT and stays in system memory.
 */
TEST_F(devmem, migrate_shared_anon_refused)
{
	unsigned long n = 8;
	char *p;

	p = mmap(NULL, n * psz, PROT_READ | PROT_WRITE,
		 MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(p, MAP_FAILED);
	stamp(p, n * psz, 47);
	EXPECT_EQ(dm_to_dev(self->fd, p, n), -ENOENT);
	ASSERT_EQ(dm_snap(self->fd, p, self->snap, n), 0);
	EXPECT_EQ(snap_diff(self->snap, n, HMM_DMIRROR_PROT_WRITE), -1);
	EXPECT_EQ(stamp_diff(p, n * psz, 47), -1);
	munmap(p, n * psz);
}

#define KSM_SYSFS	"/sys/kernel/mm/ksm/"

/* Wait up to @secs for the KSM counter @name to reach @want. */
static bool ksm_wait(const char *name, long want, double secs)
{
	char path[64];
	double end = now_sec() + secs;

	snprintf(path, sizeof(path), KSM_SYSFS "%s", name);
	while (read_long(path) < want) {
		if (now_sec() > end)
			return false;
		usleep(20000);
	}
	return true;
}

/*
 * A page KSM merged stays in system memory: it is shared and write-protected
 * by design, and its KSM stable node would follow it into device memory,
 * which ksmd cannot read (6.1's migrate_vma took it along, and ksmd then
 * faulted on its next comparison). Found by hmm-fuzz with KSM scanning.
 */
TEST_F(devmem, ksm_page_not_migrated)
{
	long run = read_long(KSM_SYSFS "run");
	long sleep_ms = read_long(KSM_SYSFS "sleep_millisecs");
	long scans;
	char *a, *b, *c;

	ASSERT_GE(run, 0) TH_LOG("no KSM in this kernel");
	a = map_anon(psz, PROT_READ | PROT_WRITE);
	b = map_anon(psz, PROT_READ | PROT_WRITE);
	ASSERT_NE(a, NULL);
	ASSERT_NE(b, NULL);
	memset(a, 0x5a, psz);
	memset(b, 0x5a, psz);
	ASSERT_EQ(madvise(a, psz, MADV_MERGEABLE), 0);
	ASSERT_EQ(madvise(b, psz, MADV_MERGEABLE), 0);
	ASSERT_EQ(write_long(KSM_SYSFS "sleep_millisecs", 0), 0);
	ASSERT_EQ(write_long(KSM_SYSFS "run", 1), 0);
	ASSERT_TRUE(ksm_wait("pages_sharing", 1, 30))
		TH_LOG("KSM never merged the two pages");

	/* Leave the KSM page mapped once, then try to move it. */
	munmap(b, psz);
	EXPECT_EQ(dm_to_dev(self->fd, a, 1), -ENOENT);
	ASSERT_EQ(dm_snap(self->fd, a, self->snap, 1), 0);
	EXPECT_EQ(self->snap[0], HMM_DMIRROR_PROT_READ);

	/* A page with the same contents sends ksmd to the stable tree. */
	c = map_anon(psz, PROT_READ | PROT_WRITE);
	ASSERT_NE(c, NULL);
	memset(c, 0x5a, psz);
	ASSERT_EQ(madvise(c, psz, MADV_MERGEABLE), 0);
	scans = read_long(KSM_SYSFS "full_scans");
	EXPECT_TRUE(ksm_wait("full_scans", scans + 2, 30));
	EXPECT_TRUE(all_bytes(a, psz, 0x5a));
	EXPECT_TRUE(all_bytes(c, psz, 0x5a));

	munmap(a, psz);
	munmap(c, psz);
	/* 2 unmerges whatever is left before KSM goes back to how it was. */
	write_long(KSM_SYSFS "run", 2);
	write_long(KSM_SYSFS "run", run);
	write_long(KSM_SYSFS "sleep_millisecs", sleep_ms);
}

/* Same for a shared file mapping: page cache pages never migrate. */
TEST_F(devmem, migrate_file_shared_refused)
{
	unsigned long n = 8;
	char *p;
	int ffd;

	ffd = tmp_file(n * psz, 48);
	ASSERT_GE(ffd, 0);
	p = mmap(NULL, n * psz, PROT_READ | PROT_WRITE, MAP_SHARED, ffd, 0);
	ASSERT_NE(p, MAP_FAILED);
	EXPECT_EQ(stamp_diff(p, n * psz, 48), -1);
	EXPECT_EQ(dm_to_dev(self->fd, p, n), -ENOENT);
	ASSERT_EQ(dm_snap(self->fd, p, self->snap, n), 0);
	EXPECT_EQ(snap_diff(self->snap, n, HMM_DMIRROR_PROT_WRITE), -1);
	munmap(p, n * psz);
	close(ffd);
}

/*
 * A private file mapping: only the pages already copied on write (anonymous
 * now) migrate; page cache pages stay, so the call reports ENOENT.
 */
TEST_F(devmem, migrate_file_private)
{
	unsigned long n = 8;
	char *p;
	int ffd;

	ffd = tmp_file(n * psz, 49);
	ASSERT_GE(ffd, 0);
	p = mmap(NULL, n * psz, PROT_READ | PROT_WRITE, MAP_PRIVATE, ffd, 0);
	ASSERT_NE(p, MAP_FAILED);
	EXPECT_EQ(stamp_diff(p, n * psz, 49), -1);	/* maps page cache */
	stamp(p, 4 * psz, 50);				/* COW the first half */
	EXPECT_EQ(dm_to_dev(self->fd, p, n), -ENOENT);
	ASSERT_EQ(dm_snap(self->fd, p, self->snap, n), 0);
	EXPECT_EQ(snap_diff(self->snap, 4, local_prot(variant->coherent, true)), -1);
	EXPECT_EQ(snap_diff(self->snap + 4, n - 4, HMM_DMIRROR_PROT_READ), -1);
	ASSERT_EQ(dm_read(self->fd, p, self->buf, 4), 0);
	EXPECT_EQ(stamp_diff(self->buf, 4 * psz, 50), -1);
	EXPECT_EQ(stamp_diff(p, 4 * psz, 50), -1);
	/* The rest still reads as the file: compare with a fresh copy. */
	stamp(self->buf, n * psz, 49);
	EXPECT_EQ(memcmp(p + 4 * psz, self->buf + 4 * psz, 4 * psz), 0);
	munmap(p, n * psz);
	close(ffd);
}

/* Many separate mappings, migrated one by one, all come back intact. */
TEST_F(devmem, migrate_many_ranges)
{
	enum { RANGES = 48, PER = 4 };
	char *r[RANGES];
	unsigned int i;

	for (i = 0; i < RANGES; i++) {
		r[i] = map_anon(PER * psz, PROT_READ | PROT_WRITE);
		ASSERT_NE(r[i], NULL);
		stamp(r[i], PER * psz, 100 + i);
		ASSERT_EQ(dm_to_dev(self->fd, r[i], PER), 0) TH_LOG("range %u", i);
	}
	for (i = 0; i < RANGES; i++) {
		ASSERT_EQ(dm_snap(self->fd, r[i], self->snap, PER), 0);
		EXPECT_EQ(snap_diff(self->snap, PER,
				    local_prot(variant->coherent, true)), -1);
	}
	/* Half come back through MIGRATE_TO_SYS, half by CPU access. */
	for (i = 0; i < RANGES; i++) {
		if (i & 1)
			EXPECT_EQ(dm_to_sys(self->fd, r[i], PER), 0);
		EXPECT_EQ(stamp_diff(r[i], PER * psz, 100 + i), -1)
			TH_LOG("range %u", i);
		munmap(r[i], PER * psz);
	}
}

/* One large migration of 8 MiB. */
TEST_F(devmem, migrate_large)
{
	unsigned long n = DEV_MAX_PAGES, i;
	char *p;

	p = migrated_region(self->fd, n, 51);
	ASSERT_NE(p, NULL);
	ASSERT_EQ(dm_snap(self->fd, p, self->snap, n), 0);
	/* With THP=always, the THPs in it may have moved whole. */
	for (i = 0; i < n; i++)
		self->snap[i] &= ~HMM_DMIRROR_PROT_PMD;
	EXPECT_EQ(snap_diff(self->snap, n, local_prot(variant->coherent, true)), -1);
	ASSERT_EQ(dm_read(self->fd, p, self->buf, n), 0);
	EXPECT_EQ(stamp_diff(self->buf, n * psz, 51), -1);
	EXPECT_EQ(dm_to_sys(self->fd, p, n), 0);
	EXPECT_EQ(stamp_diff(p, n * psz, 51), -1);
	munmap(p, n * psz);
}

/* A hole in the range stops the migration with EINVAL at the hole. */
TEST_F(devmem, migrate_across_hole)
{
	unsigned long n = 8;
	char *p;

	p = map_pages(_metadata, n, 52);
	ASSERT_EQ(munmap(p + 4 * psz, psz), 0);
	EXPECT_EQ(dm_to_dev(self->fd, p, n), -EINVAL);
	ASSERT_EQ(dm_snap(self->fd, p, self->snap, n), 0);
	EXPECT_EQ(self->snap[4], HMM_DMIRROR_PROT_ERROR);
	/* Pages after the hole were never reached. */
	EXPECT_EQ(self->snap[5], HMM_DMIRROR_PROT_WRITE);
	EXPECT_EQ(self->snap[7], HMM_DMIRROR_PROT_WRITE);
	EXPECT_EQ(dm_to_sys(self->fd, p, n), -EINVAL);
	EXPECT_EQ(stamp_diff(p, 4 * psz, 52), -1);
	munmap(p, n * psz);
}

/* Back and forth many times, data changing every round. */
TEST_F(devmem, migrate_ping_pong)
{
	unsigned long n = 16;
	unsigned int round;
	char *p;

	p = map_pages(_metadata, n, 0);
	for (round = 0; round < 12; round++) {
		stamp(p, n * psz, 200 + round);
		ASSERT_EQ(dm_to_dev(self->fd, p, n), 0) TH_LOG("round %u", round);
		ASSERT_EQ(dm_read(self->fd, p, self->buf, n), 0);
		ASSERT_EQ(stamp_diff(self->buf, n * psz, 200 + round), -1);
		if (round & 1)
			ASSERT_EQ(dm_to_sys(self->fd, p, n), 0);
		ASSERT_EQ(stamp_diff(p, n * psz, 200 + round), -1)
			TH_LOG("round %u", round);
	}
	munmap(p, n * psz);
}

/* A device write to its own memory is seen by the CPU. */
TEST_F(devmem, migrate_device_write)
{
	unsigned long n = 16;
	struct hmm_dmirror_cmd c;
	char *p;

	p = migrated_region(self->fd, n, 53);
	ASSERT_NE(p, NULL);
	stamp(self->buf, n * psz, 54);
	ASSERT_EQ(dm_cmd(self->fd, HMM_DMIRROR_WRITE, p, self->buf, n, &c), 0);
	EXPECT_EQ(c.faults, 0);
	ASSERT_EQ(dm_snap(self->fd, p, self->snap, n), 0);
	EXPECT_EQ(snap_diff(self->snap, n, local_prot(variant->coherent, true)), -1);
	EXPECT_EQ(stamp_diff(p, n * psz, 54), -1);
	munmap(p, n * psz);
}

/* MADV_DONTNEED frees migrated pages: zeros afterwards, nothing mapped. */
TEST_F(devmem, migrate_then_dontneed)
{
	unsigned long n = 16;
	char *p;

	p = migrated_region(self->fd, n, 55);
	ASSERT_NE(p, NULL);
	ASSERT_EQ(madvise(p, n * psz, MADV_DONTNEED), 0);
	ASSERT_EQ(dm_snap(self->fd, p, self->snap, n), 0);
	EXPECT_EQ(snap_diff(self->snap, n, HMM_DMIRROR_PROT_NONE), -1);
	ASSERT_EQ(dm_read(self->fd, p, self->buf, n), 0);
	EXPECT_TRUE(all_bytes(self->buf, n * psz, 0));
	EXPECT_TRUE(all_bytes(p, n * psz, 0));
	munmap(p, n * psz);
}

/* munmap of migrated pages, then a new mapping at the same address. */
TEST_F(devmem, migrate_then_remap)
{
	unsigned long n = 16;
	char *p, *q;

	p = migrated_region(self->fd, n, 56);
	ASSERT_NE(p, NULL);
	ASSERT_EQ(munmap(p, n * psz), 0);
	q = mmap(p, n * psz, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
	ASSERT_EQ(q, p);
	ASSERT_EQ(dm_snap(self->fd, q, self->snap, n), 0);
	EXPECT_EQ(snap_diff(self->snap, n, HMM_DMIRROR_PROT_NONE), -1);
	stamp(q, n * psz, 57);
	ASSERT_EQ(dm_read(self->fd, q, self->buf, n), 0);
	EXPECT_EQ(stamp_diff(self->buf, n * psz, 57), -1);
	munmap(q, n * psz);
}

/*
 * Pages shared copy-on-write with a child migrate read-only; each process
 * keeps its own data when it writes.
 */
TEST_F(devmem, migrate_cow_shared)
{
	unsigned long n = 8;
	int go[2], done[2];
	pid_t pid;
	char *p;
	char c;

	p = map_pages(_metadata, n, 58);
	ASSERT_EQ(pipe(go), 0);
	ASSERT_EQ(pipe(done), 0);
	pid = fork();
	ASSERT_GE(pid, 0);
	if (pid == 0) {
		if (read(go[0], &c, 1) != 1)
			_exit(2);
		if (stamp_diff(p, n * psz, 58) != -1)
			_exit(3);
		stamp(p, n * psz, 59);
		_exit(stamp_diff(p, n * psz, 59) == -1 ? 0 : 1);
	}
	ASSERT_EQ(dm_to_dev(self->fd, p, n), 0);
	ASSERT_EQ(dm_snap(self->fd, p, self->snap, n), 0);
	EXPECT_EQ(snap_diff(self->snap, n, local_prot(variant->coherent, false)), -1)
		TH_LOG("entry 0x%x", self->snap[0]);
	ASSERT_EQ(write(go[1], "g", 1), 1);
	EXPECT_EQ(reap(pid), 0);
	EXPECT_EQ(stamp_diff(p, n * psz, 58), -1);
	stamp(p, n * psz, 60);
	ASSERT_EQ(dm_read(self->fd, p, self->buf, n), 0);
	EXPECT_EQ(stamp_diff(self->buf, n * psz, 60), -1);
	close(go[0]);
	close(go[1]);
	close(done[0]);
	close(done[1]);
	munmap(p, n * psz);
}

/* After fork the child reads migrated data through its own copy. */
TEST_F(devmem, migrate_then_fork)
{
	unsigned long n = 8;
	pid_t pid;
	char *p;

	p = migrated_region(self->fd, n, 61);
	ASSERT_NE(p, NULL);
	pid = fork();
	ASSERT_GE(pid, 0);
	if (pid == 0) {
		if (stamp_diff(p, n * psz, 61) != -1)
			_exit(1);
		stamp(p, n * psz, 62);
		_exit(stamp_diff(p, n * psz, 62) == -1 ? 0 : 1);
	}
	EXPECT_EQ(reap(pid), 0);
	ASSERT_EQ(dm_read(self->fd, p, self->buf, n), 0);
	EXPECT_EQ(stamp_diff(self->buf, n * psz, 61), -1);
	EXPECT_EQ(stamp_diff(p, n * psz, 61), -1);
	munmap(p, n * psz);
}

/* THP: migration splits the huge page and keeps every byte. */
TEST_F(devmem, migrate_thp)
{
	unsigned long n = PMD_BYTES / psz;
	char *p;

	if (!thp_madvise_ok())
		SKIP(return, "migrate_thp: transparent hugepages disabled");
	p = thp_map();
	ASSERT_NE(p, NULL);
	stamp(p, PMD_BYTES, 63);
	ASSERT_EQ(dm_snap(self->fd, p, self->snap, n), 0);
	ASSERT_EQ(self->snap[0], HMM_DMIRROR_PROT_PMD | HMM_DMIRROR_PROT_WRITE);
	ASSERT_EQ(dm_to_dev(self->fd, p, 64), 0);
	ASSERT_EQ(dm_snap(self->fd, p, self->snap, n), 0);
	EXPECT_EQ(snap_diff(self->snap, 64, local_prot(variant->coherent, true)), -1);
	EXPECT_EQ(snap_diff(self->snap + 64, n - 64, HMM_DMIRROR_PROT_WRITE),
		  -1);
	ASSERT_EQ(dm_read(self->fd, p, self->buf, 64), 0);
	EXPECT_EQ(stamp_diff(self->buf, 64 * psz, 63), -1);
	EXPECT_EQ(stamp_diff(p, PMD_BYTES, 63), -1);
	munmap(p, PMD_BYTES);
}

/* Every kind of mapping in one snapshot. */
TEST_F(devmem, snapshot_mixed)
{
	enum { NONE, ZERO, RO, RW, DEV_LOCAL, DEV_PEER, PROTNONE, HOLE, NPG };
	unsigned char want[NPG];
	char *p;
	unsigned int i;

	p = map_anon(NPG * psz, PROT_READ | PROT_WRITE);
	ASSERT_NE(p, NULL);
	touch_read(p + ZERO * psz);
	p[RO * psz] = 1;
	ASSERT_EQ(mprotect((void *)(p + RO * psz), psz, PROT_READ), 0);
	p[RW * psz] = 2;
	p[DEV_LOCAL * psz] = 3;
	ASSERT_EQ(dm_to_dev(self->fd, (void *)(p + DEV_LOCAL * psz), 1), 0);
	p[DEV_PEER * psz] = 4;
	ASSERT_EQ(dm_to_dev(self->peer, (void *)(p + DEV_PEER * psz), 1), 0);
	ASSERT_EQ(mprotect((void *)(p + PROTNONE * psz), psz, PROT_NONE), 0);
	ASSERT_EQ(munmap((void *)(p + HOLE * psz), psz), 0);

	want[NONE] = HMM_DMIRROR_PROT_NONE;
	want[ZERO] = HMM_DMIRROR_PROT_ZERO | HMM_DMIRROR_PROT_READ;
	want[RO] = HMM_DMIRROR_PROT_READ;
	want[RW] = HMM_DMIRROR_PROT_WRITE;
	want[DEV_LOCAL] = local_prot(variant->coherent, true);
	want[DEV_PEER] = variant->coherent ?
		HMM_DMIRROR_PROT_DEV_COHERENT_REMOTE | HMM_DMIRROR_PROT_WRITE :
		HMM_DMIRROR_PROT_NONE;
	want[PROTNONE] = HMM_DMIRROR_PROT_ERROR;
	want[HOLE] = HMM_DMIRROR_PROT_ERROR;
	ASSERT_EQ(dm_snap(self->fd, (void *)p, self->snap, NPG), 0);
	for (i = 0; i < NPG; i++) {
		unsigned char got = self->snap[i];

		EXPECT_EQ(got, want[i]) TH_LOG("page %u", i);
	}
	/* The peer sees its own page as local, ours per owner rules. */
	ASSERT_EQ(dm_snap(self->peer, (void *)p, self->snap, NPG), 0);
	EXPECT_EQ(self->snap[DEV_PEER], local_prot(variant->coherent, true));
	EXPECT_EQ(self->snap[DEV_LOCAL], peer_view(variant->coherent, true));
	/* A snapshot never faults anything in. */
	ASSERT_EQ(dm_snap(self->fd, (void *)p, self->snap, NPG), 0);
	EXPECT_EQ(self->snap[NONE], HMM_DMIRROR_PROT_NONE);
	EXPECT_EQ(self->snap[DEV_LOCAL], local_prot(variant->coherent, true));
	EXPECT_EQ(p[DEV_LOCAL * psz], 3);
	EXPECT_EQ(p[DEV_PEER * psz], 4);
	munmap((void *)p, HOLE * psz);
}

/*
 * A THP next to small pages of every kind, in one snapshot: the huge part
 * reports its PMD order, the small part per page.
 */
TEST_F(devmem, snapshot_mixed_huge)
{
	unsigned long huge = PMD_BYTES / psz, n = huge + 4;
	char *p;

	if (!thp_madvise_ok())
		SKIP(return, "snapshot_mixed_huge: transparent hugepages disabled");
	p = map_aligned(2 * PMD_BYTES, PMD_BYTES, MAP_PRIVATE | MAP_ANONYMOUS);
	ASSERT_NE(p, NULL);
	ASSERT_EQ(madvise(p, PMD_BYTES, MADV_HUGEPAGE), 0);
	ASSERT_EQ(madvise(p + PMD_BYTES, PMD_BYTES, MADV_NOHUGEPAGE), 0);
	p[0] = 1;				/* the THP */
	/* huge + 0: none; + 1: zero page; + 2: written; + 3: migrated */
	touch_read(p + (huge + 1) * psz);
	p[(huge + 2) * psz] = 2;
	p[(huge + 3) * psz] = 3;
	ASSERT_EQ(dm_to_dev(self->fd, p + (huge + 3) * psz, 1), 0);
	ASSERT_EQ(dm_snap(self->fd, p, self->snap, n), 0);
	EXPECT_EQ(snap_diff(self->snap, huge,
			    HMM_DMIRROR_PROT_PMD | HMM_DMIRROR_PROT_WRITE), -1)
		TH_LOG("first entry 0x%x", self->snap[0]);
	EXPECT_EQ(self->snap[huge], HMM_DMIRROR_PROT_NONE);
	EXPECT_EQ(self->snap[huge + 1],
		  HMM_DMIRROR_PROT_ZERO | HMM_DMIRROR_PROT_READ);
	EXPECT_EQ(self->snap[huge + 2], HMM_DMIRROR_PROT_WRITE);
	EXPECT_EQ(self->snap[huge + 3], local_prot(variant->coherent, true));
	/* The peer sees the same huge mapping. */
	ASSERT_EQ(dm_snap(self->peer, p, self->snap, huge), 0);
	EXPECT_EQ(self->snap[huge - 1],
		  HMM_DMIRROR_PROT_PMD | HMM_DMIRROR_PROT_WRITE);
	EXPECT_EQ(p[(huge + 3) * psz], 3);
	munmap(p, 2 * PMD_BYTES);
}

/* RELEASE evicts device memory that still has users; the data survives. */
TEST_F(devmem, release_with_live_pages)
{
	unsigned long n = 32;
	char *p;

	p = migrated_region(self->fd, n, 64);
	ASSERT_NE(p, NULL);
	ASSERT_EQ(dm_release(self->fd), 0);
	ASSERT_EQ(dm_snap(self->fd, p, self->snap, n), 0);
	EXPECT_EQ(snap_diff(self->snap, n, HMM_DMIRROR_PROT_WRITE), -1)
		TH_LOG("entry 0x%x", self->snap[0]);
	ASSERT_EQ(dm_read(self->fd, p, self->buf, n), 0);
	EXPECT_EQ(stamp_diff(self->buf, n * psz, 64), -1);
	EXPECT_EQ(stamp_diff(p, n * psz, 64), -1);
	munmap(p, n * psz);
}

/* After RELEASE the unit allocates device memory again. */
TEST_F(devmem, release_then_migrate)
{
	unsigned long n = 16;
	char *p;

	p = migrated_region(self->fd, n, 65);
	ASSERT_NE(p, NULL);
	ASSERT_EQ(dm_release(self->fd), 0);
	stamp(p, n * psz, 66);
	ASSERT_EQ(dm_to_dev(self->fd, p, n), 0);
	ASSERT_EQ(dm_snap(self->fd, p, self->snap, n), 0);
	EXPECT_EQ(snap_diff(self->snap, n, local_prot(variant->coherent, true)), -1);
	EXPECT_EQ(stamp_diff(p, n * psz, 66), -1);
	/* Releasing twice, and releasing an idle unit, are fine. */
	EXPECT_EQ(dm_release(self->fd), 0);
	EXPECT_EQ(dm_release(self->fd), 0);
	EXPECT_EQ(stamp_diff(p, n * psz, 66), -1);
	munmap(p, n * psz);
}

/* RELEASE evicts the pages of every process using the unit. */
TEST_F(devmem, release_other_process_pages)
{
	unsigned long n = 8;
	int ready[2], go[2];
	pid_t pid;
	char c;

	ASSERT_EQ(pipe(ready), 0);
	ASSERT_EQ(pipe(go), 0);
	pid = fork();
	ASSERT_GE(pid, 0);
	if (pid == 0) {
		unsigned char s[8];
		int cfd = unit_open(variant->unit);
		char *p;

		if (cfd < 0)
			_exit(2);
		p = migrated_region(cfd, n, 67);
		if (!p)
			_exit(3);
		if (write(ready[1], "r", 1) != 1 || read(go[0], &c, 1) != 1)
			_exit(4);
		if (dm_snap(cfd, p, s, n) || s[0] != HMM_DMIRROR_PROT_WRITE ||
		    s[n - 1] != HMM_DMIRROR_PROT_WRITE)
			_exit(5);
		_exit(stamp_diff(p, n * psz, 67) == -1 ? 0 : 1);
	}
	close(ready[1]);
	close(go[0]);
	ASSERT_EQ(read(ready[0], &c, 1), 1) {
		reap(pid);
	}
	EXPECT_EQ(dm_release(self->fd), 0);
	ASSERT_EQ(write(go[1], "g", 1), 1);
	EXPECT_EQ(reap(pid), 0);
	close(ready[0]);
	close(go[1]);
}

/* Exclusive access: held until the CPU touches the page. */
TEST_F(devmem, exclusive_basic)
{
	unsigned long n = 4, i;
	struct hmm_dmirror_cmd c;
	char *p;

	p = map_pages(_metadata, n, 68);
	ASSERT_EQ(dm_cmd(self->fd, HMM_DMIRROR_EXCLUSIVE, p, self->buf, n, &c), 0);
	EXPECT_EQ(c.cpages, n);
	/* CHECK_EXCLUSIVE fails with EPERM while device-exclusive. */
	EXPECT_EQ(dm_check_excl(self->fd, p, n), -EPERM);
	/* The device reads through its exclusive entries, no fault. */
	ASSERT_EQ(dm_cmd(self->fd, HMM_DMIRROR_READ, p, self->buf, n, &c), 0);
	EXPECT_EQ(c.faults, 0);
	EXPECT_EQ(stamp_diff(self->buf, n * psz, 68), -1);
	/* One CPU read ends exclusivity for that page only. */
	EXPECT_EQ(stamp_diff(p, psz, 68), -1);
	EXPECT_EQ(dm_check_excl(self->fd, p, 1), 0);
	EXPECT_EQ(dm_check_excl(self->fd, p + psz, n - 1), -EPERM);
	for (i = 1; i < n; i++)
		EXPECT_EQ(page_diff(p, i, 68), -1);
	EXPECT_EQ(dm_check_excl(self->fd, p, n), 0);
	munmap(p, n * psz);
}

/* A CPU write revokes exclusive access and lands. */
TEST_F(devmem, exclusive_cpu_write)
{
	unsigned long n = 4;
	char *p;

	p = map_pages(_metadata, n, 69);
	ASSERT_EQ(dm_excl(self->fd, p, n), 0);
	stamp(p, n * psz, 70);
	EXPECT_EQ(dm_check_excl(self->fd, p, n), 0);
	ASSERT_EQ(dm_read(self->fd, p, self->buf, n), 0);
	EXPECT_EQ(stamp_diff(self->buf, n * psz, 70), -1);
	munmap(p, n * psz);
}

/* mprotect() revokes exclusivity; the device then cannot write. */
TEST_F(devmem, exclusive_mprotect)
{
	unsigned long n = 4;
	char *p;

	p = map_pages(_metadata, n, 71);
	ASSERT_EQ(dm_excl(self->fd, p, n), 0);
	ASSERT_EQ(mprotect(p, n * psz, PROT_READ), 0);
	EXPECT_EQ(dm_check_excl(self->fd, p, n), 0);
	stamp(self->buf, n * psz, 72);
	EXPECT_EQ(dm_write(self->fd, p, self->buf, n), -EPERM);
	EXPECT_EQ(stamp_diff(p, n * psz, 71), -1);
	/*
	 * Exclusive access needs write access: GUP refuses with -EFAULT,
	 * and the driver passes that on.
	 */
	EXPECT_EQ(dm_excl(self->fd, p, n), -EFAULT);
	EXPECT_EQ(stamp_diff(p, n * psz, 71), -1);
	munmap(p, n * psz);
}

/* fork() with exclusive entries: both sides get correct COW copies. */
TEST_F(devmem, exclusive_cow)
{
	unsigned long n = 4;
	pid_t pid;
	char *p;

	p = map_pages(_metadata, n, 73);
	ASSERT_EQ(dm_excl(self->fd, p, n), 0);
	pid = fork();
	ASSERT_GE(pid, 0);
	if (pid == 0) {
		if (stamp_diff(p, n * psz, 73) != -1)
			_exit(1);
		stamp(p, n * psz, 74);
		_exit(stamp_diff(p, n * psz, 74) == -1 ? 0 : 2);
	}
	EXPECT_EQ(reap(pid), 0);
	/* fork restored the CPU mappings, so exclusivity is gone. */
	EXPECT_EQ(dm_check_excl(self->fd, p, n), 0);
	EXPECT_EQ(stamp_diff(p, n * psz, 73), -1);
	stamp(p, n * psz, 75);
	ASSERT_EQ(dm_read(self->fd, p, self->buf, n), 0);
	EXPECT_EQ(stamp_diff(self->buf, n * psz, 75), -1);
	munmap(p, n * psz);
}

/* A device write to exclusive pages lands and the CPU sees it. */
TEST_F(devmem, exclusive_device_write)
{
	unsigned long n = 4;
	char *p;

	p = map_pages(_metadata, n, 76);
	ASSERT_EQ(dm_excl(self->fd, p, n), 0);
	stamp(self->buf, n * psz, 77);
	ASSERT_EQ(dm_write(self->fd, p, self->buf, n), 0);
	EXPECT_EQ(stamp_diff(p, n * psz, 77), -1);
	munmap(p, n * psz);
}

/* Unpopulated memory and migrated pages can be made exclusive too. */
TEST_F(devmem, exclusive_unpopulated_and_migrated)
{
	unsigned long n = 4;
	char *p, *q;

	p = map_pages(_metadata, n, 0);
	ASSERT_EQ(dm_excl(self->fd, p, n), 0);
	EXPECT_EQ(dm_check_excl(self->fd, p, n), -EPERM);
	EXPECT_TRUE(all_bytes(p, n * psz, 0));
	q = migrated_region(self->fd, n, 78);
	ASSERT_NE(q, NULL);
	ASSERT_EQ(dm_excl(self->fd, q, n), 0);
	EXPECT_EQ(dm_check_excl(self->fd, q, n), -EPERM);
	EXPECT_EQ(stamp_diff(q, n * psz, 78), -1);
	EXPECT_EQ(dm_check_excl(self->fd, q, n), 0);
	munmap(p, n * psz);
	munmap(q, n * psz);
}

/* munmap + remap of exclusive pages: no stale exclusive entry, new data. */
TEST_F(devmem, exclusive_remap)
{
	unsigned long n = 4;
	char *p, *q;

	p = map_pages(_metadata, n, 79);
	ASSERT_EQ(dm_excl(self->fd, p, n), 0);
	ASSERT_EQ(munmap(p, n * psz), 0);
	q = mmap(p, n * psz, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
	ASSERT_EQ(q, p);
	stamp(q, n * psz, 80);
	EXPECT_EQ(dm_check_excl(self->fd, q, n), 0);
	ASSERT_EQ(dm_read(self->fd, q, self->buf, n), 0);
	EXPECT_EQ(stamp_diff(self->buf, n * psz, 80), -1);
	munmap(q, n * psz);
}

/* Two units mirroring the same memory both see CPU updates. */
TEST_F(devmem, two_units_see_updates)
{
	unsigned long n = 8;
	char *p;

	p = map_pages(_metadata, n, 82);
	ASSERT_EQ(dm_read(self->fd, p, self->buf, n), 0);
	ASSERT_EQ(dm_read(self->peer, p, self->buf, n), 0);
	EXPECT_EQ(stamp_diff(self->buf, n * psz, 82), -1);
	/* A write by one unit reaches the other unit and the CPU. */
	stamp(self->buf, n * psz, 83);
	ASSERT_EQ(dm_write(self->fd, p, self->buf, n), 0);
	memset(self->buf, 0, n * psz);
	ASSERT_EQ(dm_read(self->peer, p, self->buf, n), 0);
	EXPECT_EQ(stamp_diff(self->buf, n * psz, 83), -1);
	stamp(p, n * psz, 84);
	ASSERT_EQ(dm_read(self->fd, p, self->buf, n), 0);
	EXPECT_EQ(stamp_diff(self->buf, n * psz, 84), -1);
	munmap(p, n * psz);
}

/*
 * Owner isolation: the peer never sees our private pages as its own.  It
 * reports them not present; coherent pages are visible as remote.
 */
/*
 * Another device meets this one's device-exclusive entries: its snapshot
 * sees them as not present and revokes nothing; its read faults them back
 * to normal pages (ending the exclusive access) and sees the CPU's data.
 */
TEST_F(devmem, peer_meets_exclusive)
{
	unsigned long n = 4;
	char *p;

	p = map_pages(_metadata, n, 96);
	ASSERT_EQ(dm_excl(self->fd, p, n), 0);
	ASSERT_EQ(dm_check_excl(self->fd, p, n), -EPERM);

	ASSERT_EQ(dm_snap(self->peer, p, self->snap, n), 0);
	EXPECT_EQ(snap_diff(self->snap, n, HMM_DMIRROR_PROT_NONE), -1);
	EXPECT_EQ(dm_check_excl(self->fd, p, n), -EPERM);

	ASSERT_EQ(dm_read(self->peer, p, self->buf, n), 0);
	EXPECT_EQ(stamp_diff(self->buf, n * psz, 96), -1);
	EXPECT_EQ(dm_check_excl(self->fd, p, n), 0);
	munmap(p, n * psz);
}

TEST_F(devmem, peer_snapshot)
{
	unsigned long n = 8;
	char *p;

	p = migrated_region(self->fd, n, 85);
	ASSERT_NE(p, NULL);
	ASSERT_EQ(dm_snap(self->peer, p, self->snap, n), 0);
	EXPECT_EQ(snap_diff(self->snap, n, peer_view(variant->coherent, true)), -1)
		TH_LOG("entry 0x%x", self->snap[0]);
	/* Looking did not move anything. */
	ASSERT_EQ(dm_snap(self->fd, p, self->snap, n), 0);
	EXPECT_EQ(snap_diff(self->snap, n, local_prot(variant->coherent, true)), -1);
	munmap(p, n * psz);
}

/*
 * A peer read of our pages returns the right data.  For private memory it
 * must fault them back to system memory first.
 */
TEST_F(devmem, peer_read)
{
	unsigned long n = 8;
	unsigned char want;
	char *p;

	p = migrated_region(self->fd, n, 86);
	ASSERT_NE(p, NULL);
	ASSERT_EQ(dm_read(self->peer, p, self->buf, n), 0);
	EXPECT_EQ(stamp_diff(self->buf, n * psz, 86), -1);
	ASSERT_EQ(dm_snap(self->fd, p, self->snap, n), 0);
	want = variant->coherent ? local_prot(variant->coherent, true) :
				   HMM_DMIRROR_PROT_WRITE;
	EXPECT_EQ(snap_diff(self->snap, n, want), -1)
		TH_LOG("entry 0x%x", self->snap[0]);
	munmap(p, n * psz);
}

/* A peer write to our pages lands; the CPU reads the peer's data. */
TEST_F(devmem, peer_write)
{
	unsigned long n = 8;
	char *p;

	p = migrated_region(self->fd, n, 87);
	ASSERT_NE(p, NULL);
	stamp(self->buf, n * psz, 88);
	ASSERT_EQ(dm_write(self->peer, p, self->buf, n), 0);
	EXPECT_EQ(stamp_diff(p, n * psz, 88), -1);
	munmap(p, n * psz);
}

/*
 * The peer cannot migrate pages another unit owns: ENOENT; and its
 * MIGRATE_TO_SYS leaves them alone.
 */
TEST_F(devmem, peer_migrate_refused)
{
	unsigned long n = 8;
	struct hmm_dmirror_cmd c;
	char *p;

	p = migrated_region(self->fd, n, 89);
	ASSERT_NE(p, NULL);
	EXPECT_EQ(dm_to_dev(self->peer, p, n), -ENOENT);
	ASSERT_EQ(dm_cmd(self->peer, HMM_DMIRROR_MIGRATE_TO_SYS, p, NULL, n,
			 &c), 0);
	EXPECT_EQ(c.cpages, 0);
	ASSERT_EQ(dm_snap(self->fd, p, self->snap, n), 0);
	EXPECT_EQ(snap_diff(self->snap, n, local_prot(variant->coherent, true)), -1);
	EXPECT_EQ(stamp_diff(p, n * psz, 89), -1);
	munmap(p, n * psz);
}

/* A private unit cannot take over a coherent unit's pages and vice versa. */
TEST(cross_type_migrate_refused)
{
	unsigned char s[4];
	unsigned long n = 4;
	int priv, coh;
	char *p;

	priv = unit_open(0);
	coh = unit_open(2);
	ASSERT_GE(priv, 0);
	ASSERT_GE(coh, 0);
	p = migrated_region(coh, n, 90);
	ASSERT_NE(p, NULL);
	EXPECT_EQ(dm_to_dev(priv, p, n), -ENOENT);
	ASSERT_EQ(dm_snap(coh, p, s, n), 0);
	EXPECT_EQ(s[0], HMM_DMIRROR_PROT_DEV_COHERENT_LOCAL |
		  HMM_DMIRROR_PROT_WRITE);
	EXPECT_EQ(dm_to_sys(coh, p, n), 0);
	ASSERT_EQ(dm_to_dev(priv, p, n), 0);
	ASSERT_EQ(dm_snap(coh, p, s, n), 0);
	EXPECT_EQ(s[0], HMM_DMIRROR_PROT_NONE);
	EXPECT_EQ(dm_to_dev(coh, p, n), -ENOENT);
	EXPECT_EQ(stamp_diff(p, n * psz, 90), -1);
	munmap(p, n * psz);
	close(priv);
	close(coh);
}

/* ---------------------------------------------------------------------- */
/*
 * Exclusive access must never leave a device exclusive entry on device
 * coherent memory: nothing then owns the entry, it keeps the page busy, and
 * with 6.1's core an eviction of the page turns the entry back into a PTE
 * without dropping its reference, so the memory can never be released.
 * test_hmm moves coherent pages to system memory with a long term pin before
 * make_device_exclusive_range(); /proc/thread-self/fail-nth fails each
 * allocation of one EXCLUSIVE call in turn, the pin's among them.
 */
#define FAULT_INJECT_DIR	"/sys/kernel/debug/"
#define FAIL_NTH_PATH		"/proc/thread-self/fail-nth"
#define FAIL_NTH_MAX		256
#define SPM_PARAM_DIR		"/sys/module/test_hmm/parameters/"
#define COHERENT_UNIT_BYTES	(256UL << 20)

enum fail_kinds { FAIL_PAGES, FAIL_ALL, NR_FAIL_KINDS };

/*
 * What fail-nth counts: page allocations of any order and gfp, with or
 * without slab allocations (FAIL_PAGES, FAIL_ALL); no random failures, no
 * stack dump per failure (a console splat).
 */
static const struct {
	const char *path;
	const char *value[NR_FAIL_KINDS];
} fault_knobs[] = {
	{ "failslab/probability", { "0", "0" } },
	{ "failslab/task-filter", { "Y", "Y" } },
	{ "failslab/verbose", { "0", "0" } },
	{ "failslab/ignore-gfp-wait", { "N", "N" } },
	{ "failslab/cache-filter", { "Y", "N" } },
	{ "fail_page_alloc/probability", { "0", "0" } },
	{ "fail_page_alloc/task-filter", { "Y", "Y" } },
	{ "fail_page_alloc/verbose", { "0", "0" } },
	{ "fail_page_alloc/ignore-gfp-wait", { "N", "N" } },
	{ "fail_page_alloc/ignore-gfp-highmem", { "N", "N" } },
	{ "fail_page_alloc/min-order", { "0", "0" } },
};

#define NR_FAULT_KNOBS	ARRAY_SIZE(fault_knobs)

static bool knob_read(unsigned int i, char *val, size_t len)
{
	char path[128];
	bool ok;
	FILE *f;

	snprintf(path, sizeof(path), FAULT_INJECT_DIR "%s", fault_knobs[i].path);
	f = fopen(path, "r");
	if (!f)
		return false;
	ok = fgets(val, len, f);
	fclose(f);
	val[strcspn(val, "\n")] = 0;
	return ok;
}

static int knob_write(unsigned int i, const char *val)
{
	char path[128];
	int fd, ret;

	snprintf(path, sizeof(path), FAULT_INJECT_DIR "%s", fault_knobs[i].path);
	fd = open(path, O_WRONLY);
	if (fd < 0)
		return -errno;
	ret = write(fd, val, strlen(val)) == (ssize_t)strlen(val) ? 0 : -EIO;
	close(fd);
	return ret;
}

static int fail_nth_set(int fd, unsigned long nth)
{
	char buf[24];
	int len = snprintf(buf, sizeof(buf), "%lu", nth);

	return write(fd, buf, len) == len ? 0 : -errno;
}

/* Allocations left before the armed failure; 0 once it was injected. */
static long fail_nth_left(int fd)
{
	char buf[24] = "";

	if (pread(fd, buf, sizeof(buf) - 1, 0) <= 0)
		return -1;
	return strtol(buf, NULL, 10);
}

FIXTURE(failnth)
{
	int excl;			/* unit 0 asks for exclusive access */
	int coh;			/* unit 3 owns the coherent page */
	int nth;			/* this thread's fail-nth */
	unsigned long coh_pfn[2];	/* first pfn of each coherent unit */
	bool saved[NR_FAULT_KNOBS];
	char old[NR_FAULT_KNOBS][32];
};

FIXTURE_SETUP(failnth)
{
	self->nth = -1;
	self->excl = unit_open(0);
	ASSERT_GE(self->excl, 0);
	self->coh = unit_open(3);
	ASSERT_GE(self->coh, 0)
		TH_LOG("no /dev/hmm_dmirror3 (coherent units need spm_addr_dev0/1)");
	self->coh_pfn[0] = read_long(SPM_PARAM_DIR "spm_addr_dev0") / psz;
	self->coh_pfn[1] = read_long(SPM_PARAM_DIR "spm_addr_dev1") / psz;
	ASSERT_NE(self->coh_pfn[1], 0);
}

FIXTURE_TEARDOWN(failnth)
{
	unsigned int i;

	if (self->nth >= 0) {
		fail_nth_set(self->nth, 0);
		close(self->nth);
	}
	for (i = NR_FAULT_KNOBS; i-- > 0;)
		if (self->saved[i])
			knob_write(i, self->old[i]);
	close(self->coh);
	close(self->excl);
}

/* Save every knob (once) and set it for @kind. */
static int fail_kind_set(struct _test_data_failnth *self, enum fail_kinds kind)
{
	unsigned int i;

	for (i = 0; i < NR_FAULT_KNOBS; i++) {
		if (!self->saved[i]) {
			if (!knob_read(i, self->old[i], sizeof(self->old[i])))
				return -ENOENT;
			self->saved[i] = true;
		}
		if (knob_write(i, fault_knobs[i].value[kind]))
			return -EIO;
	}
	return 0;
}

static bool coherent_pfn(const unsigned long *first, uint64_t pfn)
{
	unsigned long n = COHERENT_UNIT_BYTES / psz;
	int i;

	for (i = 0; i < 2; i++)
		if (first[i] && pfn >= first[i] && pfn < first[i] + n)
			return true;
	return false;
}

/*
 * A swap entry (pagemap bit 62) whose pfn is device coherent memory. In
 * this single threaded case only a device exclusive entry can be one: the
 * entry's frame is its swap type plus the pfn shifted past it.
 */
static bool exclusive_on_coherent(const unsigned long *first, const void *addr)
{
	uint64_t e = pagemap_entry(addr);

	return (e & PM_SWAP) &&
	       coherent_pfn(first, (e & PM_FRAME) >> PM_SWP_TYPE_BITS);
}

/*
 * Page 0 present, page 1 empty (the pin must allocate a page for it, which
 * fails at one of the fail-nth values), page 2 in coherent memory. A pin
 * that stopped at page 1 used to see page 2 made exclusive all the same.
 */
static char *partial_pin_layout(struct __test_metadata *_metadata,
				struct _test_data_failnth *self)
{
	char *p = map_pages(_metadata, 3, 0);

	p[0] = 1;
	/*
	 * A long term pin that has to migrate a page (out of the CMA area,
	 * say) pins the whole range again and the failure is lost: one
	 * exclusive pass moves page 0 first.
	 */
	ASSERT_EQ(dm_excl(self->excl, p, 1), 0);
	touch_read(p);
	p[2 * psz] = 2;
	ASSERT_EQ(dm_to_dev(self->coh, p + 2 * psz, 1), 0);
	/* Checks the check: pfns are shown, and the range is right. */
	ASSERT_TRUE(coherent_pfn(self->coh_pfn,
				 pagemap_entry(p + 2 * psz) & PM_FRAME))
		TH_LOG("pagemap entry 0x%llx is not coherent memory",
		       (unsigned long long)pagemap_entry(p + 2 * psz));
	return p;
}

/*
 * Fail the first, second, ... allocation of EXCLUSIVE until one runs
 * without a failure. Returns the entries left on coherent memory.
 */
static int partial_pin_sweep(struct __test_metadata *_metadata,
			     struct _test_data_failnth *self,
			     enum fail_kinds kind)
{
	unsigned long i, nth;
	int ret, stuck = 0;
	long left = 0;
	char *p;

	ASSERT_EQ(fail_kind_set(self, kind), 0);
	for (nth = 1; nth <= FAIL_NTH_MAX && left <= 0; nth++) {
		p = partial_pin_layout(_metadata, self);
		ASSERT_EQ(fail_nth_set(self->nth, nth), 0);
		ret = dm_excl(self->excl, p, 3);
		left = fail_nth_left(self->nth);
		ASSERT_EQ(fail_nth_set(self->nth, 0), 0);

		for (i = 0; i < 3; i++) {
			if (!exclusive_on_coherent(self->coh_pfn, p + i * psz))
				continue;
			stuck++;
			TH_LOG("fail-nth %lu (%s): EXCLUSIVE %d, page %lu left exclusive on device",
			       nth, kind == FAIL_PAGES ? "pages" : "all", ret,
			       i);
			/* What an eviction makes of it: busy, or a leak. */
			EXPECT_EQ(dm_release(self->coh), 0);
		}
		/* The CPU takes every page back, with its data. */
		EXPECT_EQ(p[0], 1);
		EXPECT_EQ(p[psz], 0);
		EXPECT_EQ(p[2 * psz], 2);
		munmap(p, 3 * psz);
	}
	EXPECT_GT(left, 0)
		TH_LOG("EXCLUSIVE still allocating at fail-nth %d",
		       FAIL_NTH_MAX);
	return stuck;
}

/*
 * The number of allocations before the pin's varies a little from call to
 * call (slab refills, KASAN's stack depot), so a sweep can step over it:
 * page allocations alone are few and swept several times, then every
 * allocation once.
 */
#define PAGE_SWEEPS	4

TEST_F_TIMEOUT(failnth, exclusive_partial_pin, 300)
{
	int i, stuck = 0;

	if (access(FAIL_NTH_PATH, W_OK) ||
	    access(FAULT_INJECT_DIR "failslab", F_OK) ||
	    access(FAULT_INJECT_DIR "fail_page_alloc", F_OK))
		SKIP(return,
		     "exclusive_partial_pin: no fault injection (needs FAULT_INJECTION_DEBUG_FS, FAILSLAB, FAIL_PAGE_ALLOC)");
	self->nth = open(FAIL_NTH_PATH, O_RDWR);
	ASSERT_GE(self->nth, 0);

	for (i = 0; i < PAGE_SWEEPS; i++)
		stuck += partial_pin_sweep(_metadata, self, FAIL_PAGES);
	stuck += partial_pin_sweep(_metadata, self, FAIL_ALL);
	EXPECT_EQ(stuck, 0);
	/* Nothing is mapped: all of the coherent unit's memory comes back. */
	EXPECT_EQ(dm_release(self->coh), 0);
}

/* GUP on device pages, through /sys/kernel/debug/gup_test. */
static int gup_run(unsigned long cmd, void *addr, unsigned long bytes,
		   unsigned int flags)
{
	struct gup_test g = {
		.addr = (uintptr_t)addr,
		.size = bytes,
		.nr_pages_per_call = bytes / psz,
		.gup_flags = flags,
	};
	int fd, ret;

	fd = open(GUP_TEST_PATH, O_RDWR);
	if (fd < 0)
		return -ENODEV;
	ret = ioctl(fd, cmd, &g);
	ret = ret < 0 ? -errno : 0;
	close(fd);
	if (!ret && g.size != bytes)
		ret = -EIO;
	return ret;
}

static bool have_gup_test(void)
{
	return access(GUP_TEST_PATH, R_OK | W_OK) == 0;
}

/*
 * get_user_pages() on private device pages migrates them back (the CPU
 * cannot address them); coherent pages are addressable and stay.
 */
TEST_F(devmem, gup_basic)
{
	unsigned long n = 4;
	unsigned char want;
	char *p;

	if (!have_gup_test())
		SKIP(return, "gup_basic: no %s (CONFIG_GUP_TEST, debugfs)", GUP_TEST_PATH);
	p = migrated_region(self->fd, n, 91);
	ASSERT_NE(p, NULL);
	ASSERT_EQ(gup_run(GUP_BASIC_TEST, p, 2 * psz, 0), 0);
	ASSERT_EQ(gup_run(GUP_BASIC_TEST, p + 2 * psz, psz, FOLL_WRITE_FLAG), 0);
	ASSERT_EQ(dm_snap(self->fd, p, self->snap, n), 0);
	want = variant->coherent ? local_prot(variant->coherent, true) :
				   HMM_DMIRROR_PROT_WRITE;
	EXPECT_EQ(self->snap[0], want);
	EXPECT_EQ(self->snap[1], want);
	EXPECT_EQ(self->snap[2], want);
	EXPECT_EQ(self->snap[3], local_prot(variant->coherent, true));
	EXPECT_EQ(stamp_diff(p, n * psz, 91), -1);
	munmap(p, n * psz);
}

/* The fast GUP path falls back correctly on device pages. */
TEST_F(devmem, gup_fast)
{
	unsigned long n = 4;
	unsigned char want;
	char *p;

	if (!have_gup_test())
		SKIP(return, "gup_fast: no %s (CONFIG_GUP_TEST, debugfs)", GUP_TEST_PATH);
	p = migrated_region(self->fd, n, 92);
	ASSERT_NE(p, NULL);
	ASSERT_EQ(gup_run(GUP_FAST_BENCHMARK, p, 2 * psz, 0), 0);
	ASSERT_EQ(gup_run(PIN_FAST_BENCHMARK, p + 2 * psz, psz, 0), 0);
	ASSERT_EQ(dm_snap(self->fd, p, self->snap, n), 0);
	want = variant->coherent ? local_prot(variant->coherent, true) :
				   HMM_DMIRROR_PROT_WRITE;
	EXPECT_EQ(self->snap[0], want);
	EXPECT_EQ(self->snap[2], want);
	EXPECT_EQ(self->snap[3], local_prot(variant->coherent, true));
	EXPECT_EQ(stamp_diff(p, n * psz, 92), -1);
	munmap(p, n * psz);
}

/* A long-term pin never leaves a page in device memory. */
TEST_F(devmem, gup_longterm_pin)
{
	unsigned long n = 4;
	char *p;

	if (!have_gup_test())
		SKIP(return, "gup_longterm_pin: no %s (CONFIG_GUP_TEST, debugfs)",
		     GUP_TEST_PATH);
	p = migrated_region(self->fd, n, 93);
	ASSERT_NE(p, NULL);
	ASSERT_EQ(gup_run(PIN_LONGTERM_BENCHMARK, p, 2 * psz, 0), 0);
	ASSERT_EQ(dm_snap(self->fd, p, self->snap, n), 0);
	EXPECT_EQ(self->snap[0], HMM_DMIRROR_PROT_WRITE);
	EXPECT_EQ(self->snap[1], HMM_DMIRROR_PROT_WRITE);
	EXPECT_EQ(self->snap[2], local_prot(variant->coherent, true));
	EXPECT_EQ(stamp_diff(p, n * psz, 93), -1);
	munmap(p, n * psz);
}

/* Closing the file with mirrored pages leaves the process intact. */
TEST_F(devmem, close_with_mirror)
{
	unsigned long n = 8;
	char *p;
	int fd;

	fd = unit_open(variant->unit);
	ASSERT_GE(fd, 0);
	p = map_pages(_metadata, n, 94);
	ASSERT_EQ(dm_read(fd, p, self->buf, n), 0);
	ASSERT_EQ(dm_excl(fd, p + 4 * psz, 2), 0);
	ASSERT_EQ(close(fd), 0);
	stamp(p, n * psz, 95);
	EXPECT_EQ(stamp_diff(p, n * psz, 95), -1);
	ASSERT_EQ(dm_read(self->fd, p, self->buf, n), 0);
	EXPECT_EQ(stamp_diff(self->buf, n * psz, 95), -1);
	EXPECT_EQ(munmap(p, n * psz), 0);
}

/*
 * Closing the file that migrated pages: 6.1 evicts them to system memory
 * (their owner is gone); keeping them on the unit would be fine too.  The
 * data must survive either way and stay reachable by CPU and device.
 */
TEST_F(devmem, close_with_migrated)
{
	unsigned long n = 8, i;
	char *p;
	int fd;

	fd = unit_open(variant->unit);
	ASSERT_GE(fd, 0);
	p = migrated_region(fd, n, 96);
	ASSERT_NE(p, NULL);
	ASSERT_EQ(close(fd), 0);
	ASSERT_EQ(dm_snap(self->fd, p, self->snap, n), 0);
	for (i = 0; i < n; i++) {
		unsigned char got = self->snap[i];

		EXPECT_TRUE(got == HMM_DMIRROR_PROT_WRITE ||
			    got == local_prot(variant->coherent, true))
			TH_LOG("page %lu: 0x%x", i, got);
	}
	ASSERT_EQ(dm_read(self->fd, p, self->buf, n), 0);
	EXPECT_EQ(stamp_diff(self->buf, n * psz, 96), -1);
	EXPECT_EQ(stamp_diff(p, n * psz, 96), -1);
	munmap(p, n * psz);
}

/*
 * A process exits while it has migrated, mirrored and exclusive pages and
 * its files still open; the unit keeps working for everyone else.
 */
TEST_F(devmem, exit_with_device_pages)
{
	unsigned long n = 16;
	pid_t pid;
	char *p;

	pid = fork();
	ASSERT_GE(pid, 0);
	if (pid == 0) {
		int cfd = unit_open(variant->unit);
		char *q, *e;

		if (cfd < 0)
			_exit(2);
		q = migrated_region(cfd, n, 97);
		e = map_anon(n * psz, PROT_READ | PROT_WRITE);
		if (!q || !e)
			_exit(3);
		if (dm_read(cfd, e, self->buf, n) || dm_excl(cfd, e, n / 2))
			_exit(4);
		_exit(0);	/* no close, no munmap */
	}
	ASSERT_EQ(reap(pid), 0);
	p = migrated_region(self->fd, n, 98);
	ASSERT_NE(p, NULL);
	ASSERT_EQ(dm_read(self->fd, p, self->buf, n), 0);
	EXPECT_EQ(stamp_diff(self->buf, n * psz, 98), -1);
	EXPECT_EQ(stamp_diff(p, n * psz, 98), -1);
	munmap(p, n * psz);
}

/* munmap of migrated pages frees them; the memory is reusable at once. */
TEST_F(devmem, munmap_migrated_reuse)
{
	unsigned long n = 64;
	unsigned int round;
	char *p;

	for (round = 0; round < 8; round++) {
		p = migrated_region(self->fd, n, 300 + round);
		ASSERT_NE(p, NULL) TH_LOG("round %u", round);
		ASSERT_EQ(dm_read(self->fd, p, self->buf, n), 0);
		ASSERT_EQ(stamp_diff(self->buf, n * psz, 300 + round), -1);
		ASSERT_EQ(munmap(p, n * psz), 0);
	}
}

/* ---------------------------------------------------------------------- */
/* Races: the device keeps faulting a range while the CPU side changes it. */

struct race {
	int fd;
	char *base;
	unsigned long npages;
	int stop;			/* accessed with __atomic */
	uint64_t gen;			/* generation fully written */
	/* Results from the device thread, checked by the main thread. */
	unsigned long reads, snaps, stale, bad_err, last_err;
	uint64_t stale_tag, stale_gen;
};

/* Page @i of generation @g: word 0 carries @g, the rest its stamp. */
static void race_fill(char *p, unsigned long npages, uint64_t g)
{
	unsigned long i;

	for (i = 0; i < npages; i++) {
		stamp(p + i * psz + 8, psz - 8, g * 1000 + i);
		__atomic_store_n((uint64_t *)(p + i * psz), g, __ATOMIC_RELAXED);
	}
}

static void *race_device(void *arg)
{
	struct race *r = arg;
	unsigned char *buf = malloc(r->npages * psz);
	unsigned char *snap = malloc(r->npages);
	unsigned long i;
	int ret;

	if (!buf || !snap) {
		r->bad_err++;
		return NULL;
	}
	while (!__atomic_load_n(&r->stop, __ATOMIC_RELAXED)) {
		uint64_t g0 = __atomic_load_n(&r->gen, __ATOMIC_ACQUIRE);

		ret = dm_read(r->fd, r->base, buf, r->npages);
		if (ret == 0) {
			r->reads++;
			for (i = 0; i < r->npages; i++) {
				uint64_t tag = *(uint64_t *)(buf + i * psz);

				/*
				 * Generation g0 was fully written before the
				 * read started and every older mapping was
				 * gone: anything older is a stale page.
				 * Zero is a newer mapping still being filled.
				 */
				if (tag && tag < g0) {
					r->stale++;
					r->stale_tag = tag;
					r->stale_gen = g0;
				}
			}
		} else if (ret != -EFAULT && ret != -EBUSY) {
			r->bad_err++;
			r->last_err = -ret;
		}
		ret = dm_snap(r->fd, r->base, snap, r->npages);
		if (ret == 0) {
			r->snaps++;
		} else if (ret != -EFAULT && ret != -EBUSY) {
			r->bad_err++;
			r->last_err = -ret;
		}
	}
	free(buf);
	free(snap);
	return NULL;
}

/*
 * The CPU thread cycles the range through munmap/remap, mprotect and
 * migration; stops after @secs seconds.  Returns 0 or a negative step.
 */
static int race_cpu(struct race *r, int mig_fd, double secs)
{
	size_t bytes = r->npages * psz;
	double end = now_sec() + secs;
	uint64_t g = r->gen;
	char *q;

	while (now_sec() < end) {
		g++;
		switch (g % 4) {
		case 0:	/* munmap and a fresh mapping at the same place */
			if (munmap(r->base, bytes))
				return -1;
			q = mmap(r->base, bytes, PROT_READ | PROT_WRITE,
				 MAP_PRIVATE | MAP_ANONYMOUS |
				 MAP_FIXED_NOREPLACE, -1, 0);
			if (q != r->base)
				return -2;
			break;
		case 1:	/* atomic replacement with MAP_FIXED */
			q = mmap(r->base, bytes, PROT_READ | PROT_WRITE,
				 MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED,
				 -1, 0);
			if (q != r->base)
				return -3;
			break;
		case 2:	/* same mapping, made read-only for a moment */
			if (mprotect(r->base, bytes, PROT_READ) ||
			    mprotect(r->base, bytes, PROT_READ | PROT_WRITE))
				return -4;
			break;
		case 3:	/* same mapping, moved to device memory */
			break;
		}
		race_fill(r->base, r->npages, g);
		/* Partial migration under contention is fine: no check. */
		if (g % 4 == 3)
			dm_to_dev(mig_fd, r->base, r->npages);
		__atomic_store_n(&r->gen, g, __ATOMIC_RELEASE);
		sched_yield();
	}
	return 0;
}

static void race_check_final(struct __test_metadata *_metadata,
			     struct race *r, unsigned char *buf)
{
	unsigned long i;
	uint64_t g = r->gen;

	ASSERT_EQ(dm_read(r->fd, r->base, buf, r->npages), 0);
	for (i = 0; i < r->npages; i++) {
		ASSERT_EQ(*(uint64_t *)(buf + i * psz), g) TH_LOG("page %lu", i);
		ASSERT_EQ(stamp_diff(buf + i * psz + 8, psz - 8, g * 1000 + i), -1);
	}
	/* One more remap with new content, checked deterministically. */
	ASSERT_EQ(munmap(r->base, r->npages * psz), 0);
	ASSERT_EQ(mmap(r->base, r->npages * psz, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE,
		       -1, 0), r->base);
	race_fill(r->base, r->npages, g + 1);
	ASSERT_EQ(dm_read(r->fd, r->base, buf, r->npages), 0);
	for (i = 0; i < r->npages; i++)
		ASSERT_EQ(*(uint64_t *)(buf + i * psz), g + 1);
}

static void race_run(struct __test_metadata *_metadata, int fd, int mig_fd,
		     unsigned long npages)
{
	struct race r = { .fd = fd, .npages = npages, .gen = 1 };
	unsigned char *buf;
	pthread_t t;
	int ret;

	r.base = map_anon(npages * psz, PROT_READ | PROT_WRITE);
	ASSERT_NE(r.base, NULL);
	buf = malloc(npages * psz);
	ASSERT_NE(buf, NULL);
	race_fill(r.base, npages, 1);
	ASSERT_EQ(pthread_create(&t, NULL, race_device, &r), 0);
	ret = race_cpu(&r, mig_fd, 3.0);
	__atomic_store_n(&r.stop, 1, __ATOMIC_RELAXED);
	pthread_join(t, NULL);
	ASSERT_EQ(ret, 0);
	TH_LOG("%llu generations, %lu device reads, %lu snapshots",
	       (unsigned long long)r.gen, r.reads, r.snaps);
	EXPECT_EQ(r.stale, 0)
		TH_LOG("device returned generation %llu after %llu was published",
		       (unsigned long long)r.stale_tag,
		       (unsigned long long)r.stale_gen);
	EXPECT_EQ(r.bad_err, 0) TH_LOG("unexpected errno %lu", r.last_err);
	EXPECT_GT(r.reads, 0);
	race_check_final(_metadata, &r, buf);
	free(buf);
	munmap(r.base, npages * psz);
}

/*
 * munmap/remap, mprotect and migration (by the peer unit) against device
 * reads and snapshots.
 */
TEST_F_TIMEOUT(devmem, race_fault_vs_remap, 90)
{
	race_run(_metadata, self->fd, self->peer, 16);
}

/* The same with the roles swapped and a smaller range. */
TEST_F_TIMEOUT(devmem, race_peer_fault_vs_migrate, 90)
{
	race_run(_metadata, self->peer, self->fd, 4);
}

struct migrate_race {
	int fd;
	char *base;
	unsigned long npages;
	int stop;			/* accessed with __atomic */
	unsigned long rounds, bad;
};

static void *migrate_racer(void *arg)
{
	struct migrate_race *m = arg;

	while (!__atomic_load_n(&m->stop, __ATOMIC_RELAXED)) {
		int a = dm_to_dev(m->fd, m->base, m->npages);
		int b = dm_to_sys(m->fd, m->base, m->npages);

		if ((a && a != -EBUSY && a != -ENOENT) ||
		    (b && b != -EBUSY && b != -ENOENT))
			m->bad++;
		m->rounds++;
	}
	return NULL;
}

/* Migration back and forth while the device reads: data never changes. */
TEST_F_TIMEOUT(devmem, race_read_vs_migrate, 90)
{
	struct migrate_race m = { .fd = self->fd, .npages = 32 };
	unsigned long reads = 0, busy = 0, err = 0, dev_bad = 0, cpu_bad = 0;
	double end = now_sec() + 3.0;
	long first_bad = -1;
	int last_err = 0;
	pthread_t t;

	m.base = map_anon(m.npages * psz, PROT_READ | PROT_WRITE);
	ASSERT_NE(m.base, NULL);
	stamp(m.base, m.npages * psz, 99);
	ASSERT_EQ(pthread_create(&t, NULL, migrate_racer, &m), 0);
	while (now_sec() < end) {
		int ret = dm_read(self->peer, m.base, self->buf, m.npages);
		long at;

		/* The driver gives up on a range that keeps changing. */
		if (ret == -EBUSY) {
			busy++;
			continue;
		}
		if (ret) {
			err++;
			last_err = ret;
			continue;
		}
		at = stamp_diff(self->buf, m.npages * psz, 99);
		if (at != -1) {
			dev_bad++;
			first_bad = at;
		}
		/* CPU reads too, faulting private pages back. */
		if (reads % 4 == 0 && stamp_diff(m.base, m.npages * psz, 99) != -1)
			cpu_bad++;
		reads++;
	}
	__atomic_store_n(&m.stop, 1, __ATOMIC_RELAXED);
	pthread_join(t, NULL);
	TH_LOG("%lu reads, %lu busy, %lu migration rounds", reads, busy,
	       m.rounds);
	EXPECT_EQ(err, 0) TH_LOG("read failed: %d", last_err);
	EXPECT_EQ(dev_bad, 0) TH_LOG("device read wrong data at word %ld",
				     first_bad);
	EXPECT_EQ(cpu_bad, 0);
	EXPECT_EQ(m.bad, 0);
	EXPECT_GT(reads, 0);
	EXPECT_GT(m.rounds, 0);
	EXPECT_EQ(stamp_diff(m.base, m.npages * psz, 99), -1);
	munmap(m.base, m.npages * psz);
}

/* ---------------------------------------------------------------------- */
/* Sparse 1 GiB ranges: a few populated pages, the rest holes. */

#define SPARSE_BYTES	PUD_BYTES
#define SPARSE_PAGES	(SPARSE_BYTES / 4096)

static const unsigned long sparse_at[] = { 0, 1, 4096, 65537, 131072,
					   200003, SPARSE_PAGES - 1 };

static bool is_sparse_page(unsigned long i)
{
	unsigned int k;

	for (k = 0; k < ARRAY_SIZE(sparse_at); k++)
		if (sparse_at[k] == i)
			return true;
	return false;
}

/*
 * Index of the first entry of a snapshot of the whole sparse range that is
 * not @at (for the pages in sparse_at[], which is sorted) or @between (for
 * the others), or -1.
 */
static long sparse_snap_diff(const unsigned char *snap, unsigned char at,
			     unsigned char between)
{
	unsigned long from = 0;
	unsigned int k;
	long bad;

	for (k = 0; k < ARRAY_SIZE(sparse_at); k++) {
		bad = snap_diff(snap + from, sparse_at[k] - from, between);
		if (bad >= 0)
			return from + bad;
		if (snap[sparse_at[k]] != at)
			return sparse_at[k];
		from = sparse_at[k] + 1;
	}
	bad = snap_diff(snap + from, SPARSE_PAGES - from, between);
	return bad >= 0 ? (long)from + bad : -1;
}

/* One 1 GiB mapping, seven pages touched: snapshot, migrate, read back. */
TEST_F_TIMEOUT(devmem, sparse_1g_mapping, 120)
{
	unsigned char *snap;
	unsigned int k;
	char *p;

	ASSERT_EQ(psz, 4096);
	p = mmap(NULL, SPARSE_BYTES, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	ASSERT_NE(p, MAP_FAILED);
	/* Sparse means single pages, whatever the THP mode. */
	ASSERT_EQ(madvise(p, SPARSE_BYTES, MADV_NOHUGEPAGE), 0);
	snap = malloc(SPARSE_PAGES);
	ASSERT_NE(snap, NULL);
	for (k = 0; k < ARRAY_SIZE(sparse_at); k++)
		stamp(p + sparse_at[k] * psz, psz, 400 + k);
	ASSERT_EQ(dm_snap(self->fd, p, snap, SPARSE_PAGES), 0);
	EXPECT_EQ(sparse_snap_diff(snap, HMM_DMIRROR_PROT_WRITE,
				   HMM_DMIRROR_PROT_NONE), -1);
	/* Move the populated pages to the device, one by one. */
	for (k = 0; k < ARRAY_SIZE(sparse_at); k++)
		ASSERT_EQ(dm_to_dev(self->fd, p + sparse_at[k] * psz, 1), 0);
	ASSERT_EQ(dm_snap(self->fd, p, snap, SPARSE_PAGES), 0);
	EXPECT_EQ(sparse_snap_diff(snap, local_prot(variant->coherent, true),
				   HMM_DMIRROR_PROT_NONE), -1);
	/* One MIGRATE_TO_SYS over the whole GiB brings exactly those back. */
	ASSERT_EQ(dm_to_sys(self->fd, p, SPARSE_PAGES), 0);
	ASSERT_EQ(dm_snap(self->fd, p, snap, SPARSE_PAGES), 0);
	EXPECT_EQ(sparse_snap_diff(snap, HMM_DMIRROR_PROT_WRITE,
				   HMM_DMIRROR_PROT_NONE), -1);
	/* The device reads each page; holes read as zeros. */
	for (k = 0; k < ARRAY_SIZE(sparse_at); k++) {
		unsigned long at = sparse_at[k];
		unsigned long start = at ? at - 1 : at;
		unsigned long cnt = (at + 1 < SPARSE_PAGES ? at + 2 : at + 1) - start;

		ASSERT_EQ(dm_read(self->fd, p + start * psz, self->buf, cnt), 0);
		EXPECT_EQ(stamp_diff(self->buf + (at - start) * psz, psz, 400 + k), -1)
			TH_LOG("page %lu", at);
		if (start < at && !is_sparse_page(start))
			EXPECT_TRUE(all_bytes(self->buf, psz, 0));
	}
	free(snap);
	munmap(p, SPARSE_BYTES);
}

/*
 * 1 GiB of address space with real holes: small mappings scattered in it.
 * The snapshot covers everything; the holes come back as errors.
 */
TEST_F_TIMEOUT(devmem, sparse_1g_holes, 120)
{
	unsigned char *snap;
	unsigned int k;
	long bad;
	char *p;

	ASSERT_EQ(psz, 4096);
	snap = malloc(SPARSE_PAGES);	/* before the holes exist */
	ASSERT_NE(snap, NULL);
	p = mmap(NULL, SPARSE_BYTES, PROT_NONE,
		 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	ASSERT_NE(p, MAP_FAILED);
	ASSERT_EQ(munmap(p, SPARSE_BYTES), 0);
	/* Claim the range back one page at a time where we want pages. */
	for (k = 0; k < ARRAY_SIZE(sparse_at); k++) {
		char *q = mmap(p + sparse_at[k] * psz, psz,
			       PROT_READ | PROT_WRITE,
			       MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE,
			       -1, 0);

		ASSERT_EQ(q, p + sparse_at[k] * psz);
		stamp(q, psz, 500 + k);
	}
	ASSERT_EQ(dm_snap(self->fd, p, snap, SPARSE_PAGES), 0);
	bad = sparse_snap_diff(snap, HMM_DMIRROR_PROT_WRITE,
			       HMM_DMIRROR_PROT_ERROR);
	EXPECT_EQ(bad, -1) TH_LOG("page %ld: 0x%x", bad, snap[bad]);
	/* Reads over holes fail; each island reads right; migrate each. */
	EXPECT_EQ(dm_read(self->fd, p, self->buf, 3), -EFAULT);
	for (k = 0; k < ARRAY_SIZE(sparse_at); k++) {
		char *q = p + sparse_at[k] * psz;

		if (k == 0 || k == 1)
			continue;	/* pages 0 and 1 are one island */
		ASSERT_EQ(dm_to_dev(self->fd, q, 1), 0);
		ASSERT_EQ(dm_read(self->fd, q, self->buf, 1), 0);
		EXPECT_EQ(stamp_diff(self->buf, psz, 500 + k), -1);
		EXPECT_EQ(stamp_diff(q, psz, 500 + k), -1);
	}
	ASSERT_EQ(dm_read(self->fd, p, self->buf, 2), 0);
	EXPECT_EQ(stamp_diff(self->buf, psz, 500), -1);
	EXPECT_EQ(stamp_diff(self->buf + psz, psz, 501), -1);
	for (k = 0; k < ARRAY_SIZE(sparse_at); k++)
		munmap(p + sparse_at[k] * psz, psz);
	free(snap);
}

/* ---------------------------------------------------------------------- */
/*
 * A unit faulting its own device pages back into its mirror after an
 * invalidation, and device writes to read-only or shared device pages.
 * These run last: the Linux 6.1 test_hmm oopses on the first group and
 * WARNs on the second (see the report with this file), and an oops can
 * leave the unit's locks held for every later case.
 */

/*
 * Same data, variants and setup as devmem: refault is a fixture of its own
 * only so that its cases run after all of devmem's.
 */
#define _test_data_refault		_test_data_devmem
#define _fixture_variant_refault	_fixture_variant_devmem

FIXTURE(refault);

/* Coherent first: an oops in the private variant can stall what follows. */
FIXTURE_VARIANT_ADD(refault, coherent)
{
	.unit = 2,
	.peer = 3,
	.coherent = true,
};

FIXTURE_VARIANT_ADD(refault, private)
{
	.unit = 0,
	.peer = 1,
	.coherent = false,
};

FIXTURE_SETUP(refault)
{
	devmem_setup(_metadata, self, variant);
}

FIXTURE_TEARDOWN(refault)
{
	devmem_teardown(_metadata, self, variant);
}

/* A device write to a read-only device page fails cleanly with EPERM. */
TEST_F(refault, write_readonly_device_page)
{
	unsigned long n = 4;
	char *p;

	p = migrated_region(self->fd, n, 603);
	ASSERT_NE(p, NULL);
	ASSERT_EQ(mprotect(p, n * psz, PROT_READ), 0);
	stamp(self->buf, n * psz, 604);
	EXPECT_EQ(dm_write(self->fd, p, self->buf, n), -EPERM);
	EXPECT_EQ(stamp_diff(p, n * psz, 603), -1);
	munmap(p, n * psz);
}

/*
 * Device pages shared copy-on-write with a child: a device write breaks
 * COW like a CPU write would, and the child keeps the old data.
 */
TEST_F(refault, write_cow_device_page)
{
	unsigned long n = 4;
	int go[2];
	pid_t pid;
	char *p;
	char c;

	p = map_pages(_metadata, n, 605);
	ASSERT_EQ(pipe(go), 0);
	pid = fork();
	ASSERT_GE(pid, 0);
	if (pid == 0) {
		close(go[1]);
		if (read(go[0], &c, 1) != 1)
			_exit(2);
		_exit(stamp_diff(p, n * psz, 605) == -1 ? 0 : 1);
	}
	close(go[0]);
	ASSERT_EQ(dm_to_dev(self->fd, p, n), 0);
	stamp(self->buf, n * psz, 606);
	EXPECT_EQ(dm_write(self->fd, p, self->buf, n), 0);
	EXPECT_EQ(stamp_diff(p, n * psz, 606), -1);
	ASSERT_EQ(write(go[1], "g", 1), 1);
	EXPECT_EQ(reap(pid), 0);
	close(go[1]);
	munmap(p, n * psz);
}

/* mprotect() drops the mirror; the unit re-faults its own device pages. */
TEST_F(refault, read_own_after_mprotect)
{
	unsigned long n = 8;
	struct hmm_dmirror_cmd c;
	char *p;

	p = migrated_region(self->fd, n, 600);
	ASSERT_NE(p, NULL);
	ASSERT_EQ(mprotect(p, n * psz, PROT_READ), 0);
	ASSERT_EQ(dm_cmd(self->fd, HMM_DMIRROR_READ, p, self->buf, n, &c), 0);
	EXPECT_GE(c.faults, 1);
	EXPECT_EQ(stamp_diff(self->buf, n * psz, 600), -1);
	ASSERT_EQ(dm_snap(self->fd, p, self->snap, n), 0);
	EXPECT_EQ(snap_diff(self->snap, n, local_prot(variant->coherent, false)), -1);
	munmap(p, n * psz);
}

/* A peer's refused migration also invalidates; the owner reads again. */
TEST_F(refault, read_own_after_peer_migrate)
{
	unsigned long n = 8;
	char *p;

	p = migrated_region(self->fd, n, 601);
	ASSERT_NE(p, NULL);
	EXPECT_EQ(dm_to_dev(self->peer, p, n), -ENOENT);
	ASSERT_EQ(dm_read(self->fd, p, self->buf, n), 0);
	EXPECT_EQ(stamp_diff(self->buf, n * psz, 601), -1);
	stamp(self->buf, n * psz, 602);
	ASSERT_EQ(dm_write(self->fd, p, self->buf, n), 0);
	EXPECT_EQ(stamp_diff(p, n * psz, 602), -1);
	munmap(p, n * psz);
}

/* One unit migrating and reading the same range from two threads. */
TEST_F_TIMEOUT(refault, race_own_fault_vs_migrate, 90)
{
	race_run(_metadata, self->fd, self->fd, 16);
}

/* ---------------------------------------------------------------------- */
/*
 * Transparent huge pages and device memory. Each group of cases below has
 * a fixture of its own; the helpers are used by these cases only.
 */

#define THP_ENABLED_PATH	"/sys/kernel/mm/transparent_hugepage/enabled"

/* Snapshot values of one system page. */
#define SNAP_SYS_RW	HMM_DMIRROR_PROT_WRITE
#define SNAP_SYS_PMD	(HMM_DMIRROR_PROT_PMD | HMM_DMIRROR_PROT_WRITE)

static unsigned long thp_pages(void)
{
	return PMD_BYTES / psz;
}

/* The THP mode in force ("always", "madvise", "never"), or "". */
static void thp_mode_get(char *mode, size_t len)
{
	char line[128] = "", *l, *r;
	FILE *f = fopen(THP_ENABLED_PATH, "r");

	mode[0] = 0;
	if (!f)
		return;
	if (fgets(line, sizeof(line), f)) {
		l = strchr(line, '[');
		r = l ? strchr(l, ']') : NULL;
		if (l && r && (size_t)(r - l) < len) {
			memcpy(mode, l + 1, r - l - 1);
			mode[r - l - 1] = 0;
		}
	}
	fclose(f);
}

static int thp_mode_set(const char *mode)
{
	char now[16];
	FILE *f = fopen(THP_ENABLED_PATH, "w");

	if (!f)
		return -1;
	fputs(mode, f);
	if (fclose(f))
		return -1;
	thp_mode_get(now, sizeof(now));
	return strcmp(now, mode) ? -1 : 0;
}

/*
 * @n bytes of PMD-aligned anonymous memory that may get THPs (MADV_HUGEPAGE,
 * so in "madvise" mode too), stamped with @seed unless @seed is 0 (left
 * untouched). Every PMD of a stamped range is then one THP.
 */
static char *thp_region(size_t n, uint64_t seed)
{
	char *p = map_aligned(n, PMD_BYTES, MAP_PRIVATE | MAP_ANONYMOUS);

	if (!p)
		return NULL;
	if (madvise(p, n, MADV_HUGEPAGE)) {
		munmap(p, n);
		return NULL;
	}
	if (seed)
		stamp(p, n, seed);
	return p;
}

/*
 * Check that snapshot entries [from, to) all read @want; log the first
 * that does not, with the line of the check.
 */
static void expect_snap(struct __test_metadata *_metadata,
			const unsigned char *s, unsigned long from,
			unsigned long to, unsigned char want, int line)
{
	unsigned long i;

	for (i = from; i < to; i++)
		if (s[i] != want)
			break;
	EXPECT_EQ(i, to)
		TH_LOG("line %d: page %lu is 0x%x, want 0x%x", line, i,
		       i < to ? s[i] : 0, want);
}

#define EXPECT_SNAP(s, from, to, want) \
	expect_snap(_metadata, s, from, to, want, __LINE__)

/*
 * Exclusive access on THP-backed memory, under THP=always (where any
 * large enough anonymous mapping gets THPs) and under THP=madvise.
 */
FIXTURE(xthp)
{
	int fd;
	char mode[16];
	unsigned char *snap;
	unsigned char *buf;
};

FIXTURE_VARIANT(xthp)
{
	int unit;
	bool coherent;
	const char *mode;
};

FIXTURE_VARIANT_ADD(xthp, private_always)
{
	.unit = 0,
	.mode = "always",
};

FIXTURE_VARIANT_ADD(xthp, private_madvise)
{
	.unit = 0,
	.mode = "madvise",
};

FIXTURE_VARIANT_ADD(xthp, coherent_always)
{
	.unit = 2,
	.coherent = true,
	.mode = "always",
};

FIXTURE_VARIANT_ADD(xthp, coherent_madvise)
{
	.unit = 2,
	.coherent = true,
	.mode = "madvise",
};

FIXTURE_SETUP(xthp)
{
	self->fd = unit_open(variant->unit);
	ASSERT_GE(self->fd, 0);
	self->snap = malloc(2 * thp_pages());
	ASSERT_NE(self->snap, NULL);
	self->buf = map_anon(2 * PMD_BYTES, PROT_READ | PROT_WRITE);
	ASSERT_NE(self->buf, NULL);
	thp_mode_get(self->mode, sizeof(self->mode));
	ASSERT_NE(self->mode[0], 0) TH_LOG("no %s", THP_ENABLED_PATH);
	ASSERT_EQ(thp_mode_set(variant->mode), 0);
}

FIXTURE_TEARDOWN(xthp)
{
	thp_mode_set(self->mode);
	munmap(self->buf, 2 * PMD_BYTES);
	free(self->snap);
	close(self->fd);
}

/* Every page of a PMD-mapped THP becomes exclusive; data stays put. */
TEST_F(xthp, exclusive_whole_thp)
{
	unsigned long n = thp_pages(), i;
	struct hmm_dmirror_cmd c;
	char *p;

	p = thp_region(PMD_BYTES, 901);
	ASSERT_NE(p, NULL);
	ASSERT_EQ(dm_snap(self->fd, p, self->snap, n), 0);
	EXPECT_SNAP(self->snap, 0, n, SNAP_SYS_PMD);
	ASSERT_EQ(dm_cmd(self->fd, HMM_DMIRROR_EXCLUSIVE, p, self->buf, n, &c), 0);
	EXPECT_EQ(c.cpages, n);
	EXPECT_EQ(stamp_diff(self->buf, PMD_BYTES, 901), -1);
	EXPECT_EQ(dm_check_excl(self->fd, p, n), -EPERM);
	/* The device reads through its exclusive entries without faulting. */
	memset(self->buf, 0, PMD_BYTES);
	ASSERT_EQ(dm_cmd(self->fd, HMM_DMIRROR_READ, p, self->buf, n, &c), 0);
	EXPECT_EQ(c.faults, 0);
	EXPECT_EQ(stamp_diff(self->buf, PMD_BYTES, 901), -1);
	/* A CPU read of one page revokes that page only. */
	EXPECT_EQ(page_diff(p, 7, 901), -1);
	EXPECT_EQ(dm_check_excl(self->fd, p + 7 * psz, 1), 0);
	EXPECT_EQ(dm_check_excl(self->fd, p, 7), -EPERM);
	EXPECT_EQ(dm_check_excl(self->fd, p + 8 * psz, n - 8), -EPERM);
	for (i = 0; i < n; i++)
		if (page_diff(p, i, 901) != -1)
			break;
	EXPECT_EQ(i, n);
	EXPECT_EQ(dm_check_excl(self->fd, p, n), 0);
	/* A device write lands everywhere. */
	stamp(self->buf, PMD_BYTES, 902);
	ASSERT_EQ(dm_write(self->fd, p, self->buf, n), 0);
	EXPECT_EQ(stamp_diff(p, PMD_BYTES, 902), -1);
	munmap(p, PMD_BYTES);
}

/* Exclusive access to a few pages inside a THP leaves the others alone. */
TEST_F(xthp, exclusive_inside_thp)
{
	unsigned long n = thp_pages();
	char *p;

	p = thp_region(PMD_BYTES, 903);
	ASSERT_NE(p, NULL);
	ASSERT_EQ(dm_snap(self->fd, p, self->snap, n), 0);
	EXPECT_SNAP(self->snap, 0, n, SNAP_SYS_PMD);
	ASSERT_EQ(dm_excl(self->fd, p + 200 * psz, 16), 0);
	EXPECT_EQ(dm_check_excl(self->fd, p + 200 * psz, 16), -EPERM);
	EXPECT_EQ(dm_check_excl(self->fd, p, 200), 0);
	EXPECT_EQ(dm_check_excl(self->fd, p + 216 * psz, n - 216), 0);
	/* CPU writes elsewhere in the THP do not touch the exclusive pages. */
	p[0] = 1;
	p[(n - 1) * psz] = 2;
	EXPECT_EQ(dm_check_excl(self->fd, p + 200 * psz, 16), -EPERM);
	/* A CPU write to one exclusive page revokes it and lands. */
	p[205 * psz] = 3;
	EXPECT_EQ(dm_check_excl(self->fd, p + 205 * psz, 1), 0);
	EXPECT_EQ(dm_check_excl(self->fd, p + 200 * psz, 5), -EPERM);
	EXPECT_EQ(p[205 * psz], 3);
	EXPECT_EQ(page_diff(p, 204, 903), -1);
	EXPECT_EQ(page_diff(p, 206, 903), -1);
	EXPECT_EQ(p[0], 1);
	EXPECT_EQ(p[(n - 1) * psz], 2);
	munmap(p, PMD_BYTES);
}

/*
 * A plain anonymous mapping, without madvise(): THP-backed under
 * THP=always, small pages under THP=madvise; exclusive access works on
 * both.
 */
TEST_F(xthp, exclusive_plain_mapping)
{
	unsigned long n = 2 * thp_pages(), i;
	bool always = !strcmp(variant->mode, "always");
	char *p;

	p = map_aligned(2 * PMD_BYTES, PMD_BYTES, MAP_PRIVATE | MAP_ANONYMOUS);
	ASSERT_NE(p, NULL);
	stamp(p, 2 * PMD_BYTES, 904);
	ASSERT_EQ(dm_snap(self->fd, p, self->snap, n), 0);
	EXPECT_SNAP(self->snap, 0, n, always ? SNAP_SYS_PMD : SNAP_SYS_RW);
	ASSERT_EQ(dm_excl(self->fd, p, n), 0);
	EXPECT_EQ(dm_check_excl(self->fd, p, n), -EPERM);
	for (i = 0; i < n; i++)
		if (page_diff(p, i, 904) != -1)
			break;
	EXPECT_EQ(i, n);
	EXPECT_EQ(dm_check_excl(self->fd, p, n), 0);
	munmap(p, 2 * PMD_BYTES);
}

/*
 * THPs that the CPU maps with PTEs (after mprotect() or munmap() of part
 * of one, or mremap() to an address that is not PMD aligned): migration
 * moves every page.
 */
FIXTURE(pthp)
{
	int fd;
	unsigned char *snap;
	unsigned char *buf;
};

FIXTURE_VARIANT(pthp)
{
	int unit;
	bool coherent;
};

FIXTURE_VARIANT_ADD(pthp, private)
{
	.unit = 0,
};

FIXTURE_VARIANT_ADD(pthp, coherent)
{
	.unit = 2,
	.coherent = true,
};

FIXTURE_SETUP(pthp)
{
	self->fd = unit_open(variant->unit);
	ASSERT_GE(self->fd, 0);
	self->snap = malloc(thp_pages());
	ASSERT_NE(self->snap, NULL);
	self->buf = map_anon(PMD_BYTES, PROT_READ | PROT_WRITE);
	ASSERT_NE(self->buf, NULL);
}

FIXTURE_TEARDOWN(pthp)
{
	munmap(self->buf, PMD_BYTES);
	free(self->snap);
	close(self->fd);
}

/* One page of a THP made read-only: the rest of it is mapped by PTEs. */
TEST_F(pthp, migrate_after_mprotect)
{
	unsigned long n = thp_pages(), i;
	struct hmm_dmirror_cmd c;
	char *p;

	p = thp_region(PMD_BYTES, 911);
	ASSERT_NE(p, NULL);
	ASSERT_EQ(mprotect(p + 5 * psz, psz, PROT_READ), 0);
	ASSERT_EQ(dm_snap(self->fd, p, self->snap, n), 0);
	EXPECT_EQ(self->snap[5], HMM_DMIRROR_PROT_READ);
	EXPECT_SNAP(self->snap, 6, n, SNAP_SYS_RW);
	ASSERT_EQ(dm_cmd(self->fd, HMM_DMIRROR_MIGRATE_TO_DEV, p, self->buf, n, &c), 0);
	EXPECT_EQ(c.cpages, n);
	EXPECT_EQ(stamp_diff(self->buf, PMD_BYTES, 911), -1);
	ASSERT_EQ(dm_snap(self->fd, p, self->snap, n), 0);
	for (i = 0; i < n; i++)
		if (self->snap[i] != local_prot(variant->coherent, i != 5))
			break;
	EXPECT_EQ(i, n) TH_LOG("page %lu: 0x%x", i, self->snap[i < n ? i : 0]);
	EXPECT_EQ(stamp_diff(p, PMD_BYTES, 911), -1);
	munmap(p, PMD_BYTES);
}

/* The first page of a THP unmapped: the other 511 are mapped by PTEs. */
TEST_F(pthp, migrate_after_partial_munmap)
{
	unsigned long n = thp_pages() - 1;
	char *p;

	p = thp_region(PMD_BYTES, 912);
	ASSERT_NE(p, NULL);
	ASSERT_EQ(munmap(p, psz), 0);
	ASSERT_EQ(dm_to_dev(self->fd, p + psz, n), 0);
	ASSERT_EQ(dm_snap(self->fd, p + psz, self->snap, n), 0);
	EXPECT_SNAP(self->snap, 0, n, local_prot(variant->coherent, true));
	ASSERT_EQ(dm_read(self->fd, p + psz, self->buf, n), 0);
	EXPECT_EQ(memcmp(self->buf, p + psz, n * psz), 0);
	EXPECT_EQ(page_diff(p, 1, 912), -1);
	EXPECT_EQ(page_diff(p, n, 912), -1);
	munmap(p + psz, n * psz);
}

#ifndef MREMAP_DONTUNMAP
#define MREMAP_DONTUNMAP	4
#endif

/*
 * A THP moved by mremap() to an address that is not PMD aligned, with and
 * without MREMAP_DONTUNMAP.
 */
static void pthp_mremap(struct __test_metadata *_metadata, int fd,
			unsigned char *snap, bool coherent, int extra_flags,
			uint64_t seed)
{
	unsigned long n = thp_pages();
	char *p, *area, *q;

	p = thp_region(PMD_BYTES, seed);
	ASSERT_NE(p, NULL);
	area = map_anon(2 * PMD_BYTES, PROT_NONE);
	ASSERT_NE(area, NULL);
	q = mremap(p, PMD_BYTES, PMD_BYTES,
		   MREMAP_MAYMOVE | MREMAP_FIXED | extra_flags,
		   area + ((uintptr_t)area % PMD_BYTES ? 0 : 3 * psz));
	ASSERT_NE(q, MAP_FAILED);
	ASSERT_NE((uintptr_t)q % PMD_BYTES, 0);
	ASSERT_EQ(dm_snap(fd, q, snap, n), 0);
	EXPECT_SNAP(snap, 0, n, SNAP_SYS_RW);
	ASSERT_EQ(dm_to_dev(fd, q, n), 0);
	ASSERT_EQ(dm_snap(fd, q, snap, n), 0);
	EXPECT_SNAP(snap, 0, n, local_prot(coherent, true));
	EXPECT_EQ(stamp_diff(q, PMD_BYTES, seed), -1);
	if (extra_flags & MREMAP_DONTUNMAP)
		EXPECT_TRUE(all_bytes(p, PMD_BYTES, 0));
	munmap(q, PMD_BYTES);
	munmap(area, 2 * PMD_BYTES);
	munmap(p, PMD_BYTES);
}

TEST_F(pthp, migrate_after_mremap)
{
	pthp_mremap(_metadata, self->fd, self->snap, variant->coherent, 0, 913);
}

TEST_F(pthp, migrate_after_mremap_dontunmap)
{
	pthp_mremap(_metadata, self->fd, self->snap, variant->coherent,
		    MREMAP_DONTUNMAP, 914);
}

/* ---------------------------------------------------------------------- */
/* 2 MiB device private folios. */

/* Snapshot values of one device private page of this unit. */
#define SNAP_DEV_RW	(HMM_DMIRROR_PROT_DEV_PRIVATE_LOCAL | \
			 HMM_DMIRROR_PROT_WRITE)
#define SNAP_DEV_PMD	(SNAP_DEV_RW | HMM_DMIRROR_PROT_PMD)
/* test_hmm reports only the small zero page as HMM_DMIRROR_PROT_ZERO. */
#define SNAP_ZERO_PMD	(HMM_DMIRROR_PROT_PMD | HMM_DMIRROR_PROT_READ)

static int dm_flags(int fd, uint64_t flags)
{
	return dm_cmd(fd, HMM_DMIRROR_FLAGS, NULL, NULL, flags, NULL);
}

/* kB of a /proc/meminfo field, -1 if missing. */
static long meminfo_kb(const char *field)
{
	char line[128];
	size_t len = strlen(field);
	long v = -1;
	FILE *f = fopen("/proc/meminfo", "r");

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (!strncmp(line, field, len) && line[len] == ':') {
			v = strtol(line + len + 1, NULL, 10);
			break;
		}
	fclose(f);
	return v;
}

static void write_str(const char *path, const char *str)
{
	int fd = open(path, O_WRONLY);

	if (fd < 0)
		return;
	if (write(fd, str, strlen(str)) < 0)
		perror(path);
	close(fd);
}

/*
 * MemFree with the page cache dropped and every slab cache shrunk: under
 * KASAN freed slab objects wait in a quarantine (up to 1/32 of memory)
 * that only a shrink empties, and MemFree read without it wandered by
 * more than free_on_device's margin.
 */
static long settled_memfree(void)
{
	glob_t g;
	size_t i;

	sync();
	write_str("/proc/sys/vm/drop_caches", "3");
	if (!glob("/sys/kernel/slab/*/shrink", 0, NULL, &g)) {
		for (i = 0; i < g.gl_pathc; i++)
			write_str(g.gl_pathv[i], "1");
		globfree(&g);
	}
	return meminfo_kb("MemFree");
}

/*
 * Like stamp_diff(), for a copy of a stamped range starting at its word
 * @first.
 */
static long stamp_diff_from(const void *p, size_t bytes, uint64_t seed,
			    size_t first)
{
	const uint64_t *w = p;
	size_t i;

	for (i = 0; i < bytes / sizeof(*w); i++)
		if (w[i] != stamp_word(seed, first + i))
			return i;
	return -1;
}

/* Whether /proc/iomem names a resource @name. */
static bool iomem_has(const char *name)
{
	char line[256];
	bool found = false;
	FILE *f = fopen("/proc/iomem", "r");

	if (!f)
		return false;
	while (!found && fgets(line, sizeof(line), f))
		found = !!strstr(line, name);
	fclose(f);
	return found;
}

/* Read a whole /proc file; 0 if it could be read to the end. */
static int read_all(const char *path)
{
	char buf[4096];
	ssize_t r;
	int fd = open(path, O_RDONLY);

	if (fd < 0)
		return -errno;
	do {
		r = read(fd, buf, sizeof(buf));
	} while (r > 0);
	close(fd);
	return r < 0 ? -EIO : 0;
}

/*
 * 2 MiB device-private folios: a THP, an untouched PMD-sized range and
 * the huge zero page migrate as one folio and come back as a THP; SNAPSHOT
 * reports the device-private PMD with HMM_DMIRROR_PROT_PMD. Then what
 * splits one, and HMM_DMIRROR_FLAG_FAIL_ALLOC, which makes the next large
 * allocation fail so that migration falls back to small pages.
 */
FIXTURE(dthp)
{
	int fd;
	int peer;
	unsigned char *snap;
	unsigned char *buf;
};

FIXTURE_VARIANT(dthp)
{
	int unit;
	int peer;
};

FIXTURE_VARIANT_ADD(dthp, private)
{
	.unit = 0,
	.peer = 1,
};

FIXTURE_SETUP(dthp)
{
	self->fd = unit_open(variant->unit);
	ASSERT_GE(self->fd, 0);
	self->peer = unit_open(variant->peer);
	ASSERT_GE(self->peer, 0);
	self->snap = malloc(2 * thp_pages());
	ASSERT_NE(self->snap, NULL);
	self->buf = map_anon(2 * PMD_BYTES, PROT_READ | PROT_WRITE);
	ASSERT_NE(self->buf, NULL);
}

FIXTURE_TEARDOWN(dthp)
{
	dm_flags(self->fd, 0);
	munmap(self->buf, 2 * PMD_BYTES);
	free(self->snap);
	close(self->peer);
	close(self->fd);
}

/* A THP of stamped data goes to the device and back, whole both ways. */
TEST_F(dthp, thp_roundtrip)
{
	unsigned long n = thp_pages();
	struct hmm_dmirror_cmd c;
	char *p;

	p = thp_region(PMD_BYTES, 921);
	ASSERT_NE(p, NULL);
	ASSERT_EQ(dm_snap(self->fd, p, self->snap, n), 0);
	EXPECT_SNAP(self->snap, 0, n, SNAP_SYS_PMD);
	ASSERT_EQ(dm_cmd(self->fd, HMM_DMIRROR_MIGRATE_TO_DEV, p, self->buf, n, &c), 0);
	EXPECT_EQ(c.cpages, n);
	EXPECT_EQ(stamp_diff(self->buf, PMD_BYTES, 921), -1);
	ASSERT_EQ(dm_snap(self->fd, p, self->snap, n), 0);
	EXPECT_SNAP(self->snap, 0, n, SNAP_DEV_PMD);
	/* Another owner does not see our device memory. */
	ASSERT_EQ(dm_snap(self->peer, p, self->snap, n), 0);
	EXPECT_SNAP(self->snap, 0, n, HMM_DMIRROR_PROT_NONE);
	/* The device maps what it owns and reads it without faulting. */
	memset(self->buf, 0, PMD_BYTES);
	ASSERT_EQ(dm_cmd(self->fd, HMM_DMIRROR_READ, p, self->buf, n, &c), 0);
	EXPECT_EQ(c.faults, 0);
	EXPECT_EQ(stamp_diff(self->buf, PMD_BYTES, 921), -1);
	ASSERT_EQ(dm_cmd(self->fd, HMM_DMIRROR_MIGRATE_TO_SYS, p, NULL, n, &c), 0);
	EXPECT_EQ(c.cpages, n);
	ASSERT_EQ(dm_snap(self->fd, p, self->snap, n), 0);
	EXPECT_SNAP(self->snap, 0, n, SNAP_SYS_PMD);
	EXPECT_EQ(stamp_diff(p, PMD_BYTES, 921), -1);
	munmap(p, PMD_BYTES);
	EXPECT_EQ(dm_release(self->fd), 0);
}

/* A window into the middle of a device THP still reports its PMD. */
TEST_F(dthp, snapshot_window)
{
	unsigned long n = thp_pages();
	char *p;

	p = thp_region(PMD_BYTES, 922);
	ASSERT_NE(p, NULL);
	ASSERT_EQ(dm_to_dev(self->fd, p, n), 0);
	ASSERT_EQ(dm_snap(self->fd, p + 100 * psz, self->snap, 8), 0);
	EXPECT_SNAP(self->snap, 0, 8, SNAP_DEV_PMD);
	EXPECT_EQ(stamp_diff(p, PMD_BYTES, 922), -1);
	munmap(p, PMD_BYTES);
}

/* A PMD-sized range never touched becomes one device folio of zeroes. */
TEST_F(dthp, empty_roundtrip)
{
	unsigned long n = thp_pages();
	char *p;

	p = thp_region(PMD_BYTES, 0);
	ASSERT_NE(p, NULL);
	ASSERT_EQ(dm_snap(self->fd, p, self->snap, n), 0);
	EXPECT_SNAP(self->snap, 0, n, HMM_DMIRROR_PROT_NONE);
	memset(self->buf, 0xa5, PMD_BYTES);
	ASSERT_EQ(dm_cmd(self->fd, HMM_DMIRROR_MIGRATE_TO_DEV, p, self->buf,
			 n, NULL), 0);
	EXPECT_TRUE(all_bytes(self->buf, PMD_BYTES, 0));
	ASSERT_EQ(dm_snap(self->fd, p, self->snap, n), 0);
	EXPECT_SNAP(self->snap, 0, n, SNAP_DEV_PMD);
	ASSERT_EQ(dm_to_sys(self->fd, p, n), 0);
	ASSERT_EQ(dm_snap(self->fd, p, self->snap, n), 0);
	EXPECT_SNAP(self->snap, 0, n, SNAP_SYS_PMD);
	EXPECT_TRUE(all_bytes(p, PMD_BYTES, 0));
	stamp(p, PMD_BYTES, 923);
	EXPECT_EQ(stamp_diff(p, PMD_BYTES, 923), -1);
	munmap(p, PMD_BYTES);
}

/* A PMD of the huge zero page becomes one device folio of zeroes. */
TEST_F(dthp, zero_roundtrip)
{
	unsigned long n = thp_pages();
	char *p;

	if (read_long("/sys/kernel/mm/transparent_hugepage/use_zero_page") != 1)
		SKIP(return, "zero_roundtrip: the huge zero page is disabled");
	p = thp_region(PMD_BYTES, 0);
	ASSERT_NE(p, NULL);
	touch_read(p);
	ASSERT_EQ(dm_snap(self->fd, p, self->snap, n), 0);
	EXPECT_SNAP(self->snap, 0, n, SNAP_ZERO_PMD);
	memset(self->buf, 0xa5, PMD_BYTES);
	ASSERT_EQ(dm_cmd(self->fd, HMM_DMIRROR_MIGRATE_TO_DEV, p, self->buf,
			 n, NULL), 0);
	EXPECT_TRUE(all_bytes(self->buf, PMD_BYTES, 0));
	ASSERT_EQ(dm_snap(self->fd, p, self->snap, n), 0);
	EXPECT_SNAP(self->snap, 0, n, SNAP_DEV_PMD);
	ASSERT_EQ(dm_to_sys(self->fd, p, n), 0);
	ASSERT_EQ(dm_snap(self->fd, p, self->snap, n), 0);
	EXPECT_SNAP(self->snap, 0, n, SNAP_SYS_PMD);
	EXPECT_TRUE(all_bytes(p, PMD_BYTES, 0));
	munmap(p, PMD_BYTES);
}

/*
 * Device THPs freed by munmap() while on the device go back to the device
 * whole: afterwards the device can release all of its memory (no page
 * stays in use), its memory resource is gone and the system memory behind
 * it is back.
 */
TEST_F(dthp, free_on_device)
{
	unsigned long n = thp_pages(), k, nthp = 64;
	long before, after;
	char *p;

	ASSERT_EQ(dm_release(self->fd), 0);
	EXPECT_FALSE(iomem_has("hmm_dmirror0"));
	before = settled_memfree();
	ASSERT_GT(before, 0);
	for (k = 0; k < nthp; k++) {
		p = thp_region(PMD_BYTES, 924 + k);
		ASSERT_NE(p, NULL);
		ASSERT_EQ(dm_to_dev(self->fd, p, n), 0);
		ASSERT_EQ(dm_snap(self->fd, p, self->snap, n), 0);
		EXPECT_SNAP(self->snap, 0, n, SNAP_DEV_PMD);
		ASSERT_EQ(munmap(p, PMD_BYTES), 0);
	}
	EXPECT_TRUE(iomem_has("hmm_dmirror0"));
	EXPECT_EQ(dm_release(self->fd), 0);
	EXPECT_FALSE(iomem_has("hmm_dmirror0"));
	after = settled_memfree();
	/*
	 * 64 leaked device THPs would hold 128 MiB of system memory behind
	 * them; freed pages still on per-CPU lists make MemFree fuzzy.
	 */
	EXPECT_GE(after, before - 32768)
		TH_LOG("MemFree %ld kB before, %ld kB after", before, after);
}

/* A CPU access to one page brings the whole device THP back as a THP. */
TEST_F(dthp, cpu_fault_whole)
{
	unsigned long n = thp_pages();
	char *p;

	p = thp_region(PMD_BYTES, 941);
	ASSERT_NE(p, NULL);
	ASSERT_EQ(dm_to_dev(self->fd, p, n), 0);
	EXPECT_EQ(page_diff(p, 300, 941), -1);
	ASSERT_EQ(dm_snap(self->fd, p, self->snap, n), 0);
	EXPECT_SNAP(self->snap, 0, n, SNAP_SYS_PMD);
	EXPECT_EQ(stamp_diff(p, PMD_BYTES, 941), -1);
	munmap(p, PMD_BYTES);
}

/*
 * With no THP to give, a CPU access splits the device THP and brings back
 * the page it touched; the others stay on the device as small pages.
 */
TEST_F(dthp, cpu_fault_split)
{
	unsigned long n = thp_pages();
	char *p, *q;

	p = thp_region(PMD_BYTES, 942);
	ASSERT_NE(p, NULL);
	ASSERT_EQ(dm_to_dev(self->fd, p, n), 0);
	ASSERT_EQ(dm_flags(self->fd, HMM_DMIRROR_FLAG_FAIL_ALLOC), 0);
	EXPECT_EQ(page_diff(p, 300, 942), -1);
	ASSERT_EQ(dm_snap(self->fd, p, self->snap, n), 0);
	EXPECT_EQ(self->snap[300], SNAP_SYS_RW);
	EXPECT_SNAP(self->snap, 0, 300, SNAP_DEV_RW);
	EXPECT_SNAP(self->snap, 301, n, SNAP_DEV_RW);
	ASSERT_EQ(dm_read(self->fd, p, self->buf, n), 0);
	EXPECT_EQ(stamp_diff(self->buf, PMD_BYTES, 942), -1);
	EXPECT_EQ(stamp_diff(p, PMD_BYTES, 942), -1);
	ASSERT_EQ(dm_snap(self->fd, p, self->snap, n), 0);
	EXPECT_SNAP(self->snap, 0, n, SNAP_SYS_RW);
	/* The failure was used up: the next THP goes whole again. */
	q = thp_region(PMD_BYTES, 943);
	ASSERT_NE(q, NULL);
	ASSERT_EQ(dm_to_dev(self->fd, q, n), 0);
	ASSERT_EQ(dm_snap(self->fd, q, self->snap, n), 0);
	EXPECT_SNAP(self->snap, 0, n, SNAP_DEV_PMD);
	EXPECT_EQ(stamp_diff(q, PMD_BYTES, 943), -1);
	munmap(q, PMD_BYTES);
	munmap(p, PMD_BYTES);
	EXPECT_EQ(dm_release(self->fd), 0);
}

/* Another owner's device access faults the whole device THP back. */
TEST_F(dthp, peer_read)
{
	unsigned long n = thp_pages();
	char *p;

	p = thp_region(PMD_BYTES, 944);
	ASSERT_NE(p, NULL);
	ASSERT_EQ(dm_to_dev(self->fd, p, n), 0);
	ASSERT_EQ(dm_read(self->peer, p, self->buf, n), 0);
	EXPECT_EQ(stamp_diff(self->buf, PMD_BYTES, 944), -1);
	ASSERT_EQ(dm_snap(self->fd, p, self->snap, n), 0);
	EXPECT_SNAP(self->snap, 0, n, SNAP_SYS_PMD);
	EXPECT_EQ(stamp_diff(p, PMD_BYTES, 944), -1);
	munmap(p, PMD_BYTES);
}

/*
 * A device THP moved by mremap(): to a PMD-aligned address it stays one
 * PMD-level entry; to any other address it is mapped by PTEs, and CPU
 * faults and migration then split it.
 */
static void dthp_mremap(struct __test_metadata *_metadata, int fd,
			unsigned char *snap, unsigned char *buf, int extra_flags,
			bool aligned, uint64_t seed)
{
	unsigned long n = thp_pages();
	char *p, *area, *q, *dst;

	p = thp_region(PMD_BYTES, seed);
	ASSERT_NE(p, NULL);
	ASSERT_EQ(dm_to_dev(fd, p, n), 0);
	ASSERT_EQ(dm_snap(fd, p, snap, n), 0);
	EXPECT_SNAP(snap, 0, n, SNAP_DEV_PMD);
	area = map_aligned(2 * PMD_BYTES, PMD_BYTES,
			   MAP_PRIVATE | MAP_ANONYMOUS);
	ASSERT_NE(area, NULL);
	dst = aligned ? area : area + 3 * psz;
	q = mremap(p, PMD_BYTES, PMD_BYTES,
		   MREMAP_MAYMOVE | MREMAP_FIXED | extra_flags, dst);
	ASSERT_EQ(q, dst);
	ASSERT_EQ(dm_snap(fd, q, snap, n), 0);
	EXPECT_SNAP(snap, 0, n, aligned ? SNAP_DEV_PMD : SNAP_DEV_RW);
	if (extra_flags & MREMAP_DONTUNMAP) {
		ASSERT_EQ(dm_snap(fd, p, snap, n), 0);
		EXPECT_SNAP(snap, 0, n, HMM_DMIRROR_PROT_NONE);
		EXPECT_TRUE(all_bytes(p, PMD_BYTES, 0));
	}
	ASSERT_EQ(dm_read(fd, q, buf, n), 0);
	EXPECT_EQ(stamp_diff(buf, PMD_BYTES, seed), -1);
	/* One CPU access, then the rest back by migration. */
	EXPECT_EQ(page_diff(q, 300, seed), -1);
	ASSERT_EQ(dm_snap(fd, q, snap, n), 0);
	if (aligned) {
		EXPECT_SNAP(snap, 0, n, SNAP_SYS_PMD);
	} else {
		EXPECT_EQ(snap[300], SNAP_SYS_RW);
		EXPECT_SNAP(snap, 0, 300, SNAP_DEV_RW);
		EXPECT_SNAP(snap, 301, n, SNAP_DEV_RW);
	}
	ASSERT_EQ(dm_to_sys(fd, q, n), 0);
	ASSERT_EQ(dm_snap(fd, q, snap, n), 0);
	EXPECT_SNAP(snap, 0, n, aligned ? SNAP_SYS_PMD : SNAP_SYS_RW);
	EXPECT_EQ(stamp_diff(q, PMD_BYTES, seed), -1);
	munmap(area, 2 * PMD_BYTES);
	if (extra_flags & MREMAP_DONTUNMAP)
		munmap(p, PMD_BYTES);
	EXPECT_EQ(dm_release(fd), 0);
}

TEST_F(dthp, mremap_aligned)
{
	dthp_mremap(_metadata, self->fd, self->snap, self->buf, 0, true, 951);
}

TEST_F(dthp, mremap_unaligned)
{
	dthp_mremap(_metadata, self->fd, self->snap, self->buf, 0, false, 952);
}

TEST_F(dthp, mremap_unaligned_dontunmap)
{
	dthp_mremap(_metadata, self->fd, self->snap, self->buf,
		    MREMAP_DONTUNMAP, false, 953);
}

/*
 * Half of a device THP unmapped: the other half stays on the device,
 * mapped by PTEs, and faults back page by page; the unmapped half is
 * freed once the folio is split.
 */
TEST_F(dthp, partial_munmap)
{
	unsigned long n = thp_pages(), h = n / 2;
	char *p, *r;

	p = thp_region(PMD_BYTES, 961);
	ASSERT_NE(p, NULL);
	ASSERT_EQ(dm_to_dev(self->fd, p, n), 0);
	ASSERT_EQ(dm_snap(self->fd, p, self->snap, n), 0);
	EXPECT_SNAP(self->snap, 0, n, SNAP_DEV_PMD);
	ASSERT_EQ(munmap(p, h * psz), 0);
	r = p + h * psz;
	ASSERT_EQ(dm_snap(self->fd, r, self->snap, h), 0);
	EXPECT_SNAP(self->snap, 0, h, SNAP_DEV_RW);
	/* The device still reads the remaining half. */
	ASSERT_EQ(dm_read(self->fd, r, self->buf, h), 0);
	EXPECT_EQ(stamp_diff_from(self->buf, h * psz, 961, h * psz / 8), -1);
	EXPECT_EQ(page_diff(p, h + 100, 961), -1);
	ASSERT_EQ(dm_snap(self->fd, r, self->snap, h), 0);
	EXPECT_EQ(self->snap[100], SNAP_SYS_RW);
	EXPECT_SNAP(self->snap, 0, 100, SNAP_DEV_RW);
	EXPECT_SNAP(self->snap, 101, h, SNAP_DEV_RW);
	/* A device write to the rest, then everything back by migration. */
	stamp(self->buf, h * psz, 962);
	ASSERT_EQ(dm_write(self->fd, r, self->buf, h), 0);
	ASSERT_EQ(dm_to_sys(self->fd, r, h), 0);
	ASSERT_EQ(dm_snap(self->fd, r, self->snap, h), 0);
	EXPECT_SNAP(self->snap, 0, h, SNAP_SYS_RW);
	EXPECT_EQ(stamp_diff(r, h * psz, 962), -1);
	munmap(r, h * psz);
	EXPECT_EQ(dm_release(self->fd), 0);
}

/*
 * mremap() of the second half of a device THP to an address of its own:
 * both halves stay on the device, mapped by PTEs, the device reads each
 * at its address, and CPU faults and migration bring each back.
 */
TEST_F(dthp, mremap_part)
{
	unsigned long n = thp_pages(), h = n / 2;
	char *p, *area, *q;

	p = thp_region(PMD_BYTES, 1011);
	ASSERT_NE(p, NULL);
	ASSERT_EQ(dm_to_dev(self->fd, p, n), 0);
	area = map_aligned(2 * PMD_BYTES, PMD_BYTES,
			   MAP_PRIVATE | MAP_ANONYMOUS);
	ASSERT_NE(area, NULL);
	q = mremap(p + h * psz, h * psz, h * psz,
		   MREMAP_MAYMOVE | MREMAP_FIXED, area + 5 * psz);
	ASSERT_EQ(q, area + 5 * psz);
	ASSERT_EQ(dm_snap(self->fd, p, self->snap, h), 0);
	EXPECT_SNAP(self->snap, 0, h, SNAP_DEV_RW);
	ASSERT_EQ(dm_snap(self->fd, q, self->snap, h), 0);
	EXPECT_SNAP(self->snap, 0, h, SNAP_DEV_RW);
	ASSERT_EQ(dm_read(self->fd, p, self->buf, h), 0);
	EXPECT_EQ(stamp_diff(self->buf, h * psz, 1011), -1);
	ASSERT_EQ(dm_read(self->fd, q, self->buf, h), 0);
	EXPECT_EQ(stamp_diff_from(self->buf, h * psz, 1011, h * psz / 8), -1);
	/* One CPU fault in each half, then the rest back by migration. */
	EXPECT_EQ(page_diff(p, 10, 1011), -1);
	EXPECT_EQ(page_diff(q - h * psz, h + 20, 1011), -1);
	ASSERT_EQ(dm_snap(self->fd, q, self->snap, h), 0);
	EXPECT_EQ(self->snap[20], SNAP_SYS_RW);
	EXPECT_EQ(self->snap[21], SNAP_DEV_RW);
	ASSERT_EQ(dm_to_sys(self->fd, p, h), 0);
	ASSERT_EQ(dm_to_sys(self->fd, q, h), 0);
	EXPECT_EQ(stamp_diff(p, h * psz, 1011), -1);
	EXPECT_EQ(stamp_diff_from(q, h * psz, 1011, h * psz / 8), -1);
	munmap(p, h * psz);
	munmap(area, 2 * PMD_BYTES);
	EXPECT_EQ(dm_release(self->fd), 0);
}

/*
 * MADV_DONTFORK on the first half of a device THP, then fork(): the child
 * gets only the second half, shared read-only and split to PTEs, and each
 * process keeps its own data once the child writes.
 */
TEST_F(dthp, fork_part)
{
	unsigned long n = thp_pages(), h = n / 2;
	pid_t pid;
	char *p;

	p = thp_region(PMD_BYTES, 1012);
	ASSERT_NE(p, NULL);
	ASSERT_EQ(dm_to_dev(self->fd, p, n), 0);
	ASSERT_EQ(madvise(p, h * psz, MADV_DONTFORK), 0);
	ASSERT_EQ(dm_snap(self->fd, p, self->snap, n), 0);
	EXPECT_SNAP(self->snap, 0, n, SNAP_DEV_RW);
	pid = fork();
	ASSERT_GE(pid, 0);
	if (pid == 0) {
		if (mincore(p, psz, (unsigned char *)self->buf) != -1 ||
		    errno != ENOMEM)
			_exit(2);
		if (stamp_diff_from(p + h * psz, h * psz, 1012,
				    h * psz / 8) != -1)
			_exit(3);
		stamp(p + h * psz, h * psz, 1013);
		_exit(stamp_diff(p + h * psz, h * psz, 1013) == -1 ? 0 : 1);
	}
	EXPECT_EQ(reap(pid), 0);
	ASSERT_EQ(dm_snap(self->fd, p, self->snap, n), 0);
	EXPECT_SNAP(self->snap, 0, h, SNAP_DEV_RW);
	ASSERT_EQ(dm_read(self->fd, p, self->buf, n), 0);
	EXPECT_EQ(stamp_diff(self->buf, PMD_BYTES, 1012), -1);
	ASSERT_EQ(dm_to_sys(self->fd, p, n), 0);
	EXPECT_EQ(stamp_diff(p, PMD_BYTES, 1012), -1);
	munmap(p, PMD_BYTES);
	EXPECT_EQ(dm_release(self->fd), 0);
}

/*
 * fork() shares a device THP read-only with the child; a device write in
 * the parent breaks copy-on-write like a CPU write would, and each side
 * keeps its own data.
 */
TEST_F(dthp, fork_cow)
{
	unsigned long n = thp_pages();
	int go[2];
	pid_t pid;
	char *p;
	char c;

	p = thp_region(PMD_BYTES, 971);
	ASSERT_NE(p, NULL);
	ASSERT_EQ(dm_to_dev(self->fd, p, n), 0);
	ASSERT_EQ(pipe(go), 0);
	pid = fork();
	ASSERT_GE(pid, 0);
	if (pid == 0) {
		close(go[1]);
		if (read(go[0], &c, 1) != 1)
			_exit(2);
		if (stamp_diff(p, PMD_BYTES, 971) != -1)
			_exit(3);
		stamp(p, PMD_BYTES, 972);
		_exit(stamp_diff(p, PMD_BYTES, 972) == -1 ? 0 : 1);
	}
	close(go[0]);
	/* Both now map the device THP read-only. */
	ASSERT_EQ(dm_snap(self->fd, p, self->snap, n), 0);
	EXPECT_SNAP(self->snap, 0, n,
		    HMM_DMIRROR_PROT_DEV_PRIVATE_LOCAL | HMM_DMIRROR_PROT_PMD |
		    HMM_DMIRROR_PROT_READ);
	stamp(self->buf, PMD_BYTES, 973);
	ASSERT_EQ(dm_write(self->fd, p, self->buf, n), 0);
	EXPECT_EQ(stamp_diff(p, PMD_BYTES, 973), -1);
	ASSERT_EQ(write(go[1], "g", 1), 1);
	EXPECT_EQ(reap(pid), 0);
	close(go[1]);
	EXPECT_EQ(stamp_diff(p, PMD_BYTES, 973), -1);
	munmap(p, PMD_BYTES);
	EXPECT_EQ(dm_release(self->fd), 0);
}

/* The child touches the shared device THP first; the parent then writes. */
TEST_F(dthp, fork_child_first)
{
	unsigned long n = thp_pages();
	pid_t pid;
	char *p;

	p = thp_region(PMD_BYTES, 974);
	ASSERT_NE(p, NULL);
	ASSERT_EQ(dm_to_dev(self->fd, p, n), 0);
	ASSERT_EQ(dm_snap(self->fd, p, self->snap, n), 0);
	EXPECT_SNAP(self->snap, 0, n, SNAP_DEV_PMD);
	pid = fork();
	ASSERT_GE(pid, 0);
	if (pid == 0) {
		if (stamp_diff(p, PMD_BYTES, 974) != -1)
			_exit(3);
		stamp(p, PMD_BYTES, 975);
		_exit(stamp_diff(p, PMD_BYTES, 975) == -1 ? 0 : 1);
	}
	EXPECT_EQ(reap(pid), 0);
	EXPECT_EQ(stamp_diff(p, PMD_BYTES, 974), -1);
	stamp(p, PMD_BYTES, 976);
	ASSERT_EQ(dm_read(self->fd, p, self->buf, n), 0);
	EXPECT_EQ(stamp_diff(self->buf, PMD_BYTES, 976), -1);
	munmap(p, PMD_BYTES);
	EXPECT_EQ(dm_release(self->fd), 0);
}

/*
 * fork() with no THP to give on the way back: the child's first touch
 * splits the device THP that both processes map, and brings back one
 * page; each side then has its own data.
 */
TEST_F(dthp, fork_no_thp)
{
	unsigned long n = thp_pages();
	pid_t pid;
	char *p;

	p = thp_region(PMD_BYTES, 977);
	ASSERT_NE(p, NULL);
	ASSERT_EQ(dm_to_dev(self->fd, p, n), 0);
	ASSERT_EQ(dm_flags(self->fd, HMM_DMIRROR_FLAG_FAIL_ALLOC), 0);
	pid = fork();
	ASSERT_GE(pid, 0);
	if (pid == 0) {
		if (page_diff(p, 300, 977) != -1)
			_exit(3);
		if (stamp_diff(p, PMD_BYTES, 977) != -1)
			_exit(4);
		stamp(p, PMD_BYTES, 978);
		_exit(stamp_diff(p, PMD_BYTES, 978) == -1 ? 0 : 1);
	}
	EXPECT_EQ(reap(pid), 0);
	/* The parent's mapping was split with the folio: small pages now. */
	ASSERT_EQ(dm_snap(self->fd, p, self->snap, n), 0);
	EXPECT_EQ(self->snap[0] & HMM_DMIRROR_PROT_PMD, 0);
	EXPECT_EQ(stamp_diff(p, PMD_BYTES, 977), -1);
	stamp(self->buf, PMD_BYTES, 979);
	ASSERT_EQ(dm_write(self->fd, p, self->buf, n), 0);
	EXPECT_EQ(stamp_diff(p, PMD_BYTES, 979), -1);
	munmap(p, PMD_BYTES);
	EXPECT_EQ(dm_release(self->fd), 0);
}

/*
 * No large device folio for the first of two THPs: it moves as small
 * pages, the second as a device THP; both come back with their data.
 */
TEST_F(dthp, fail_alloc_to_dev)
{
	unsigned long n = thp_pages();
	struct hmm_dmirror_cmd c;
	char *p;

	p = thp_region(2 * PMD_BYTES, 981);
	ASSERT_NE(p, NULL);
	ASSERT_EQ(dm_flags(self->fd, HMM_DMIRROR_FLAG_FAIL_ALLOC), 0);
	ASSERT_EQ(dm_cmd(self->fd, HMM_DMIRROR_MIGRATE_TO_DEV, p, self->buf,
			 2 * n, &c), 0);
	EXPECT_EQ(c.cpages, 2 * n);
	EXPECT_EQ(stamp_diff(self->buf, 2 * PMD_BYTES, 981), -1);
	ASSERT_EQ(dm_snap(self->fd, p, self->snap, 2 * n), 0);
	EXPECT_SNAP(self->snap, 0, n, SNAP_DEV_RW);
	EXPECT_SNAP(self->snap, n, 2 * n, SNAP_DEV_PMD);
	ASSERT_EQ(dm_cmd(self->fd, HMM_DMIRROR_MIGRATE_TO_SYS, p, NULL, 2 * n, &c), 0);
	EXPECT_EQ(c.cpages, 2 * n);
	ASSERT_EQ(dm_snap(self->fd, p, self->snap, 2 * n), 0);
	EXPECT_SNAP(self->snap, 0, n, SNAP_SYS_RW);
	EXPECT_SNAP(self->snap, n, 2 * n, SNAP_SYS_PMD);
	EXPECT_EQ(stamp_diff(p, 2 * PMD_BYTES, 981), -1);
	munmap(p, 2 * PMD_BYTES);
	EXPECT_EQ(dm_release(self->fd), 0);
}

/* No THP on the way back: the device THP comes back as small pages. */
TEST_F(dthp, fail_alloc_to_sys)
{
	unsigned long n = thp_pages();
	struct hmm_dmirror_cmd c;
	char *p;

	p = thp_region(PMD_BYTES, 982);
	ASSERT_NE(p, NULL);
	ASSERT_EQ(dm_to_dev(self->fd, p, n), 0);
	ASSERT_EQ(dm_snap(self->fd, p, self->snap, n), 0);
	EXPECT_SNAP(self->snap, 0, n, SNAP_DEV_PMD);
	ASSERT_EQ(dm_flags(self->fd, HMM_DMIRROR_FLAG_FAIL_ALLOC), 0);
	ASSERT_EQ(dm_cmd(self->fd, HMM_DMIRROR_MIGRATE_TO_SYS, p, NULL, n, &c), 0);
	EXPECT_EQ(c.cpages, n);
	ASSERT_EQ(dm_snap(self->fd, p, self->snap, n), 0);
	EXPECT_SNAP(self->snap, 0, n, SNAP_SYS_RW);
	EXPECT_EQ(stamp_diff(p, PMD_BYTES, 982), -1);
	munmap(p, PMD_BYTES);
	EXPECT_EQ(dm_release(self->fd), 0);
}

/* An untouched range with no large device folio: zeroes, small pages. */
TEST_F(dthp, fail_alloc_empty)
{
	unsigned long n = thp_pages();
	char *p;

	p = thp_region(PMD_BYTES, 0);
	ASSERT_NE(p, NULL);
	ASSERT_EQ(dm_flags(self->fd, HMM_DMIRROR_FLAG_FAIL_ALLOC), 0);
	ASSERT_EQ(dm_to_dev(self->fd, p, n), 0);
	ASSERT_EQ(dm_snap(self->fd, p, self->snap, n), 0);
	EXPECT_SNAP(self->snap, 0, n, SNAP_DEV_RW);
	EXPECT_TRUE(all_bytes(p, PMD_BYTES, 0));
	munmap(p, PMD_BYTES);
	EXPECT_EQ(dm_release(self->fd), 0);
}

/* RELEASE evicts a device THP that is still mapped: back whole, data kept. */
TEST_F(dthp, release_live)
{
	unsigned long n = thp_pages();
	char *p;

	p = thp_region(PMD_BYTES, 1001);
	ASSERT_NE(p, NULL);
	ASSERT_EQ(dm_to_dev(self->fd, p, n), 0);
	ASSERT_EQ(dm_release(self->fd), 0);
	ASSERT_EQ(dm_snap(self->fd, p, self->snap, n), 0);
	EXPECT_SNAP(self->snap, 0, n, SNAP_SYS_PMD);
	EXPECT_EQ(stamp_diff(p, PMD_BYTES, 1001), -1);
	munmap(p, PMD_BYTES);
}

/* The same with no THP to evict into: small pages, data kept. */
TEST_F(dthp, release_live_no_thp)
{
	unsigned long n = thp_pages();
	char *p;

	p = thp_region(PMD_BYTES, 1002);
	ASSERT_NE(p, NULL);
	ASSERT_EQ(dm_to_dev(self->fd, p, n), 0);
	ASSERT_EQ(dm_flags(self->fd, HMM_DMIRROR_FLAG_FAIL_ALLOC), 0);
	ASSERT_EQ(dm_release(self->fd), 0);
	ASSERT_EQ(dm_snap(self->fd, p, self->snap, n), 0);
	EXPECT_SNAP(self->snap, 0, n, SNAP_SYS_RW);
	EXPECT_EQ(stamp_diff(p, PMD_BYTES, 1002), -1);
	munmap(p, PMD_BYTES);
}

/* A process that exits with device THPs mapped gives them all back. */
TEST_F(dthp, exit_with_device_thp)
{
	pid_t pid;

	pid = fork();
	ASSERT_GE(pid, 0);
	if (pid == 0) {
		int fd = unit_open(0);
		char *p = thp_region(4 * PMD_BYTES, 1003);

		if (fd < 0 || !p)
			_exit(2);
		if (dm_to_dev(fd, p, 4 * thp_pages()))
			_exit(3);
		_exit(0);
	}
	EXPECT_EQ(reap(pid), 0);
	EXPECT_EQ(dm_release(self->fd), 0);
	EXPECT_FALSE(iomem_has("hmm_dmirror0"));
}

/*
 * mprotect() of a whole device THP keeps its PMD-level entry, read-only;
 * of one page, it splits it. A device write then moves what it writes
 * back to system memory, as for a small read-only device page.
 */
TEST_F(dthp, mprotect)
{
	unsigned long n = thp_pages();
	char *p;

	p = thp_region(PMD_BYTES, 1004);
	ASSERT_NE(p, NULL);
	ASSERT_EQ(dm_to_dev(self->fd, p, n), 0);
	ASSERT_EQ(mprotect(p, PMD_BYTES, PROT_READ), 0);
	ASSERT_EQ(dm_snap(self->fd, p, self->snap, n), 0);
	EXPECT_SNAP(self->snap, 0, n, HMM_DMIRROR_PROT_DEV_PRIVATE_LOCAL |
		    HMM_DMIRROR_PROT_PMD | HMM_DMIRROR_PROT_READ);
	stamp(self->buf, PMD_BYTES, 1005);
	EXPECT_EQ(dm_write(self->fd, p, self->buf, n), -EPERM);
	ASSERT_EQ(mprotect(p, PMD_BYTES, PROT_READ | PROT_WRITE), 0);
	ASSERT_EQ(mprotect(p + 7 * psz, psz, PROT_READ), 0);
	ASSERT_EQ(dm_snap(self->fd, p, self->snap, n), 0);
	EXPECT_EQ(self->snap[7], HMM_DMIRROR_PROT_DEV_PRIVATE_LOCAL |
		  HMM_DMIRROR_PROT_READ);
	EXPECT_SNAP(self->snap, 0, 7, HMM_DMIRROR_PROT_DEV_PRIVATE_LOCAL |
		    HMM_DMIRROR_PROT_READ);
	EXPECT_SNAP(self->snap, 8, n, HMM_DMIRROR_PROT_DEV_PRIVATE_LOCAL |
		    HMM_DMIRROR_PROT_READ);
	ASSERT_EQ(mprotect(p + 7 * psz, psz, PROT_READ | PROT_WRITE), 0);
	ASSERT_EQ(dm_write(self->fd, p, self->buf, n), 0);
	EXPECT_EQ(stamp_diff(p, PMD_BYTES, 1005), -1);
	munmap(p, PMD_BYTES);
	EXPECT_EQ(dm_release(self->fd), 0);
}

/* MADV_DONTNEED of part of a device THP: zeroes there, data elsewhere. */
TEST_F(dthp, dontneed_part)
{
	unsigned long n = thp_pages(), i;
	char *p;

	p = thp_region(PMD_BYTES, 1006);
	ASSERT_NE(p, NULL);
	ASSERT_EQ(dm_to_dev(self->fd, p, n), 0);
	ASSERT_EQ(madvise(p + 100 * psz, 50 * psz, MADV_DONTNEED), 0);
	ASSERT_EQ(dm_snap(self->fd, p, self->snap, n), 0);
	EXPECT_SNAP(self->snap, 0, 100, SNAP_DEV_RW);
	EXPECT_SNAP(self->snap, 100, 150, HMM_DMIRROR_PROT_NONE);
	EXPECT_SNAP(self->snap, 150, n, SNAP_DEV_RW);
	for (i = 0; i < n; i++) {
		if (i >= 100 && i < 150) {
			EXPECT_TRUE(all_bytes(p + i * psz, psz, 0));
			continue;
		}
		if (page_diff(p, i, 1006) != -1)
			break;
	}
	EXPECT_EQ(i, n);
	munmap(p, PMD_BYTES);
	EXPECT_EQ(dm_release(self->fd), 0);
}

/*
 * Reclaim and the /proc walkers meet a device THP: MADV_PAGEOUT and
 * MADV_COLD leave it alone, pagemap reports it as a swap entry, smaps and
 * numa_maps read past it.
 */
TEST_F(dthp, pageout_and_proc)
{
	unsigned long n = thp_pages();
	uint64_t pm;
	char *p;

	p = thp_region(PMD_BYTES, 1007);
	ASSERT_NE(p, NULL);
	ASSERT_EQ(dm_to_dev(self->fd, p, n), 0);
	EXPECT_EQ(madvise(p, PMD_BYTES, MADV_PAGEOUT), 0);
	EXPECT_EQ(madvise(p, PMD_BYTES, MADV_COLD), 0);
	EXPECT_EQ(madvise(p, PMD_BYTES, MADV_FREE), 0);
	pm = pagemap_flags(p + 3 * psz);
	EXPECT_EQ(pm, PM_SWAP);
	EXPECT_EQ(read_all("/proc/self/smaps"), 0);
	EXPECT_EQ(read_all("/proc/self/numa_maps"), 0);
	ASSERT_EQ(dm_snap(self->fd, p, self->snap, n), 0);
	EXPECT_SNAP(self->snap, 0, n, SNAP_DEV_PMD);
	EXPECT_EQ(stamp_diff(p, PMD_BYTES, 1007), -1);
	munmap(p, PMD_BYTES);
}

/* get_user_pages() on a device THP brings it back whole first. */
TEST_F(dthp, gup)
{
	unsigned long n = thp_pages();
	char *p;

	if (!have_gup_test())
		SKIP(return, "gup: no %s (CONFIG_GUP_TEST, debugfs)", GUP_TEST_PATH);
	p = thp_region(PMD_BYTES, 1008);
	ASSERT_NE(p, NULL);
	ASSERT_EQ(dm_to_dev(self->fd, p, n), 0);
	ASSERT_EQ(gup_run(GUP_BASIC_TEST, p + 5 * psz, 2 * psz, 0), 0);
	ASSERT_EQ(dm_snap(self->fd, p, self->snap, n), 0);
	EXPECT_SNAP(self->snap, 0, n, SNAP_SYS_PMD);
	EXPECT_EQ(stamp_diff(p, PMD_BYTES, 1008), -1);
	munmap(p, PMD_BYTES);
}

/*
 * munmap/remap, mprotect and migration of 4 MiB of THPs against device
 * reads and snapshots, by the unit that migrates and by another owner.
 */
TEST_F_TIMEOUT(dthp, race_own, 90)
{
	race_run(_metadata, self->fd, self->fd, 2 * thp_pages());
}

TEST_F_TIMEOUT(dthp, race_peer, 90)
{
	race_run(_metadata, self->peer, self->fd, 2 * thp_pages());
}

/* FLAGS takes the flags in npages and refuses unknown ones. */
TEST_F(dthp, flags_ioctl)
{
	EXPECT_EQ(dm_flags(self->fd, 1ULL << 63), -EINVAL);
	EXPECT_EQ(dm_flags(self->fd, 2), -EINVAL);
	EXPECT_EQ(dm_flags(self->fd, HMM_DMIRROR_FLAG_FAIL_ALLOC), 0);
	EXPECT_EQ(dm_flags(self->fd, 0), 0);
}

/* ---------------------------------------------------------------------- */
/*
 * The driver API beyond 6.1's, a group of cases per addition: the
 * *_UNLOCKED commands through hmm_range_fault_unlocked_timeout()
 * (userfaultfd ranges, fatal signals), then two-pass interval notifiers, a
 * device page many threads fault at once, and the HMM tracepoints.  Unit
 * 0, with unit 1 as the peer.
 */

FIXTURE(api)
{
	int fd;
	int peer;
	unsigned char *buf;
};

#define API_MAX_PAGES	64

FIXTURE_SETUP(api)
{
	self->fd = unit_open(0);
	ASSERT_GE(self->fd, 0);
	self->peer = unit_open(1);
	ASSERT_GE(self->peer, 0);
	self->buf = map_anon(API_MAX_PAGES * psz, PROT_READ | PROT_WRITE);
	ASSERT_NE(self->buf, NULL);
}

FIXTURE_TEARDOWN(api)
{
	munmap(self->buf, API_MAX_PAGES * psz);
	close(self->peer);
	close(self->fd);
}

static int dm_read_unlocked(int fd, void *addr, void *dst, unsigned long n)
{
	return dm_cmd(fd, HMM_DMIRROR_READ_UNLOCKED, addr, dst, n, NULL);
}

static int dm_write_unlocked(int fd, void *addr, void *src, unsigned long n)
{
	return dm_cmd(fd, HMM_DMIRROR_WRITE_UNLOCKED, addr, src, n, NULL);
}

/* The *_UNLOCKED commands mirror ordinary memory like READ and WRITE. */
TEST_F(api, unlocked_read_write)
{
	unsigned long n = 16;
	struct hmm_dmirror_cmd c;
	char *p;

	p = map_pages(_metadata, n, 700);
	ASSERT_EQ(dm_cmd(self->fd, HMM_DMIRROR_READ_UNLOCKED, p, self->buf, n,
			 &c), 0);
	EXPECT_EQ(c.cpages, n);
	EXPECT_GE(c.faults, 1);
	EXPECT_EQ(stamp_diff(self->buf, n * psz, 700), -1);
	stamp(self->buf, n * psz, 701);
	ASSERT_EQ(dm_write_unlocked(self->fd, p, self->buf, n), 0);
	EXPECT_EQ(stamp_diff(p, n * psz, 701), -1);
	/* Unpopulated memory: the zero page, then a write fault. */
	munmap(p, n * psz);
	p = map_pages(_metadata, n, 0);
	ASSERT_EQ(dm_read_unlocked(self->fd, p, self->buf, n), 0);
	EXPECT_TRUE(all_bytes(self->buf, n * psz, 0));
	stamp(self->buf, n * psz, 702);
	ASSERT_EQ(dm_write_unlocked(self->fd, p, self->buf, n), 0);
	EXPECT_EQ(stamp_diff(p, n * psz, 702), -1);
	munmap(p, n * psz);
}

/*
 * A userfaultfd handler thread: resolves missing faults with UFFDIO_COPY
 * of page i of a range stamped with @seed (write-protected if @copy_wp),
 * and write-protect faults by lifting the protection of the page.
 */
struct uffd_handler {
	int uffd;
	char *base;
	uint64_t seed;
	bool copy_wp;
	int stop;		/* accessed with __atomic */
	unsigned long missing, wp, errors;
	pthread_t thread;
};

static int uffd_open(void)
{
	struct uffdio_api api = { .api = UFFD_API };
	int fd;

	fd = syscall(__NR_userfaultfd, O_CLOEXEC | O_NONBLOCK);
	if (fd < 0)
		return -errno;
	if (ioctl(fd, UFFDIO_API, &api)) {
		close(fd);
		return -errno;
	}
	return fd;
}

static int uffd_register(int uffd, void *p, size_t bytes, __u64 mode)
{
	struct uffdio_register reg = {
		.range = { .start = (uintptr_t)p, .len = bytes },
		.mode = mode,
	};

	return ioctl(uffd, UFFDIO_REGISTER, &reg) ? -errno : 0;
}

static int uffd_wp(int uffd, void *p, size_t bytes, bool protect)
{
	struct uffdio_writeprotect wp = {
		.range = { .start = (uintptr_t)p, .len = bytes },
		.mode = protect ? UFFDIO_WRITEPROTECT_MODE_WP : 0,
	};

	return ioctl(uffd, UFFDIO_WRITEPROTECT, &wp) ? -errno : 0;
}

static void uffd_serve(struct uffd_handler *h, struct uffd_msg *msg,
		       char *page)
{
	uintptr_t addr = msg->arg.pagefault.address & ~(uintptr_t)(psz - 1);
	struct uffdio_copy copy = {
		.dst = addr,
		.src = (uintptr_t)page,
		.len = psz,
		.mode = h->copy_wp ? UFFDIO_COPY_MODE_WP : 0,
	};
	uint64_t *w = (uint64_t *)page;
	size_t k, first;

	if (msg->arg.pagefault.flags & UFFD_PAGEFAULT_FLAG_WP) {
		h->wp++;
		if (uffd_wp(h->uffd, (void *)addr, psz, false))
			h->errors++;
		return;
	}
	h->missing++;
	/* The page as stamp(base, bytes, seed) would have written it. */
	first = (addr - (uintptr_t)h->base) / sizeof(*w);
	for (k = 0; k < psz / sizeof(*w); k++)
		w[k] = stamp_word(h->seed, first + k);
	if (ioctl(h->uffd, UFFDIO_COPY, &copy) && errno != EEXIST)
		h->errors++;
}

static void *uffd_thread(void *arg)
{
	struct uffd_handler *h = arg;
	char *page = malloc(psz);

	if (!page) {
		h->errors++;
		return NULL;
	}
	while (!__atomic_load_n(&h->stop, __ATOMIC_RELAXED)) {
		struct pollfd pfd = { .fd = h->uffd, .events = POLLIN };
		struct uffd_msg msg;

		if (poll(&pfd, 1, 50) <= 0)
			continue;
		if (read(h->uffd, &msg, sizeof(msg)) != sizeof(msg))
			continue;
		if (msg.event == UFFD_EVENT_PAGEFAULT)
			uffd_serve(h, &msg, page);
	}
	free(page);
	return NULL;
}

static int uffd_handler_start(struct uffd_handler *h)
{
	return pthread_create(&h->thread, NULL, uffd_thread, h) ? -1 : 0;
}

static void uffd_handler_stop(struct uffd_handler *h)
{
	__atomic_store_n(&h->stop, 1, __ATOMIC_RELAXED);
	pthread_join(h->thread, NULL);
}

/*
 * A range registered with userfaultfd in missing mode, read by the device:
 * the handler thread supplies every page, and the device reads its data.
 */
TEST_F(api, uffd_missing_read)
{
	struct uffd_handler h = { .seed = 710 };
	unsigned long n = 8;

	h.uffd = uffd_open();
	if (h.uffd < 0)
		SKIP(return, "uffd_missing_read: no userfaultfd: %s",
		     strerror(-h.uffd));
	h.base = map_pages(_metadata, n, 0);
	ASSERT_EQ(uffd_register(h.uffd, h.base, n * psz,
				UFFDIO_REGISTER_MODE_MISSING), 0);
	ASSERT_EQ(uffd_handler_start(&h), 0);
	EXPECT_EQ(dm_read_unlocked(self->fd, h.base, self->buf, n), 0);
	EXPECT_EQ(stamp_diff(self->buf, n * psz, 710), -1);
	EXPECT_EQ(h.missing, n);
	/* And the CPU sees the same, with no more faults. */
	EXPECT_EQ(stamp_diff(h.base, n * psz, 710), -1);
	uffd_handler_stop(&h);
	EXPECT_EQ(h.missing, n);
	EXPECT_EQ(h.errors, 0);
	close(h.uffd);
	munmap(h.base, n * psz);
}

/*
 * Write-protect mode too: pages arrive write-protected (UFFDIO_COPY with
 * MODE_WP) and the device reads them; a device write then meets the
 * protection, the handler lifts it (UFFDIO_WRITEPROTECT) and the write
 * lands.
 */
TEST_F(api, uffd_wp_read_write)
{
	struct uffd_handler h = { .seed = 720, .copy_wp = true };
	unsigned long n = 8;

	h.uffd = uffd_open();
	if (h.uffd < 0)
		SKIP(return, "uffd_wp_read_write: no userfaultfd: %s",
		     strerror(-h.uffd));
	h.base = map_pages(_metadata, n, 0);
	ASSERT_EQ(uffd_register(h.uffd, h.base, n * psz,
				UFFDIO_REGISTER_MODE_MISSING |
				UFFDIO_REGISTER_MODE_WP), 0);
	ASSERT_EQ(uffd_handler_start(&h), 0);
	EXPECT_EQ(dm_read_unlocked(self->fd, h.base, self->buf, n), 0);
	EXPECT_EQ(stamp_diff(self->buf, n * psz, 720), -1);
	EXPECT_EQ(h.missing, n);
	EXPECT_EQ(h.wp, 0);

	stamp(self->buf, n * psz, 721);
	EXPECT_EQ(dm_write_unlocked(self->fd, h.base, self->buf, n), 0);
	/* Read with the handler still there, should the write have failed. */
	EXPECT_EQ(stamp_diff(h.base, n * psz, 721), -1);
	uffd_handler_stop(&h);
	/* One per page at least; a fault may be reported twice. */
	EXPECT_GE(h.wp, n);
	EXPECT_EQ(h.errors, 0);
	close(h.uffd);
	munmap(h.base, n * psz);
}

#define PRINTK_BURST	"/proc/sys/kernel/printk_ratelimit_burst"

/*
 * hmm_range_fault() itself cannot wait for a userfaultfd handler, as in
 * 6.1: READ, which calls it under the driver's mmap lock, fails with
 * EFAULT and the handler never hears of the fault.  6.1's
 * handle_userfault() dumps a stack for such a fault with DEBUG_VM (once
 * per printk_ratelimit()); make test fails on any stack dump, so the case
 * holds printk_ratelimit() back while it provokes this one.
 */
TEST_F(api, uffd_plain_read_fails)
{
	struct uffd_handler h = { .seed = 730 };
	unsigned long n = 4;
	long burst;
	int ret;

	h.uffd = uffd_open();
	if (h.uffd < 0)
		SKIP(return, "uffd_plain_read_fails: no userfaultfd: %s",
		     strerror(-h.uffd));
	h.base = map_pages(_metadata, n, 0);
	ASSERT_EQ(uffd_register(h.uffd, h.base, n * psz,
				UFFDIO_REGISTER_MODE_MISSING), 0);
	ASSERT_EQ(uffd_handler_start(&h), 0);
	burst = read_long(PRINTK_BURST);
	ASSERT_GE(burst, 0);
	ASSERT_EQ(write_long(PRINTK_BURST, 0), 0);
	ret = dm_read(self->fd, h.base, self->buf, n);
	ASSERT_EQ(write_long(PRINTK_BURST, burst), 0);
	EXPECT_EQ(ret, -EFAULT);
	/* The same range through the helper works. */
	EXPECT_EQ(dm_read_unlocked(self->fd, h.base, self->buf, n), 0);
	uffd_handler_stop(&h);
	EXPECT_EQ(stamp_diff(self->buf, n * psz, 730), -1);
	EXPECT_EQ(h.missing, n);
	close(h.uffd);
	munmap(h.base, n * psz);
}

/*
 * A device read waiting for a userfaultfd handler that never answers ends
 * as soon as the process gets SIGKILL.
 */
TEST_F(api, uffd_fatal_signal)
{
	unsigned long n = 4;
	double t0, waited;
	int status = 0;
	pid_t pid;
	char *p;

	p = map_pages(_metadata, n, 0);
	pid = fork();
	ASSERT_GE(pid, 0);
	if (pid == 0) {
		/* The fixture's file mirrors the parent: open our own. */
		int fd = unit_open(0), uffd = uffd_open();

		if (fd < 0 || uffd < 0)
			_exit(2);
		if (uffd_register(uffd, p, n * psz,
				  UFFDIO_REGISTER_MODE_MISSING))
			_exit(3);
		/* Nobody serves the fault: this waits until killed. */
		dm_read_unlocked(fd, p, self->buf, n);
		_exit(4);
	}
	usleep(300 * 1000);
	ASSERT_EQ(waitpid(pid, &status, WNOHANG), 0)
		TH_LOG("the read did not wait: child exit %d",
		       WIFEXITED(status) ? WEXITSTATUS(status) : -1);
	t0 = now_sec();
	ASSERT_EQ(kill(pid, SIGKILL), 0);
	while (waitpid(pid, &status, WNOHANG) == 0 && now_sec() - t0 < 10)
		usleep(1000);
	waited = now_sec() - t0;
	if (waited >= 10)
		kill(pid, SIGKILL);
	TH_LOG("killed after %.3f s", waited);
	EXPECT_LT(waited, 10);
	EXPECT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
	munmap(p, n * psz);
}

#define HMM_PARAM(name)	"/sys/module/test_hmm/parameters/" name
/* The simulated device TLB flush each invalidation waits for. */
#define FLUSH_DELAY_US	20000

/* Open four units (0..3, or 0 and 1 twice when 2 and 3 are missing). */
static int open_four(int fds[4])
{
	int i;

	for (i = 0; i < 4; i++) {
		fds[i] = unit_open(i);
		if (fds[i] < 0)
			fds[i] = unit_open(i % 2);
		if (fds[i] < 0)
			return -1;
	}
	return 0;
}

static void close_four(int fds[4])
{
	int i;

	for (i = 0; i < 4; i++)
		close(fds[i]);
}

#define FLUSH_ROUNDS	5

/*
 * Mirror @n pages in four devices, then change their protection
 * FLUSH_ROUNDS times (one invalidation each, which every device flushes),
 * ending read-only, and return the shortest time mprotect() took; every
 * device must have dropped its mirror.
 */
static double four_device_invalidation(struct __test_metadata *_metadata,
				       unsigned char *buf, bool two_pass)
{
	unsigned long n = 8;
	struct hmm_dmirror_cmd c;
	double t0, t, best = 1e9;
	int fds[4], i, r;
	char *p;

	EXPECT_EQ(write_long(HMM_PARAM("two_pass"), two_pass), 0);
	if (open_four(fds))
		return -1;
	p = map_pages(_metadata, n, 740);
	for (i = 0; i < 4; i++) {
		EXPECT_EQ(dm_read(fds[i], p, buf, n), 0);
		/* Mirrored now: a second read takes no fault. */
		EXPECT_EQ(dm_cmd(fds[i], HMM_DMIRROR_READ, p, buf, n, &c), 0);
		EXPECT_EQ(c.faults, 0);
	}
	for (r = FLUSH_ROUNDS - 1; r >= 0; r--) {
		t0 = now_sec();
		EXPECT_EQ(mprotect(p, n * psz, r % 2 ? PROT_READ | PROT_WRITE :
					       PROT_READ), 0);
		t = now_sec() - t0;
		if (t < best)
			best = t;
	}
	for (i = 0; i < 4; i++) {
		EXPECT_EQ(dm_cmd(fds[i], HMM_DMIRROR_READ, p, buf, n, &c), 0);
		EXPECT_GE(c.faults, 1) TH_LOG("device %d kept its mirror", i);
		EXPECT_EQ(stamp_diff(buf, n * psz, 740), -1);
	}
	close_four(fds);
	munmap(p, n * psz);
	return best;
}

/*
 * Four devices mirror a range and each needs FLUSH_DELAY_US to flush its
 * TLB after an invalidation.  One-pass notifiers flush one after the
 * other: at least four delays.  Two-pass notifiers start every flush
 * first and wait for them afterwards: at least one delay, and about one
 * (logged, not asserted: `make bench` measures the ratio).
 */
TEST_F_TIMEOUT(api, two_pass_four_devices, 60)
{
	double one, two;
	long old_delay;

	old_delay = read_long(HMM_PARAM("flush_delay_us"));
	ASSERT_GE(old_delay, 0) TH_LOG("test_hmm has no flush_delay_us");
	/* The fixture's two mirrors would flush too: only the four count. */
	close(self->fd);
	close(self->peer);
	self->fd = -1;
	self->peer = -1;
	ASSERT_EQ(write_long(HMM_PARAM("flush_delay_us"), FLUSH_DELAY_US), 0);
	one = four_device_invalidation(_metadata, self->buf, false);
	two = four_device_invalidation(_metadata, self->buf, true);
	write_long(HMM_PARAM("two_pass"), 0);
	write_long(HMM_PARAM("flush_delay_us"), old_delay);
	ASSERT_GE(one, 0);
	ASSERT_GE(two, 0);
	TH_LOG("invalidation with four devices, flush %d ms each:",
	       FLUSH_DELAY_US / 1000);
	TH_LOG("one-pass %.1f ms, two-pass %.1f ms, ratio %.2f",
	       one * 1e3, two * 1e3, one / two);
	EXPECT_GE(one, 4 * FLUSH_DELAY_US / 1e6);
	EXPECT_GE(two, FLUSH_DELAY_US / 1e6);
}

/*
 * Many threads on the same device private pages.  CPU threads read the
 * pages (each read of a page in device memory faults it back through
 * migrate_to_ram()), the peer device reads them (hmm_range_fault() faults
 * them back the same way), and another thread keeps migrating them to the
 * device.  Each invalidation costs the devices a simulated TLB flush, so
 * the faults overlap.  A fault that finds the page locked by someone else
 * must sleep until it is unlocked, not retry at once: 6.1's faults each
 * held a page reference while they tried, which made every migration of
 * the page, theirs included, fail, and nobody got anywhere.
 */
#define CONTEND_THREADS	16
#define CONTEND_PAGES	4
#define CONTEND_SEED	750
#define CONTEND_SECS	6.0
#define CONTEND_FLUSH_US	100

struct contend {
	char *base;
	int fd, peer;
	int stop;			/* accessed with __atomic */
	int done;			/* threads that returned, __atomic */
	unsigned long cpu[CONTEND_THREADS];	/* page reads, __atomic */
	unsigned long cpu_bad;		/* __atomic */
	unsigned long dev_reads, dev_busy, dev_bad, dev_err;	/* __atomic */
	unsigned long migrations, mig_err;	/* __atomic */
};

struct contend_cpu_arg {
	struct contend *c;
	int id;
};

static bool contend_page_ok(const char *page, size_t i)
{
	const uint64_t *w = (const uint64_t *)page;
	size_t last = psz / sizeof(uint64_t) - 1, first = i * (last + 1);

	return __atomic_load_n(&w[0], __ATOMIC_RELAXED) ==
		stamp_word(CONTEND_SEED, first) &&
	       __atomic_load_n(&w[last], __ATOMIC_RELAXED) ==
		stamp_word(CONTEND_SEED, first + last);
}

static void *contend_cpu(void *arg)
{
	struct contend_cpu_arg *a = arg;
	struct contend *c = a->c;
	size_t i;

	while (!__atomic_load_n(&c->stop, __ATOMIC_RELAXED)) {
		for (i = 0; i < CONTEND_PAGES; i++) {
			if (!contend_page_ok(c->base + i * psz, i))
				__atomic_add_fetch(&c->cpu_bad, 1,
						   __ATOMIC_RELAXED);
			__atomic_add_fetch(&c->cpu[a->id], 1, __ATOMIC_RELAXED);
		}
	}
	__atomic_add_fetch(&c->done, 1, __ATOMIC_RELAXED);
	return NULL;
}

static void *contend_device(void *arg)
{
	struct contend *c = arg;
	char *buf = malloc(CONTEND_PAGES * psz);
	int ret;

	while (buf && !__atomic_load_n(&c->stop, __ATOMIC_RELAXED)) {
		ret = dm_read(c->peer, c->base, buf, CONTEND_PAGES);
		if (ret == -EBUSY) {
			__atomic_add_fetch(&c->dev_busy, 1, __ATOMIC_RELAXED);
			continue;
		}
		if (ret) {
			__atomic_add_fetch(&c->dev_err, 1, __ATOMIC_RELAXED);
			continue;
		}
		if (stamp_diff(buf, CONTEND_PAGES * psz, CONTEND_SEED) != -1)
			__atomic_add_fetch(&c->dev_bad, 1, __ATOMIC_RELAXED);
		__atomic_add_fetch(&c->dev_reads, 1, __ATOMIC_RELAXED);
	}
	free(buf);
	__atomic_add_fetch(&c->done, 1, __ATOMIC_RELAXED);
	return NULL;
}

static void *contend_migrate(void *arg)
{
	struct contend *c = arg;
	int a;

	while (!__atomic_load_n(&c->stop, __ATOMIC_RELAXED)) {
		/*
		 * Pages the faults hold locked are skipped, and not read back
		 * (-ENOENT): no error.  The faults bring them back.
		 */
		a = dm_to_dev(c->fd, c->base, CONTEND_PAGES);
		if (a && a != -EBUSY && a != -ENOENT)
			__atomic_add_fetch(&c->mig_err, 1, __ATOMIC_RELAXED);
		__atomic_add_fetch(&c->migrations, 1, __ATOMIC_RELAXED);
	}
	__atomic_add_fetch(&c->done, 1, __ATOMIC_RELAXED);
	return NULL;
}

/* Progress counters, for comparing two moments. */
struct contend_snap {
	unsigned long cpu[CONTEND_THREADS];
	unsigned long dev_reads, migrations;
};

static void contend_sample(struct contend *c, struct contend_snap *s)
{
	int i;

	for (i = 0; i < CONTEND_THREADS; i++)
		s->cpu[i] = __atomic_load_n(&c->cpu[i], __ATOMIC_RELAXED);
	s->dev_reads = __atomic_load_n(&c->dev_reads, __ATOMIC_RELAXED);
	s->migrations = __atomic_load_n(&c->migrations, __ATOMIC_RELAXED);
}

TEST_F_TIMEOUT(api, contended_device_page, 90)
{
	struct contend_cpu_arg args[CONTEND_THREADS];
	const int nthreads = CONTEND_THREADS + 2;
	struct contend_snap mid, end;
	struct contend c = { 0 };
	pthread_t t[CONTEND_THREADS + 2];
	int i, stuck = 0;
	long old_delay;
	double t0;

	old_delay = read_long(HMM_PARAM("flush_delay_us"));
	ASSERT_GE(old_delay, 0) TH_LOG("test_hmm has no flush_delay_us");
	c.fd = self->fd;
	c.peer = self->peer;
	c.base = map_pages(_metadata, CONTEND_PAGES, CONTEND_SEED);
	ASSERT_EQ(dm_to_dev(c.fd, c.base, CONTEND_PAGES), 0);
	ASSERT_EQ(write_long(HMM_PARAM("flush_delay_us"), CONTEND_FLUSH_US), 0);

	for (i = 0; i < CONTEND_THREADS; i++) {
		args[i].c = &c;
		args[i].id = i;
		ASSERT_EQ(pthread_create(&t[i], NULL, contend_cpu, &args[i]), 0);
	}
	ASSERT_EQ(pthread_create(&t[i++], NULL, contend_device, &c), 0);
	ASSERT_EQ(pthread_create(&t[i++], NULL, contend_migrate, &c), 0);

	usleep(CONTEND_SECS / 2 * 1e6);
	contend_sample(&c, &mid);
	usleep(CONTEND_SECS / 2 * 1e6);
	contend_sample(&c, &end);
	__atomic_store_n(&c.stop, 1, __ATOMIC_RELAXED);

	/* Threads stuck in a fault never see the stop flag. */
	t0 = now_sec();
	while (__atomic_load_n(&c.done, __ATOMIC_RELAXED) < nthreads &&
	       now_sec() - t0 < 10)
		usleep(10 * 1000);
	write_long(HMM_PARAM("flush_delay_us"), old_delay);

	for (i = 0; i < CONTEND_THREADS; i++) {
		TH_LOG("cpu thread %2d: %lu page reads, %lu in the second half",
		       i, end.cpu[i], end.cpu[i] - mid.cpu[i]);
		if (end.cpu[i] == mid.cpu[i])
			stuck++;
	}
	TH_LOG("device reads %lu (%lu in the second half), busy %lu; migration rounds %lu (%lu)",
	       end.dev_reads, end.dev_reads - mid.dev_reads, c.dev_busy,
	       end.migrations, end.migrations - mid.migrations);
	EXPECT_EQ(stuck, 0) TH_LOG("%d CPU threads made no progress", stuck);
	EXPECT_GT(end.dev_reads, mid.dev_reads);
	EXPECT_GT(end.migrations, mid.migrations);
	EXPECT_EQ(c.cpu_bad, 0);
	EXPECT_EQ(c.dev_bad, 0);
	EXPECT_EQ(c.dev_err, 0);
	EXPECT_EQ(c.mig_err, 0);
	ASSERT_EQ(__atomic_load_n(&c.done, __ATOMIC_RELAXED), nthreads)
		TH_LOG("threads still stuck 10 s after the stop");
	for (i = 0; i < nthreads; i++)
		pthread_join(t[i], NULL);
	EXPECT_EQ(stamp_diff(c.base, CONTEND_PAGES * psz, CONTEND_SEED), -1);
	munmap(c.base, CONTEND_PAGES * psz);
}

/*
 * The HMM tracepoints, enabled through tracefs around operations whose
 * events are known: the events come with the fields they should have.
 */
static char tracefs[64];

static bool tracefs_find(void)
{
	static const char *const dirs[] = {
		"/sys/kernel/tracing", "/sys/kernel/debug/tracing",
	};
	char path[96];
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(dirs); i++) {
		snprintf(path, sizeof(path), "%s/events", dirs[i]);
		if (access(path, F_OK) && i == 0)
			mount("tracefs", dirs[i], "tracefs", 0, NULL);
		if (!access(path, F_OK)) {
			snprintf(tracefs, sizeof(tracefs), "%s", dirs[i]);
			return true;
		}
	}
	return false;
}

static int trace_write(const char *file, const char *val)
{
	char path[160];
	int fd, ret = 0;

	snprintf(path, sizeof(path), "%s/%s", tracefs, file);
	fd = open(path, O_WRONLY | O_TRUNC);
	if (fd < 0)
		return -errno;
	if (write(fd, val, strlen(val)) != (ssize_t)strlen(val))
		ret = -errno;
	close(fd);
	return ret;
}

/* Switch the three HMM event systems on or off, and empty the buffer. */
static int trace_hmm_events(bool on)
{
	static const char *const systems[] = {
		"events/hmm/enable", "events/mmu_notifier/enable",
		"events/memremap/enable",
	};
	unsigned int i;
	int ret;

	for (i = 0; i < ARRAY_SIZE(systems); i++) {
		ret = trace_write(systems[i], on ? "1" : "0");
		if (ret)
			return ret;
	}
	if (on) {
		ret = trace_write("trace", "");
		if (!ret)
			ret = trace_write("tracing_on", "1");
	}
	return ret;
}

/* The trace buffer as one string (malloc'ed), emptied afterwards. */
static char *trace_take(void)
{
	size_t len = 0, size = 1 << 16;
	char path[160], *buf = malloc(size);
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "%s/trace", tracefs);
	fd = open(path, O_RDONLY);
	if (fd < 0 || !buf) {
		free(buf);
		if (fd >= 0)
			close(fd);
		return NULL;
	}
	while ((n = read(fd, buf + len, size - len - 1)) > 0) {
		len += n;
		if (size - len < 4096) {
			char *more = realloc(buf, size * 2);

			if (!more)
				break;
			buf = more;
			size *= 2;
		}
	}
	buf[len] = '\0';
	close(fd);
	trace_write("trace", "");
	return buf;
}

/*
 * The first line of @trace with event @event (as "event:") that also
 * contains every string of @fields (a NULL-terminated list); NULL if none.
 */
static const char *trace_find(const char *trace, const char *event,
			      const char *const *fields)
{
	char name[64];
	const char *line;

	snprintf(name, sizeof(name), " %s: ", event);
	for (line = trace; line && *line; line = strchr(line, '\n'),
	     line = line ? line + 1 : NULL) {
		const char *eol = strchr(line, '\n');
		size_t len = eol ? (size_t)(eol - line) : strlen(line);
		char one[512];
		unsigned int i;

		if (len >= sizeof(one))
			len = sizeof(one) - 1;
		memcpy(one, line, len);
		one[len] = '\0';
		if (!strstr(one, name))
			continue;
		for (i = 0; fields[i]; i++)
			if (!strstr(one, fields[i]))
				break;
		if (!fields[i])
			return line;
	}
	return NULL;
}

#define TRACE_EXPECT(trace, event, ...)					\
	do {								\
		const char *const _f[] = { __VA_ARGS__, NULL };		\
		const char *_t = (trace), *_e = (event);		\
									\
		EXPECT_NE(trace_find(_t, _e, _f), NULL)			\
			TH_LOG("no %s event with the fields asked for; trace:\n%s", \
			       _e, _t);					\
	} while (0)

TEST_F_TIMEOUT(api, tracepoints, 60)
{
	struct uffd_handler h = { .seed = 761 };
	unsigned long n = 8;
	char start[32], end[32], addr[32], *trace;
	char *p;

	ASSERT_TRUE(tracefs_find()) TH_LOG("no tracefs");
	ASSERT_EQ(trace_hmm_events(true), 0)
		TH_LOG("cannot enable the hmm, mmu_notifier and memremap events");

	/* A device read of populated memory: one walk, no fault. */
	p = map_pages(_metadata, n, 760);
	snprintf(start, sizeof(start), "start=%#lx", (unsigned long)p);
	snprintf(end, sizeof(end), "end=%#lx", (unsigned long)p + n * psz);
	trace_take();
	ASSERT_EQ(dm_read(self->fd, p, self->buf, n), 0);
	trace = trace_take();
	ASSERT_NE(trace, NULL);
	TRACE_EXPECT(trace, "hmm_range_fault_begin", start, end, "npages=8");
	TRACE_EXPECT(trace, "hmm_range_fault_end", start, end, "npages=8",
		     "faulted=0", "passes=1", "ret=0");
	free(trace);

	/* mprotect(): an interval invalidation, start and end. */
	ASSERT_EQ(mprotect(p, n * psz, PROT_READ), 0);
	trace = trace_take();
	ASSERT_NE(trace, NULL);
	TRACE_EXPECT(trace, "mmu_interval_invalidate_start", start, end,
		     "event=PROTECTION_VMA", "blockable=1", "intervals=2",
		     "ret=0");
	TRACE_EXPECT(trace, "mmu_interval_invalidate_end", start, end,
		     "event=PROTECTION_VMA");
	free(trace);
	munmap(p, n * psz);

	/* Unpopulated memory, written by the device: one fault per page. */
	p = map_pages(_metadata, n, 0);
	snprintf(start, sizeof(start), "start=%#lx", (unsigned long)p);
	snprintf(end, sizeof(end), "end=%#lx", (unsigned long)p + n * psz);
	stamp(self->buf, n * psz, 762);
	trace_take();
	ASSERT_EQ(dm_write(self->fd, p, self->buf, n), 0);
	trace = trace_take();
	ASSERT_NE(trace, NULL);
	TRACE_EXPECT(trace, "hmm_range_fault_end", start, end, "faulted=8",
		     "ret=0");
	free(trace);

	/* Its pages in device memory, then a CPU read of the first one. */
	ASSERT_EQ(dm_to_dev(self->fd, p, n), 0);
	trace_take();
	EXPECT_EQ(stamp_diff(p, psz, 762), -1);
	trace = trace_take();
	ASSERT_NE(trace, NULL);
	snprintf(addr, sizeof(addr), "addr=%#lx", (unsigned long)p);
	TRACE_EXPECT(trace, "migrate_to_ram", addr, "ret=0x0");
	free(trace);
	munmap(p, n * psz);

	/* Device memory given back and taken again: one 256 MiB chunk. */
	trace_take();
	ASSERT_EQ(dm_release(self->fd), 0);
	p = map_pages(_metadata, n, 763);
	ASSERT_EQ(dm_to_dev(self->fd, p, n), 0);
	trace = trace_take();
	ASSERT_NE(trace, NULL);
	TRACE_EXPECT(trace, "memunmap_pages", "type=DEVICE_PRIVATE",
		     "range=0/1", "pages=65536");
	TRACE_EXPECT(trace, "memremap_pages", "type=DEVICE_PRIVATE",
		     "range=0/1", "pages=65536");
	free(trace);
	munmap(p, n * psz);

	/*
	 * The helper on a userfaultfd range: a fault drops the mmap lock to
	 * wait for the handler, and the helper resumes.
	 */
	h.uffd = uffd_open();
	if (h.uffd >= 0) {
		h.base = map_pages(_metadata, 1, 0);
		ASSERT_EQ(uffd_register(h.uffd, h.base, psz,
					UFFDIO_REGISTER_MODE_MISSING), 0);
		ASSERT_EQ(uffd_handler_start(&h), 0);
		trace_take();
		EXPECT_EQ(dm_read_unlocked(self->fd, h.base, self->buf, 1), 0);
		uffd_handler_stop(&h);
		trace = trace_take();
		ASSERT_NE(trace, NULL);
		snprintf(start, sizeof(start), "start=%#lx",
			 (unsigned long)h.base);
		TRACE_EXPECT(trace, "hmm_range_fault_end", start, "unlocked=1");
		TRACE_EXPECT(trace, "hmm_range_fault_retry", start,
			     "reason=unlocked");
		TRACE_EXPECT(trace, "hmm_range_fault_end", start, "unlocked=0",
			     "ret=0");
		free(trace);
		close(h.uffd);
		munmap(h.base, psz);
	}
	ASSERT_EQ(trace_hmm_events(false), 0);
}

TEST_HARNESS_MAIN

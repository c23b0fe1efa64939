// SPDX-License-Identifier: GPL-2.0
/*
 * hmm-bench: the guest side of `make bench`. Sets up each user range, asks
 * hmm_bench.ko to time the operation in the kernel and prints one line per
 * benchmark row and size:
 *
 *   HMM-BENCH <row> <size> <unit> <warm-up> <rep1> ... <repN>
 *
 * <size> is bytes, or the notifier count for the invalidation row. The host
 * (bench/report.py) takes the median of the repetitions. With
 * --evict-check it checks the module's unload instead.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "hmm_bench_uapi.h"

#define REPS		5
#define PAGE		4096UL
#define HUGE		(2UL << 20)
#define MPROTECT_ITERS	5000
#define SEQ_ITERS	1000000
#define FLUSH_DEVS	4
#define FLUSH_US	1000
#define FLUSH_ITERS	50

static int fd;
static int failures;

static const unsigned long sizes[] = { 4UL << 20, 64UL << 20, 1UL << 30 };
static const unsigned long thp_sizes[] = { 4UL << 20, 64UL << 20 };
#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

static void fail(const char *what, unsigned long size, const char *why)
{
	printf("HMM-BENCH-FAIL %s %lu %s\n", what, size, why);
	fflush(stdout);
	failures++;
}

static void emit(const char *row, unsigned long size, const char *unit,
		 const double *v, int n)
{
	int i;

	printf("HMM-BENCH %s %lu %s", row, size, unit);
	for (i = 0; i < n; i++)
		printf(" %.3f", v[i]);
	printf("\n");
	fflush(stdout);
}

static int req_ioctl(unsigned long cmd, struct hmm_bench_req *req)
{
	int tries;

	/* -EAGAIN: something invalidated the range mid-snapshot; redo it */
	for (tries = 0; tries < 5; tries++) {
		if (!ioctl(fd, cmd, req))
			return 0;
		if (errno != EAGAIN)
			return -1;
	}
	return -1;
}

static void *map(unsigned long size, int advice)
{
	void *p = mmap(NULL, size, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED)
		return NULL;
	if (advice >= 0 && madvise(p, size, advice)) {
		munmap(p, size);
		return NULL;
	}
	return p;
}

static void fill(char *p, unsigned long size)
{
	unsigned long i;

	for (i = 0; i < size; i += PAGE)
		*(unsigned long *)(p + i) = i ^ 0x5a5a5a5aUL;
}

static int check_fill(char *p, unsigned long size)
{
	unsigned long i;

	for (i = 0; i < size; i += PAGE)
		if (*(unsigned long *)(p + i) != (i ^ 0x5a5a5a5aUL))
			return -1;
	return 0;
}

/* Rows 1 and 2: snapshot of a populated range, 4 KiB or THP-backed. */
static void bench_snapshot(const char *row, unsigned long size, int thp)
{
	unsigned long npages = size / PAGE, len = size + (thp ? HUGE : 0);
	struct hmm_bench_req req;
	double v[REPS + 1];
	char *raw, *p;
	int r;

	raw = map(len, thp ? MADV_HUGEPAGE : MADV_NOHUGEPAGE);
	if (!raw)
		return fail(row, size, "mmap");
	p = thp ? (char *)(((uintptr_t)raw + HUGE - 1) & ~(HUGE - 1)) : raw;
	fill(p, size);
	for (r = 0; r <= REPS; r++) {
		memset(&req, 0, sizeof(req));
		req.addr = (uintptr_t)p;
		req.npages = npages;
		if (req_ioctl(HMM_BENCH_SNAPSHOT, &req)) {
			fail(row, size, strerror(errno));
			goto out;
		}
		if (req.count != npages) {
			fail(row, size, "not every page valid");
			goto out;
		}
		if (thp && req.count2 != npages) {
			printf("HMM-BENCH-NOTE %s %lu only %llu of %lu pages PMD-mapped\n",
			       row, size, (unsigned long long)req.count2, npages);
			fail(row, size, "range not PMD-mapped");
			goto out;
		}
		if (!thp && req.count2) {
			fail(row, size, "4 KiB range has PMD mappings");
			goto out;
		}
		v[r] = (double)req.ns / npages;
	}
	emit(row, size, "ns/page", v, REPS + 1);
out:
	munmap(raw, len);
}

/* Row 3: fault and write-enable an unpopulated range, fresh every time. */
static void bench_fault(unsigned long size)
{
	unsigned long npages = size / PAGE;
	struct hmm_bench_req req;
	double v[REPS + 1];
	char *p;
	int r;

	for (r = 0; r <= REPS; r++) {
		p = map(size, MADV_NOHUGEPAGE);
		if (!p)
			return fail("fault", size, "mmap");
		memset(&req, 0, sizeof(req));
		req.addr = (uintptr_t)p;
		req.npages = npages;
		req.flags = HMM_BENCH_FAULT_WRITE;
		if (req_ioctl(HMM_BENCH_SNAPSHOT, &req) || req.count != npages) {
			fail("fault", size, "hmm_range_fault failed or pages missing");
			munmap(p, size);
			return;
		}
		v[r] = (double)req.ns / npages;
		munmap(p, size);
	}
	emit("fault", size, "ns/page", v, REPS + 1);
}

/*
 * Row 9: a 4 GiB mapping with one populated page every SPARSE_STRIDE bytes,
 * snapshot, then with a fault requested on exactly the populated pages.
 * ns per page of the whole range: the walk has to skip the holes per page
 * table, not per address (the output still has one entry per address).
 */
#define SPARSE_SIZE	(4UL << 30)
#define SPARSE_STRIDE	(64UL << 20)
static void bench_sparse(const char *row, int fault)
{
	unsigned long npages = SPARSE_SIZE / PAGE, i;
	struct hmm_bench_req req;
	double v[REPS + 1];
	char *p;
	int r;

	p = mmap(NULL, SPARSE_SIZE, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (p == MAP_FAILED)
		return fail(row, SPARSE_SIZE, "mmap");
	if (madvise(p, SPARSE_SIZE, MADV_NOHUGEPAGE)) {
		fail(row, SPARSE_SIZE, "madvise");
		goto out;
	}
	for (i = 0; i < SPARSE_SIZE; i += SPARSE_STRIDE)
		p[i] = 1;
	for (r = 0; r <= REPS; r++) {
		memset(&req, 0, sizeof(req));
		req.addr = (uintptr_t)p;
		req.npages = npages;
		if (fault) {
			req.flags = HMM_BENCH_SPARSE_FAULT;
			req.iters = SPARSE_STRIDE / PAGE;
		}
		if (req_ioctl(HMM_BENCH_SNAPSHOT, &req)) {
			fail(row, SPARSE_SIZE, strerror(errno));
			goto out;
		}
		if (req.count != SPARSE_SIZE / SPARSE_STRIDE) {
			fail(row, SPARSE_SIZE, "populated pages not reported, or holes were");
			goto out;
		}
		v[r] = (double)req.ns / npages;
	}
	emit(row, SPARSE_SIZE, "ns/page", v, REPS + 1);
out:
	munmap(p, SPARSE_SIZE);
}

static long memfree_kib(void)
{
	char line[128];
	long kib = -1;
	FILE *f = fopen("/proc/meminfo", "r");

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "MemFree: %ld kB", &kib) == 1)
			break;
	fclose(f);
	return kib;
}

/* Row 4: to device-private memory and back by CPU fault, µs per MiB. */
static void bench_migrate(unsigned long size)
{
	double to[REPS + 1], back[REPS + 1], sum[REPS + 1];
	unsigned long npages = size / PAGE;
	double mib = (double)size / (1 << 20);
	struct hmm_bench_req req;
	char *p;
	int r;

	p = map(size, MADV_NOHUGEPAGE);
	if (!p)
		return fail("migrate", size, "mmap");
	fill(p, size);
	for (r = 0; r <= REPS; r++) {
		memset(&req, 0, sizeof(req));
		req.addr = (uintptr_t)p;
		req.npages = npages;
		if (req_ioctl(HMM_BENCH_MIGRATE, &req)) {
			fail("migrate", size, strerror(errno));
			goto out;
		}
		if (req.count != npages || req.count2 != npages) {
			printf("HMM-BENCH-NOTE migrate %lu: %llu to device, %llu back of %lu\n",
			       size, (unsigned long long)req.count,
			       (unsigned long long)req.count2, npages);
			fail("migrate", size, "not every page moved");
			goto out;
		}
		if (check_fill(p, size)) {
			fail("migrate", size, "data changed on the round trip");
			goto out;
		}
		to[r] = req.ns / 1000.0 / mib;
		back[r] = req.ns2 / 1000.0 / mib;
		sum[r] = to[r] + back[r];
	}
	emit("migrate_to", size, "us/MiB", to, REPS + 1);
	emit("migrate_back", size, "us/MiB", back, REPS + 1);
	emit("migrate", size, "us/MiB", sum, REPS + 1);
out:
	munmap(p, size);
}

/*
 * Row 7 (thp4k) and row 8 (thp2m): THP-backed memory to device-private
 * memory and back by CPU fault, µs per MiB; 4 KiB device pages (every THP
 * split on the way) or 2 MiB device folios (THPs moved whole). Fresh THPs
 * for every repetition, outside the timed windows.
 */
static void bench_migrate_thp(unsigned long size, int whole)
{
	double to[REPS + 1], back[REPS + 1], sum[REPS + 1];
	const char *row = whole ? "thp2m" : "thp4k";
	unsigned long npages = size / PAGE;
	double mib = (double)size / (1 << 20);
	struct hmm_bench_req req;
	char name[32], *raw, *p;
	int r;

	for (r = 0; r <= REPS; r++) {
		raw = map(size + HUGE, MADV_HUGEPAGE);
		if (!raw)
			return fail(row, size, "mmap");
		p = (char *)(((uintptr_t)raw + HUGE - 1) & ~(HUGE - 1));
		fill(p, size);
		memset(&req, 0, sizeof(req));
		req.addr = (uintptr_t)p;
		req.npages = npages;
		if (req_ioctl(HMM_BENCH_SNAPSHOT, &req) || req.count2 != npages) {
			fail(row, size, "range not PMD-mapped");
			goto out;
		}
		memset(&req, 0, sizeof(req));
		req.addr = (uintptr_t)p;
		req.npages = npages;
		req.flags = whole ? HMM_BENCH_THP : 0;
		if (req_ioctl(HMM_BENCH_MIGRATE, &req)) {
			if (whole && errno == EOPNOTSUPP) {
				printf("HMM-BENCH-NA %s %lu no device THPs in this kernel\n",
				       row, size);
				munmap(raw, size + HUGE);
				return;
			}
			fail(row, size, strerror(errno));
			goto out;
		}
		if (req.count != npages || req.count2 != npages ||
		    (whole && req.iters != npages)) {
			printf("HMM-BENCH-NOTE %s %lu: %llu to device (%llu in 2 MiB folios), %llu back of %lu\n",
			       row, size, (unsigned long long)req.count,
			       (unsigned long long)req.iters,
			       (unsigned long long)req.count2, npages);
			fail(row, size, "not every page moved as asked");
			goto out;
		}
		if (check_fill(p, size)) {
			fail(row, size, "data changed on the round trip");
			goto out;
		}
		to[r] = req.ns / 1000.0 / mib;
		back[r] = req.ns2 / 1000.0 / mib;
		sum[r] = to[r] + back[r];
		munmap(raw, size + HUGE);
	}
	snprintf(name, sizeof(name), "%s_to", row);
	emit(name, size, "us/MiB", to, REPS + 1);
	snprintf(name, sizeof(name), "%s_back", row);
	emit(name, size, "us/MiB", back, REPS + 1);
	emit(row, size, "us/MiB", sum, REPS + 1);
	return;
out:
	munmap(raw, size + HUGE);
}

static double now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e9 + ts.tv_nsec;
}

/*
 * Row 5: mprotect() of one populated page, a VMA of its own between two
 * PROT_NONE guards, with n interval notifiers of which one covers the page.
 * Timed around the system call in user space.
 */
static void bench_invalidate(unsigned long n)
{
	struct hmm_bench_req req;
	double v[REPS + 1], m[2], t0;
	long mem;
	char *g, *p;
	int r, i;

	g = mmap(NULL, 3 * PAGE, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (g == MAP_FAILED)
		return fail("invalidate", n, "mmap");
	p = g + PAGE;
	if (mprotect(p, PAGE, PROT_READ | PROT_WRITE)) {
		fail("invalidate", n, "mprotect");
		goto out;
	}
	*p = 1;
	memset(&req, 0, sizeof(req));
	req.addr = (uintptr_t)p;
	req.iters = n;
	mem = memfree_kib();
	if (req_ioctl(HMM_BENCH_NOTIFIERS, &req)) {
		fail("invalidate", n, strerror(errno));
		goto out;
	}
	/* one measurement, not repeated: inserting n notifiers is slow */
	if (n >= 100000 && mem > 0) {
		m[0] = m[1] = (mem - memfree_kib()) * 1024.0 / n;
		emit("interval_mem", n, "B/interval", m, 2);
	}
	for (r = 0; r <= REPS; r++) {
		t0 = now_ns();
		for (i = 0; i < MPROTECT_ITERS; i++) {
			if (mprotect(p, PAGE, PROT_READ) ||
			    mprotect(p, PAGE, PROT_READ | PROT_WRITE)) {
				fail("invalidate", n, "mprotect");
				goto del;
			}
		}
		v[r] = (now_ns() - t0) / (2.0 * MPROTECT_ITERS);
	}
	emit("invalidate", n, "ns/call", v, REPS + 1);
del:
	ioctl(fd, HMM_BENCH_NOTIFIERS_DEL);
out:
	munmap(g, 3 * PAGE);
}

/*
 * Row 10: mprotect() of one populated page mirrored by FLUSH_DEVS devices,
 * each of whose invalidations waits for a simulated TLB flush of FLUSH_US
 * (a work item), in one pass (@passes 1: the flushes one after the other)
 * or two (2: every device starts its flush, then all are waited for).
 * Timed around the system call in user space, in microseconds.
 */
static void bench_flush(unsigned long passes)
{
	struct hmm_bench_req req;
	double v[REPS + 1], t0;
	char *g, *p;
	int r, i;

	g = mmap(NULL, 3 * PAGE, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (g == MAP_FAILED)
		return fail("flush", passes, "mmap");
	p = g + PAGE;
	if (mprotect(p, PAGE, PROT_READ | PROT_WRITE)) {
		fail("flush", passes, "mprotect");
		goto out;
	}
	*p = 1;
	memset(&req, 0, sizeof(req));
	req.addr = (uintptr_t)p;
	req.iters = FLUSH_DEVS;
	req.npages = FLUSH_US;
	req.flags = passes == 2 ? HMM_BENCH_TWO_PASS : 0;
	if (req_ioctl(HMM_BENCH_FLUSH_NOTIFIERS, &req)) {
		/* a kernel without two-pass notifiers has no such row */
		if (errno != EOPNOTSUPP)
			fail("flush", passes, strerror(errno));
		goto out;
	}
	for (r = 0; r <= REPS; r++) {
		t0 = now_ns();
		for (i = 0; i < FLUSH_ITERS; i++) {
			if (mprotect(p, PAGE, PROT_READ) ||
			    mprotect(p, PAGE, PROT_READ | PROT_WRITE)) {
				fail("flush", passes, "mprotect");
				goto del;
			}
		}
		v[r] = (now_ns() - t0) / (2.0 * FLUSH_ITERS) / 1e3;
	}
	emit("flush", passes, "us/call", v, REPS + 1);
del:
	ioctl(fd, HMM_BENCH_NOTIFIERS_DEL);
out:
	munmap(g, 3 * PAGE);
}

/* Row 6: mmu_interval_read_begin() + mmu_interval_read_retry(). */
static void bench_seq(void)
{
	struct hmm_bench_req req;
	double v[REPS + 1];
	char *p;
	int r;

	p = map(PAGE, -1);
	if (!p)
		return fail("seq", 0, "mmap");
	for (r = 0; r <= REPS; r++) {
		memset(&req, 0, sizeof(req));
		req.addr = (uintptr_t)p;
		req.iters = SEQ_ITERS;
		if (req_ioctl(HMM_BENCH_SEQ, &req) || req.count) {
			fail("seq", 0, "ioctl failed or a retry was reported");
			goto out;
		}
		v[r] = (double)req.ns / SEQ_ITERS;
	}
	emit("seq", 0, "ns/pair", v, REPS + 1);
out:
	munmap(p, PAGE);
}

/* Reference: one u64 read and one written per page, in the kernel. */
static void bench_mempass(unsigned long size)
{
	unsigned long npages = size / PAGE;
	struct hmm_bench_req req;
	double v[REPS + 1];
	int r;

	for (r = 0; r <= REPS; r++) {
		memset(&req, 0, sizeof(req));
		req.npages = npages;
		if (req_ioctl(HMM_BENCH_MEMPASS, &req) || req.count != 1)
			return fail("mempass", size, "ioctl failed");
		v[r] = (double)req.ns / npages;
	}
	emit("mempass", size, "ns/page", v, REPS + 1);
}

/*
 * Leaves a range in device memory, closes the device and unloads the
 * module: its exit must bring the data back to system memory intact.
 */
static int evict_check(void)
{
	unsigned long size = 4UL << 20;
	struct hmm_bench_req req;
	char *p;

	p = map(size, MADV_NOHUGEPAGE);
	if (!p)
		return 1;
	fill(p, size);
	memset(&req, 0, sizeof(req));
	req.addr = (uintptr_t)p;
	req.npages = size / PAGE;
	req.flags = HMM_BENCH_ONE_WAY;
	if (ioctl(fd, HMM_BENCH_MIGRATE, &req) || req.count != size / PAGE) {
		printf("evict: migration to the device failed\n");
		return 1;
	}
	close(fd);
	if (system("rmmod hmm_bench")) {
		printf("evict: rmmod failed with pages in device memory\n");
		return 1;
	}
	if (check_fill(p, size)) {
		printf("evict: data lost when the module was unloaded\n");
		return 1;
	}
	printf("evict: %lu pages brought back by the unload, data intact\n", size / PAGE);
	return 0;
}

/*
 * HMM_BENCH_ROWS (vm/jobs/bench.sh sets it from the kernel parameter
 * hmmbench_rows=): a comma-separated list of the rows to run, by the name
 * of their HMM-BENCH lines (snapshot, migrate, invalidate, ...); all of
 * them when it is unset or empty.
 */
static int want(const char *row)
{
	const char *rows = getenv("HMM_BENCH_ROWS"), *p;
	size_t len = strlen(row);

	if (!rows || !*rows)
		return 1;
	for (p = rows; p; p = strchr(p, ',')) {
		if (*p == ',')
			p++;
		if (!strncmp(p, row, len) && (p[len] == ',' || !p[len]))
			return 1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	/* device-private memory the module was loaded with (dmem_mib) */
	unsigned long dmem = 64UL << 20;
	unsigned int i;

	fd = open("/dev/hmm_bench", O_RDWR);
	if (fd < 0) {
		perror("/dev/hmm_bench");
		return 1;
	}
	if (argc > 1 && !strcmp(argv[1], "--evict-check"))
		return evict_check();
	if (argc > 1)
		dmem = strtoul(argv[1], NULL, 0) << 20;
	for (i = 0; i < ARRAY_SIZE(sizes); i++) {
		if (want("mempass"))
			bench_mempass(sizes[i]);
		if (want("snapshot"))
			bench_snapshot("snapshot", sizes[i], 0);
		if (want("snapshot_thp"))
			bench_snapshot("snapshot_thp", sizes[i], 1);
		if (want("fault"))
			bench_fault(sizes[i]);
		if (sizes[i] <= dmem && want("migrate"))
			bench_migrate(sizes[i]);
	}
	/* The module keeps 64 MiB of 2 MiB device folios. */
	for (i = 0; i < ARRAY_SIZE(thp_sizes); i++) {
		if (thp_sizes[i] > dmem)
			continue;
		if (want("thp4k"))
			bench_migrate_thp(thp_sizes[i], 0);
		if (want("thp2m"))
			bench_migrate_thp(thp_sizes[i], 1);
	}
	if (want("invalidate")) {
		bench_invalidate(10);
		bench_invalidate(1000);
		bench_invalidate(100000);
		bench_invalidate(1000000);
	}
	if (want("seq"))
		bench_seq();
	if (want("sparse_snapshot"))
		bench_sparse("sparse_snapshot", 0);
	if (want("sparse_fault"))
		bench_sparse("sparse_fault", 1);
	if (want("flush")) {
		bench_flush(1);
		bench_flush(2);
	}
	close(fd);
	printf("HMM-BENCH-DONE failures=%d\n", failures);
	return failures ? 1 : 0;
}

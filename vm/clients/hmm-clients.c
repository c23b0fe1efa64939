// SPDX-License-Identifier: GPL-2.0
/*
 * hmm-clients: the data side of the clients suite (vm/jobs/clients.sh).
 *
 * The job sets up the kernel's own users of the HMM core (pmem namespaces,
 * an fsdax file system, device-dax, an NVMe controller memory buffer) with
 * their ordinary tools; this program moves data through them and checks
 * every byte, and mirrors their mappings into test_hmm's device 0 to check
 * what hmm_range_fault() reports for DAX memory. Each command prints what
 * it verified ("verified N bytes") and exits 0, or says what was wrong and
 * exits 1.
 *
 *   fill PATH MODE SIZE SEED     write SIZE bytes of pattern SEED through
 *                                MODE (rw, direct or mmap), read them back
 *                                the same way and check them
 *   check PATH SIZE SEED         read PATH with read() and check pattern SEED
 *   mirror PATH SIZE KIND SEED   mirror a shared mapping of PATH (an fsdax
 *                                file or a /dev/dax device) into the device:
 *                                KIND pte, pmd or pud is the CPU mapping size
 *                                expected; the device writes pattern SEED
 *   dio SRC DST SIZE SEED        O_DIRECT from a DAX mapping of SRC (pattern
 *                                SEED) to the block device DST and back
 *   truncate-wait PATH           truncate an fsdax file while a pipe holds
 *                                a reference to one of its pages: the
 *                                truncate must wait until the pipe is read
 *   hold PATH SIZE SEED          map PATH, check it, wait for SIGTERM (or a
 *                                minute) and check the mapping again
 *   revoke DEV SIZE SEED         device-dax: map and mirror DEV, unbind it
 *                                from device_dax while mapped, check that
 *                                the CPU and the device lost the mapping,
 *                                rebind it and check the data survived
 *   io-loop PATH SIZE SEED       O_DIRECT write and check PATH until an
 *                                I/O error; exits 0 on the first error
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "lib/test_hmm_uapi.h"

#define PAGE		4096UL
#define MIB		(1UL << 20)
#define PMD_SIZE	(2UL << 20)
#define PUD_SIZE	(1UL << 30)
#define DEVICE		"/dev/hmm_dmirror0"
/* Pages the device reads or writes of a mapping too big to copy whole. */
#define SAMPLE_PAGES	64

static const char *prog = "hmm-clients";
static unsigned long verified;

static void fail(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
static void fail(const char *fmt, ...)
{
	va_list ap;

	fprintf(stdout, "%s: FAIL: ", prog);
	va_start(ap, fmt);
	vfprintf(stdout, fmt, ap);
	va_end(ap);
	fputc('\n', stdout);
	exit(1);
}

static void note(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void note(const char *fmt, ...)
{
	va_list ap;

	fprintf(stdout, "%s: ", prog);
	va_start(ap, fmt);
	vfprintf(stdout, fmt, ap);
	va_end(ap);
	fputc('\n', stdout);
	fflush(stdout);
}

/* The pattern: one 64-bit word per 8 bytes, a function of seed and offset. */
static uint64_t word(unsigned long seed, unsigned long off)
{
	uint64_t x = (seed + 1) * 0x9e3779b97f4a7c15ULL ^ (off / 8) * 0xbf58476d1ce4e5b9ULL;

	return x ^ (x >> 29);
}

static void pattern(void *buf, unsigned long off, unsigned long len,
		    unsigned long seed)
{
	uint64_t *p = buf;
	unsigned long i;

	for (i = 0; i < len / 8; i++)
		p[i] = word(seed, off + i * 8);
}

/* Check @len bytes at file offset @off; fail naming @what at the first bad word. */
static void expect(const void *buf, unsigned long off, unsigned long len,
		   unsigned long seed, const char *what)
{
	const uint64_t *p = buf;
	unsigned long i;

	for (i = 0; i < len / 8; i++)
		if (p[i] != word(seed, off + i * 8))
			fail("%s: offset %#lx holds %#llx, pattern %lu wants %#llx",
			     what, off + i * 8, (unsigned long long)p[i], seed,
			     (unsigned long long)word(seed, off + i * 8));
	verified += len;
}

static unsigned long number(const char *s)
{
	char *end;
	unsigned long v = strtoul(s, &end, 0);

	switch (*end) {
	case 'G': v <<= 10; /* fall through */
	case 'M': v <<= 10; /* fall through */
	case 'K': v <<= 10; end++; break;
	}
	if (*end)
		fail("bad number '%s'", s);
	return v;
}

static void *buffer(unsigned long len)
{
	void *p = mmap(NULL, len, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);

	if (p == MAP_FAILED)
		fail("no %lu byte buffer: %s", len, strerror(errno));
	return p;
}

static int open_or_fail(const char *path, int flags)
{
	int fd = open(path, flags, 0644);

	if (fd < 0)
		fail("open %s: %s", path, strerror(errno));
	return fd;
}

/* Whole-buffer transfers in chunks, failing on anything short. */
static void xfer(int fd, void *buf, unsigned long len, unsigned long off,
		 int write, const char *path)
{
	unsigned long done = 0;
	ssize_t n;

	while (done < len) {
		if (write)
			n = pwrite(fd, (char *)buf + done, len - done, off + done);
		else
			n = pread(fd, (char *)buf + done, len - done, off + done);
		if (n <= 0)
			fail("%s %s at %#lx: %s", write ? "write" : "read", path,
			     off + done, n ? strerror(errno) : "end of file");
		done += n;
	}
}

/*
 * A shared mapping of @len bytes of @fd aligned to @align: the kernel
 * picks the address for files that ask for it (DAX files, device-dax),
 * MAP_FIXED into an aligned reservation makes sure of it.
 */
static char *map_aligned(int fd, unsigned long len, unsigned long align,
			 int prot)
{
	char *area, *p;

	area = mmap(NULL, len + align, PROT_NONE,
		    MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (area == MAP_FAILED)
		fail("no address space: %s", strerror(errno));
	p = (char *)(((uintptr_t)area + align - 1) & ~(align - 1));
	if (mmap(p, len, prot, MAP_SHARED | MAP_FIXED, fd, 0) == MAP_FAILED)
		fail("mmap %lu bytes: %s", len, strerror(errno));
	if (p > area)
		munmap(area, p - area);
	munmap(p + len, area + align - p);
	return p;
}

/* ---- fill, check ---------------------------------------------------- */

static int cmd_fill(const char *path, const char *mode, unsigned long size,
		    unsigned long seed)
{
	unsigned long chunk = size < 4 * MIB ? size : 4 * MIB, off;
	char *buf = buffer(chunk), *map;
	int fd;

	if (size % PAGE)
		fail("size %lu is not a multiple of pages", size);
	if (!strcmp(mode, "rw") || !strcmp(mode, "direct")) {
		int direct = !strcmp(mode, "direct") ? O_DIRECT : 0;

		fd = open_or_fail(path, O_RDWR | O_CREAT | direct);
		for (off = 0; off < size; off += chunk) {
			pattern(buf, off, chunk, seed);
			xfer(fd, buf, chunk, off, 1, path);
		}
		if (fsync(fd))
			fail("fsync %s: %s", path, strerror(errno));
		for (off = 0; off < size; off += chunk) {
			memset(buf, 0, chunk);
			xfer(fd, buf, chunk, off, 0, path);
			expect(buf, off, chunk, seed, path);
		}
	} else if (!strcmp(mode, "mmap")) {
		struct stat st;

		fd = open_or_fail(path, O_RDWR | O_CREAT);
		/* A device-dax mapping must be aligned to the device's alignment. */
		if (fstat(fd, &st) || (!S_ISCHR(st.st_mode) && ftruncate(fd, size)))
			fail("sizing %s: %s", path, strerror(errno));
		map = map_aligned(fd, size, size >= PUD_SIZE ? PUD_SIZE : PMD_SIZE,
				  PROT_READ | PROT_WRITE);
		pattern(map, 0, size, seed);
		/* Device-dax has nothing to write back: no fsync, no msync. */
		if (!S_ISCHR(st.st_mode) && msync(map, size, MS_SYNC))
			fail("msync %s: %s", path, strerror(errno));
		expect(map, 0, size, seed, path);
		munmap(map, size);
	} else {
		fail("unknown mode %s", mode);
	}
	close(fd);
	note("%s: %s: wrote and verified %lu bytes", path, mode, verified);
	return 0;
}

static int cmd_check(const char *path, unsigned long size, unsigned long seed)
{
	unsigned long chunk = size < 4 * MIB ? size : 4 * MIB, off;
	char *buf = buffer(chunk);
	int fd = open_or_fail(path, O_RDONLY);

	for (off = 0; off < size; off += chunk) {
		xfer(fd, buf, chunk, off, 0, path);
		expect(buf, off, chunk, seed, path);
	}
	close(fd);
	note("%s: verified %lu bytes", path, verified);
	return 0;
}

/* ---- the device's view ---------------------------------------------- */

static int dmirror_fd = -1;

/* One test_hmm command over @npages from @addr; -errno or 0. */
static int dmirror(unsigned long op, void *addr, void *buf, unsigned long npages)
{
	struct hmm_dmirror_cmd cmd = {
		.addr = (uintptr_t)addr,
		.ptr = (uintptr_t)buf,
		.npages = npages,
	};

	if (dmirror_fd < 0)
		dmirror_fd = open_or_fail(DEVICE, O_RDWR);
	if (ioctl(dmirror_fd, op, &cmd) < 0)
		return -errno;
	if (cmd.cpages != npages)
		fail("device handled %llu of %lu pages", (unsigned long long)cmd.cpages,
		     npages);
	return 0;
}

static const char *prot_name(unsigned char s)
{
	static char out[64];

	if (s == HMM_DMIRROR_PROT_ERROR)
		return "error";
	snprintf(out, sizeof(out), "%s%s%s%s%s", s & 0xf0 ? "device/zero " : "",
		 s & HMM_DMIRROR_PROT_WRITE ? "write" : "",
		 s & HMM_DMIRROR_PROT_READ ? "read" : "",
		 s & HMM_DMIRROR_PROT_PMD ? "+pmd" : "",
		 s & HMM_DMIRROR_PROT_PUD ? "+pud" : "");
	return s ? out : "none";
}

/* SNAPSHOT of @npages from @addr: every page must read @want. */
static void snapshot(char *addr, unsigned long npages, unsigned char want,
		     const char *when)
{
	unsigned char *s = buffer(npages);
	unsigned long i;
	int ret;

	ret = dmirror(HMM_DMIRROR_SNAPSHOT, addr, s, npages);
	if (ret)
		fail("snapshot %s: %s", when, strerror(-ret));
	for (i = 0; i < npages; i++)
		if (s[i] != want) {
			char got[64];

			snprintf(got, sizeof(got), "%s", prot_name(s[i]));
			fail("snapshot %s: page %lu is %s (%#x), want %s (%#x)",
			     when, i, got, s[i], prot_name(want), want);
		}
	munmap(s, npages);
}

/* Where the device reads and writes: all of a small mapping, samples of a big one. */
struct span {
	unsigned long off, len;
};

static int spans(unsigned long size, struct span *sp)
{
	unsigned long n = SAMPLE_PAGES * PAGE;

	if (size <= 2 * n) {
		sp[0] = (struct span){ 0, size };
		return 1;
	}
	sp[0] = (struct span){ 0, n };
	sp[1] = (struct span){ size - n, n };
	return 2;
}

/*
 * The device mirrors a shared mapping of @path; @order_bit is the mapping
 * size the CPU must be using (0 for PTEs). What is checked:
 *  - before anything is mapped the device sees nothing;
 *  - a device READ faults the pages in and returns what the file holds;
 *  - SNAPSHOT: present, of the right size, writable only once written;
 *  - a device WRITE changes the file: the CPU mapping and read() see it;
 *  - MIGRATE_TO_DEV is refused with EINVAL and changes nothing;
 *  - through a read-only mapping the device reads but may not write.
 * The file must hold pattern @seed before; it holds @seed + 1 after
 * (a big mapping: only where the device wrote; it stops after the
 * refused migration).
 */
static int cmd_mirror(const char *path, unsigned long size, const char *kind,
		      unsigned long seed)
{
	unsigned char order_bit, ro, rw, after_read;
	int big;
	unsigned long align = PAGE, npages = size / PAGE;
	struct span sp[2];
	int fd, n, i, ret;
	char *map, *buf;
	struct stat st;

	if (!strcmp(kind, "pte")) {
		order_bit = 0;
	} else if (!strcmp(kind, "pmd")) {
		order_bit = HMM_DMIRROR_PROT_PMD;
		align = PMD_SIZE;
	} else if (!strcmp(kind, "pud")) {
		order_bit = HMM_DMIRROR_PROT_PUD;
		align = PUD_SIZE;
	} else {
		fail("unknown mapping size %s", kind);
	}
	big = size > 64 * MIB;
	ro = HMM_DMIRROR_PROT_READ | order_bit;
	rw = HMM_DMIRROR_PROT_WRITE | order_bit;
	n = spans(size, sp);
	buf = buffer(sp[0].len);

	fd = open_or_fail(path, O_RDWR);
	if (fstat(fd, &st))
		fail("stat %s: %s", path, strerror(errno));
	/*
	 * fsdax tracks dirty pages for writeback, so a read fault maps a
	 * file read-only and a write faults again; device-dax has no
	 * writeback and maps a shared writable mapping writable at once.
	 */
	after_read = S_ISCHR(st.st_mode) ? rw : ro;
	map = map_aligned(fd, size, align, PROT_READ | PROT_WRITE);
	snapshot(map, npages, HMM_DMIRROR_PROT_NONE, "before any access");

	/* The device faults first: it must find the file's data. */
	for (i = 0; i < n; i++) {
		ret = dmirror(HMM_DMIRROR_READ, map + sp[i].off, buf,
			      sp[i].len / PAGE);
		if (ret)
			fail("device read at %#lx: %s", sp[i].off, strerror(-ret));
		expect(buf, sp[i].off, sp[i].len, seed, "device read");
		snapshot(map + sp[i].off, sp[i].len / PAGE, after_read,
			 "after a device read");
	}

	/* The device writes the next pattern: the CPU must see it. */
	for (i = 0; i < n; i++) {
		pattern(buf, sp[i].off, sp[i].len, seed + 1);
		ret = dmirror(HMM_DMIRROR_WRITE, map + sp[i].off, buf,
			      sp[i].len / PAGE);
		if (ret)
			fail("device write at %#lx: %s", sp[i].off, strerror(-ret));
		snapshot(map + sp[i].off, sp[i].len / PAGE, rw, "after a device write");
		expect(map + sp[i].off, sp[i].off, sp[i].len, seed + 1,
		       "CPU mapping after a device write");
		if (S_ISCHR(st.st_mode))
			continue;	/* device-dax has no read() */
		memset(buf, 0, sp[i].len);
		xfer(fd, buf, sp[i].len, sp[i].off, 0, path);
		expect(buf, sp[i].off, sp[i].len, seed + 1, "read() after a device write");
	}
	/*
	 * The CPU writes the rest of it (all but the sampled spans), unless
	 * the mapping is big (1 GiB): then the rest keeps pattern @seed and
	 * is checked once, below, which costs a third of the CPU time.
	 */
	if (n == 2 && !big)
		pattern(map + sp[0].len, sp[0].len, sp[1].off - sp[0].len, seed + 1);
	snapshot(map, npages, rw, "after CPU writes");
	/*
	 * fsdax: writeback (msync) cleans the pages, which write-protects
	 * every mapping of them (dax_entry_mkclean()): the device must see
	 * them read-only from then on.
	 */
	if (!S_ISCHR(st.st_mode)) {
		if (msync(map, size, MS_SYNC))
			fail("msync: %s", strerror(errno));
		snapshot(map, npages, ro, "after msync");
	}

	/* DAX memory cannot move: refused, and nothing changes. */
	ret = dmirror(HMM_DMIRROR_MIGRATE_TO_DEV, map, buf, sp[0].len / PAGE);
	if (ret != -EINVAL)
		fail("MIGRATE_TO_DEV of DAX memory: %s, want EINVAL",
		     ret ? strerror(-ret) : "it succeeded");
	snapshot(map, npages, S_ISCHR(st.st_mode) ? rw : ro,
		 "after the refused migration");
	if (big) {
		for (i = 0; i < n; i++)
			expect(map + sp[i].off, sp[i].off, sp[i].len, seed + 1,
			       "CPU mapping after the refused migration");
		expect(map + sp[0].len, sp[0].len, sp[1].off - sp[0].len, seed,
		       "CPU mapping after the refused migration (not written)");
		munmap(map, size);
		close(fd);
		note("%s: %s mappings mirrored, verified %lu bytes", path, kind,
		     verified);
		return 0;
	}
	expect(map, 0, size, seed + 1, "CPU mapping after the refused migration");
	munmap(map, size);

	/* Read-only: the device reads, a device write is refused. */
	map = map_aligned(fd, size, align, PROT_READ);
	ret = dmirror(HMM_DMIRROR_READ, map, buf, sp[0].len / PAGE);
	if (ret)
		fail("device read of a read-only mapping: %s", strerror(-ret));
	expect(buf, 0, sp[0].len, seed + 1, "device read of a read-only mapping");
	snapshot(map, sp[0].len / PAGE, ro, "of a read-only mapping");
	pattern(buf, 0, sp[0].len, seed + 2);
	ret = dmirror(HMM_DMIRROR_WRITE, map, buf, sp[0].len / PAGE);
	if (ret != -EPERM)
		fail("device write through a read-only mapping: %s, want EPERM",
		     ret ? strerror(-ret) : "it succeeded");
	expect(map, 0, size, seed + 1, "read-only mapping after a refused write");
	munmap(map, size);
	close(fd);
	note("%s: %s mappings mirrored, verified %lu bytes", path, kind, verified);
	return 0;
}

/*
 * O_DIRECT between DAX memory and a block device: the block layer pins the
 * DAX pages of the buffer (get_user_pages() on devmap PTEs or PMDs), the
 * device DMAs to and from them, and the pins are dropped through the
 * fsdax refcount path. @src holds pattern @seed; it goes to @dst, the
 * mapping is cleared by the CPU and read back from @dst.
 */
static int cmd_dio(const char *src, const char *dst, unsigned long size,
		   unsigned long seed)
{
	int sfd = open_or_fail(src, O_RDWR), dfd = open_or_fail(dst, O_RDWR | O_DIRECT);
	char *map = map_aligned(sfd, size, PMD_SIZE, PROT_READ | PROT_WRITE);

	expect(map, 0, size, seed, "DAX buffer before the transfer");
	xfer(dfd, map, size, 0, 1, dst);
	memset(map, 0, size);
	xfer(dfd, map, size, 0, 0, dst);
	expect(map, 0, size, seed, "DAX buffer read back with O_DIRECT");
	munmap(map, size);
	close(sfd);
	close(dfd);
	note("%s -> %s -> %s with O_DIRECT, verified %lu bytes", src, dst, src,
	     verified);
	return 0;
}

/* ---- teardown under use ----------------------------------------------- */

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static char proc_state(pid_t pid)
{
	char path[64], line[512], *p;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/stat", pid);
	f = fopen(path, "r");
	if (!f || !fgets(line, sizeof(line), f))
		return '?';
	fclose(f);
	p = strrchr(line, ')');
	return p && p[1] && p[2] ? p[2] : '?';
}

/*
 * A pipe holds a reference to a page of an fsdax file (vmsplice()): its
 * blocks may not be freed while it does, so truncate waits in
 * dax_layout_busy_page() until the reference goes, which the last
 * put_page() announces (__put_devmap_managed_page_refs() in
 * mm/memremap.c). Reading the pipe must let the truncate finish.
 */
static int cmd_truncate_wait(const char *path)
{
	unsigned long size = 16 * PAGE;
	int fd = open_or_fail(path, O_RDWR | O_CREAT), p[2], status;
	struct iovec iov;
	struct stat st;
	char *map, *buf = buffer(PAGE);
	double t0;
	pid_t pid;

	if (ftruncate(fd, size))
		fail("ftruncate: %s", strerror(errno));
	map = map_aligned(fd, size, PAGE, PROT_READ | PROT_WRITE);
	pattern(map, 0, size, 7);
	if (pipe(p))
		fail("pipe: %s", strerror(errno));
	iov = (struct iovec){ map + 4 * PAGE, PAGE };
	if (vmsplice(p[1], &iov, 1, 0) != PAGE)
		fail("vmsplice: %s", strerror(errno));
	/*
	 * The file stays mapped: dax_layout_busy_page() looks for busy
	 * pages only in a mapping that is mapped somewhere (6.1's fs/dax.c),
	 * unmapped it lets truncate free the block under the pipe.
	 */

	pid = fork();
	if (pid < 0)
		fail("fork: %s", strerror(errno));
	if (!pid)
		_exit(ftruncate(fd, 0) ? 2 : 0);

	/* Two seconds of the truncate not finishing, asleep. */
	t0 = now();
	while (now() - t0 < 2) {
		if (waitpid(pid, &status, WNOHANG) == pid)
			fail("truncate finished while a pipe held a page of the file");
		usleep(100000);
	}
	if (proc_state(pid) != 'S' && proc_state(pid) != 'D')
		fail("truncating process is in state %c, not asleep", proc_state(pid));
	if (fstat(fd, &st) || st.st_size != (off_t)size)
		fail("file size changed while truncate waits");
	note("truncate waits for the page the pipe holds (%.1f s)", now() - t0);

	/* Reading the pipe drops the reference: the truncate goes on. */
	if (read(p[0], buf, PAGE) != PAGE)
		fail("read pipe: %s", strerror(errno));
	expect(buf, 4 * PAGE, PAGE, 7, "page held by the pipe");
	t0 = now();
	while (waitpid(pid, &status, WNOHANG) != pid) {
		if (now() - t0 > 20)
			fail("truncate still waiting 20 s after the pipe was read");
		usleep(10000);
	}
	if (!WIFEXITED(status) || WEXITSTATUS(status))
		fail("truncate failed after the pipe was read (status %#x)", status);
	if (fstat(fd, &st) || st.st_size)
		fail("file not truncated");
	note("truncate finished %.2f s after the pipe was read, verified %lu bytes",
	     now() - t0, verified);
	munmap(map, size);
	close(fd);
	return 0;
}

static volatile sig_atomic_t stop;

static void on_term(int sig)
{
	stop = 1;
}

/* Map and check; stay mapped until SIGTERM; check again. */
static int cmd_hold(const char *path, unsigned long size, unsigned long seed)
{
	int fd = open_or_fail(path, O_RDWR);
	char *map = map_aligned(fd, size, PAGE, PROT_READ | PROT_WRITE);
	int i;

	signal(SIGTERM, on_term);
	expect(map, 0, size, seed, "held mapping");
	note("%s: mapped, holding", path);
	for (i = 0; i < 600 && !stop; i++)
		usleep(100000);
	expect(map, 0, size, seed, "held mapping after the teardown attempts");
	munmap(map, size);
	close(fd);
	note("%s: held mapping intact, verified %lu bytes", path, verified);
	return 0;
}

static void sysfs_write(const char *path, const char *val)
{
	int fd = open_or_fail(path, O_WRONLY);

	if (write(fd, val, strlen(val)) != (ssize_t)strlen(val))
		fail("write %s to %s: %s", val, path, strerror(errno));
	close(fd);
}

/* Does a child touching @addr die of SIGBUS? */
static int touch_sigbus(volatile char *addr)
{
	int status;
	pid_t pid = fork();

	if (!pid) {
		(void)*addr;
		_exit(0);
	}
	waitpid(pid, &status, 0);
	return WIFSIGNALED(status) && WTERMSIG(status) == SIGBUS;
}

/*
 * Device-dax torn down while mapped: unbinding device_dax revokes every
 * mapping of the device (the mirror through the interval notifier, the
 * CPU's through the page tables) before its pages go; then the pgmap
 * goes. Rebinding gives the same memory, data intact.
 */
static int cmd_revoke(const char *dev, unsigned long size, unsigned long seed)
{
	const char *name = strrchr(dev, '/') + 1;
	unsigned long npages = SAMPLE_PAGES;
	char *map, *buf = buffer(npages * PAGE);
	int fd = open_or_fail(dev, O_RDWR), ret;

	map = map_aligned(fd, size, PMD_SIZE, PROT_READ | PROT_WRITE);
	pattern(map, 0, size, seed);
	ret = dmirror(HMM_DMIRROR_READ, map, buf, npages);
	if (ret)
		fail("device read: %s", strerror(-ret));
	expect(buf, 0, npages * PAGE, seed, "device read before the unbind");
	snapshot(map, npages, HMM_DMIRROR_PROT_WRITE | HMM_DMIRROR_PROT_PMD,
		 "before the unbind");

	sysfs_write("/sys/bus/dax/drivers/device_dax/unbind", name);
	note("%s: unbound from device_dax while mapped and mirrored", name);
	snapshot(map, npages, HMM_DMIRROR_PROT_NONE, "after the unbind");
	ret = dmirror(HMM_DMIRROR_READ, map, buf, npages);
	if (ret != -EFAULT)
		fail("device read after the unbind: %s, want EFAULT",
		     ret ? strerror(-ret) : "it succeeded");
	if (!touch_sigbus(map))
		fail("CPU access after the unbind did not get SIGBUS");
	munmap(map, size);
	close(fd);

	sysfs_write("/sys/bus/dax/drivers/device_dax/bind", name);
	fd = open_or_fail(dev, O_RDWR);
	map = map_aligned(fd, size, PMD_SIZE, PROT_READ);
	expect(map, 0, size, seed, "data after the rebind");
	ret = dmirror(HMM_DMIRROR_READ, map, buf, npages);
	if (ret)
		fail("device read after the rebind: %s", strerror(-ret));
	expect(buf, 0, npages * PAGE, seed, "device read after the rebind");
	munmap(map, size);
	close(fd);
	note("%s: revoked while mapped, rebound, verified %lu bytes", name, verified);
	return 0;
}

/* I/O until the device goes away: the job unbinds it meanwhile. */
static int cmd_io_loop(const char *path, unsigned long size, unsigned long seed)
{
	char *buf = buffer(size);
	unsigned long rounds = 0;
	int fd = open_or_fail(path, O_RDWR | O_DIRECT);

	for (;;) {
		pattern(buf, 0, size, seed + rounds % 2);
		if (pwrite(fd, buf, size, 0) != (ssize_t)size)
			break;
		memset(buf, 0, size);
		if (pread(fd, buf, size, 0) != (ssize_t)size)
			break;
		expect(buf, 0, size, seed + rounds % 2, path);
		rounds++;
	}
	note("%s: I/O error after %lu rounds (%s), verified %lu bytes", path,
	     rounds, strerror(errno), verified);
	return 0;
}

int main(int argc, char **argv)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc >= 6 && !strcmp(argv[1], "fill"))
		return cmd_fill(argv[2], argv[3], number(argv[4]), number(argv[5]));
	if (argc >= 5 && !strcmp(argv[1], "check"))
		return cmd_check(argv[2], number(argv[3]), number(argv[4]));
	if (argc >= 6 && !strcmp(argv[1], "mirror"))
		return cmd_mirror(argv[2], number(argv[3]), argv[4], number(argv[5]));
	if (argc >= 6 && !strcmp(argv[1], "dio"))
		return cmd_dio(argv[2], argv[3], number(argv[4]), number(argv[5]));
	if (argc >= 3 && !strcmp(argv[1], "truncate-wait"))
		return cmd_truncate_wait(argv[2]);
	if (argc >= 5 && !strcmp(argv[1], "hold"))
		return cmd_hold(argv[2], number(argv[3]), number(argv[4]));
	if (argc >= 5 && !strcmp(argv[1], "revoke"))
		return cmd_revoke(argv[2], number(argv[3]), number(argv[4]));
	if (argc >= 5 && !strcmp(argv[1], "io-loop"))
		return cmd_io_loop(argv[2], number(argv[3]), number(argv[4]));
	fprintf(stderr, "usage: see the comment at the top of vm/clients/hmm-clients.c\n");
	return 2;
}

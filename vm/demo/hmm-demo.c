// SPDX-License-Identifier: GPL-2.0
/*
 * hmm-demo: one anonymous buffer's life as a device sees it, through the
 * test_hmm pseudo device (/dev/hmm_dmirror0).
 *
 *  1. the CPU fills the buffer;
 *  2. the device mirrors it (HMM_DMIRROR_READ: hmm_range_fault() under an
 *     mmu_interval_notifier) and reads the same bytes;
 *  3. the buffer moves to device-private memory (migrate_vma);
 *  4. a second device, with another pgmap owner, looks at it;
 *  5. the CPU touches it: each page faults back through migrate_to_ram.
 * After each step the HMM trace events it caused are printed (tracefs:
 * the hmm, mmu_notifier and memremap events), then the device's snapshot
 * of the page states.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <unistd.h>

#include "lib/test_hmm_uapi.h"

#define NPAGES 8

static long page_size;

/* Decode one snapshot byte: a memory kind plus access and mapping-size bits. */
static void describe(unsigned char s, char *out, size_t len)
{
	const char *kind;

	if (s == HMM_DMIRROR_PROT_ERROR) {
		snprintf(out, len, "error");
		return;
	}
	switch (s & 0xf0) {
	case 0:
		kind = s & 0x0f ? "system RAM" : "not present";
		break;
	case HMM_DMIRROR_PROT_ZERO:
		kind = "shared zero page";
		break;
	case HMM_DMIRROR_PROT_DEV_PRIVATE_LOCAL:
		kind = "device-private, this device";
		break;
	case HMM_DMIRROR_PROT_DEV_PRIVATE_REMOTE:
		kind = "device-private, another device";
		break;
	case HMM_DMIRROR_PROT_DEV_COHERENT_LOCAL:
		kind = "device-coherent, this device";
		break;
	case HMM_DMIRROR_PROT_DEV_COHERENT_REMOTE:
		kind = "device-coherent, another device";
		break;
	default:
		kind = "unknown";
	}
	snprintf(out, len, "%s%s%s%s", kind,
		 s & HMM_DMIRROR_PROT_WRITE ? ", writable" :
		 s & HMM_DMIRROR_PROT_READ ? ", read-only" : "",
		 s & HMM_DMIRROR_PROT_PMD ? ", PMD-mapped" : "",
		 s & HMM_DMIRROR_PROT_PUD ? ", PUD-mapped" : "");
}

#define TRACEFS		"/sys/kernel/tracing/"
#define TRACE_LINES	14

static int tracing;

static int trace_write(const char *file, const char *val)
{
	char path[128];
	FILE *f;
	int ret;

	snprintf(path, sizeof(path), TRACEFS "%s", file);
	f = fopen(path, "w");
	if (!f)
		return -1;
	ret = fputs(val, f) < 0;
	return fclose(f) || ret ? -1 : 0;
}

/* Switch the HMM events on; without tracefs the demo runs untraced. */
static void trace_start(void)
{
	if (access(TRACEFS "events", F_OK))
		mount("tracefs", TRACEFS, "tracefs", 0, NULL);
	tracing = !trace_write("events/hmm/enable", "1") &&
		  !trace_write("events/mmu_notifier/enable", "1") &&
		  !trace_write("events/memremap/enable", "1") &&
		  !trace_write("trace", "") && !trace_write("tracing_on", "1");
	if (!tracing)
		printf("(no tracefs: the steps are shown without their trace)\n");
}

/*
 * Print the events recorded since the last call, without the task and
 * timestamp columns, and empty the buffer; @show 0 only empties it.
 */
static void trace_show(int show)
{
	char line[512];
	int n = 0;
	FILE *f;

	if (!tracing)
		return;
	f = fopen(TRACEFS "trace", "r");
	while (f && fgets(line, sizeof(line), f)) {
		char *ev = strstr(line, ": ");

		if (line[0] == '#' || !ev || !show)
			continue;
		if (++n <= TRACE_LINES)
			printf("   trace:%s", strchr(ev + 2, ':') ? ev + 1 : line);
	}
	if (n > TRACE_LINES)
		printf("   trace: ... and %d more events\n", n - TRACE_LINES);
	if (f)
		fclose(f);
	trace_write("trace", "");
}

static int dmirror(int fd, unsigned long req, void *addr, void *out,
		   struct hmm_dmirror_cmd *cmd)
{
	memset(cmd, 0, sizeof(*cmd));
	cmd->addr = (uintptr_t)addr;
	cmd->ptr = (uintptr_t)out;
	cmd->npages = NPAGES;
	if (ioctl(fd, req, cmd) < 0)
		return -errno;
	return 0;
}

static int snapshot(int fd, const char *who, void *buf)
{
	unsigned char states[NPAGES];
	struct hmm_dmirror_cmd cmd;
	int i, j, ret;

	ret = dmirror(fd, HMM_DMIRROR_SNAPSHOT, buf, states, &cmd);
	trace_show(0);	/* the snapshot's own walk is no news */
	if (ret) {
		printf("   snapshot failed: %s\n", strerror(-ret));
		return ret;
	}
	printf("   %s sees:", who);
	for (i = 0; i < NPAGES; i = j) {
		char what[96];

		for (j = i + 1; j < NPAGES && states[j] == states[i]; j++)
			;
		describe(states[i], what, sizeof(what));
		if (j - i > 1)
			printf("%s pages %d-%d: %s", i ? ";" : "", i, j - 1, what);
		else
			printf("%s page %d: %s", i ? ";" : "", i, what);
	}
	printf("\n");
	return 0;
}

static int check(const char *what, int ok)
{
	printf("   %s: %s\n", what, ok ? "yes" : "NO");
	return ok ? 0 : 1;
}

int main(void)
{
	struct hmm_dmirror_cmd cmd;
	unsigned long size, i;
	int fd0, fd1, bad = 0, ret;
	unsigned char *buf, *mirror;

	page_size = sysconf(_SC_PAGESIZE);
	size = NPAGES * page_size;
	fd0 = open("/dev/hmm_dmirror0", O_RDWR);
	fd1 = open("/dev/hmm_dmirror1", O_RDWR);
	if (fd0 < 0 || fd1 < 0) {
		perror("open /dev/hmm_dmirror0/1 (is test_hmm loaded?)");
		return 1;
	}
	buf = mmap(NULL, size, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	mirror = malloc(size);
	if (buf == MAP_FAILED || !mirror)
		return 1;

	printf("\n== hmm-demo: %d pages at %p, device 0 and device 1\n", NPAGES, buf);
	trace_start();
	printf("\n1. a fresh anonymous mapping, before the CPU touches it\n");
	snapshot(fd0, "device 0", buf);

	printf("\n2. the CPU writes a pattern\n");
	for (i = 0; i < size; i++)
		buf[i] = (unsigned char)(i * 7 + 1);
	trace_show(1);
	snapshot(fd0, "device 0", buf);

	printf("\n3. device 0 reads the buffer through its mirror (hmm_range_fault)\n");
	ret = dmirror(fd0, HMM_DMIRROR_READ, buf, mirror, &cmd);
	printf("   HMM_DMIRROR_READ: %s, %llu pages mirrored, %llu device faults\n",
	       ret ? strerror(-ret) : "ok", cmd.cpages, cmd.faults);
	bad |= check("device read the CPU's bytes", !ret && !memcmp(buf, mirror, size));
	trace_show(1);

	printf("\n4. migrate the buffer into device 0's private memory\n");
	ret = dmirror(fd0, HMM_DMIRROR_MIGRATE_TO_DEV, buf, mirror, &cmd);
	printf("   HMM_DMIRROR_MIGRATE_TO_DEV: %s, %llu pages moved\n",
	       ret ? strerror(-ret) : "ok", cmd.cpages);
	bad |= check("all pages moved", !ret && cmd.cpages == NPAGES);
	trace_show(1);
	snapshot(fd0, "device 0", buf);
	printf("   device 1 has another pgmap owner; it must not be handed device 0's pages:\n");
	snapshot(fd1, "device 1", buf);

	printf("\n5. the CPU reads the buffer: each page faults, migrate_to_ram copies it back\n");
	for (i = 0; i < size; i++)
		if (buf[i] != (unsigned char)(i * 7 + 1))
			break;
	bad |= check("the CPU sees its own bytes", i == size);
	trace_show(1);
	snapshot(fd0, "device 0", buf);

	printf("\n== hmm-demo: %s\n", bad ? "something went wrong" : "done");
	munmap(buf, size);
	close(fd0);
	close(fd1);
	return bad;
}

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
 * After each step the device's snapshot of the page states is printed.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include "lib/test_hmm_uapi.h"

#define NPAGES 8

static long page_size;

static const char *state_name(unsigned char s)
{
	switch (s) {
	case HMM_DMIRROR_PROT_ERROR:			return "error";
	case HMM_DMIRROR_PROT_NONE:			return "not present";
	case HMM_DMIRROR_PROT_READ:			return "system RAM, read-only";
	case HMM_DMIRROR_PROT_WRITE:			return "system RAM, writable";
	case HMM_DMIRROR_PROT_ZERO | HMM_DMIRROR_PROT_READ: return "shared zero page";
	case HMM_DMIRROR_PROT_DEV_PRIVATE_LOCAL:	return "device-private, this device";
	case HMM_DMIRROR_PROT_DEV_PRIVATE_REMOTE:	return "device-private, another device";
	case HMM_DMIRROR_PROT_DEV_COHERENT_LOCAL:	return "device-coherent, this device";
	case HMM_DMIRROR_PROT_DEV_COHERENT_REMOTE:	return "device-coherent, another device";
	}
	return "other";
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
	int i, ret;

	ret = dmirror(fd, HMM_DMIRROR_SNAPSHOT, buf, states, &cmd);
	if (ret) {
		printf("   snapshot failed: %s\n", strerror(-ret));
		return ret;
	}
	printf("   %s sees:", who);
	for (i = 0; i < NPAGES; i++) {
		if (i == 0 || states[i] != states[i - 1])
			printf("%s page %d%s: %s", i ? "," : "", i,
			       i + 1 < NPAGES && states[i + 1] == states[i] ? "+" : "",
			       state_name(states[i]));
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
	printf("\n1. a fresh anonymous mapping, before the CPU touches it\n");
	snapshot(fd0, "device 0", buf);

	printf("\n2. the CPU writes a pattern\n");
	for (i = 0; i < size; i++)
		buf[i] = (unsigned char)(i * 7 + 1);
	snapshot(fd0, "device 0", buf);

	printf("\n3. device 0 reads the buffer through its mirror (hmm_range_fault)\n");
	ret = dmirror(fd0, HMM_DMIRROR_READ, buf, mirror, &cmd);
	printf("   HMM_DMIRROR_READ: %s, %llu pages mirrored, %llu device faults\n",
	       ret ? strerror(-ret) : "ok", cmd.cpages, cmd.faults);
	bad |= check("device read the CPU's bytes", !ret && !memcmp(buf, mirror, size));

	printf("\n4. migrate the buffer into device 0's private memory\n");
	ret = dmirror(fd0, HMM_DMIRROR_MIGRATE_TO_DEV, buf, NULL, &cmd);
	printf("   HMM_DMIRROR_MIGRATE_TO_DEV: %s, %llu pages moved\n",
	       ret ? strerror(-ret) : "ok", cmd.cpages);
	bad |= check("all pages moved", !ret && cmd.cpages == NPAGES);
	snapshot(fd0, "device 0", buf);
	printf("   device 1 has another pgmap owner; it must not be handed device 0's pages:\n");
	snapshot(fd1, "device 1", buf);

	printf("\n5. the CPU reads the buffer: each page faults, migrate_to_ram copies it back\n");
	for (i = 0; i < size; i++)
		if (buf[i] != (unsigned char)(i * 7 + 1))
			break;
	bad |= check("the CPU sees its own bytes", i == size);
	snapshot(fd0, "device 0", buf);

	printf("\n== hmm-demo: %s\n", bad ? "something went wrong" : "done");
	munmap(buf, size);
	close(fd0);
	close(fd1);
	return bad;
}

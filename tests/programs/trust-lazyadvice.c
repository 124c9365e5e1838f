/* trust-lazyadvice.c: advice that needs a memset's pages to be there, given after the memset
 * over private anonymous memory it never touched (what lazy memset defers). Knows nothing of
 * ucow (test program).
 *
 * usage: trust-lazyadvice merge-after|merge-before|merge-prctl|collapse
 *   merge-after   memset 0xcf over 2 MiB, MADV_MERGEABLE, two full KSM scans: pages merged
 *   merge-before  MADV_MERGEABLE first, then the memset and the scans
 *   merge-prctl   the memset, prctl(PR_SET_MEMORY_MERGE, 1), the scans
 *   collapse      memset 0xcf over a 2 MiB-aligned block, MADV_COLLAPSE: one huge page
 * Prints what it saw, one line (the same on any kernel that has the feature); exit 0, 1 on a
 * wrong byte, 2 on a setup error, 77 when the kernel or the permissions lack the feature.
 * The KSM cases need root: they start ksmd for the scans and put its setting back. */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <time.h>
#include <unistd.h>

#include "mm-abi.h"

#define BLOCK (2UL << 20)
#define VALUE 0xcf
#define KSM "/sys/kernel/mm/ksm/"

static void *(*volatile do_memset)(void *, int, size_t) = memset;

/* The first number in @path after @key ("" for the file's first), or -1. */
static long read_number(const char *path, const char *key)
{
	char line[256];
	size_t k = strlen(key);
	long v = -1;
	FILE *f = fopen(path, "r");

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (strncmp(line, key, k) == 0) {
			v = atol(line + k);
			break;
		}
	fclose(f);
	return v;
}

static int write_ksm_run(const char *value)
{
	int fd = open(KSM "run", O_WRONLY);
	int ok = fd >= 0 && write(fd, value, 1) == 1;

	if (fd >= 0)
		close(fd);
	return ok ? 0 : -1;
}

/* Two full scans of ksmd (the first one only marks pages as candidates). */
static int ksm_scans(void)
{
	long before = read_number(KSM "full_scans", ""), was = read_number(KSM "run", "");
	struct timespec pause = { 0, 1000000 };
	int waited = 0;

	if (write_ksm_run("1") < 0)
		return -1;
	while (read_number(KSM "full_scans", "") < before + 2 && waited++ < 30000)
		nanosleep(&pause, NULL);
	write_ksm_run(was == 1 ? "1" : "0");
	return waited < 30000 ? 0 : -1;
}

static int check_bytes(const unsigned char *p, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (p[i] != VALUE) {
			printf("byte %zu is %#x, want %#x\n", i, p[i], VALUE);
			return 1;
		}
	return 0;
}

static int merge(const char *how)
{
	unsigned char *p = mmap(NULL, BLOCK, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
				-1, 0);
	long merged;

	if (access(KSM "run", W_OK) < 0 || read_number(KSM "full_scans", "") < 0) {
		printf("no KSM, or not allowed to start it\n");
		return 77;
	}
	if (p == MAP_FAILED || madvise(p, BLOCK, MADV_NOHUGEPAGE) < 0)
		return 2;
	if (strcmp(how, "merge-before") == 0 && madvise(p, BLOCK, MADV_MERGEABLE) < 0)
		return 2;
	do_memset(p, VALUE, BLOCK);
	if (strcmp(how, "merge-after") == 0 && madvise(p, BLOCK, MADV_MERGEABLE) < 0)
		return 2;
	if (strcmp(how, "merge-prctl") == 0 && prctl(PR_SET_MEMORY_MERGE, 1, 0, 0, 0) < 0) {
		printf("prctl(PR_SET_MEMORY_MERGE): %s\n", strerror(errno));
		return errno == EINVAL ? 77 : 2;
	}
	if (ksm_scans() < 0) {
		printf("ksmd did not finish two scans\n");
		return 2;
	}
	merged = read_number("/proc/self/ksm_stat", "ksm_merging_pages ");
	if (merged < 0) {
		printf("no /proc/self/ksm_stat\n");
		return 77;
	}
	/* All but one of the block's pages share the one KSM page (more: the program's own). */
	printf("%s: %s pages merged\n", how, merged >= (long)(BLOCK / 4096) - 1 ? "the block's" : "too few");
	return check_bytes(p, BLOCK);
}

static long anon_huge_kb(void)
{
	return read_number("/proc/self/smaps_rollup", "AnonHugePages:");
}

static int collapse(void)
{
	unsigned char *raw = mmap(NULL, 2 * BLOCK, PROT_READ | PROT_WRITE,
				  MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	unsigned char *p = (unsigned char *)(((uintptr_t)raw + BLOCK - 1) & ~(BLOCK - 1));
	long before = anon_huge_kb();
	int ret;

	if (raw == MAP_FAILED || before < 0)
		return 2;
	do_memset(p, VALUE, BLOCK);
	ret = madvise(p, BLOCK, MADV_COLLAPSE);
	if (ret < 0 && (errno == EINVAL || errno == ENOSYS) && access(
	    "/sys/kernel/mm/transparent_hugepage/enabled", F_OK) < 0) {
		printf("no transparent huge pages\n");
		return 77;
	}
	printf("collapse: %s, %s\n", ret == 0 ? "done" : strerror(errno),
	       anon_huge_kb() - before >= (long)(BLOCK >> 10) ? "a huge page" : "no huge page");
	return check_bytes(p, BLOCK);
}

int main(int argc, char **argv)
{
	if (argc == 2 && strncmp(argv[1], "merge-", 6) == 0)
		return merge(argv[1]);
	if (argc == 2 && strcmp(argv[1], "collapse") == 0)
		return collapse();
	fprintf(stderr, "usage: trust-lazyadvice merge-after|merge-before|merge-prctl|collapse\n");
	return 2;
}

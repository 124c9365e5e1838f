/* trust-lazythreads.c: threads that map, memset, check and unmap 2 MiB of anonymous memory
 * again and again (what malloc does for large blocks), each checking every page reads its
 * value, while another thread acts on the same addresses. Knows nothing of ucow (test program).
 *
 * usage: trust-lazythreads reuse|collapse|hugepage|merge
 *   reuse     two workers, addresses chosen by the kernel: each often gets the block the
 *             other has just unmapped
 *   collapse  two workers, each at a fixed address of its own; the main thread advises
 *             MADV_COLLAPSE over both again and again
 *   hugepage  the same with MADV_HUGEPAGE (the workers take MADV_NOHUGEPAGE on their blocks)
 *   merge     the workers of reuse; the main thread turns KSM merging for the whole process
 *             on and off (prctl PR_SET_MEMORY_MERGE)
 * Prints "ok" or the first wrong page; exit 0, 1 on a wrong byte, 2 on a setup error. */
#include <pthread.h>
#include <stdatomic.h>
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
#define WORKERS 2
#define ROUNDS 600
#define SPREAD (1UL << 32)	/* between the fixed blocks of two workers */

static void *(*volatile do_memset)(void *, int, size_t) = memset;
static atomic_int stop, result;
static const char *mode;
static uintptr_t area;		/* the fixed blocks' area, for collapse and hugepage */

static unsigned char *map_block(long worker)
{
	void *want = area ? (void *)(area + worker * SPREAD) : NULL;
	unsigned char *p = mmap(want, BLOCK, PROT_READ | PROT_WRITE,
				MAP_PRIVATE | MAP_ANONYMOUS | (want ? MAP_FIXED_NOREPLACE : 0), -1, 0);

	if (p == MAP_FAILED || (want && p != want))
		return NULL;
	if (strcmp(mode, "hugepage") == 0)
		madvise(p, BLOCK, MADV_NOHUGEPAGE);
	return p;
}

static void *worker(void *arg)
{
	long w = (long)arg;

	for (int round = 0; !stop; round++) {
		unsigned char *p = map_block(w);
		int value = 1 + (int)((w * 97 + round) % 250);

		if (!p) {
			printf("worker %ld: mmap failed\n", w);
			result = 2;
			stop = 1;
			break;
		}
		do_memset(p, value, BLOCK);
		for (size_t i = 0; i < BLOCK; i += 4096)
			if (p[i] != value) {
				printf("worker %ld, round %d: page %zu reads %#x, want %#x\n", w, round,
				       i / 4096, p[i], value);
				result = 1;
				stop = 1;
				break;
			}
		munmap(p, BLOCK);
	}
	return NULL;
}

/* The main thread's part, once per round (a quarter of a millisecond apart). */
static void act(int round)
{
	if (strcmp(mode, "collapse") == 0)
		madvise((void *)area, WORKERS * SPREAD, MADV_COLLAPSE);
	else if (strcmp(mode, "hugepage") == 0)
		madvise((void *)area, WORKERS * SPREAD, MADV_HUGEPAGE);
	else if (strcmp(mode, "merge") == 0)
		prctl(PR_SET_MEMORY_MERGE, round & 1, 0, 0, 0);
}

/* An area of WORKERS * SPREAD bytes nothing is mapped in: reserved, then let go. */
static uintptr_t free_area(void)
{
	void *p = mmap(NULL, WORKERS * SPREAD, PROT_NONE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);

	if (p == MAP_FAILED)
		return 0;
	munmap(p, WORKERS * SPREAD);
	return (uintptr_t)p;
}

int main(int argc, char **argv)
{
	struct timespec pause = { 0, 250000 };
	pthread_t t[WORKERS];

	if (argc != 2 || (strcmp(argv[1], "reuse") && strcmp(argv[1], "collapse") &&
			  strcmp(argv[1], "hugepage") && strcmp(argv[1], "merge"))) {
		fprintf(stderr, "usage: trust-lazythreads reuse|collapse|hugepage|merge\n");
		return 2;
	}
	mode = argv[1];
	if ((strcmp(mode, "collapse") == 0 || strcmp(mode, "hugepage") == 0) &&
	    !(area = free_area()))
		return 2;
	for (long i = 0; i < WORKERS; i++)
		if (pthread_create(&t[i], NULL, worker, (void *)i))
			return 2;
	for (int round = 0; round < ROUNDS && !stop; round++) {
		act(round);
		nanosleep(&pause, NULL);
	}
	stop = 1;
	for (int i = 0; i < WORKERS; i++)
		pthread_join(t[i], NULL);
	if (!result)
		printf("ok\n");
	return result;
}

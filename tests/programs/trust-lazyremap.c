/* trust-lazyremap.c: mremap of a memset block while another thread reads where the call makes
 * new anonymous memory, which reads zero: the old range MREMAP_DONTUNMAP leaves behind, or the
 * part a growth adds. Knows nothing of ucow (test program).
 *
 * usage: trust-lazyremap dontunmap|grow
 *   dontunmap  memset 4 MiB, move it with MREMAP_DONTUNMAP while the reader reads the block
 *   grow       memset 4 MiB, grow it to 8 MiB into a reserved PROT_NONE range while the
 *              reader reads that range's upper half (SIGSEGV before the call: caught)
 * After each call (the reader stopped): the moved pages read the value, the new ones zero.
 * Prints "ok" or the first wrong page; exit 0, 1 on a wrong byte, 2 on a setup error. */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdbool.h>
#include <setjmp.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sched.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "mm-abi.h"

#define LEN (4UL << 20)
#define ROUNDS 200

static void *(*volatile do_memset)(void *, int, size_t) = memset;
static _Atomic(unsigned char *) watched;	/* what the reader reads, NULL: nothing */
static atomic_int idle, quit;
static __thread sigjmp_buf back;

static void caught(int sig)
{
	(void)sig;
	siglongjmp(back, 1);
}

/* Runs of 16 pages from random places: pages still missing are met at any moment. */
static void *reader(void *arg)
{
	volatile unsigned long sum = 0;
	unsigned int seed = 12345;
	size_t i = 0;

	(void)arg;
	while (!quit) {
		unsigned char *p = watched;

		if (!p) {
			idle = 1;
			sched_yield();
			continue;
		}
		idle = 0;
		if (sigsetjmp(back, 1) == 0)
			sum += p[i];
		i += 4096;
		if (i % (16 * 4096) == 0 || i >= LEN) {
			seed = seed * 1103515245 + 12345;
			i = (seed >> 8) % (LEN / 4096) * 4096;
		}
	}
	return NULL;
}

static void stop_reader(void)
{
	watched = NULL;
	idle = 0;
	while (!idle)
		sched_yield();
}

static void spin_us(long us)
{
	struct timespec a, b;

	clock_gettime(CLOCK_MONOTONIC, &a);
	do
		clock_gettime(CLOCK_MONOTONIC, &b);
	while ((b.tv_sec - a.tv_sec) * 1000000 + (b.tv_nsec - a.tv_nsec) / 1000 < us);
}

static int check(int round, const char *what, const unsigned char *p, int want)
{
	for (size_t i = 0; i < LEN; i += 4096)
		if (p[i] != want) {
			printf("round %d: %s page %zu reads %#x, want %#x\n", round, what, i / 4096,
			       p[i], want);
			return 1;
		}
	return 0;
}

static void *map(size_t len, int prot)
{
	return mmap(NULL, len, prot, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
}

int main(int argc, char **argv)
{
	bool grow = argc == 2 && strcmp(argv[1], "grow") == 0;
	pthread_t t;

	if (argc != 2 || (!grow && strcmp(argv[1], "dontunmap"))) {
		fprintf(stderr, "usage: trust-lazyremap dontunmap|grow\n");
		return 2;
	}
	signal(SIGSEGV, caught);
	if (pthread_create(&t, NULL, reader, NULL))
		return 2;
	for (int round = 0; round < ROUNDS; round++) {
		int value = 1 + round % 250;
		unsigned char *p = map(LEN, PROT_READ | PROT_WRITE);
		unsigned char *q = map(2 * LEN, PROT_NONE);
		unsigned char *n;

		if (p == MAP_FAILED || q == MAP_FAILED)
			return 2;
		do_memset(p, value, LEN);
		watched = grow ? q + LEN : p;
		spin_us(round * 7919 % 300);
		n = mremap(p, LEN, grow ? 2 * LEN : LEN,
			   MREMAP_MAYMOVE | MREMAP_FIXED | (grow ? 0 : MREMAP_DONTUNMAP), q);
		if (n == MAP_FAILED) {
			perror("mremap");
			return 2;
		}
		stop_reader();
		if (check(round, "moved", n, value) ||
		    check(round, grow ? "grown" : "old", grow ? n + LEN : p, 0))
			return 1;
		munmap(q, 2 * LEN);
		if (!grow)
			munmap(p, LEN);
	}
	quit = 1;
	pthread_join(t, NULL);
	printf("ok\n");
	return 0;
}

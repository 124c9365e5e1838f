/* wake-race.c: threads fault page after page through MAP_PRIVATE memfd mappings with data pages
 * among holes, beside CPU-bound threads and a thread that waits for another's progress
 * written into such a mapping; every byte is checked. Knows nothing of ucow (test program).
 *
 * usage: wake-race [-t THREADS] [-b SPINNERS] [-w] [-r ROUNDS] [-S SIZE]
 *   -t  faulting threads (default 4), each with its own mapping of one memfd
 *   -b  threads that only spin on the CPU meanwhile (default 0)
 *   -w  one more thread spins until thread 0 writes a mark into its first mapping
 *   -r  rounds: map, touch every page (read, then write), check, unmap (default 20)
 *   -S  memfd size (K/M suffixes; default 2M); every 4th page holds data
 * Output: "threads=T rounds=R bad=0" and exit status 0; a wrong byte is reported and counted.
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "size-arg.h"

static size_t size, page;
static int fd, rounds = 20;
static atomic_int stop, bad;
/* The watcher's view of thread 0's progress: written by it into a managed page. */
static _Atomic(volatile uint64_t *) progress;

static unsigned char data_byte(size_t pg)
{
	return (unsigned char)(pg * 7 + 1);
}

static void *spinner(void *arg)
{
	(void)arg;
	while (!atomic_load(&stop))
		;
	return NULL;
}

static void *faulter(void *arg)
{
	long id = (long)arg;

	for (int r = 0; r < rounds; r++) {
		unsigned char *m = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);

		if (m == MAP_FAILED) {
			perror("wake-race: mmap");
			atomic_fetch_add(&bad, 1);
			return NULL;
		}
		if (id == 0 && r == 0)
			atomic_store(&progress, (volatile uint64_t *)m);
		for (size_t pg = 0; pg < size / page; pg++) {
			unsigned char want = pg % 4 == 0 ? data_byte(pg) : 0;
			unsigned char *p = m + pg * page;

			if (p[page / 2] != want) {
				fprintf(stderr, "wake-race: thread %ld round %d page %zu: read %u, "
					"want %u\n", id, r, pg, p[page / 2], want);
				atomic_fetch_add(&bad, 1);
			}
			p[page - 1] = (unsigned char)(id + r + 1);
			if (p[page - 1] != (unsigned char)(id + r + 1) || p[page / 2] != want)
				atomic_fetch_add(&bad, 1);
		}
		if (id == 0 && r == 0) {
			/* Leave it mapped: the watcher reads it. Page 1 is a hole of its own. */
			((volatile uint64_t *)(m + page))[0] = 1;
			continue;
		}
		munmap(m, size);
	}
	return NULL;
}

/* Waits for thread 0's mark in its first mapping: a program thread spinning on managed memory
 * while others fault (it must see the write, and never keep a faulting thread waiting). */
static void *watcher(void *arg)
{
	volatile uint64_t *m;

	(void)arg;
	while (!(m = atomic_load(&progress)))
		;
	while (((volatile uint64_t *)((char *)m + page))[0] != 1)
		;
	return NULL;
}

int main(int argc, char **argv)
{
	int threads = 4, spinners = 0, watch = 0, opt;
	pthread_t t[64], s[16], w;

	page = (size_t)sysconf(_SC_PAGESIZE);
	size = 2 << 20;
	while ((opt = getopt(argc, argv, "t:b:wr:S:")) != -1) {
		switch (opt) {
		case 't':
			threads = atoi(optarg);
			break;
		case 'b':
			spinners = atoi(optarg);
			break;
		case 'w':
			watch = 1;
			break;
		case 'r':
			rounds = atoi(optarg);
			break;
		case 'S':
			size = parse_size(optarg);
			break;
		default:
			goto usage;
		}
	}
	if (threads < 1 || threads > 64 || spinners < 0 || spinners > 16 || rounds < 1 ||
	    size < 4 * page || size % page)
		goto usage;
	fd = memfd_create("wake-race", 0);
	if (fd < 0 || ftruncate(fd, (off_t)size) < 0) {
		perror("wake-race: memfd");
		return 1;
	}
	for (size_t pg = 0; pg < size / page; pg += 4) {
		unsigned char b = data_byte(pg);

		if (pwrite(fd, &b, 1, (off_t)(pg * page + page / 2)) != 1) {
			perror("wake-race: pwrite");
			return 1;
		}
	}
	for (int i = 0; i < spinners; i++)
		pthread_create(&s[i], NULL, spinner, NULL);
	if (watch)
		pthread_create(&w, NULL, watcher, NULL);
	for (long i = 0; i < threads; i++)
		pthread_create(&t[i], NULL, faulter, (void *)i);
	for (int i = 0; i < threads; i++)
		pthread_join(t[i], NULL);
	if (watch)
		pthread_join(w, NULL);
	atomic_store(&stop, 1);
	for (int i = 0; i < spinners; i++)
		pthread_join(s[i], NULL);
	printf("threads=%d rounds=%d bad=%d\n", threads, rounds, atomic_load(&bad));
	return atomic_load(&bad) ? 1 : 0;
usage:
	fprintf(stderr, "usage: wake-race [-t THREADS] [-b SPINNERS] [-w] [-r ROUNDS] [-S SIZE]\n");
	return 2;
}

/* trust-cancel.c: pthread_cancel (deferred, the default) of a thread that maps memory, uses
 * it and unmaps it in a loop, with pthread_testcancel() as its only cancellation point: mmap,
 * munmap, memset and memory accesses are none. Then the main thread does the same work once.
 * Knows nothing of ucow (test program).
 *
 * usage: trust-cancel memset|memfd
 *   memset  2 MiB of private anonymous memory, memset to a value, checked
 *   memfd   4 MiB of a memfd of holes mapped MAP_PRIVATE, each page read and written
 * Prints "ok" or what went wrong; exit 0, 1 if the thread was cancelled anywhere but in
 * pthread_testcancel() or a byte is wrong, 2 on a setup error. A hang is a failure too. */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#define ANON_LEN (2UL << 20)
#define FILE_LEN (4UL << 20)
#define VALUE 0x5a

static void *(*volatile do_memset)(void *, int, size_t) = memset;
static int memfd = -1;
static atomic_int at_testcancel, rounds, wrong;

static int work(void)
{
	size_t len = memfd >= 0 ? FILE_LEN : ANON_LEN;
	unsigned char *p = mmap(NULL, len, PROT_READ | PROT_WRITE,
				MAP_PRIVATE | (memfd >= 0 ? 0 : MAP_ANONYMOUS), memfd, 0);

	if (p == MAP_FAILED)
		return -1;
	if (memfd < 0)
		do_memset(p, VALUE, len);
	for (size_t i = 0; i < len; i += 4096) {
		if (memfd >= 0) {
			if (p[i] != 0)
				wrong = 1;
			p[i] = VALUE;
		}
		if (p[i] != VALUE)
			wrong = 1;
	}
	munmap(p, len);
	return 0;
}

static void cancelled(void *arg)
{
	(void)arg;
	if (!at_testcancel)
		printf("the thread was cancelled outside pthread_testcancel()\n");
}

static void *worker(void *arg)
{
	(void)arg;
	pthread_cleanup_push(cancelled, NULL);
	for (;;) {
		if (work() < 0)
			break;
		rounds++;
		at_testcancel = 1;
		pthread_testcancel();
		at_testcancel = 0;
	}
	pthread_cleanup_pop(0);
	return NULL;
}

int main(int argc, char **argv)
{
	struct timespec pause = { 0, 200000 };
	pthread_t t;
	void *ret;

	if (argc != 2 || (strcmp(argv[1], "memset") && strcmp(argv[1], "memfd"))) {
		fprintf(stderr, "usage: trust-cancel memset|memfd\n");
		return 2;
	}
	if (strcmp(argv[1], "memfd") == 0 &&
	    ((memfd = memfd_create("trust-cancel", 0)) < 0 || ftruncate(memfd, FILE_LEN) < 0))
		return 2;
	for (int n = 0; n < 40; n++) {
		int started = rounds;

		if (pthread_create(&t, NULL, worker, NULL))
			return 2;
		/* Cancelled at once, or after it is well under way. */
		while (n % 2 && rounds == started)
			nanosleep(&pause, NULL);
		pthread_cancel(t);
		pthread_join(t, &ret);
		if (ret != PTHREAD_CANCELED || !at_testcancel) {
			printf("thread %d: %s\n", n, ret == PTHREAD_CANCELED ?
			       "cancelled outside pthread_testcancel()" : "ended on its own");
			return 1;
		}
		at_testcancel = 0;
		if (work() < 0)
			return 2;
	}
	printf(wrong ? "wrong bytes\n" : "ok\n");
	return wrong ? 1 : 0;
}

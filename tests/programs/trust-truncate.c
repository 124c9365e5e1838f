/* trust-truncate.c: a thread reads a MAP_PRIVATE memfd mapping at random (and discards it now
 * and then) while the main thread truncates the file to half its size and back, again and
 * again. Reads beyond the end get SIGBUS (caught); every other read must see zero. A fault
 * taken before a truncation and answered after it must end the same way, with nothing on
 * stderr. Knows nothing of ucow (test program).
 *
 * usage: trust-truncate [ROUNDS]
 * Prints one line; exit 0, 1 on a wrong byte, 2 on a setup error. */
#define _GNU_SOURCE
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#define SIZE (16UL << 20)
#define PAGE 4096UL

static unsigned char *map;
static atomic_int stop;
static atomic_long wrong, reads;
static __thread sigjmp_buf back;

static void caught(int sig)
{
	(void)sig;
	siglongjmp(back, 1);
}

static void *reader(void *arg)
{
	unsigned int seed = 1;

	(void)arg;
	while (!atomic_load(&stop)) {
		size_t off = (size_t)(rand_r(&seed) % (SIZE / PAGE)) * PAGE;

		if (sigsetjmp(back, 1))
			continue;
		if (map[off + 5] != 0 && atomic_fetch_add(&wrong, 1) == 0)
			fprintf(stderr, "page %zu reads %#x, want 0\n", off / PAGE, map[off + 5]);
		if (atomic_fetch_add(&reads, 1) % 512 == 511)
			madvise(map, SIZE, MADV_DONTNEED);
	}
	return NULL;
}

int main(int argc, char **argv)
{
	int rounds = argc > 1 ? atoi(argv[1]) : 20000;
	pthread_t t;
	int fd;

	signal(SIGBUS, caught);
	fd = memfd_create("trust-truncate", MFD_CLOEXEC);
	if (fd < 0 || ftruncate(fd, SIZE) < 0)
		return 2;
	map = mmap(NULL, SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
	if (map == MAP_FAILED || pthread_create(&t, NULL, reader, NULL))
		return 2;
	for (int i = 0; i < rounds; i++)
		if (ftruncate(fd, i & 1 ? SIZE : SIZE / 2) < 0)
			return 2;
	atomic_store(&stop, 1);
	pthread_join(t, NULL);
	printf("truncate: %s\n", atomic_load(&wrong) ? "wrong bytes" : "every read zero or SIGBUS");
	return atomic_load(&wrong) ? 1 : 0;
}

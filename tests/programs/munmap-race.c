/* munmap-race.c: threads fault across a MAP_PRIVATE memfd mapping while the main thread
 * unmaps parts of it; must neither hang nor see wrong bytes. Knows nothing of ucow.
 *
 * usage: munmap-race [-s SIZE] [-r ROUNDS]
 * Two "keeper" threads write and read back pages of the first half, which stays mapped.
 * A "prober" thread touches pages of the second half, which the main thread takes away
 * piece by piece while it runs (munmap, or MAP_FIXED PROT_NONE over it): each touch either
 * sees correct bytes or gets SIGSEGV (caught with sigsetjmp).
 * Output (deterministic): one line per round, then "ok". Exit 0, 1 on a wrong byte.
 */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdbool.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "size-arg.h"

#define PAGE 4096UL
#define PIECES 16

static size_t npages = 4096;
static unsigned char *map;
static atomic_bool stop;
static atomic_int errors;
static atomic_size_t going_from;	/* set before pages at or above this index go */
static atomic_size_t unmapped_from;	/* pages at or above this index are gone */
static __thread sigjmp_buf *segv_jump;

static void die(const char *what)
{
	fprintf(stderr, "munmap-race: %s: %s\n", what, strerror(errno));
	exit(2);
}

static void on_segv(int sig, siginfo_t *si, void *ctx)
{
	if (!segv_jump) {
		/* A fault where none is expected: report and die as the kernel would. */
		static const char msg[] = "munmap-race: unexpected SIGSEGV\n";

		write(2, msg, sizeof(msg) - 1);
		signal(SIGSEGV, SIG_DFL);
		raise(SIGSEGV);
	}
	siglongjmp(*segv_jump, 1);
}

static void *keeper(void *arg)
{
	uintptr_t id = (uintptr_t)arg;
	size_t half = npages / 2;
	unsigned int round = 0;

	while (!atomic_load(&stop)) {
		for (size_t p = id; p < half; p += 2) {
			volatile unsigned char *b = map + p * PAGE + (round % 64) * 8;
			unsigned char v = (unsigned char)(p + round);

			*b = v;
			if (*b != v) {
				atomic_fetch_add(&errors, 1);
				fprintf(stderr, "munmap-race: keeper page %zu reads %#x, want %#x\n",
					p, *b, v);
			}
		}
		round++;
	}
	return NULL;
}

/* Pieces with an odd index are replaced by a PROT_NONE mapping (MAP_FIXED), so their
 * addresses cannot be reused by anyone: the prober may write there, and must fault once
 * they are gone. Even pieces are plainly unmapped; their addresses may be reused by any
 * mmap in the process (ucow's own included), so the prober only reads them. */
static bool piece_is_replaced(size_t p)
{
	return (p - npages / 2) / (npages / 2 / PIECES) % 2 == 1;
}

static void *prober(void *arg)
{
	size_t half = npages / 2;
	volatile size_t p = half;	/* survives siglongjmp */
	sigjmp_buf jump;

	segv_jump = &jump;
	while (!atomic_load(&stop)) {
		volatile unsigned char *b = map + p * PAGE;
		size_t gone_before = atomic_load(&unmapped_from);
		bool writable = piece_is_replaced(p);

		if (sigsetjmp(jump, 1) == 0) {
			unsigned char v = *b;

			/* Holes read zero, pages this thread wrote read 0x5a; bytes read while
			 * the page was going away may belong to someone else's new mapping. */
			if (v != 0 && v != 0x5a && p < atomic_load(&going_from)) {
				atomic_fetch_add(&errors, 1);
				fprintf(stderr, "munmap-race: prober page %zu reads %#x\n", p, v);
			}
			if (writable)
				*b = 0x5a;
			if (writable && p >= gone_before) {
				atomic_fetch_add(&errors, 1);
				fprintf(stderr, "munmap-race: page %zu touched after it was replaced\n",
					p);
			}
		}
		if (++p == npages)
			p = half;
	}
	segv_jump = NULL;
	return NULL;
}

int main(int argc, char **argv)
{
	int rounds = 3, opt, fd;
	struct sigaction sa = { 0 };
	pthread_t threads[3];
	size_t size;

	while ((opt = getopt(argc, argv, "s:r:")) != -1) {
		switch (opt) {
		case 's': npages = parse_size(optarg) / PAGE; break;
		case 'r': rounds = atoi(optarg); break;
		default:
			fprintf(stderr, "usage: munmap-race [-s SIZE] [-r ROUNDS]\n");
			return 2;
		}
	}
	if (npages < 2 * PIECES) {
		fprintf(stderr, "munmap-race: the mapping is too small\n");
		return 2;
	}
	npages -= npages % (2 * PIECES);
	size = npages * PAGE;
	alarm(100);	/* a hang is a failure, not a stuck test run */
	setvbuf(stdout, NULL, _IOLBF, 0);

	sa.sa_sigaction = on_segv;
	sa.sa_flags = SA_SIGINFO | SA_NODEFER;
	sigemptyset(&sa.sa_mask);
	if (sigaction(SIGSEGV, &sa, NULL) < 0)
		die("sigaction");

	fd = memfd_create("munmap-race", 0);
	if (fd < 0)
		die("memfd_create");
	if (ftruncate(fd, (off_t)size) < 0)
		die("ftruncate");

	for (int r = 0; r < rounds; r++) {
		size_t half = npages / 2, piece = half / PIECES;

		map = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
		if (map == MAP_FAILED)
			die("mmap");
		atomic_store(&stop, false);
		atomic_store(&unmapped_from, npages + 1);
		atomic_store(&going_from, npages + 1);
		for (uintptr_t i = 0; i < 2; i++)
			if ((errno = pthread_create(&threads[i], NULL, keeper, (void *)i)))
				die("pthread_create");
		if ((errno = pthread_create(&threads[2], NULL, prober, NULL)))
			die("pthread_create");
		usleep(20000);
		/* Take the second half away a piece at a time, from its top down, while the
		 * prober walks it; each piece's upper part first, to split the range. */
		for (int k = PIECES - 1; k >= 0; k--) {
			unsigned char *at = map + (half + (size_t)k * piece) * PAGE;
			size_t low = piece / 2, high = piece - low;

			atomic_store(&going_from, half + (size_t)k * piece);
			if (k % 2) {
				if (mmap(at + low * PAGE, high * PAGE, PROT_NONE, MAP_PRIVATE |
					 MAP_ANONYMOUS | MAP_FIXED, -1, 0) == MAP_FAILED ||
				    mmap(at, low * PAGE, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS |
					 MAP_FIXED, -1, 0) == MAP_FAILED)
					die("mmap MAP_FIXED");
			} else if (munmap(at + low * PAGE, high * PAGE) < 0 ||
				   munmap(at, low * PAGE) < 0) {
				die("munmap");
			}
			atomic_store(&unmapped_from, half + (size_t)k * piece);
			usleep(2000);
		}
		usleep(20000);
		atomic_store(&stop, true);
		for (int i = 0; i < 3; i++)
			pthread_join(threads[i], NULL);
		/* The first half is all there: the keepers' last bytes and zeros elsewhere. */
		for (size_t p = 0; p < half; p++) {
			if (map[p * PAGE + PAGE - 1] != 0) {
				atomic_fetch_add(&errors, 1);
				fprintf(stderr, "munmap-race: page %zu tail is %#x\n", p,
					map[p * PAGE + PAGE - 1]);
				break;
			}
		}
		if (munmap(map, size) < 0)
			die("munmap");
		printf("round %d: %s\n", r, atomic_load(&errors) ? "errors" : "ok");
	}
	close(fd);
	if (atomic_load(&errors))
		return 1;
	printf("ok\n");
	return 0;
}

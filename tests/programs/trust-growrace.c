/* trust-growrace.c: threads that each map memory of one kind, read a few of its pages, then
 * grow it by doubling with mremap(MREMAP_MAYMOVE) and read every page after each growth, as
 * realloc-like code does in several threads at once. Moves and growths in place land on
 * ranges another thread has just left. Every page must read what the kernel gives
 * (trust-kinds.h); the lazy kind memsets what each growth adds, as realloc's caller would.
 * Knows nothing of ucow (test program).
 *
 * usage: trust-growrace KIND [-t THREADS] [-r ROUNDS]
 * Prints one line; exit 0, 1 on a wrong byte, 2 on a setup error. */
#include <pthread.h>
#include <stdatomic.h>

#include "trust-kinds.h"

#define START_SIZE (1UL << 20)
#define END_SIZE (32UL << 20)
#define PROBE 33	/* a byte inside each page: a whole page is either filled or not */

static int kind, fd = -1, rounds = 60;
static atomic_ulong wrong;

/* Pages [from, to) of @p, one byte each; the first wrong one is reported. */
static void check(const unsigned char *p, size_t from, size_t to, long id, int round)
{
	for (size_t pg = from; pg < to; pg++) {
		unsigned char want = tk_expect(kind, pg);

		if (p[pg * TK_PAGE + PROBE] == want)
			continue;
		if (atomic_fetch_add(&wrong, 1) == 0)
			fprintf(stderr, "thread %ld round %d: %s page %zu of %zu reads 0x%02x, want 0x%02x\n",
				id, round, tk_names[kind], pg, to, p[pg * TK_PAGE + PROBE], want);
		return;
	}
}

static void *grower(void *arg)
{
	long id = (long)arg;

	for (int round = 0; round < rounds && !atomic_load(&wrong); round++) {
		size_t len = START_SIZE;
		unsigned char *p = tk_map(kind, fd, len);

		if (p == MAP_FAILED) {
			perror("trust-growrace: mmap");
			exit(2);
		}
		for (size_t off = 0; off < len; off += 16 * TK_PAGE)
			(void)*(volatile unsigned char *)(p + off);
		while (len < END_SIZE) {
			unsigned char *q = mremap(p, len, 2 * len, MREMAP_MAYMOVE);

			if (q == MAP_FAILED) {
				perror("trust-growrace: mremap");
				exit(2);
			}
			p = q;
			if (kind == TK_LAZY)
				tk_memset(p + len, TK_LAZYBYTE, len);
			len *= 2;
			check(p, 0, len / TK_PAGE, id, round);
		}
		munmap(p, len);
	}
	return NULL;
}

int main(int argc, char **argv)
{
	pthread_t tid[8];
	int threads = 2, opt;

	if (argc < 2) {
		fprintf(stderr, "usage: trust-growrace KIND [-t THREADS] [-r ROUNDS]\n");
		return 2;
	}
	kind = tk_parse(argv[1]);
	optind = 2;
	while ((opt = getopt(argc, argv, "t:r:")) != -1) {
		if (opt == 't')
			threads = atoi(optarg);
		else if (opt == 'r')
			rounds = atoi(optarg);
	}
	if (threads < 1 || threads > 8 || rounds < 1)
		return 2;
	fd = tk_fd(kind, END_SIZE);
	if (fd < 0 && kind != TK_LAZY && kind != TK_ANON) {
		perror("trust-growrace: the file");
		return 2;
	}
	for (long i = 0; i < threads; i++)
		pthread_create(&tid[i], NULL, grower, (void *)i);
	for (int i = 0; i < threads; i++)
		pthread_join(tid[i], NULL);
	printf("growrace %s, %d threads: %s\n", tk_names[kind], threads,
	       atomic_load(&wrong) ? "wrong bytes" : "every page as the kernel gives it");
	return atomic_load(&wrong) ? 1 : 0;
}

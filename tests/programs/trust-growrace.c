/* trust-growrace.c: threads that each map memory of one kind, read a few of its pages, then
 * grow it by doubling with mremap(MREMAP_MAYMOVE) and read every page after each growth, as
 * realloc-like code does in several threads at once. Moves and growths in place land on
 * ranges another thread has just left. Every page must read what the kernel gives
 * (trust-kinds.h); the lazy kind memsets what each growth adds, as realloc's caller would.
 * Knows nothing of ucow (test program).
 *
 * usage: trust-growrace KIND [-t THREADS] [-r ROUNDS] [-f] [-p]
 *   -f  the main thread forks meanwhile, again and again; each child reads a mapping made
 *       before the threads started, and its pages must read what the kernel gives
 *   -p  instead: two threads move one mapping between two fixed addresses, one each way
 *       (MREMAP_FIXED; a call that finds nothing at its source fails and is made again),
 *       ROUNDS * 100 moves; then every page must read what it did before
 * Prints one line; exit 0, 1 on a wrong byte, 2 on a setup error. */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <sys/wait.h>

#include "trust-kinds.h"

#define START_SIZE (1UL << 20)
#define END_SIZE (32UL << 20)
#define PROBE 33	/* a byte inside each page: a whole page is either filled or not */

static int kind, fd = -1, rounds = 60;
static atomic_ulong wrong;
static atomic_int growing;

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
	atomic_fetch_sub(&growing, 1);
	return NULL;
}

/* -f: children forked while the threads grow read @m (START_SIZE bytes made before). */
static int fork_while_growing(const unsigned char *m)
{
	int bad = 0;

	while (atomic_load(&growing) > 0 && !bad) {
		pid_t child = fork();
		int status;

		if (child < 0)
			return 2;
		if (child == 0) {
			for (size_t pg = 0; pg < START_SIZE / TK_PAGE; pg++)
				if (m[pg * TK_PAGE + PROBE] != tk_expect(kind, pg))
					_exit(1);
			_exit(0);
		}
		if (waitpid(child, &status, 0) < 0 || !WIFEXITED(status) || WEXITSTATUS(status)) {
			fprintf(stderr, "a child forked while the threads grew read a wrong byte\n");
			bad = 1;
		}
	}
	return bad;
}

static unsigned char *ends[2];		/* -p: the two places */
static atomic_long moves;

static void *mover(void *arg)
{
	long way = (long)arg;
	unsigned long failed = 0;

	while (atomic_load(&moves) < rounds * 100L && failed < 100000000UL) {
		if (mremap(ends[way], START_SIZE, START_SIZE, MREMAP_MAYMOVE | MREMAP_FIXED,
			   ends[!way]) != MAP_FAILED)
			atomic_fetch_add(&moves, 1);
		else if (errno == EFAULT)
			failed++;
		else
			exit(2);
	}
	return NULL;
}

/* -p: one mapping moved back and forth by two threads; 0, 1 on a wrong byte, 2 on error. */
static int ping_pong(void)
{
	unsigned char *base = mmap(NULL, 3 * START_SIZE, PROT_NONE,
				   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0), *p;
	unsigned char vec;
	pthread_t tid[2];

	if (base == MAP_FAILED)
		return 2;
	/* The middle stays PROT_NONE: the two places never merge, nothing else lands there.
	 * The second place is given up only once the first is mapped: whatever starts then
	 * (a thread's stack) has found room elsewhere. */
	ends[0] = base;
	ends[1] = base + 2 * START_SIZE;
	if (tk_map_at(kind, fd, START_SIZE, ends[0], 1) != ends[0])
		return 2;
	munmap(ends[1], START_SIZE);
	for (size_t off = 0; off < START_SIZE; off += 16 * TK_PAGE)
		(void)*(volatile unsigned char *)(ends[0] + off);
	for (long i = 0; i < 2; i++)
		pthread_create(&tid[i], NULL, mover, (void *)i);
	for (int i = 0; i < 2; i++)
		pthread_join(tid[i], NULL);
	p = mincore(ends[0], TK_PAGE, &vec) == 0 ? ends[0] : ends[1];
	check(p, 0, START_SIZE / TK_PAGE, -1, 0);
	return atomic_load(&wrong) ? 1 : 0;
}

int main(int argc, char **argv)
{
	pthread_t tid[8];
	int threads = 2, opt, forking = 0, pingpong = 0, ret = 0;
	unsigned char *before = NULL;

	if (argc < 2) {
		fprintf(stderr, "usage: trust-growrace KIND [-t THREADS] [-r ROUNDS]\n");
		return 2;
	}
	kind = tk_parse(argv[1]);
	optind = 2;
	while ((opt = getopt(argc, argv, "t:r:fp")) != -1) {
		if (opt == 't')
			threads = atoi(optarg);
		else if (opt == 'r')
			rounds = atoi(optarg);
		else if (opt == 'f')
			forking = 1;
		else if (opt == 'p')
			pingpong = 1;
	}
	if (threads < 1 || threads > 8 || rounds < 1)
		return 2;
	fd = tk_fd(kind, END_SIZE);
	if (fd < 0 && kind != TK_LAZY && kind != TK_ANON) {
		perror("trust-growrace: the file");
		return 2;
	}
	if (pingpong) {
		ret = ping_pong();
		printf("growrace %s, one mapping moved by two threads: %s\n", tk_names[kind],
		       ret == 1 ? "wrong bytes" : ret ? "error" : "every page as the kernel gives it");
		return ret;
	}
	if (forking && (before = tk_map(kind, fd, START_SIZE)) == MAP_FAILED)
		return 2;
	atomic_store(&growing, threads);
	for (long i = 0; i < threads; i++)
		pthread_create(&tid[i], NULL, grower, (void *)i);
	if (forking)
		ret = fork_while_growing(before);
	for (int i = 0; i < threads; i++)
		pthread_join(tid[i], NULL);
	printf("growrace %s, %d threads%s: %s\n", tk_names[kind], threads,
	       forking ? ", forking" : "",
	       atomic_load(&wrong) || ret ? "wrong bytes" : "every page as the kernel gives it");
	return atomic_load(&wrong) || ret ? 1 : 0;
}

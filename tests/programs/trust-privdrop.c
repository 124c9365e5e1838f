/* trust-privdrop.c: privilege changes in a process that has touched private memory. Each
 * round maps memory of a kind (trust-kinds.h), faults a page or two, calls set*id with the
 * ids it already has (glibc signals every thread to do it: SIGSETXID), unmaps, and the
 * process exits. Knows nothing of ucow (test program).
 *
 * usage: trust-privdrop KIND setgid|setuid|setgroups|all [-n ROUNDS] [-t THREADS]
 *   THREADS extra threads wait in a condition variable meanwhile (they get SIGSETXID too).
 * Prints one line; exit 0, 1 on a wrong byte, 2 on a setup error. */
#include <grp.h>
#include <pthread.h>
#include <stdlib.h>
#include <sys/types.h>

#include "trust-kinds.h"

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cond = PTHREAD_COND_INITIALIZER;
static int done;

static void *waiter(void *arg)
{
	(void)arg;
	pthread_mutex_lock(&lock);
	while (!done)
		pthread_cond_wait(&cond, &lock);
	pthread_mutex_unlock(&lock);
	return NULL;
}

static int change(const char *op)
{
	gid_t groups[256];
	int n, all = strcmp(op, "all") == 0;

	if ((all || strcmp(op, "setgid") == 0) && setgid(getgid()) < 0)
		return -1;
	if ((all || strcmp(op, "setuid") == 0) && setuid(getuid()) < 0)
		return -1;
	if (all || strcmp(op, "setgroups") == 0) {
		n = getgroups(256, groups);
		if (n < 0 || setgroups((size_t)n, groups) < 0)
			return -1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	int rounds = 1, nthreads = 0, kind, c;
	size_t size = 4UL << 20, npages = size / TK_PAGE, wrong = 0;
	pthread_t th[64];

	while ((c = getopt(argc, argv, "n:t:")) != -1) {
		if (c == 'n')
			rounds = atoi(optarg);
		else if (c == 't')
			nthreads = atoi(optarg) > 64 ? 64 : atoi(optarg);
		else
			return 2;
	}
	if (argc - optind != 2) {
		fprintf(stderr, "usage: trust-privdrop KIND setgid|setuid|setgroups|all [-n N] [-t T]\n");
		return 2;
	}
	kind = tk_parse(argv[optind]);
	for (int i = 0; i < nthreads; i++)
		if (pthread_create(&th[i], NULL, waiter, NULL) != 0)
			return 2;
	for (int r = 0; r < rounds; r++) {
		int fd = tk_fd(kind, size);
		unsigned char *p = tk_map(kind, fd, size);

		if (p == MAP_FAILED) {
			perror("trust-privdrop: mmap");
			return 2;
		}
		wrong += tk_check(kind, p, 1, 2, "before set*id");	/* one fault */
		if (change(argv[optind + 1]) < 0) {
			perror("trust-privdrop: set*id");
			return 2;
		}
		wrong += tk_check(kind, p, npages - 1, npages, "after set*id");
		munmap(p, size);
		if (fd >= 0)
			close(fd);
	}
	pthread_mutex_lock(&lock);
	done = 1;
	pthread_cond_broadcast(&cond);
	pthread_mutex_unlock(&lock);
	for (int i = 0; i < nthreads; i++)
		pthread_join(th[i], NULL);
	printf("privdrop %s %s: %d rounds, %d threads, %zu wrong bytes\n", argv[optind],
	       argv[optind + 1], rounds, nthreads, wrong);
	return wrong ? 1 : 0;
}

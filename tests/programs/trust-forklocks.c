/* trust-forklocks.c: one thread forks in a loop while another allocates from heap memory it
 * memset before (lazily under ucow): glibc takes its malloc locks around fork, so a fault
 * taken while holding one must be served while the fork waits for it (issue 11, fork
 * locks). Prints a summary the plain run gives too; a hang is the failure. */
#include <malloc.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define BIG (16 << 20)
#define SMALL (64 << 10)

static atomic_bool stop;
static atomic_long forks;

static void *forker(void *arg)
{
	while (!atomic_load(&stop)) {
		pid_t pid = fork();

		if (pid == 0)
			_exit(0);
		if (pid > 0 && waitpid(pid, NULL, 0) == pid)
			atomic_fetch_add(&forks, 1);
	}
	return NULL;
}

int main(int argc, char **argv)
{
	int seconds = argc > 1 ? atoi(argv[1]) : 3;
	static void *pieces[2048];
	long rounds = 0, wrong = 0;
	pthread_t t;
	time_t end;

	/* Large blocks from the heap, kept there when freed: the next small allocations
	 * write their headers into pages the big memset never touched. */
	mallopt(M_MMAP_THRESHOLD, 64 << 20);
	mallopt(M_TRIM_THRESHOLD, 1 << 30);
	if (pthread_create(&t, NULL, forker, NULL))
		return 2;
	end = time(NULL) + seconds;
	while (time(NULL) < end) {
		void *big[4];

		for (int i = 0; i < 4; i++) {
			big[i] = malloc(BIG);
			if (!big[i])
				return 2;
			memset(big[i], 0x5a, BIG);
			for (size_t at = 0; at < BIG; at += BIG / 16)
				wrong += ((unsigned char *)big[i])[at + 100] != 0x5a;
		}
		for (int i = 3; i >= 0; i--)
			free(big[i]);
		for (int i = 0; i < 2048; i++) {
			pieces[i] = malloc(SMALL - 64);
			if (!pieces[i])
				return 2;
		}
		for (int i = 0; i < 2048; i++)
			free(pieces[i]);
		rounds++;
	}
	atomic_store(&stop, true);
	pthread_join(t, NULL);
	printf("forklocks: rounds %s, forks %s, wrong bytes %ld\n", rounds ? "some" : "none",
	       atomic_load(&forks) ? "some" : "none", wrong);
	return wrong ? 1 : 0;
}

/* setxid-pinned.c: a thread pinned to the last CPU maps and touches a MAP_PRIVATE memfd, then
 * spins there (SCHED_FIFO when allowed); meanwhile the main thread times set*id() calls, which
 * glibc makes on every thread of the process. Knows nothing of ucow (test program).
 *
 * usage: setxid-pinned [-m] [-n CALLS]
 *   -m  pin the main thread to CPU 0 as well (the default leaves it free)
 *   -n  setresuid/setresgid pairs to time (default 20)
 * Output: "calls=N max_ms=X fifo=0|1" and exit status 0.
 */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

static atomic_int phase, fifo;
static int last_cpu;

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void pin(int cpu)
{
	cpu_set_t set;

	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	sched_setaffinity(0, sizeof(set), &set);
}

static void *spinner(void *arg)
{
	size_t page = (size_t)sysconf(_SC_PAGESIZE), pages = 512;
	struct sched_param sp = { .sched_priority = 1 };
	volatile char *m;
	int fd;

	(void)arg;
	pin(last_cpu);
	fd = memfd_create("setxid-pinned", 0);
	if (fd < 0 || ftruncate(fd, (off_t)(pages * page)) < 0)
		exit(1);
	m = mmap(NULL, pages * page, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
	if (m == MAP_FAILED)
		exit(1);
	for (size_t i = 0; i < pages; i++)
		m[i * page] = 1;
	if (pthread_setschedparam(pthread_self(), SCHED_FIFO, &sp) == 0)
		atomic_store(&fifo, 1);
	atomic_store(&phase, 1);
	while (atomic_load(&phase) != 2)
		;
	return NULL;
}

int main(int argc, char **argv)
{
	int calls = 20, pin_main = 0, opt;
	uint64_t worst = 0;
	pthread_t t;

	while ((opt = getopt(argc, argv, "mn:")) != -1) {
		if (opt == 'm') {
			pin_main = 1;
		} else if (opt == 'n') {
			calls = atoi(optarg);
		} else {
			fprintf(stderr, "usage: setxid-pinned [-m] [-n CALLS]\n");
			return 2;
		}
	}
	last_cpu = (int)sysconf(_SC_NPROCESSORS_ONLN) - 1;
	if (pin_main)
		pin(0);
	pthread_create(&t, NULL, spinner, NULL);
	while (atomic_load(&phase) != 1)
		usleep(1000);
	usleep(20000);
	for (int i = 0; i < calls; i++) {
		uint64_t t0 = now_ns(), d;

		if (setresuid(-1, -1, -1) != 0 || setresgid(-1, -1, -1) != 0) {
			perror("setxid-pinned: setresuid");
			return 1;
		}
		d = now_ns() - t0;
		if (d > worst)
			worst = d;
	}
	atomic_store(&phase, 2);
	pthread_join(t, NULL);
	printf("calls=%d max_ms=%lu fifo=%d\n", calls, (unsigned long)(worst / 1000000),
	       atomic_load(&fifo));
	return 0;
}

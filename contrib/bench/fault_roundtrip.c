/* fault_roundtrip: time page faults one at a time (-i: isolated ones, each after a sleep), for the
 * kernel and for any preloaded shim. Knows nothing of ucow; contrib/bench/run runs it both ways. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE 1
#endif
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

static size_t page_size;

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void die(const char *what)
{
	fprintf(stderr, "fault_roundtrip: %s: %s\n", what, strerror(errno));
	exit(1);
}

/* Touch one byte per page, so that every page costs exactly one fault. */
static uint64_t touch_pages(volatile char *base, size_t pages, int write)
{
	uint64_t start = now_ns();
	unsigned sum = 0;

	for (size_t i = 0; i < pages; i++) {
		if (write)
			base[i * page_size] = 1;
		else
			sum += base[i * page_size];
	}
	if (!write && sum != 0) {
		fprintf(stderr, "fault_roundtrip: a hole read back non-zero\n");
		exit(1);
	}
	return now_ns() - start;
}

/* The kernel's cheapest fault: private anonymous memory, 4 KiB pages (THP off so each page faults). */
static uint64_t anon_write(size_t pages)
{
	size_t len = pages * page_size;
	char *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	uint64_t ns;

	if (p == MAP_FAILED)
		die("mmap anonymous");
	madvise(p, len, MADV_NOHUGEPAGE);
	ns = touch_pages(p, pages, 1);
	munmap(p, len);
	return ns;
}

/* A MAP_PRIVATE mapping of @len bytes of a fresh memfd that is all holes (its fd in *@fd). */
static char *map_holes(const char *name, size_t len, int *fd)
{
	char *p;

	*fd = memfd_create(name, MFD_CLOEXEC);
	if (*fd < 0)
		die("memfd_create");
	if (ftruncate(*fd, (off_t)len) < 0)
		die("ftruncate");
	p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE, *fd, 0);
	if (p == MAP_FAILED)
		die("mmap memfd MAP_PRIVATE");
	return p;
}

/* A MAP_PRIVATE mapping of a memfd that is all holes: the case ucow manages. */
static uint64_t shmem_hole(size_t pages, int write)
{
	size_t len = pages * page_size;
	int fd;
	char *p = map_holes("fault_roundtrip", len, &fd);
	uint64_t ns;

	ns = touch_pages(p, pages, write);
	munmap(p, len);
	close(fd);
	return ns;
}

/*
 * One fault after the process (and any handler thread of a shim) has slept @sleep_ms: map a fresh
 * 16-page MAP_PRIVATE memfd of holes, sleep, time one read or write of its middle page, unmap.
 */
static uint64_t isolated_fault(int write, unsigned int sleep_ms)
{
	const size_t pages = 16;
	size_t len = pages * page_size;
	struct timespec nap = { sleep_ms / 1000, (long)(sleep_ms % 1000) * 1000000L };
	int fd;
	volatile char *p = map_holes("fault_isolated", len, &fd);
	uint64_t start, ns;
	char c;

	while (nanosleep(&nap, &nap) < 0 && errno == EINTR)
		;
	start = now_ns();
	if (write)
		p[pages / 2 * page_size] = 1;
	else
		c = p[pages / 2 * page_size];
	ns = now_ns() - start;
	if (write ? p[pages / 2 * page_size] != 1 : c != 0) {
		fprintf(stderr, "fault_roundtrip: wrong bytes after an isolated fault\n");
		exit(1);
	}
	munmap((void *)p, len);
	close(fd);
	return ns;
}

static void report(const char *name, uint64_t ns, size_t pages)
{
	printf("%s %.1f %zu\n", name, (double)ns / (double)pages, pages);
}

static void usage(FILE *to)
{
	fprintf(to, "usage: fault_roundtrip [-n PAGES] [-r REPEAT] [-i FAULTS [-S MS]]\n"
		    "Prints one line per measurement: NAME NS_PER_PAGE PAGES, where NAME is\n"
		    "anon-write (kernel anonymous write fault), shmem-write (write to a hole of a\n"
		    "MAP_PRIVATE memfd mapping) or shmem-read (read of such a hole).\n"
		    "With -i: FAULTS isolated faults of each kind, each on a fresh memfd mapping\n"
		    "after a sleep of MS (50) ms; one line each, isolated-read or isolated-write.\n");
}

int main(int argc, char **argv)
{
	size_t pages = 4096;
	int repeat = 1, isolated = 0;
	unsigned int sleep_ms = 50;
	int opt;

	while ((opt = getopt(argc, argv, "n:r:i:S:h")) != -1) {
		switch (opt) {
		case 'n':
			pages = strtoul(optarg, NULL, 0);
			break;
		case 'r':
			repeat = atoi(optarg);
			break;
		case 'i':
			isolated = atoi(optarg);
			break;
		case 'S':
			sleep_ms = (unsigned int)strtoul(optarg, NULL, 0);
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (pages == 0 || repeat <= 0) {
		usage(stderr);
		return 2;
	}
	page_size = (size_t)sysconf(_SC_PAGESIZE);

	printf("# name ns_per_page pages\n");
	if (isolated > 0) {
		for (int i = 0; i < isolated; i++) {
			report("isolated-read", isolated_fault(0, sleep_ms), 1);
			report("isolated-write", isolated_fault(1, sleep_ms), 1);
		}
		return 0;
	}
	for (int r = 0; r < repeat; r++) {
		report("anon-write", anon_write(pages), pages);
		report("shmem-write", shmem_hole(pages, 1), pages);
		report("shmem-read", shmem_hole(pages, 0), pages);
	}
	return 0;
}

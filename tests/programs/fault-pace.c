/* fault-pace.c: faults on page after page of a MAP_PRIVATE memfd of holes for a while, then
 * sleeps, then exits; knows nothing of ucow (test program).
 *
 * usage: fault-pace [-f MS] [-s MS] [-S SIZE]
 *   -f  read one byte of every page, mapping after fresh mapping, for MS ms (default 1500)
 *   -s  then print "sleeping" (flushed) and sleep MS ms (default 1500)
 *   -S  mapping size (K/M suffixes; default 4M)
 * Output: "sleeping", then "passes=N sum=0" (the holes read zero) and exit status 0.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "size-arg.h"

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static int die(const char *what)
{
	fprintf(stderr, "fault-pace: %s: %s\n", what, strerror(errno));
	return 1;
}

int main(int argc, char **argv)
{
	unsigned long fault_ms = 1500, sleep_ms = 1500, passes = 0, sum = 0;
	size_t size = 4 << 20, page = (size_t)sysconf(_SC_PAGESIZE);
	struct timespec nap;
	uint64_t end;
	int opt, fd;

	while ((opt = getopt(argc, argv, "f:s:S:")) != -1) {
		switch (opt) {
		case 'f':
			fault_ms = strtoul(optarg, NULL, 0);
			break;
		case 's':
			sleep_ms = strtoul(optarg, NULL, 0);
			break;
		case 'S':
			size = parse_size(optarg);
			if (size < page) {
				fprintf(stderr, "fault-pace: bad size %s\n", optarg);
				return 2;
			}
			break;
		default:
			fprintf(stderr, "usage: fault-pace [-f MS] [-s MS] [-S SIZE]\n");
			return 2;
		}
	}
	fd = memfd_create("fault-pace", MFD_CLOEXEC);
	if (fd < 0 || ftruncate(fd, (off_t)size) < 0)
		return die("memfd");
	end = now_ms() + fault_ms;
	do {
		volatile unsigned char *p = mmap(NULL, size, PROT_READ, MAP_PRIVATE, fd, 0);

		if (p == MAP_FAILED)
			return die("mmap");
		for (size_t off = 0; off < size; off += page)
			sum += p[off];
		munmap((void *)p, size);
		passes++;
	} while (now_ms() < end);
	printf("sleeping\n");
	fflush(stdout);
	nap.tv_sec = (time_t)(sleep_ms / 1000);
	nap.tv_nsec = (long)(sleep_ms % 1000) * 1000000L;
	while (nanosleep(&nap, &nap) < 0 && errno == EINTR)
		;
	printf("passes=%lu sum=%lu\n", passes, sum);
	return sum == 0 ? 0 : 1;
}

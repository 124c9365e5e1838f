/* refpage: the reference-page benchmark of the kernel proposal (refpage_create, 2020): map
 * 4,096,000 bytes, touch the first TOUCHED of them, unmap; 1000 times. contrib/bench/run runs
 * it plain with -m memset and with libucow.so preloaded with -m refpage.
 *
 * usage: refpage -m memset|refpage [-s SIZE] [-n ITERATIONS] [-p BYTE] TOUCHED...
 *   -m memset   an anonymous mapping memset to the pattern (what an allocator does today)
 *      refpage  a MAP_PRIVATE mapping of a ucow_refpage_create() fd of the pattern (the
 *               function is found with dlsym: run with libucow.so preloaded)
 *   -s  bytes mapped (default 4096000); -n  iterations (default 1000); -p  the pattern byte
 *       (default 0xaa)
 *   A touch is one store per page of the first TOUCHED bytes.
 * Output: "# touched ns_per_iter maxrss_kb map_kb" and a line per TOUCHED: time per iteration,
 * the process's peak RSS (VmHWM: run one TOUCHED per process to compare it; ru_maxrss would
 * include the parent's memory from before exec) and the mapping's own resident memory at its
 * fullest (after the touch, before munmap).
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE 1
#endif
#include <dlfcn.h>
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#define PAGE 4096UL

static size_t size = 4096000;
static unsigned long iterations = 1000;
static unsigned char pattern = 0xaa;
static int refpage_fd = -1;

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void die(const char *what)
{
	fprintf(stderr, "refpage: %s: %s\n", what, strerror(errno));
	exit(1);
}

/* One iteration's mapping, initialised as the variant does it. */
static unsigned char *map_initialised(void)
{
	unsigned char *p;

	if (refpage_fd >= 0) {
		p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE, refpage_fd, 0);
		if (p == MAP_FAILED)
			die("mmap of the refpage fd");
		return p;
	}
	p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		die("mmap");
	memset(p, pattern, size);
	return p;
}

/* The peak resident memory of this process image, in kB. */
static long peak_rss_kb(void)
{
	FILE *f = fopen("/proc/self/status", "r");
	char line[256];
	long kb = -1;

	while (f && fgets(line, sizeof(line), f))
		if (sscanf(line, "VmHWM: %ld kB", &kb) == 1)
			break;
	if (f)
		fclose(f);
	return kb;
}

static void touch(unsigned char *p, size_t touched)
{
	for (size_t i = 0; i < touched; i += PAGE)
		((volatile unsigned char *)p)[i] = (unsigned char)(i / PAGE);
}

static size_t resident_kb(void *p)
{
	size_t pages = (size + PAGE - 1) / PAGE, n = 0;
	unsigned char *vec = malloc(pages);

	if (!vec || mincore(p, size, vec) < 0)
		die("mincore");
	for (size_t i = 0; i < pages; i++)
		n += vec[i] & 1;
	free(vec);
	return n * (PAGE / 1024);
}

/* An untimed iteration after the timed ones: the bytes are right (a run that was not managed
 * must not pass as one), and the mapping's resident memory at its fullest. */
static size_t verify(size_t touched)
{
	unsigned char *p = map_initialised();
	size_t kb;

	touch(p, touched);
	kb = resident_kb(p);
	for (size_t i = 0; i < size; i++) {
		bool stored = i % PAGE == 0 && i < touched;
		unsigned char want = stored ? (unsigned char)(i / PAGE) : pattern;

		if (p[i] != want) {
			fprintf(stderr, "refpage: byte %zu is %#x, want %#x\n", i, p[i], want);
			exit(1);
		}
	}
	munmap(p, size);
	return kb;
}

int main(int argc, char **argv)
{
	const char *mode = NULL;
	int opt;

	while ((opt = getopt(argc, argv, "m:s:n:p:")) != -1) {
		switch (opt) {
		case 'm': mode = optarg; break;
		case 's': size = strtoul(optarg, NULL, 0); break;
		case 'n': iterations = strtoul(optarg, NULL, 0); break;
		case 'p': pattern = (unsigned char)strtoul(optarg, NULL, 0); break;
		default: goto usage;
		}
	}
	if (!mode || optind == argc || !size || !iterations)
		goto usage;
	if (strcmp(mode, "refpage") == 0) {
		int (*create)(const void *, size_t, unsigned long) =
			(int (*)(const void *, size_t, unsigned long))dlsym(RTLD_DEFAULT,
									    "ucow_refpage_create");

		if (!create) {
			fprintf(stderr, "refpage: ucow_refpage_create not found: "
				"preload libucow.so\n");
			return 2;
		}
		refpage_fd = create(&pattern, 1, 0);
		if (refpage_fd < 0)
			die("ucow_refpage_create");
	} else if (strcmp(mode, "memset") != 0) {
		goto usage;
	}

	printf("# touched ns_per_iter maxrss_kb map_kb\n");
	for (int a = optind; a < argc; a++) {
		size_t touched = strtoul(argv[a], NULL, 0), map_kb;
		long peak_kb;
		uint64_t t0, t1;

		if (touched > size)
			touched = size;
		t0 = now_ns();
		for (unsigned long i = 0; i < iterations; i++) {
			unsigned char *p = map_initialised();

			touch(p, touched);
			munmap(p, size);
		}
		t1 = now_ns();
		peak_kb = peak_rss_kb();	/* before verify() reads every page */
		map_kb = verify(touched);
		printf("%s %.0f %ld %zu\n", argv[a], (double)(t1 - t0) / (double)iterations,
		       peak_kb, map_kb);
	}
	return 0;

usage:
	fprintf(stderr, "usage: refpage -m memset|refpage [-s SIZE] [-n ITERATIONS] [-p BYTE] "
		"TOUCHED...\n");
	return 2;
}

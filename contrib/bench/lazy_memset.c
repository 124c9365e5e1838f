/* lazy_memset: an unmodified program that maps memory and memsets it, for the lazy memset
 * benchmark (UCOW_LAZY_MEMSET). contrib/bench/run runs it plain and with libucow.so preloaded;
 * it knows nothing of ucow. Every memset is a call through the PLT (-fno-builtin).
 *
 * usage: lazy_memset table [-n ITERATIONS] [-s SIZE] TOUCHED...
 *          map SIZE (4,096,000) bytes, memset them, store once in each page of the first
 *          TOUCHED bytes, unmap; ITERATIONS (1000) times. One line per TOUCHED.
 *        lazy_memset big [-s SIZE] [-t seq|stride]
 *          map SIZE (4G) bytes MAP_NORESERVE, memset them, store in 1% of the pages (the first
 *          1%, or every 100th page), unmap.
 *        lazy_memset small [-n CALLS] [-l LEN]
 *          CALLS (50,000,000) memsets of LEN (64) bytes in a loop: the fastest fifth.
 *        lazy_memset resident [-n CALLS] [-s SIZE]
 *          CALLS (2000) memsets of one resident SIZE (1M) buffer: the fastest fifth.
 *        lazy_memset back [-s SIZE] [-t forward|backward|stride-back]
 *          malloc SIZE (1G) bytes, memset them, read one byte per page from the start, from
 *          the end backward (as str.rstrip() on a big string), or every 64th page from the
 *          end, free. Time of the whole, ns_per_op per page read.
 * Output: "# case ns ns_per_op maxrss_kb" then one line per case; maxrss_kb is the process's
 * peak RSS (VmHWM).
 */
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

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void die(const char *what)
{
	fprintf(stderr, "lazy_memset: %s: %s\n", what, strerror(errno));
	exit(1);
}

static size_t parse_size(const char *s)
{
	char *end;
	size_t v = strtoul(s, &end, 0);

	if (*end == 'K' || *end == 'k')
		v <<= 10;
	else if (*end == 'M' || *end == 'm')
		v <<= 20;
	else if (*end == 'G' || *end == 'g')
		v <<= 30;
	return v;
}

/* VmHWM from /proc/self/status, in KiB. */
static long peak_rss_kb(void)
{
	char line[128];
	long kb = -1;
	FILE *f = fopen("/proc/self/status", "r");

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "VmHWM: %ld kB", &kb) == 1)
			break;
	fclose(f);
	return kb;
}

static int table(int argc, char **argv, size_t size, unsigned long n)
{
	printf("# touched ns ns_per_op maxrss_kb\n");
	for (int a = 0; a < argc; a++) {
		size_t touched = parse_size(argv[a]);
		uint64_t t0 = now_ns(), dt;

		if (touched > size)
			touched = size;
		for (unsigned long i = 0; i < n; i++) {
			unsigned char *p = mmap(NULL, size, PROT_READ | PROT_WRITE,
						MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

			if (p == MAP_FAILED)
				die("mmap");
			memset(p, 0xa5, size);
			for (size_t off = 0; off < touched; off += PAGE)
				p[off]++;
			if (p[0] != (touched ? 0xa6 : 0xa5) || p[size - 1] != 0xa5)
				die("wrong bytes");
			munmap(p, size);
		}
		dt = now_ns() - t0;
		printf("%zu %llu %.1f %ld\n", touched, (unsigned long long)dt, (double)dt / n,
		       peak_rss_kb());
	}
	return 0;
}

static int big(size_t size, const char *how)
{
	size_t pages = size / PAGE, step = 100;
	unsigned char *p;
	uint64_t t0 = now_ns(), dt;
	unsigned long sum = 0;
	bool seq = strcmp(how, "seq") == 0;

	p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE,
		 -1, 0);
	if (p == MAP_FAILED)
		die("mmap");
	memset(p, 0x5a, size);
	for (size_t i = 0; i < pages / step; i++) {
		size_t pg = seq ? i : i * step;

		p[pg * PAGE + 7]++;
		sum += p[pg * PAGE + 9];
	}
	munmap(p, size);
	dt = now_ns() - t0;
	if (sum != (pages / step) * 0x5a)
		die("wrong bytes");
	printf("# case ns ns_per_op maxrss_kb\n%s %llu %.1f %ld\n", seq ? "first-1%" : "every-100th",
	       (unsigned long long)dt, (double)dt / (double)(pages / step), peak_rss_kb());
	return 0;
}

/* malloc + memset + read backward: the access order that a forward window does not predict. */
static int back(size_t size, const char *how)
{
	size_t pages = size / PAGE, step = 1, reads = 0;
	unsigned long sum = 0;
	unsigned char *p;
	uint64_t t0 = now_ns(), dt;
	bool forward = strcmp(how, "forward") == 0;

	if (strcmp(how, "stride-back") == 0)
		step = 64;
	else if (!forward && strcmp(how, "backward") != 0)
		die("back: -t forward|backward|stride-back");
	p = malloc(size);
	if (!p)
		die("malloc");
	memset(p, 0x20, size);
	for (size_t i = 0; i < pages; i += step, reads++)
		sum += forward ? p[i * PAGE] : p[size - 1 - i * PAGE];
	free(p);
	dt = now_ns() - t0;
	if (sum != reads * 0x20)
		die("wrong bytes");
	printf("# case ns ns_per_op maxrss_kb\n%s %llu %.1f %ld\n", how, (unsigned long long)dt,
	       (double)dt / (double)reads, peak_rss_kb());
	return 0;
}

/* The fastest of five runs of @n / 5 calls: the loop is short, others' noise only adds. */
static int small(unsigned long n, size_t len)
{
	static unsigned char buf[4096];
	unsigned char *volatile target = buf;
	uint64_t best = UINT64_MAX;

	if (len > sizeof(buf))
		len = sizeof(buf);
	n /= 5;
	for (int r = 0; r < 5; r++) {
		uint64_t t0 = now_ns(), dt;

		for (unsigned long i = 0; i < n; i++)
			memset(target, (int)i, len);
		dt = now_ns() - t0;
		if (dt < best)
			best = dt;
	}
	printf("# case ns ns_per_op maxrss_kb\nmemset-%zu %llu %.3f %ld\n", len,
	       (unsigned long long)best, (double)best / (double)n, peak_rss_kb());
	return 0;
}

/* The same @size buffer, resident, memset again and again: what lazy memset must not slow. */
static int resident(size_t size, unsigned long n)
{
	unsigned char *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
				-1, 0);
	uint64_t best = UINT64_MAX;

	if (p == MAP_FAILED)
		die("mmap");
	for (size_t off = 0; off < size; off += PAGE)
		p[off] = 1;
	n /= 5;
	for (int r = 0; r < 5; r++) {
		uint64_t t0 = now_ns(), dt;

		for (unsigned long i = 0; i < n; i++)
			memset(p, (int)i, size);
		dt = now_ns() - t0;
		if (dt < best)
			best = dt;
	}
	if (p[size - 1] != (unsigned char)(n - 1))
		die("wrong bytes");
	printf("# case ns ns_per_op maxrss_kb\nresident-%zu %llu %.1f %ld\n", size,
	       (unsigned long long)best, (double)best / (double)n, peak_rss_kb());
	munmap(p, size);
	return 0;
}

int main(int argc, char **argv)
{
	size_t size = 0, len = 64;
	unsigned long n = 0;
	const char *how = NULL, *mode;
	int opt;

	if (argc < 2) {
		fprintf(stderr, "usage: lazy_memset table|big|small|resident|back [options] "
			"[TOUCHED...]\n");
		return 2;
	}
	mode = argv[1];
	optind = 2;
	while ((opt = getopt(argc, argv, "n:s:t:l:")) != -1) {
		switch (opt) {
		case 'n':
			n = strtoul(optarg, NULL, 0);
			break;
		case 's':
			size = parse_size(optarg);
			break;
		case 't':
			how = optarg;
			break;
		case 'l':
			len = parse_size(optarg);
			break;
		default:
			return 2;
		}
	}
	if (strcmp(mode, "table") == 0)
		return table(argc - optind, argv + optind, size ? size : 4096000, n ? n : 1000);
	if (strcmp(mode, "big") == 0)
		return big(size ? size : 4UL << 30, how ? how : "seq");
	if (strcmp(mode, "small") == 0)
		return small(n ? n : 50000000, len);
	if (strcmp(mode, "back") == 0)
		return back(size ? size : 1UL << 30, how ? how : "backward");
	if (strcmp(mode, "resident") == 0)
		return resident(size ? size : 1 << 20, n ? n : 2000);
	fprintf(stderr, "lazy_memset: unknown mode %s\n", mode);
	return 2;
}

/* shmem_holes: touch every page of a MAP_PRIVATE mapping of a tmpfs file of holes (-d: data pages
 * among them), report the time and memory it cost. Knows nothing of ucow; run plain, preloaded. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE 1
#endif
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

enum access { SEQ_WRITE, RAND_WRITE, READ };

static const char *const access_names[] = {
	[SEQ_WRITE] = "seq-write",
	[RAND_WRITE] = "rand-write",
	[READ] = "read",
};

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void die(const char *what)
{
	fprintf(stderr, "shmem_holes: %s: %s\n", what, strerror(errno));
	exit(1);
}

static size_t parse_size(const char *s)
{
	char *end;
	unsigned long long v = strtoull(s, &end, 0);

	switch (*end) {
	case 'G': case 'g': v <<= 10; /* fall through */
	case 'M': case 'm': v <<= 10; /* fall through */
	case 'K': case 'k': v <<= 10; break;
	case '\0': break;
	default: return 0;
	}
	return (size_t)v;
}

/* A fixed seed: every run, with or without the shim, writes the pages in the same order. */
static uint32_t *shuffled_pages(size_t pages)
{
	uint32_t *order = malloc(pages * sizeof(*order));
	uint64_t x = 0x9e3779b97f4a7c15u;

	if (!order)
		die("malloc");
	for (size_t i = 0; i < pages; i++)
		order[i] = (uint32_t)i;
	for (size_t i = pages - 1; i > 0; i--) {
		size_t j;
		uint32_t t;

		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		j = (size_t)(x % (i + 1));
		t = order[i];
		order[i] = order[j];
		order[j] = t;
	}
	return order;
}

/* Sum a field of /proc/self/smaps (in kB) over every VMA inside [start, end). */
static uint64_t smaps_bytes(uintptr_t start, uintptr_t end, const char *field)
{
	FILE *f = fopen("/proc/self/smaps", "r");
	size_t field_len = strlen(field);
	char *line = NULL;
	size_t cap = 0;
	int inside = 0;
	uint64_t kb = 0;

	if (!f)
		die("/proc/self/smaps");
	while (getline(&line, &cap, f) > 0) {
		uintptr_t lo, hi;
		unsigned long long v;

		if (sscanf(line, "%" SCNxPTR "-%" SCNxPTR " ", &lo, &hi) == 2) {
			inside = lo >= start && hi <= end;
			continue;
		}
		if (inside && !strncmp(line, field, field_len) && line[field_len] == ':' &&
		    sscanf(line + field_len + 1, "%llu", &v) == 1)
			kb += v;
	}
	free(line);
	fclose(f);
	return kb * 1024;
}

#define DATA_BYTE 2

/*
 * Write a data page (every byte DATA_BYTE) at page 0, @every, 2 * @every, ... of @fd, as a VM
 * template or a snapshot has data among its holes; the rest stays hole. Returns the count.
 */
static size_t write_data_pages(int fd, size_t pages, size_t page_size, size_t every)
{
	char *buf = malloc(page_size);
	size_t n = 0;

	if (!buf)
		die("malloc");
	memset(buf, DATA_BYTE, page_size);
	for (size_t i = 0; every && i < pages; i += every, n++)
		if (pwrite(fd, buf, page_size, (off_t)(i * page_size)) != (ssize_t)page_size)
			die("pwrite data page");
	free(buf);
	return n;
}

static bool is_data_page(size_t i, size_t every)
{
	return every && i % every == 0;
}

static int open_holes(const char *path, size_t size)
{
	int fd;

	if (path) {
		fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
		if (fd < 0)
			die(path);
		unlink(path);
	} else {
		fd = memfd_create("shmem_holes", MFD_CLOEXEC);
		if (fd < 0)
			die("memfd_create");
	}
	if (ftruncate(fd, (off_t)size) < 0)
		die("ftruncate");
	return fd;
}

static void usage(FILE *to)
{
	fprintf(to, "usage: shmem_holes [-s SIZE] [-f PATH] [-d N] [-H] seq-write|rand-write|read\n"
		    "Maps SIZE (default 256M) of holes MAP_PRIVATE (a memfd, or PATH on a tmpfs),\n"
		    "with -d N first pwrite()s a data page at every Nth page (0, N, 2N, ...),\n"
		    "with -H advises MADV_HUGEPAGE on the mapping (as QEMU does for guest RAM),\n"
		    "touches one byte per page (timed), checks every page's bytes and prints:\n"
		    "NAME NS PAGES FILE_BYTES ANON_BYTES RSS_BYTES DATA_PAGES FILE_BYTES_BEFORE\n");
}

int main(int argc, char **argv)
{
	size_t size = (size_t)256 << 20;
	const char *path = NULL;
	size_t page_size = (size_t)sysconf(_SC_PAGESIZE);
	enum access access;
	uint32_t *order = NULL;
	volatile char *map;
	size_t pages, every = 0, data_pages;
	struct stat st, st_before;
	uint64_t start, ns;
	unsigned sum = 0;
	bool huge = false;
	int fd, opt;

	while ((opt = getopt(argc, argv, "s:f:d:Hh")) != -1) {
		switch (opt) {
		case 's':
			size = parse_size(optarg);
			break;
		case 'd':
			every = strtoul(optarg, NULL, 0);
			break;
		case 'f':
			path = optarg;
			break;
		case 'H':
			huge = true;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind + 1 != argc || size < page_size) {
		usage(stderr);
		return 2;
	}
	for (access = SEQ_WRITE; access <= READ; access++)
		if (!strcmp(argv[optind], access_names[access]))
			break;
	if (access > READ) {
		usage(stderr);
		return 2;
	}
	pages = size / page_size;
	size = pages * page_size;
	if (access == RAND_WRITE)
		order = shuffled_pages(pages);

	fd = open_holes(path, size);
	data_pages = write_data_pages(fd, pages, page_size, every);
	if (fstat(fd, &st_before) < 0)
		die("fstat");
	map = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
	if (map == MAP_FAILED)
		die("mmap MAP_PRIVATE");
	if (huge && madvise((void *)map, size, MADV_HUGEPAGE) < 0)
		die("madvise MADV_HUGEPAGE");

	start = now_ns();
	switch (access) {
	case SEQ_WRITE:
		for (size_t i = 0; i < pages; i++)
			map[i * page_size] = 1;
		break;
	case RAND_WRITE:
		for (size_t i = 0; i < pages; i++)
			map[(size_t)order[i] * page_size] = 1;
		break;
	case READ:
		for (size_t i = 0; i < pages; i++)
			sum += map[i * page_size];
		break;
	}
	ns = now_ns() - start;

	if (sum != (access == READ ? DATA_BYTE * data_pages : 0)) {
		fprintf(stderr, "shmem_holes: read %u, expected %zu\n", sum,
			access == READ ? DATA_BYTE * data_pages : 0);
		return 1;
	}
	/* After the timed pass: byte 0 is what the pass left, byte 1 the file's own. */
	for (size_t i = 0; i < pages; i++) {
		char want0 = access == READ ? (is_data_page(i, every) ? DATA_BYTE : 0) : 1;
		char want1 = is_data_page(i, every) ? DATA_BYTE : 0;

		if (map[i * page_size] != want0 || map[i * page_size + 1] != want1) {
			fprintf(stderr, "shmem_holes: wrong bytes in page %zu: %d %d, expected %d %d\n",
				i, map[i * page_size], map[i * page_size + 1], want0, want1);
			return 1;
		}
	}
	if (fstat(fd, &st) < 0)
		die("fstat");
	printf("# name ns pages file_bytes anon_bytes rss_bytes data_pages file_bytes_before\n");
	printf("%s %" PRIu64 " %zu %llu %" PRIu64 " %" PRIu64 " %zu %llu\n", access_names[access], ns,
	       pages, (unsigned long long)st.st_blocks * 512,
	       smaps_bytes((uintptr_t)map, (uintptr_t)map + size, "Anonymous"),
	       smaps_bytes((uintptr_t)map, (uintptr_t)map + size, "Rss"), data_pages,
	       (unsigned long long)st_before.st_blocks * 512);
	munmap((void *)map, size);
	close(fd);
	free(order);
	return 0;
}

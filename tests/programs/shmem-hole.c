/* shmem-hole.c: maps a tmpfs file with holes MAP_PRIVATE, touches it in a chosen pattern and
 * prints a checksum and the memory the kernel spent; knows nothing of ucow (test program).
 *
 * usage: shmem-hole [-k memfd|shm|dir:PATH] [-s SIZE] [-p PATTERN] [-d N] [-x STATUS]
 *   -k  the file: a memfd (default), a file in /dev/shm, or a file in directory PATH
 *   -s  file size (K/M suffixes; default 8M)
 *   -p  seq-write (default), rand-write, read, read-write, sparse
 *   -d  every Nth page has data written with pwrite before mapping (0: none; default 4)
 *   -x  exit with STATUS after a successful run (to check exit statuses are untouched)
 *   -e  map one page more than the file and, at the end, touch it: SIGBUS, as for any file
 * Output: lines that must be identical with and without ucow, then one line
 *   "mem: st_blocks_before=.. st_blocks=.. file_kb_before=.. file_kb=.. anon_kb=.." measured
 *   right after the pattern ran (file_kb is st_blocks in kB; anon_kb is the mapping's
 *   Anonymous: in /proc/self/smaps).
 */
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
#include <unistd.h>

#include "size-arg.h"

#define PAGE 4096UL

static const char *kind = "memfd";
static size_t size = 8UL << 20;
static const char *pattern = "seq-write";
static size_t data_every = 4;
static bool beyond_eof;

static void die(const char *what)
{
	fprintf(stderr, "shmem-hole: %s: %s\n", what, strerror(errno));
	exit(2);
}

static bool is_data_page(size_t p)
{
	return data_every && p % data_every == 0;
}

/* The byte at @i of data page @p as written into the file. */
static unsigned char data_byte(size_t p, size_t i)
{
	return (unsigned char)(p * 31 + i * 7 + 1) | 1;
}

/* The word this program writes into page @p, at a place that depends on @p. */
static size_t written_at(size_t p)
{
	return (p % (PAGE / 8)) * 8;
}

static uint64_t written_word(size_t p)
{
	return 0x9e3779b97f4a7c15ULL * (p + 1);
}

static int open_file(void)
{
	char path[4096];
	int fd;

	if (strcmp(kind, "memfd") == 0) {
		fd = memfd_create("shmem-hole", 0);
		if (fd < 0)
			die("memfd_create");
		return fd;
	}
	if (strcmp(kind, "shm") == 0)
		snprintf(path, sizeof(path), "/dev/shm/shmem-hole.XXXXXX");
	else if (strncmp(kind, "dir:", 4) == 0)
		snprintf(path, sizeof(path), "%s/shmem-hole.XXXXXX", kind + 4);
	else {
		fprintf(stderr, "shmem-hole: unknown kind '%s'\n", kind);
		exit(2);
	}
	fd = mkstemp(path);
	if (fd < 0)
		die(path);
	unlink(path);
	return fd;
}

/* The file's st_blocks (512-byte units): what the file holds in memory on tmpfs. */
static long file_blocks(int fd)
{
	struct stat st;

	if (fstat(fd, &st) < 0)
		die("fstat");
	return (long)st.st_blocks;
}

/* Anonymous kB of every VMA inside [start, start+len), from /proc/self/smaps. */
static long anon_kb(void *start, size_t len)
{
	uintptr_t lo = (uintptr_t)start, hi = lo + len;
	FILE *f = fopen("/proc/self/smaps", "r");
	char line[512];
	bool inside = false;
	long total = 0;

	if (!f)
		die("/proc/self/smaps");
	while (fgets(line, sizeof(line), f)) {
		unsigned long a, b;
		long kb;

		if (sscanf(line, "%lx-%lx ", &a, &b) == 2 && strchr(line, '-') < strchr(line, ' '))
			inside = a >= lo && b <= hi;
		else if (inside && sscanf(line, "Anonymous: %ld kB", &kb) == 1)
			total += kb;
	}
	fclose(f);
	return total;
}

int main(int argc, char **argv)
{
	int exit_status = 0, opt, fd;
	size_t npages, p, written = 0, holes_written = 0, data_pages = 0, bad = 0;
	unsigned char *map, *page;
	long blocks_before, blocks_after, anon;
	uint64_t sum = 0xcbf29ce484222325ULL, acc = 0;
	bool *touched;

	while ((opt = getopt(argc, argv, "k:s:p:d:x:e")) != -1) {
		switch (opt) {
		case 'k': kind = optarg; break;
		case 's': size = parse_size(optarg); break;
		case 'p': pattern = optarg; break;
		case 'd': data_every = strtoul(optarg, NULL, 0); break;
		case 'x': exit_status = atoi(optarg); break;
		case 'e': beyond_eof = true; break;
		default:
			fprintf(stderr, "usage: shmem-hole [-k memfd|shm|dir:PATH] [-s SIZE] "
				"[-p PATTERN] [-d N] [-x STATUS] [-e]\n");
			return 2;
		}
	}
	npages = size / PAGE;
	if (npages == 0)
		return 2;
	size = npages * PAGE;

	fd = open_file();
	if (ftruncate(fd, (off_t)size) < 0)
		die("ftruncate");
	page = malloc(PAGE);
	touched = calloc(npages, sizeof(*touched));
	if (!page || !touched)
		die("malloc");
	for (p = 0; p < npages; p++) {
		if (!is_data_page(p))
			continue;
		for (size_t i = 0; i < PAGE; i++)
			page[i] = data_byte(p, i);
		if (pwrite(fd, page, PAGE, (off_t)(p * PAGE)) != (ssize_t)PAGE)
			die("pwrite");
		data_pages++;
	}
	blocks_before = file_blocks(fd);

	map = mmap(NULL, size + (beyond_eof ? PAGE : 0), PROT_READ | PROT_WRITE, MAP_PRIVATE,
		   fd, 0);
	if (map == MAP_FAILED)
		die("mmap");

	/* The pattern. Reads are summed into acc so the compiler keeps them. */
	if (strcmp(pattern, "seq-write") == 0) {
		for (p = 0; p < npages; p++)
			touched[p] = true;
	} else if (strcmp(pattern, "rand-write") == 0) {
		uint64_t x = 88172645463325252ULL;

		/* About half the pages, in a scattered order. */
		for (size_t n = 0; n < npages; n++) {
			x ^= x << 13;
			x ^= x >> 7;
			x ^= x << 17;
			p = x % npages;
			if (!touched[p]) {
				touched[p] = true;
				*(volatile uint64_t *)(map + p * PAGE + written_at(p)) = written_word(p);
			}
		}
	} else if (strcmp(pattern, "read") == 0) {
		for (p = 0; p < npages; p++)
			acc += ((volatile unsigned char *)map)[p * PAGE + (p * 13) % PAGE];
	} else if (strcmp(pattern, "read-write") == 0) {
		for (p = 0; p < npages; p++)
			acc += ((volatile unsigned char *)map)[p * PAGE + PAGE - 1];
		for (p = 0; p < npages; p++)
			touched[p] = true;
	} else if (strcmp(pattern, "sparse") == 0) {
		for (p = 3; p < npages; p += 16)	/* 3: a hole when -d is 4 */
			touched[p] = true;
	} else {
		fprintf(stderr, "shmem-hole: unknown pattern '%s'\n", pattern);
		return 2;
	}
	if (strcmp(pattern, "rand-write") != 0)
		for (p = 0; p < npages; p++)
			if (touched[p])
				*(volatile uint64_t *)(map + p * PAGE + written_at(p)) = written_word(p);
	for (p = 0; p < npages; p++) {
		written += touched[p];
		holes_written += touched[p] && !is_data_page(p);
	}

	/* Counters first: the checks below read every page, which would fill holes. */
	blocks_after = file_blocks(fd);
	anon = anon_kb(map, size);

	/* Every byte is what the kernel promises: file data, zeros, or what we wrote. */
	for (p = 0; p < npages; p++) {
		for (size_t i = 0; i < PAGE; i += 8) {
			uint64_t want = 0, got;

			if (is_data_page(p))
				for (int b = 7; b >= 0; b--)
					want = want << 8 | data_byte(p, i + b);
			if (touched[p] && i == written_at(p))
				want = written_word(p);
			memcpy(&got, map + p * PAGE + i, 8);
			if (got != want) {
				if (bad++ < 5)
					fprintf(stderr, "shmem-hole: page %zu offset %zu: %#" PRIx64
						" want %#" PRIx64 "\n", p, i, got, want);
				break;
			}
		}
	}
	for (size_t i = 0; i < size; i++)
		sum = (sum ^ map[i]) * 0x100000001b3ULL;

	printf("kind=%s pattern=%s pages=%zu data_pages=%zu\n",
	       strncmp(kind, "dir:", 4) == 0 ? "dir" : kind, pattern, npages, data_pages);
	printf("written=%zu holes_written=%zu\n", written, holes_written);
	printf("checksum=%016" PRIx64 "\n", sum);
	printf("verify=%s bad_pages=%zu read_sum=%" PRIu64 "\n", bad ? "FAILED" : "ok", bad,
	       acc);
	printf("mem: st_blocks_before=%ld st_blocks=%ld file_kb_before=%ld file_kb=%ld anon_kb=%ld\n",
	       blocks_before, blocks_after, blocks_before / 2, blocks_after / 2, anon);
	fflush(stdout);
	if (beyond_eof)
		((volatile unsigned char *)map)[size] = 1;	/* SIGBUS */
	if (munmap(map, size) < 0)
		die("munmap");
	close(fd);
	return bad ? 1 : exit_status;
}

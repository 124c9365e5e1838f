/* shmem-hole.c: maps a tmpfs file with holes MAP_PRIVATE, touches it in a chosen pattern and
 * prints a checksum and the memory the kernel spent; knows nothing of ucow (test program).
 *
 * usage: shmem-hole [-k memfd|shm|dir:PATH] [-s SIZE] [-p PATTERN] [-d N | -r SEED] [-t TAIL]
 *                   [-x STATUS] [-e] [-a huge|huge-then-no]
 *   -k  the file: a memfd (default), a file in /dev/shm, or a file in directory PATH
 *   -s  mapping size (K/M suffixes; default 8M)
 *   -p  seq-write (default), seq-part (the first 3/8 and 5 pages), stride2 (every other
 *       page), rand-write, read, read-write, sparse (every 16th page), rev-write and
 *       rev-read (from the last page down), rev-stride3 (every third page, down),
 *       turn-stride2 (every page of the first eighth, then every other page)
 *   -d  every Nth page has data written with pwrite before mapping (0: none; default 4)
 *   -r  instead of -d: runs of 1-8 data pages between runs of holes, half of them 1-8
 *       pages long and half 1-600 (around and across fault-around windows), from SEED
 *   -t  the file ends TAIL bytes before the end of the mapping's last page (TAIL < 4096):
 *       the rest of that page reads zero and may be written, as for any file
 *   -x  exit with STATUS after a successful run (to check exit statuses are untouched)
 *   -e  map one page more than the file and, at the end, touch it: SIGBUS, as for any file
 *   -a  advise the mapping MADV_HUGEPAGE (huge), or that and then MADV_NOHUGEPAGE
 * Output: lines that must be identical with and without ucow, then one line
 *   "mem: st_blocks_before=.. st_blocks=.. file_kb_before=.. file_kb=.. anon_kb=.." measured
 *   right after the pattern ran (file_kb is st_blocks in kB; anon_kb is the mapping's
 *   Anonymous: in /proc/self/smaps). holes_touched counts holes read or written: the pages
 *   the kernel alone adds to the file; holes_read those a read touched first.
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

#include "shmem-file.h"
#include "size-arg.h"

#define PAGE 4096UL

static const char *kind = "memfd";
static size_t size = 8UL << 20;
static const char *pattern = "seq-write";
static size_t data_every = 4;
static size_t tail;
static bool beyond_eof;
static const char *advice;

static void die(const char *what)
{
	fprintf(stderr, "shmem-hole: %s: %s\n", what, strerror(errno));
	exit(2);
}

static unsigned long layout_seed;
static bool *data_page;	/* the file's layout, one flag per page */

static bool is_data_page(size_t p)
{
	return data_page[p];
}

static uint64_t xorshift(uint64_t *x)
{
	*x ^= *x << 13;
	*x ^= *x >> 7;
	*x ^= *x << 17;
	return *x;
}

/* Which pages have data: every Nth, or runs from a seed. */
static void plan_layout(size_t npages)
{
	uint64_t x = 0x2545f4914f6cdd1dULL ^ layout_seed;
	size_t p = 0;

	data_page = calloc(npages, sizeof(*data_page));
	if (!data_page)
		die("calloc");
	if (!layout_seed) {
		for (p = 0; p < npages; p++)
			data_page[p] = data_every && p % data_every == 0;
		return;
	}
	while (p < npages) {
		/* Short and long runs of holes, about as many of each. */
		p += 1 + xorshift(&x) % ((xorshift(&x) & 1) ? 8 : 600);
		for (size_t n = 1 + xorshift(&x) % 8; n && p < npages; n--)
			data_page[p++] = true;
	}
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

int main(int argc, char **argv)
{
	int exit_status = 0, opt, fd;
	size_t npages, p, written = 0, holes_written = 0, holes_read = 0, holes_touched = 0;
	size_t data_pages = 0;
	size_t bad = 0, fsize;
	unsigned char *map, *page;
	long blocks_before, blocks_after, anon;
	uint64_t sum = 0xcbf29ce484222325ULL, acc = 0;
	bool *touched, *read;

	while ((opt = getopt(argc, argv, "k:s:p:d:r:t:x:ea:")) != -1) {
		switch (opt) {
		case 'k': kind = optarg; break;
		case 's': size = parse_size(optarg); break;
		case 'p': pattern = optarg; break;
		case 'd': data_every = strtoul(optarg, NULL, 0); break;
		case 'r': layout_seed = strtoul(optarg, NULL, 0); break;
		case 't': tail = strtoul(optarg, NULL, 0); break;
		case 'x': exit_status = atoi(optarg); break;
		case 'e': beyond_eof = true; break;
		case 'a': advice = optarg; break;
		default:
			fprintf(stderr, "usage: shmem-hole [-k memfd|shm|dir:PATH] [-s SIZE] "
				"[-p PATTERN] [-d N | -r SEED] [-t TAIL] [-x STATUS] [-e] "
				"[-a huge|huge-then-no]\n");
			return 2;
		}
	}
	npages = size / PAGE;
	if (npages == 0 || tail >= PAGE)
		return 2;
	size = npages * PAGE;
	fsize = size - tail;

	fd = shmem_file_open("shmem-hole", kind);
	if (fd < 0)
		exit(2);
	if (ftruncate(fd, (off_t)fsize) < 0)
		die("ftruncate");
	plan_layout(npages);
	page = malloc(PAGE);
	touched = calloc(npages, sizeof(*touched));
	read = calloc(npages, sizeof(*read));
	if (!page || !touched || !read)
		die("malloc");
	for (p = 0; p < npages; p++) {
		size_t len = p == npages - 1 ? PAGE - tail : PAGE;	/* never past the end */

		if (!is_data_page(p))
			continue;
		for (size_t i = 0; i < PAGE; i++)
			page[i] = data_byte(p, i);
		if (pwrite(fd, page, len, (off_t)(p * PAGE)) != (ssize_t)len)
			die("pwrite");
		data_pages++;
	}
	blocks_before = shmem_file_blocks(fd);

	map = mmap(NULL, size + (beyond_eof ? PAGE : 0), PROT_READ | PROT_WRITE, MAP_PRIVATE,
		   fd, 0);
	if (map == MAP_FAILED)
		die("mmap");
	if (advice && madvise(map, size, MADV_HUGEPAGE) < 0)
		die("madvise MADV_HUGEPAGE");
	if (advice && strcmp(advice, "huge-then-no") == 0 && madvise(map, size, MADV_NOHUGEPAGE) < 0)
		die("madvise MADV_NOHUGEPAGE");

	/* The pattern. Reads are summed into acc so the compiler keeps them. */
	if (strcmp(pattern, "seq-write") == 0) {
		for (p = 0; p < npages; p++)
			touched[p] = true;
	} else if (strcmp(pattern, "rand-write") == 0) {
		uint64_t x = 88172645463325252ULL;

		/* About half the pages, in a scattered order. */
		for (size_t n = 0; n < npages; n++) {
			p = xorshift(&x) % npages;
			if (!touched[p]) {
				touched[p] = true;
				*(volatile uint64_t *)(map + p * PAGE + written_at(p)) = written_word(p);
			}
		}
	} else if (strcmp(pattern, "read") == 0) {
		for (p = 0; p < npages; p++) {
			acc += ((volatile unsigned char *)map)[p * PAGE + (p * 13) % PAGE];
			read[p] = true;
		}
	} else if (strcmp(pattern, "read-write") == 0) {
		for (p = 0; p < npages; p++) {
			acc += ((volatile unsigned char *)map)[p * PAGE + PAGE - 1];
			read[p] = true;
		}
		for (p = 0; p < npages; p++)
			touched[p] = true;
	} else if (strcmp(pattern, "seq-part") == 0) {
		/* A sequential writer that stops: what is not written must cost nothing. */
		for (p = 0; p < npages * 3 / 8 + 5; p++)
			touched[p] = true;
	} else if (strcmp(pattern, "stride2") == 0) {
		for (p = 0; p < npages; p += 2)
			touched[p] = true;
	} else if (strcmp(pattern, "turn-stride2") == 0) {
		/* A sequential writer that turns strided: written in order below, page by page. */
		for (p = 0; p < npages; p++)
			touched[p] = p < npages / 8 || p % 2 == 0;
	} else if (strcmp(pattern, "sparse") == 0) {
		for (p = 3; p < npages; p += 16)	/* 3: a hole when -d is 4 */
			touched[p] = true;
	} else if (strcmp(pattern, "rev-write") == 0 || strcmp(pattern, "rev-stride3") == 0) {
		size_t step = pattern[4] == 's' ? 3 : 1;

		/* From the last page down: windows must grow that way too. */
		for (p = npages; p-- > 0;)
			if ((npages - 1 - p) % step == 0) {
				touched[p] = true;
				*(volatile uint64_t *)(map + p * PAGE + written_at(p)) =
					written_word(p);
			}
	} else if (strcmp(pattern, "rev-read") == 0) {
		for (p = npages; p-- > 0;) {
			acc += ((volatile unsigned char *)map)[p * PAGE + (p * 13) % PAGE];
			read[p] = true;
		}
	} else {
		fprintf(stderr, "shmem-hole: unknown pattern '%s'\n", pattern);
		return 2;
	}
	if (strcmp(pattern, "rand-write") != 0 && strncmp(pattern, "rev-", 4) != 0)
		for (p = 0; p < npages; p++)
			if (touched[p])
				*(volatile uint64_t *)(map + p * PAGE + written_at(p)) = written_word(p);
	for (p = 0; p < npages; p++) {
		written += touched[p];
		holes_written += touched[p] && !is_data_page(p);
		holes_read += read[p] && !is_data_page(p);
		holes_touched += (touched[p] || read[p]) && !is_data_page(p);
	}

	/* Counters first: the checks below read every page, which would fill holes. */
	blocks_after = shmem_file_blocks(fd);
	anon = smaps_anon_kb(map, size);
	if (blocks_before < 0 || blocks_after < 0 || anon < 0)
		die("fstat or /proc/self/smaps");

	/* Every byte is what the kernel promises: file data (zero past the end of the file),
	 * zeros, or what we wrote. */
	for (p = 0; p < npages; p++) {
		for (size_t i = 0; i < PAGE; i += 8) {
			uint64_t want = 0, got;

			if (is_data_page(p))
				for (int b = 7; b >= 0; b--)
					want = want << 8 |
					       (p * PAGE + i + b < fsize ? data_byte(p, i + b) : 0);
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

	printf("kind=%s pattern=%s pages=%zu data_pages=%zu file_size=%zu\n",
	       strncmp(kind, "dir:", 4) == 0 ? "dir" : kind, pattern, npages, data_pages, fsize);
	printf("written=%zu holes_written=%zu holes_read=%zu holes_touched=%zu\n", written,
	       holes_written, holes_read, holes_touched);
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

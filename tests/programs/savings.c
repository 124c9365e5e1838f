/* savings.c: touches a MAP_PRIVATE tmpfs file with data pages among holes in one pattern and
 * prints the page cache the file holds before and at its peak (st_blocks). Knows nothing of ucow.
 *
 * usage: savings [-k memfd|shm] [-s SIZE] [-d EVERY] [-H] PATTERN
 *   -d EVERY  a data page every EVERY pages (written with pwrite before the mapping is made)
 *   -H        MADV_HUGEPAGE on the mapping, as QEMU advises guest RAM
 *   PATTERN   seq-write | rand-write | read | sparse-write (every 7th page) |
 *             read-write (read all, then write every other page) | remap (write the first
 *             half, unmap, map again, write all) | read-half (read the first half, up) |
 *             read-2 (two threads each read all, up)
 * Prints "mem: blocks_before=N blocks_peak=N pages=N" (st_blocks in pages of the file). */
#include <pthread.h>
#include <stdint.h>

#include "shmem-file.h"
#include "size-arg.h"

static size_t page;

static unsigned long file_pages(int fd)
{
	struct stat st;

	if (fstat(fd, &st) < 0) {
		perror("savings: fstat");
		exit(1);
	}
	return (unsigned long)st.st_blocks * 512 / page;
}

static volatile char *map_file(int fd, size_t size, bool huge)
{
	void *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);

	if (p == MAP_FAILED) {
		perror("savings: mmap");
		exit(1);
	}
	if (huge && madvise(p, size, MADV_HUGEPAGE) < 0)
		perror("savings: madvise MADV_HUGEPAGE");
	return p;
}

static volatile char *reading_map;
static size_t reading_pages;

static void *read_all(void *sum)
{
	for (size_t i = 0; i < reading_pages; i++)
		*(unsigned long *)sum += (unsigned char)reading_map[i * page];
	return NULL;
}

int main(int argc, char **argv)
{
	const char *kind = "memfd", *pattern;
	size_t size = 32 << 20, pages, every = 0;
	unsigned long before, peak, sum = 0;
	volatile char *map;
	uint64_t x = 0x9e3779b97f4a7c15u;
	bool huge = false;
	int fd, opt;

	page = (size_t)sysconf(_SC_PAGESIZE);
	while ((opt = getopt(argc, argv, "k:s:d:H")) != -1) {
		switch (opt) {
		case 'k': kind = optarg; break;
		case 's': size = parse_size(optarg); break;
		case 'd': every = parse_size(optarg); break;
		case 'H': huge = true; break;
		default: return 2;
		}
	}
	if (optind + 1 != argc || size < page)
		return 2;
	pattern = argv[optind];
	pages = size / page;
	size = pages * page;
	fd = shmem_file_open("savings", kind);
	if (fd < 0 || ftruncate(fd, (off_t)size) < 0)
		return 1;
	for (size_t i = 0; every && i < pages; i += every) {
		char data[4096];

		memset(data, 0x5a, sizeof(data));
		if (pwrite(fd, data, page < sizeof(data) ? page : sizeof(data),
			   (off_t)(i * page)) < 0)
			return 1;
	}
	before = file_pages(fd);
	map = map_file(fd, size, huge);
	if (strcmp(pattern, "seq-write") == 0) {
		for (size_t i = 0; i < pages; i++)
			map[i * page] = 1;
	} else if (strcmp(pattern, "rand-write") == 0) {
		for (size_t n = 0; n < pages; n++) {
			x ^= x << 13;
			x ^= x >> 7;
			x ^= x << 17;
			map[(x % pages) * page] = 1;
		}
	} else if (strcmp(pattern, "read") == 0) {
		for (size_t i = 0; i < pages; i++)
			sum += (unsigned char)map[i * page];
	} else if (strcmp(pattern, "read-half") == 0) {
		for (size_t i = 0; i < pages / 2; i++)
			sum += (unsigned char)map[i * page];
	} else if (strcmp(pattern, "read-2") == 0) {
		unsigned long other = 0;
		pthread_t t;

		reading_map = map;
		reading_pages = pages;
		if (pthread_create(&t, NULL, read_all, &other) != 0)
			return 1;
		read_all(&sum);
		pthread_join(t, NULL);
		sum += other;
	} else if (strcmp(pattern, "sparse-write") == 0) {
		for (size_t i = 0; i < pages; i += 7)
			map[i * page] = 1;
	} else if (strcmp(pattern, "read-write") == 0) {
		for (size_t i = 0; i < pages; i++)
			sum += (unsigned char)map[i * page];
		for (size_t i = 0; i < pages; i += 2)
			map[i * page] = 1;
	} else if (strcmp(pattern, "remap") == 0) {
		for (size_t i = 0; i < pages / 2; i++)
			map[i * page] = 1;
		munmap((void *)map, size);
		map = map_file(fd, size, huge);
		for (size_t i = 0; i < pages; i++)
			map[i * page] = 1;
	} else {
		fprintf(stderr, "savings: unknown pattern '%s'\n", pattern);
		return 2;
	}
	peak = file_pages(fd);
	printf("savings: %s: read sum %lu\nmem: blocks_before=%lu blocks_peak=%lu pages=%zu\n",
	       pattern, sum, before, peak, pages);
	munmap((void *)map, size);
	close(fd);
	return 0;
}

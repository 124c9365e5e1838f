/* trust-remap.c: a thread reads a private file mapping in a loop while the main thread maps
 * the same file again with MAP_FIXED over it, ROUNDS times. Every byte the reader sees must
 * be one the kernel gives for that file (trust-kinds.h): never a zero where the pattern or
 * the data belongs. Knows nothing of ucow (test program).
 *
 * usage: trust-remap KIND [-r ROUNDS] [-t READERS] [-d | -u] [-p PAGES] [-D]
 *   KIND: memfd, data or refpage
 *   -d  the readers go through the pages in order, from the last one down (windows that lie
 *       below the faulting page), instead of at random
 *   -u  the same going up, from the first page (windows mapped ahead of the readers)
 *   -p  the mapping's size in pages (64)
 *   -D  instead of remapping, discard (MADV_DONTNEED) 2 MiB at a time, round and round,
 *       until the readers have read ROUNDS pages between them (each must make progress)
 * Prints one line; exit 0, 1 on a wrong byte, 2 on a setup error. */
#include <pthread.h>
#include <stdbool.h>
#include <stdatomic.h>
#include <stdint.h>

#include "trust-kinds.h"

static size_t npages = 64;
#define SIZE (npages * TK_PAGE)
#define DISCARD (2UL << 20)

static int kind;
static unsigned char *volatile map;
static atomic_int stop;
static atomic_ulong wrong, reads;
static bool descending, ascending, discard;

static void *reader(void *arg)
{
	unsigned long seed = (unsigned long)(uintptr_t)arg * 2654435761UL + 1;
	size_t next = npages;

	while (!atomic_load(&stop)) {
		size_t pg;
		unsigned char b;

		seed = seed * 6364136223846793005UL + 1442695040888963407UL;
		pg = (seed >> 33) % npages;
		if (descending) {
			next = next ? next - 1 : npages - 1;
			pg = next;
		} else if (ascending) {
			next = next + 1 < npages ? next + 1 : 0;
			pg = next;
		}
		b = map[pg * TK_PAGE + (seed >> 20) % TK_PAGE];
		atomic_fetch_add(&reads, 1);
		if (b != tk_expect(kind, pg)) {
			if (atomic_fetch_add(&wrong, 1) == 0)
				fprintf(stderr, "trust-remap: %s: page %zu read 0x%02x, want 0x%02x\n",
					tk_names[kind], pg, b, tk_expect(kind, pg));
		}
	}
	return NULL;
}

int main(int argc, char **argv)
{
	int rounds = 2000, nreaders = 1, fd, c;
	pthread_t th[8];

	while ((c = getopt(argc, argv, "r:t:dup:D")) != -1) {
		if (c == 'd')
			descending = true;
		else if (c == 'D')
			discard = true;
		else if (c == 'u')
			ascending = true;
		else if (c == 'p' && atol(optarg) > 0)
			npages = (size_t)atol(optarg);
		else if (c == 'r')
			rounds = atoi(optarg);
		else if (c == 't')
			nreaders = atoi(optarg) > 8 ? 8 : atoi(optarg);
		else
			return 2;
	}
	if (argc - optind != 1)
		return 2;
	kind = tk_parse(argv[optind]);
	if (kind != TK_MEMFD && kind != TK_DATA && kind != TK_REFPAGE) {
		fprintf(stderr, "trust-remap: KIND must be a file kind\n");
		return 2;
	}
	fd = tk_fd(kind, SIZE);
	map = tk_map(kind, fd, SIZE);
	if (fd < 0 || map == MAP_FAILED) {
		perror("trust-remap: setup");
		return 2;
	}
	for (int i = 0; i < nreaders; i++)
		if (pthread_create(&th[i], NULL, reader, (void *)(uintptr_t)(i + 1)) != 0)
			return 2;
	for (size_t off = 0; discard && atomic_load(&reads) < (unsigned long)rounds;
	     off = off + DISCARD < SIZE ? off + DISCARD : 0)
		madvise((char *)map + off, SIZE - off < DISCARD ? SIZE - off : DISCARD, MADV_DONTNEED);
	for (int r = 0; !discard && r < rounds; r++) {
		if (tk_map_at(kind, fd, SIZE, map, 1) != map) {
			perror("trust-remap: mmap MAP_FIXED");
			atomic_store(&stop, 1);
			return 2;
		}
		/* Let the readers fault on the new mapping before the next one. */
		if (r % 16 == 0)
			usleep(50);
	}
	atomic_store(&stop, 1);
	for (int i = 0; i < nreaders; i++)
		pthread_join(th[i], NULL);
	printf("%s %s: %d rounds, %d readers, %s\n", discard ? "discard" : "remap", tk_names[kind],
	       rounds, nreaders,
	       atomic_load(&wrong) ? "wrong bytes" : "0 wrong bytes");
	return atomic_load(&wrong) ? 1 : 0;
}

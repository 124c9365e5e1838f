/* shmem-file.h: the tmpfs files and memory counters the shmem test programs share (a memfd,
 * a file in /dev/shm or in a given directory; st_blocks; smaps Anonymous). Plain C. */
#ifndef TEST_SHMEM_FILE_H
#define TEST_SHMEM_FILE_H

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

/*
 * A new empty file of @kind: "memfd", "shm" (in /dev/shm) or "dir:PATH". Files with a name
 * are unlinked at once: the descriptor and the mappings keep them.
 */
static inline int shmem_file_open(const char *prog, const char *kind)
{
	char path[4096];
	int fd;

	if (strcmp(kind, "memfd") == 0) {
		fd = memfd_create(prog, 0);
		if (fd < 0)
			fprintf(stderr, "%s: memfd_create: %s\n", prog, strerror(errno));
		return fd;
	}
	if (strcmp(kind, "shm") == 0) {
		snprintf(path, sizeof(path), "/dev/shm/%s.XXXXXX", prog);
	} else if (strncmp(kind, "dir:", 4) == 0) {
		snprintf(path, sizeof(path), "%s/%s.XXXXXX", kind + 4, prog);
	} else {
		fprintf(stderr, "%s: unknown kind '%s' (memfd, shm or dir:PATH)\n", prog, kind);
		return -1;
	}
	fd = mkstemp(path);
	if (fd < 0) {
		fprintf(stderr, "%s: %s: %s\n", prog, path, strerror(errno));
		return -1;
	}
	unlink(path);
	return fd;
}

/*
 * The file's st_blocks (512-byte units): what a tmpfs file holds in memory. -1 on error.
 * Read until three readings 5 ms apart agree: on this VM the kernel's count has been seen
 * a few pages short of the pages just written, in plain runs as well (once 17 pages short
 * with two readings 2 ms apart agreeing).
 */
static inline long shmem_file_blocks(int fd)
{
	struct stat st;
	long prev = -2;
	int same = 0;

	for (int i = 0; i < 100 && same < 2; i++) {
		if (fstat(fd, &st) < 0)
			return -1;
		same = (long)st.st_blocks == prev ? same + 1 : 0;
		prev = (long)st.st_blocks;
		if (same < 2)
			usleep(5000);
	}
	return (long)st.st_blocks;
}

/* Anonymous kB of every VMA inside [start, start+len), from /proc/self/smaps; -1 on error. */
static inline long smaps_anon_kb(const void *start, size_t len)
{
	uintptr_t lo = (uintptr_t)start, hi = lo + len;
	FILE *f = fopen("/proc/self/smaps", "r");
	char line[512];
	bool inside = false;
	long total = 0;

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		unsigned long a, b;
		long kb;
		char *dash = strchr(line, '-'), *space = strchr(line, ' ');

		if (dash && space && dash < space && sscanf(line, "%lx-%lx ", &a, &b) == 2)
			inside = a >= lo && b <= hi;
		else if (inside && sscanf(line, "Anonymous: %ld kB", &kb) == 1)
			total += kb;
	}
	fclose(f);
	return total;
}

#endif

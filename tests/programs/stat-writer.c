/* stat-writer.c: writes a MAP_PRIVATE memfd in STEPS parts, stopping after each until told to
 * go on, so that a test can look at it from outside between steps. Knows nothing of ucow.
 *
 * usage: stat-writer DIR STEPS MIB
 *   after writing part K (one byte per page) it writes its pid into DIR/step.K (made when
 *   done) and waits (at most 60 s)
 *   for DIR/go.K; then it checks every byte and exits 0 (1 on a wrong byte). */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#define PAGE 4096UL

static void mark(const char *dir, const char *what, int k)
{
	char path[4096], tmp[4200];
	int fd;

	snprintf(path, sizeof(path), "%s/%s.%d", dir, what, k);
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	fd = open(tmp, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
	if (fd >= 0) {
		dprintf(fd, "%d\n", (int)getpid());
		close(fd);
		rename(tmp, path);
	}
}

static int wait_for(const char *dir, const char *what, int k)
{
	char path[4096];
	struct stat st;

	snprintf(path, sizeof(path), "%s/%s.%d", dir, what, k);
	for (int i = 0; i < 6000; i++) {
		if (stat(path, &st) == 0)
			return 0;
		usleep(10000);
	}
	return -1;
}

int main(int argc, char **argv)
{
	const char *dir = argc > 1 ? argv[1] : ".";
	int steps = argc > 2 ? atoi(argv[2]) : 2;
	size_t size = (argc > 3 ? strtoul(argv[3], NULL, 10) : 4) << 20, part;
	int fd = memfd_create("stat-writer", MFD_CLOEXEC), bad = 0;
	unsigned char *p;

	if (steps < 1 || fd < 0 || ftruncate(fd, (off_t)size) < 0)
		return 2;
	p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
	close(fd);
	if (p == MAP_FAILED)
		return 2;
	part = size / (size_t)steps / PAGE * PAGE;
	for (int k = 1; k <= steps; k++) {
		size_t end = k == steps ? size : part * (size_t)k;

		for (size_t i = part * (size_t)(k - 1); i < end; i += PAGE)
			p[i] = (unsigned char)k;
		mark(dir, "step", k);
		if (wait_for(dir, "go", k) < 0)
			return 3;
	}
	for (size_t i = 0; i < size; i++) {
		size_t k = i / PAGE * PAGE / part + 1;

		if (k > (size_t)steps)
			k = (size_t)steps;
		bad |= p[i] != (i % PAGE ? 0 : (unsigned char)k);
	}
	printf("stat-writer: %d steps over %zu MiB: %s\n", steps, size >> 20, bad ? "WRONG" : "OK");
	return bad;
}

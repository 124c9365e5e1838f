/* fork-check.c: a multi-threaded parent maps a memfd MAP_PRIVATE, writes part of it and
 * forks; the child and a grandchild check they see fork-time bytes, and nobody sees the
 * others' later writes. Knows nothing of ucow (test program).
 *
 * usage: fork-check [-s SIZE] [-t THREADS] [-g STATUS]
 *   -g  the grandchild exits with STATUS after its checks pass; the child and then the
 *       parent exit with the status they collected, so it must come out of the whole tree.
 * Exit: 0 (or STATUS), 1 parent check failed, 2 setup, 3x child check failed, 4x grandchild.
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "size-arg.h"

#define PAGE 4096UL

/* Who last wrote a page, by generation; 0 = nobody (a hole, or file data). */
enum { NOBODY, PARENT, CHILD, GRANDCHILD, PARENT_LATE, CHILD_LATE };

static size_t npages = 2048;
static unsigned char *map;
static atomic_bool stop;

static void die(const char *what)
{
	fprintf(stderr, "fork-check: %s: %s\n", what, strerror(errno));
	exit(2);
}

/* Page layout, in eighths of the mapping:
 * 0: file data, never written   1: file data, parent writes before fork
 * 2: holes, parent writes before fork   3: holes, the child overwrites part of 2 here too
 * 4: holes, child writes   5: holes, grandchild writes   6: holes, parent writes after fork
 * 7: holes, never written (read by the threads)  */
static size_t eighth(size_t k)
{
	return npages / 8 * k;
}

static unsigned char file_byte(size_t p)
{
	return (unsigned char)(p * 7 + 3) | 0x80;
}

static unsigned char mark(int who, size_t p)
{
	return (unsigned char)(who * 40 + p % 37 + 1);
}

static void write_pages(size_t from, size_t to, int who)
{
	for (size_t p = from; p < to; p++)
		memset(map + p * PAGE, mark(who, p), PAGE / 2);	/* half a page: the rest stays */
}

/* The expected first and last byte of page @p given who wrote the ranges so far. */
static int check_page(size_t p, int writer, const char *me)
{
	unsigned char base = p < eighth(2) ? file_byte(p) : 0;
	unsigned char first = writer ? mark(writer, p) : base;

	if (map[p * PAGE] != first || map[p * PAGE + PAGE - 1] != base) {
		fprintf(stderr, "fork-check: %s: page %zu holds %#x..%#x, want %#x..%#x\n", me, p,
			map[p * PAGE], map[p * PAGE + PAGE - 1], first, base);
		return 1;
	}
	return 0;
}

static int check_range(size_t from, size_t to, int writer, const char *me)
{
	int bad = 0;

	for (size_t p = from; p < to && bad < 5; p++)
		bad += check_page(p, writer, me);
	return bad;
}

/* Threads keep faulting on the never-written part and spinning while the parent forks. */
static void *busy(void *arg)
{
	uintptr_t id = (uintptr_t)arg;
	unsigned long sum = 0;

	while (!atomic_load(&stop))
		for (size_t p = eighth(7) + id; p < npages && !atomic_load(&stop); p += 4)
			sum += map[p * PAGE];
	return (void *)(uintptr_t)(sum != 0);	/* holes read zero */
}

static int grandchild(void)
{
	int bad = 0;

	/* The child's state at its fork. */
	bad += check_range(0, eighth(1), NOBODY, "grandchild");
	bad += check_range(eighth(1), eighth(2), PARENT, "grandchild");
	bad += check_range(eighth(2), eighth(3), PARENT, "grandchild");
	bad += check_range(eighth(3), eighth(5), CHILD, "grandchild");
	bad += check_range(eighth(5), eighth(8), NOBODY, "grandchild");
	write_pages(eighth(5), eighth(6), GRANDCHILD);
	bad += check_range(eighth(5), eighth(6), GRANDCHILD, "grandchild");
	return bad ? 40 + (bad > 9 ? 9 : bad) : -1;
}

static int child(int gc_status)
{
	int bad = 0, status;
	pid_t pid;

	/* The parent's state at fork: its later writes (eighth 6) must not show. */
	bad += check_range(0, eighth(1), NOBODY, "child");
	bad += check_range(eighth(1), eighth(3), PARENT, "child");
	bad += check_range(eighth(3), eighth(8), NOBODY, "child");
	write_pages(eighth(3), eighth(5), CHILD);
	fflush(stdout);
	pid = fork();
	if (pid < 0)
		die("fork (child)");
	if (pid == 0) {
		int r = grandchild();

		if (r < 0) {
			printf("grandchild: ok\n");
			r = gc_status;
		}
		fflush(stdout);
		_exit(r);
	}
	/* Write more while the grandchild checks: it must not see this. */
	write_pages(eighth(6), eighth(7), CHILD_LATE);
	if (waitpid(pid, &status, 0) != pid)
		die("waitpid (child)");
	bad += check_range(eighth(5), eighth(6), NOBODY, "child");	/* grandchild's writes */
	bad += check_range(eighth(6), eighth(7), CHILD_LATE, "child");
	if (bad)
		return 30 + (bad > 9 ? 9 : bad);
	printf("child: ok\n");
	if (!WIFEXITED(status))
		return 128 + WTERMSIG(status);
	return WEXITSTATUS(status);
}

int main(int argc, char **argv)
{
	int nthreads = 3, gc_status = 0, opt, fd, status, bad = 0;
	pthread_t threads[16];
	pid_t pid;
	size_t size;

	while ((opt = getopt(argc, argv, "s:t:g:")) != -1) {
		switch (opt) {
		case 's': npages = parse_size(optarg) / PAGE; break;
		case 't': nthreads = atoi(optarg); break;
		case 'g': gc_status = atoi(optarg); break;
		default:
			fprintf(stderr, "usage: fork-check [-s SIZE] [-t THREADS] [-g STATUS]\n");
			return 2;
		}
	}
	if (npages < 64 || nthreads < 0 || nthreads > 16) {
		fprintf(stderr, "fork-check: want at least 256K and 0 to 16 threads\n");
		return 2;
	}
	npages -= npages % 8;
	size = npages * PAGE;
	setvbuf(stdout, NULL, _IOLBF, 0);

	fd = memfd_create("fork-check", 0);
	if (fd < 0)
		die("memfd_create");
	if (ftruncate(fd, (off_t)size) < 0)
		die("ftruncate");
	for (size_t p = 0; p < eighth(2); p++) {
		unsigned char buf[PAGE];

		memset(buf, file_byte(p), PAGE);
		if (pwrite(fd, buf, PAGE, (off_t)(p * PAGE)) != (ssize_t)PAGE)
			die("pwrite");
	}
	map = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
	if (map == MAP_FAILED)
		die("mmap");
	close(fd);	/* the mapping keeps the file */

	for (int i = 0; i < nthreads; i++)
		if ((errno = pthread_create(&threads[i], NULL, busy, (void *)(uintptr_t)i)))
			die("pthread_create");
	write_pages(eighth(1), eighth(3), PARENT);

	pid = fork();
	if (pid < 0)
		die("fork");
	if (pid == 0)
		_exit(child(gc_status));

	/* Write while the child checks: it must still see fork-time bytes. */
	write_pages(eighth(6), eighth(7), PARENT_LATE);
	if (waitpid(pid, &status, 0) != pid)
		die("waitpid");
	atomic_store(&stop, true);
	for (int i = 0; i < nthreads; i++) {
		void *r;

		pthread_join(threads[i], &r);
		bad += r != NULL;
	}
	if (bad)
		fprintf(stderr, "fork-check: parent: a thread read non-zero bytes from a hole\n");
	bad += check_range(0, eighth(1), NOBODY, "parent");
	bad += check_range(eighth(1), eighth(3), PARENT, "parent");
	bad += check_range(eighth(3), eighth(6), NOBODY, "parent");	/* child, grandchild */
	bad += check_range(eighth(6), eighth(7), PARENT_LATE, "parent");
	bad += check_range(eighth(7), eighth(8), NOBODY, "parent");
	if (bad)
		return 1;
	printf("parent: ok\n");
	if (!WIFEXITED(status)) {
		fprintf(stderr, "fork-check: child killed by signal %d\n", WTERMSIG(status));
		return 128 + WTERMSIG(status);
	}
	return WEXITSTATUS(status);
}

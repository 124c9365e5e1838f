/* trust-forkedges.c: what fork must leave as the kernel does, under ucow (issue 11, item 2):
 *   locks     the program's POSIX lock on a memfd it maps privately survives a fork;
 *   dontfork  a child reads a reference page's pattern outside a range kept from it with
 *             MADV_DONTFORK (a memfd of the same bytes when ucow is not there);
 *   rawfork   a child of syscall(SYS_fork) maps and writes a memfd at once (no stall).
 * Prints what it saw; exit 0 when right. */
#include <dlfcn.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define PAGE 4096UL
#define LEN (2UL << 20)

static int wait_child(pid_t pid)
{
	int status;

	if (pid < 0 || waitpid(pid, &status, 0) != pid)
		return -1;
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

static int my_locks(void)
{
	char line[256], me[32];
	FILE *f = fopen("/proc/locks", "r");
	int n = 0;

	if (!f)
		return -1;
	snprintf(me, sizeof(me), " %d ", (int)getpid());
	while (fgets(line, sizeof(line), f))
		n += strstr(line, me) != NULL;
	fclose(f);
	return n;
}

static int case_locks(void)
{
	struct flock fl = { .l_type = F_WRLCK, .l_whence = SEEK_SET, .l_len = 0 };
	int fd = memfd_create("locks", 0);
	char *p;

	if (fd < 0 || ftruncate(fd, LEN) < 0 || fcntl(fd, F_SETLK, &fl) < 0)
		return 2;
	p = mmap(NULL, LEN, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
	if (p == MAP_FAILED)
		return 2;
	p[0] = 1;
	if (wait_child(fork()) < 0)
		return 2;
	printf("locks: %d after fork\n", my_locks());
	return my_locks() == 1 ? 0 : 1;
}

static unsigned char *pattern_mapping(void)
{
	int (*create)(const void *, size_t, unsigned long) =
		(int (*)(const void *, size_t, unsigned long))dlsym(RTLD_DEFAULT, "ucow_refpage_create");
	static const char pat[8] = "ABCDEFGH";
	unsigned char *p;
	int fd;

	if (create)
		fd = create(pat, sizeof(pat), 0);
	else {
		fd = memfd_create("pattern", 0);
		for (size_t at = 0; fd >= 0 && at < LEN; at += sizeof(pat))
			if (pwrite(fd, pat, sizeof(pat), (off_t)at) != sizeof(pat))
				return MAP_FAILED;
	}
	if (fd < 0)
		return MAP_FAILED;
	p = mmap(NULL, LEN, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
	close(fd);
	return p;
}

static int case_dontfork(void)
{
	unsigned char *p = pattern_mapping();
	size_t lo = 100 * PAGE, hi = 110 * PAGE;
	pid_t pid;

	if (p == MAP_FAILED || madvise(p + lo, hi - lo, MADV_DONTFORK) < 0)
		return 2;
	pid = fork();
	if (pid == 0) {
		size_t wrong = 0;

		for (size_t i = 0; i < LEN; i++)
			if ((i < lo || i >= hi) && p[i] != (unsigned char)("ABCDEFGH"[i % 8]))
				wrong++;
		printf("dontfork: child %zu wrong bytes\n", wrong);
		fflush(stdout);
		_exit(wrong ? 1 : 0);
	}
	return wait_child(pid) == 0 ? 0 : 1;
}

static int case_rawfork(void)
{
	int fd = memfd_create("raw", 0);
	char *first;
	pid_t pid;

	if (fd < 0 || ftruncate(fd, LEN) < 0)
		return 2;
	first = mmap(NULL, LEN, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
	if (first == MAP_FAILED)
		return 2;
	first[0] = 1;
	pid = (pid_t)syscall(SYS_fork);
	if (pid == 0) {
		struct timespec a, b;
		char *q;

		clock_gettime(CLOCK_MONOTONIC, &a);
		q = mmap(NULL, LEN, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
		if (q == MAP_FAILED)
			_exit(2);
		q[PAGE] = 7;
		munmap(q, LEN);
		clock_gettime(CLOCK_MONOTONIC, &b);
		/* The kernel takes microseconds; a request left unanswered took 10 s. */
		_exit(b.tv_sec - a.tv_sec >= 2 ? 1 : 0);
	}
	printf("rawfork: child %s\n", wait_child(pid) == 0 ? "quick" : "slow or failed");
	return 0;
}

int main(int argc, char **argv)
{
	const char *c = argc > 1 ? argv[1] : "";

	if (!strcmp(c, "locks"))
		return case_locks();
	if (!strcmp(c, "dontfork"))
		return case_dontfork();
	if (!strcmp(c, "rawfork"))
		return case_rawfork();
	fprintf(stderr, "usage: trust-forkedges locks|dontfork|rawfork\n");
	return 2;
}

/* fd-table.c: a program that does what it likes with its own descriptor table (dup2 onto any
 * number, close_range, a low RLIMIT_NOFILE, hundreds of mappings) around MAP_PRIVATE
 * mappings of shmem files, and checks every byte it reads. Plain C; knows nothing of ucow.
 *   fd-table CASE [-f]   CASE: pipe1000 null1000 pipe-all null-all close-range closefrom
 *                              many rdonly;  -f: fork afterwards, the child checks again
 * stdout: "bytes ok ..." lines, "opens=N", "eof=1" and "mem: grew_kb=N" (not compared). */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#define PAGES 256
#define PG 4096
#define MAPPINGS 900
#define OPENS 500

static const char *prog = "fd-table";
static bool own[1 << 16];	/* the numbers this program opened itself */

static void die(const char *what)
{
	fprintf(stderr, "%s: %s: %s\n", prog, what, strerror(errno));
	exit(2);
}

/* Data on every 8th page, holes elsewhere. */
static unsigned char want(size_t page)
{
	return page % 8 == 0 ? (unsigned char)(page | 1) : 0;
}

static int make_file(bool named, bool rdonly)
{
	char path[] = "/dev/shm/fd-table.XXXXXX";
	int fd = named ? mkstemp(path) : memfd_create(prog, 0);

	if (fd < 0)
		die("create");
	if (ftruncate(fd, PAGES * PG) < 0)
		die("ftruncate");
	for (size_t p = 0; p < PAGES; p += 8) {
		unsigned char b[PG];

		memset(b, want(p), PG);
		if (pwrite(fd, b, PG, (off_t)(p * PG)) != PG)
			die("pwrite");
	}
	if (named && rdonly) {
		int ro = open(path, O_RDONLY | O_CLOEXEC);

		if (ro < 0)
			die("open O_RDONLY");
		close(fd);
		fd = ro;
	}
	if (named)
		unlink(path);
	own[fd] = true;
	return fd;
}

static unsigned char *map(int fd)
{
	void *p = mmap(NULL, PAGES * PG, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);

	if (p == MAP_FAILED)
		die("mmap");
	return p;
}

static long kb(int fd)
{
	struct stat st;

	return fstat(fd, &st) < 0 ? -1 : (long)st.st_blocks / 2;
}

/* Every byte as the file has it, then a write to each hole reads back, the file unchanged. */
static int check(const char *what, unsigned char *m, unsigned char mark)
{
	int bad = 0;

	for (size_t p = 0; p < PAGES; p++)
		for (size_t i = 0; i < PG; i += 512)
			if (m[p * PG + i] != want(p) && m[p * PG + i] != mark)
				bad++;
	for (size_t p = 1; p < PAGES; p += 3)
		m[p * PG + 7] = mark;
	for (size_t p = 1; p < PAGES; p += 3)
		if (m[p * PG + 7] != mark)
			bad++;
	printf("bytes %s %s\n", bad ? "WRONG" : "ok", what);
	return bad;
}

static void dup_onto(int fd, int target)
{
	if (dup2(fd, target) < 0)
		die("dup2");
}

/* dup2 @fd onto every number below the limit that is not the program's own. */
static int dup_all(int fd)
{
	struct rlimit rl;
	int n = 0;

	getrlimit(RLIMIT_NOFILE, &rl);
	for (int i = 3; i < (int)rl.rlim_cur && i < (1 << 16); i++)
		if (!own[i]) {
			dup_onto(fd, i);
			n++;
		}
	return n;
}

static void close_dups(void)
{
	for (int i = 3; i < (1 << 16); i++)
		if (!own[i])
			close(i);
}

int main(int argc, char **argv)
{
	const char *c = argc > 1 ? argv[1] : "";
	bool fork_after = argc > 2 && strcmp(argv[2], "-f") == 0;
	bool rdonly = strcmp(c, "rdonly") == 0;
	int file, pfd[2], null, bad = 0;
	unsigned char *m1, *m2;
	long before;

	/* Made before anything is mapped: a helper that started later must not hold it. */
	if (pipe2(pfd, O_CLOEXEC) < 0)
		die("pipe");
	null = open("/dev/null", O_RDWR | O_CLOEXEC);
	own[pfd[0]] = own[pfd[1]] = own[null] = true;
	file = make_file(rdonly, rdonly);
	before = kb(file);
	m1 = map(file);
	/* Reads of the holes: the kernel fills them in the page cache. */
	for (size_t p = 0; p < PAGES; p++)
		bad += m1[p * PG + 1] != want(p);
	printf("mem: grew_kb=%ld\n", kb(file) - before);

	if (strcmp(c, "pipe1000") == 0 || strcmp(c, "null1000") == 0) {
		dup_onto(c[0] == 'p' ? pfd[1] : null, 1000);
	} else if (strcmp(c, "pipe-all") == 0 || strcmp(c, "null-all") == 0) {
		printf("dups=%s\n", dup_all(c[0] == 'p' ? pfd[1] : null) > 0 ? "some" : "none");
	} else if (strcmp(c, "close-range") == 0) {
		if (syscall(SYS_close_range, 3, ~0U, 0) < 0)
			die("close_range");
		memset(own + 3, 0, sizeof(own) - 3);
		pfd[0] = pfd[1] = null = -1;
	} else if (strcmp(c, "closefrom") == 0) {
		for (int i = 3; i < 4096; i++)
			close(i);
		memset(own + 3, 0, sizeof(own) - 3);
		pfd[0] = pfd[1] = null = -1;
	} else if (strcmp(c, "many") == 0) {
		int opened = 0;

		for (int i = 0; i < MAPPINGS; i++) {
			unsigned char *p = mmap(NULL, PG, PROT_READ | PROT_WRITE, MAP_PRIVATE,
						file, (off_t)(i % PAGES) * PG);

			if (p == MAP_FAILED)
				die("mmap");
			bad += p[3] != want((size_t)i % PAGES);
		}
		for (int i = 0; i < OPENS; i++) {
			int fd = open("/dev/null", O_RDONLY | O_CLOEXEC);

			if (fd < 0)
				break;
			own[fd] = true;
			opened++;
		}
		printf("opens=%d\n", opened);
	} else if (!rdonly) {
		fprintf(stderr, "%s: unknown case '%s'\n", prog, c);
		return 2;
	}
	bad += check("first mapping, after", m1, 0xa5);
	/* A new mapping after the damage: ucow must still serve (or leave it to the kernel). */
	if (file < 0 || fcntl(file, F_GETFD) < 0 || !own[file])
		file = make_file(rdonly, rdonly);
	m2 = map(file);
	bad += check("new mapping", m2, 0x5a);
	if (strstr(c, "all"))
		close_dups();
	if (strstr(c, "1000"))
		close(1000);
	if (pfd[1] >= 0) {
		char b;

		/* Every writer gone: the reader sees end of file, unless someone else holds one. */
		close(pfd[1]);
		fcntl(pfd[0], F_SETFL, O_NONBLOCK);
		printf("eof=%d\n", read(pfd[0], &b, 1) == 0);
	}
	if (fork_after) {
		pid_t pid;
		int st;

		fflush(stdout);
		pid = fork();
		if (pid < 0)
			die("fork");
		if (pid == 0) {
			int cbad = check("child, first mapping", m1, 0x33);

			cbad += check("child, new mapping", m2, 0x44);
			cbad += check("child, mapping of its own", map(file), 0x55);
			fflush(stdout);
			_exit(cbad ? 1 : 0);
		}
		if (waitpid(pid, &st, 0) < 0)
			die("waitpid");
		printf("child status %d\n", WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st));
		bad += !WIFEXITED(st) || WEXITSTATUS(st);
		bad += check("parent after fork", m1, 0x66);
	}
	printf("%s\n", bad ? "WRONG" : "all ok");
	return bad ? 1 : 0;
}

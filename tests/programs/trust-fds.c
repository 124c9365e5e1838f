/* trust-fds.c: a program does what it likes with its descriptor table after touching private
 * memory, then reads the rest of that memory. Knows nothing of ucow (test program).
 *
 * usage: trust-fds KIND CASE
 *   dup2pipe    dup2 a pipe's read end onto fd 1000
 *   dup2null    dup2 /dev/null onto fd 1000
 *   closerange  close_range(3, ~0U, 0), as closefrom() does
 *   ulimit64    RLIMIT_NOFILE 64 from the start; /dev/null dup2'd onto every number from 3
 *               to 63 that the program did not open itself
 *   manymaps    RLIMIT_NOFILE 1024, 900 one-page mappings of one file (each touched), then
 *               counts how many open()s succeed, up to 500
 * Memory: 4 MiB of KIND (trust-kinds.h); one page is read before CASE, all of it after.
 * Prints one line; exit 0, 1 on a wrong byte or a short count, 2 on a setup error. */
#include <fcntl.h>
#include <sys/resource.h>
#include <sys/syscall.h>

#include "trust-kinds.h"

#define SIZE (4UL << 20)

static void limit(rlim_t n)
{
	struct rlimit rl = { n, n };

	if (setrlimit(RLIMIT_NOFILE, &rl) < 0) {
		perror("trust-fds: setrlimit");
		exit(2);
	}
}

static int manymaps(int kind)
{
	int fd = tk_fd(kind, 900 * TK_PAGE), opened = 0, fds[500];
	size_t wrong = 0;

	limit(1024);
	if (fd < 0)
		return 2;
	for (size_t i = 0; i < 900; i++) {
		unsigned char *p = mmap(NULL, TK_PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd,
					(off_t)(i * TK_PAGE));

		if (p == MAP_FAILED) {
			perror("trust-fds: mmap");
			return 2;
		}
		/* Page i of the file is page 0 of this mapping: check it by hand. */
		for (size_t b = 0; b < TK_PAGE; b++)
			wrong += p[b] != tk_expect(kind, i);
	}
	while (opened < 500 && (fds[opened] = open("/dev/null", O_RDONLY)) >= 0)
		opened++;
	if (opened < 500)
		fprintf(stderr, "trust-fds: open #%d: %s\n", opened + 1, strerror(errno));
	printf("fds %s manymaps: 900 mappings, %zu wrong bytes, %d of 500 open()s succeeded\n",
	       tk_names[kind], wrong, opened);
	return wrong || opened < 500 ? 1 : 0;
}

int main(int argc, char **argv)
{
	const char *cs;
	unsigned char *p;
	int kind, fd, nullfd = -1, pfd[2];
	size_t wrong;

	if (argc != 3) {
		fprintf(stderr, "usage: trust-fds KIND dup2pipe|dup2null|closerange|ulimit64|manymaps\n");
		return 2;
	}
	kind = tk_parse(argv[1]);
	cs = argv[2];
	if (strcmp(cs, "manymaps") == 0)
		return manymaps(kind);
	if (strcmp(cs, "ulimit64") == 0)
		limit(64);
	fd = tk_fd(kind, SIZE);
	p = tk_map(kind, fd, SIZE);
	if (p == MAP_FAILED) {
		perror("trust-fds: mmap");
		return 2;
	}
	wrong = tk_check(kind, p, 0, 1, "before");
	if (strcmp(cs, "dup2pipe") == 0) {
		if (pipe(pfd) < 0 || dup2(pfd[0], 1000) < 0)
			return 2;
	} else if (strcmp(cs, "dup2null") == 0) {
		nullfd = open("/dev/null", O_RDWR);
		if (nullfd < 0 || dup2(nullfd, 1000) < 0)
			return 2;
	} else if (strcmp(cs, "closerange") == 0) {
		if (syscall(SYS_close_range, 3U, ~0U, 0) < 0) {
			perror("trust-fds: close_range");
			return 2;
		}
	} else if (strcmp(cs, "ulimit64") == 0) {
		nullfd = open("/dev/null", O_RDWR);
		if (nullfd < 0)
			return 2;
		for (int n = 3; n < 64; n++)
			if (n != fd && n != nullfd && dup2(nullfd, n) < 0) {
				perror("trust-fds: dup2");
				return 2;
			}
	} else {
		fprintf(stderr, "trust-fds: unknown case '%s'\n", cs);
		return 2;
	}
	wrong += tk_check(kind, p, 0, SIZE / TK_PAGE, "after");
	printf("fds %s %s: %zu wrong bytes\n", tk_names[kind], cs, wrong);
	return wrong ? 1 : 0;
}

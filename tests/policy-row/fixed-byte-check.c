/* fixed-byte-check.c: maps private anonymous MAP_STACK memory and prints what its pages read
 * before and after writes, in the process and in a fork child. Knows nothing of ucow. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#define PAGES 64
#define PAGE 4096

/* "B" if every byte of the page is B, else "mixed". */
static int page_byte(const unsigned char *p)
{
	for (int i = 1; i < PAGE; i++)
		if (p[i] != p[0])
			return -1;
	return p[0];
}

static int check(const unsigned char *m, int expect, int written, const char *who)
{
	int bad = 0;

	for (int i = 0; i < PAGES; i++) {
		int want = i == written ? 0x5A : expect;

		if (page_byte(m + (size_t)i * PAGE) != want)
			bad++;
	}
	printf("%s: %d of %d pages wrong\n", who, bad, PAGES);
	return bad;
}

int main(int argc, char **argv)
{
	int expect = argc > 1 ? (int)strtol(argv[1], NULL, 0) : 0;
	unsigned char *m = mmap(NULL, PAGES * PAGE, PROT_READ | PROT_WRITE,
				MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
	int bad, status;
	pid_t pid;

	if (m == MAP_FAILED) {
		perror("mmap");
		return 2;
	}
	bad = check(m, expect, -1, "untouched");
	memset(m + 3 * PAGE, 0x5A, PAGE);
	bad += check(m, expect, 3, "after a write");
	pid = fork();
	if (pid == 0)
		_exit(check(m, expect, 3, "fork child") ? 1 : 0);
	if (pid < 0 || waitpid(pid, &status, 0) != pid || !WIFEXITED(status) ||
	    WEXITSTATUS(status))
		bad++;
	munmap(m, PAGES * PAGE);
	return bad ? 1 : 0;
}

/* atfork-touch.c: the program's own pthread_atfork handlers read pattern memory nobody has
 * touched yet: the prepare handler in the parent, the child handler in the child. Both must
 * see the pattern, and fork must not hang.
 *
 * The pattern comes from ucow_refpage_create when the process has it (found with dlsym, as
 * under LD_PRELOAD=libucow.so), else from a memfd filled with it: the output is the same.
 * Output: one line per check, "ok"; exit 0, or 1 on a wrong byte.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "pattern-source.h"

#define PAGE 4096UL
#define PAGES 64
#define PATTERN 0x5a

static volatile unsigned char *map;
static int prepare_saw = -1, child_saw = -1;

static void prepare(void)
{
	prepare_saw = map[10 * PAGE];
}

static void child(void)
{
	child_saw = map[40 * PAGE + 7];
}

int main(void)
{
	int fd = pattern_source(PATTERN, PAGES, "atfork-touch"), status;
	pid_t pid;

	if (fd < 0) {
		perror("atfork-touch: pattern");
		return 2;
	}
	map = mmap(NULL, PAGES * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
	if (map == MAP_FAILED) {
		perror("atfork-touch: mmap");
		return 2;
	}
	pthread_atfork(prepare, NULL, child);
	pid = fork();
	if (pid < 0) {
		perror("atfork-touch: fork");
		return 2;
	}
	if (pid == 0)
		_exit(child_saw == PATTERN && map[63 * PAGE] == PATTERN ? 0 : 1);
	if (waitpid(pid, &status, 0) < 0)
		return 2;
	printf("prepare handler: %s\n", prepare_saw == PATTERN ? "pattern" : "WRONG");
	printf("child handler and child: %s\n",
	       WIFEXITED(status) && WEXITSTATUS(status) == 0 ? "pattern" : "WRONG");
	if (prepare_saw != PATTERN || !WIFEXITED(status) || WEXITSTATUS(status) != 0)
		return 1;
	printf("ok\n");
	return 0;
}

/* exit-child.c: a parent and N fork children, each writing every page of its own MAP_PRIVATE
 * memfd and checking it, the children ending with _exit, _Exit, exit or a return from a
 * vfork child's _exit (HOW). Knows nothing of ucow.
 *
 * usage: exit-child HOW N      HOW: _exit | _Exit | exit | vfork */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "memfd-writer.h"

static int write_memfd(unsigned char c)
{
	return write_memfd_named("exit-child", c);
}

/* Globals, not locals: a vfork child runs on its parent's stack frame. */
static const char *how;
static int n;

int main(int argc, char **argv)
{
	int bad = write_memfd('P'), status;

	how = argc > 1 ? argv[1] : "_exit";
	n = argc > 2 ? atoi(argv[2]) : 2;

	for (int i = 0; i < n; i++) {
		pid_t pid = strcmp(how, "vfork") == 0 ? vfork() : fork();

		if (pid == 0) {
			if (strcmp(how, "vfork") == 0)
				_exit(0);
			int rc = write_memfd((unsigned char)('a' + i));

			if (strcmp(how, "_Exit") == 0)
				_Exit(rc);
			if (strcmp(how, "exit") == 0)
				exit(rc);
			_exit(rc);
		}
		if (pid < 0 || waitpid(pid, &status, 0) != pid || !WIFEXITED(status) ||
		    WEXITSTATUS(status)) {
			fprintf(stderr, "exit-child: child %d failed\n", i);
			bad = 1;
		}
	}
	printf("exit-child: %s, %d children: %s\n", how, n, bad ? "WRONG" : "OK");
	return bad;
}

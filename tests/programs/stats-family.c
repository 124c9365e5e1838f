/* stats-family.c: a parent and four kinds of children, each writing one byte per page of its
 * own 1 MiB MAP_PRIVATE memfd: one ends with _exit, one is killed with SIGKILL, one drops its
 * privileges to nobody (as root only) before it exits, one execs this program again, which
 * writes another. Knows nothing of ucow.
 *
 * usage: stats-family WAIT_MS      (how long the killed and the exec'd child live first)
 *        stats-family exec-out [fail]    (write a memfd, then exec a program without ucow,
 *                                         after an exec that fails) */
#include <grp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "memfd-writer.h"

static int write_memfd(unsigned char c)
{
	return write_memfd_named("stats-family", c);
}

static void nap(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) < 0)
		;
}

int main(int argc, char **argv)
{
	long wait_ms = argc > 1 ? atol(argv[1]) : 2500;
	int bad, status, kinds = 0;
	pid_t pid;

	if (argc > 1 && strcmp(argv[1], "leaf") == 0)
		return write_memfd('L');
	/* Writes its memfd, then becomes a program that does not load ucow at all. */
	if (argc > 1 && strcmp(argv[1], "exec-out") == 0) {
		if (write_memfd('O'))
			return 1;
		if (argc > 2)	/* an exec that fails first: the image lives on */
			execl("/nonexistent/ucow-test", "x", (char *)NULL);
		execl("/usr/bin/env", "env", "-u", "LD_PRELOAD", "true", (char *)NULL);
		return 2;
	}
	bad = write_memfd('P');

	pid = fork();			/* 1: _exit */
	if (pid == 0)
		_exit(write_memfd('a'));
	bad |= pid < 0 || waitpid(pid, &status, 0) != pid || !WIFEXITED(status) ||
	       WEXITSTATUS(status);
	kinds++;

	pid = fork();			/* 2: killed */
	if (pid == 0) {
		if (write_memfd('b'))
			_exit(1);
		for (;;)
			pause();
	}
	nap(wait_ms);
	kill(pid, SIGKILL);
	bad |= pid < 0 || waitpid(pid, &status, 0) != pid || !WIFSIGNALED(status);
	kinds++;

	if (geteuid() == 0) {		/* 3: drops privileges */
		pid = fork();
		if (pid == 0) {
			int rc = write_memfd('c');

			if (setgroups(0, NULL) < 0 || setgid(65534) < 0 || setuid(65534) < 0)
				_exit(1);
			exit(rc);
		}
		bad |= pid < 0 || waitpid(pid, &status, 0) != pid || !WIFEXITED(status) ||
		       WEXITSTATUS(status);
		kinds++;
	}

	pid = fork();			/* 4: execs */
	if (pid == 0) {
		if (write_memfd('d'))
			_exit(1);
		nap(wait_ms);
		execl("/proc/self/exe", argv[0], "leaf", (char *)NULL);
		_exit(127);
	}
	bad |= pid < 0 || waitpid(pid, &status, 0) != pid || !WIFEXITED(status) ||
	       WEXITSTATUS(status);
	kinds++;

	printf("stats-family: %d kinds of children: %s\n", kinds, bad ? "WRONG" : "OK");
	return bad;
}

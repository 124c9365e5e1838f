/* stat-forged.c: a process without ucow that forges ucow's live statistics page (the one
 * layout it knows of ucow: src/live_abi.h), naming a thread of another process (its child)
 * and a pipe of that child as the doorbell, so that whoever runs `ucow stat` on it would
 * write into the child's pipe. The child reports what its pipe received.
 *
 * usage: stat-forged SECONDS    Prints this process's pid, then the child's "victim: N bytes". */
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "live_abi.h"

static int victim(int in, int seconds)
{
	struct pollfd pfd = { .fd = in, .events = POLLIN };
	char buf[64];
	ssize_t got = 0;

	if (poll(&pfd, 1, seconds * 1000) > 0)
		got = read(in, buf, sizeof(buf));
	printf("victim: %zd bytes\n", got < 0 ? 0 : got);
	return 0;
}

int main(int argc, char **argv)
{
	int seconds = argc > 1 ? atoi(argv[1]) : 5, p[2], fd;
	struct ucow_live_header *h;
	pid_t child;

	if (pipe(p) < 0)
		return 2;
	fflush(stdout);
	child = fork();
	if (child < 0)
		return 2;
	if (child == 0)
		return victim(p[0], seconds);
	close(p[0]);
	fd = memfd_create(UCOW_LIVE_NAME, MFD_CLOEXEC);
	if (fd < 0 || ftruncate(fd, UCOW_LIVE_SIZE) < 0)
		return 2;
	h = mmap(NULL, UCOW_LIVE_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	close(fd);
	if (h == MAP_FAILED)
		return 2;
	h->version = UCOW_LIVE_VERSION;
	h->pid = (int32_t)getpid();
	h->tid = (int32_t)child;	/* not one of this process's threads */
	h->eventfd = p[1];		/* the same number in the child's table: its pipe */
	h->magic = UCOW_LIVE_MAGIC;
	printf("%d\n", (int)getpid());
	fflush(stdout);
	close(p[1]);
	waitpid(child, NULL, 0);
	return 0;
}

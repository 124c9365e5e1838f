/* exec-fds.c: maps and touches a MAP_PRIVATE memfd, forks, then execs itself to list the
 * fds the new image inherited; knows nothing of ucow (test program).
 *
 * usage: exec-fds          touch a mapping, then exec "exec-fds list"
 *        exec-fds list     print one line per open fd: number and what it is
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#define SIZE (4UL << 20)

static void die(const char *what)
{
	fprintf(stderr, "exec-fds: %s: %s\n", what, strerror(errno));
	exit(2);
}

/* Pipes and sockets get new inode numbers every run, and files (such as the caller's
 * output files) new names: name their kind only. Devices, memfds and anonymous inodes
 * (a userfaultfd) are named in full. */
static void describe(const char *target, char *out, size_t len)
{
	if (strncmp(target, "pipe:", 5) == 0)
		snprintf(out, len, "pipe");
	else if (strncmp(target, "socket:", 7) == 0)
		snprintf(out, len, "socket");
	else if (target[0] == '/' && strncmp(target, "/dev/", 5) != 0 && !strstr(target, "memfd:"))
		snprintf(out, len, "a file");
	else
		snprintf(out, len, "%s", target);
}

static int list(void)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;
	char path[64], target[4096], what[4096];
	int self, max = 0, n = 0;
	static int fds[4096];

	if (!d)
		die("/proc/self/fd");
	self = dirfd(d);
	while ((e = readdir(d))) {
		int fd = atoi(e->d_name);

		if (e->d_name[0] == '.' || fd == self || n == 4096)
			continue;
		fds[n++] = fd;
		if (fd > max)
			max = fd;
	}
	/* In order, whatever order the directory gave. */
	for (int fd = 0; fd <= max; fd++) {
		for (int i = 0; i < n; i++) {
			ssize_t len;

			if (fds[i] != fd)
				continue;
			snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
			len = readlink(path, target, sizeof(target) - 1);
			target[len < 0 ? 0 : len] = '\0';
			describe(target, what, sizeof(what));
			printf("fd %d: %s\n", fd, what);
		}
	}
	closedir(d);
	return 0;
}

int main(int argc, char **argv)
{
	unsigned char *map;
	int fd, status;
	pid_t pid;

	if (argc > 1 && strcmp(argv[1], "list") == 0)
		return list();

	fd = memfd_create("exec-fds", 0);
	if (fd < 0)
		die("memfd_create");
	if (ftruncate(fd, SIZE) < 0)
		die("ftruncate");
	map = mmap(NULL, SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
	if (map == MAP_FAILED)
		die("mmap");
	close(fd);
	for (size_t i = 0; i < SIZE; i += 4096 * 3)
		map[i] = 1;
	if (map[4096] != 0)
		return 1;
	/* A child exercises the fork path too, so whatever it set up is also open. */
	pid = fork();
	if (pid < 0)
		die("fork");
	if (pid == 0)
		exit(map[0] == 1 ? 0 : 1);	/* exit, not _exit: atexit work runs as usual */
	if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status) || WEXITSTATUS(status))
		return 1;
	fflush(stdout);
	execl("/proc/self/exe", argv[0], "list", (char *)NULL);
	die("execl");
}

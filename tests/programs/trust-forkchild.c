/* trust-forkchild.c: a fork child that a shim could not manage must still see the
 * fork-time bytes. Maps memory of a kind (trust-kinds.h, 64 MiB by default), then either
 * drops privileges for good (setuid(65534), as root) or puts itself in a pids cgroup whose
 * limit leaves room for the child process but for no thread in it, and forks; the child
 * checks every byte, and so does the parent after it. Knows nothing of ucow (test program).
 *
 * usage: trust-forkchild KIND setuid|rawsetuid|pids:CGROUP_DIR [-s SIZE]
 *   setuid: glibc's setgroups/setgid/setuid (every thread changes: SIGSETXID);
 *   rawsetuid: the raw system calls, which change the calling thread only (the one that
 *   forks, so the child has uid 65534 and the process's other threads keep root).
 * Prints two lines; exit 0, 1 on a wrong byte (in either), 2 on a setup error. */
#include <fcntl.h>
#include <grp.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include "size-arg.h"
#include "trust-kinds.h"

static int write_file(const char *dir, const char *name, const char *val)
{
	char path[4096];
	int fd, ok;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	ok = write(fd, val, strlen(val)) == (ssize_t)strlen(val);
	close(fd);
	return ok ? 0 : -1;
}

static long read_num(const char *dir, const char *name)
{
	char path[4096], buf[64] = "";
	int fd;
	ssize_t n;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	return n > 0 ? atol(buf) : -1;
}

int main(int argc, char **argv)
{
	size_t size = 64UL << 20, npages, wrong;
	const char *how, *cg = NULL;
	unsigned char *p;
	int kind, fd, status, c;
	char buf[64];
	pid_t pid;

	while ((c = getopt(argc, argv, "s:")) != -1) {
		if (c != 's')
			return 2;
		size = parse_size(optarg);
	}
	if (argc - optind != 2) {
		fprintf(stderr, "usage: trust-forkchild KIND setuid|pids:CGROUP_DIR [-s SIZE]\n");
		return 2;
	}
	kind = tk_parse(argv[optind]);
	how = argv[optind + 1];
	npages = size / TK_PAGE;
	fd = tk_fd(kind, size);
	p = tk_map(kind, fd, size);
	if (p == MAP_FAILED) {
		perror("trust-forkchild: mmap");
		return 2;
	}
	if (strcmp(how, "setuid") == 0) {
		if (setgroups(0, NULL) < 0 || setgid(65534) < 0 || setuid(65534) < 0) {
			perror("trust-forkchild: setuid(65534)");
			return 2;
		}
	} else if (strcmp(how, "rawsetuid") == 0) {
		if (syscall(SYS_setgroups, 0, NULL) < 0 || syscall(SYS_setgid, 65534) < 0 ||
		    syscall(SYS_setuid, 65534) < 0) {
			perror("trust-forkchild: raw setuid(65534)");
			return 2;
		}
	} else if (strncmp(how, "pids:", 5) == 0) {
		cg = how + 5;
		snprintf(buf, sizeof(buf), "%d\n", getpid());
		if (write_file(cg, "cgroup.procs", buf) < 0) {
			perror("trust-forkchild: cgroup.procs");
			return 2;
		}
		/* Room for exactly one more task: the child, but no thread in it. */
		snprintf(buf, sizeof(buf), "%ld\n", read_num(cg, "pids.current") + 1);
		if (write_file(cg, "pids.max", buf) < 0) {
			perror("trust-forkchild: pids.max");
			return 2;
		}
	} else {
		fprintf(stderr, "trust-forkchild: unknown way '%s'\n", how);
		return 2;
	}
	fflush(stdout);
	pid = fork();
	if (pid < 0) {
		perror("trust-forkchild: fork");
		return 2;
	}
	if (pid == 0) {
		wrong = tk_check(kind, p, 0, npages, "child");
		printf("child: %zu pages, %zu wrong bytes\n", npages, wrong);
		fflush(stdout);
		_exit(wrong ? 1 : 0);
	}
	if (waitpid(pid, &status, 0) < 0)
		return 2;
	if (cg)
		write_file(cg, "pids.max", "max\n");
	wrong = tk_check(kind, p, 0, npages, "parent");
	printf("parent: %zu pages, %zu wrong bytes, child %s %d\n", npages, wrong,
	       WIFEXITED(status) ? "exit" : "signal",
	       WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status));
	return wrong || !WIFEXITED(status) || WEXITSTATUS(status) ? 1 : 0;
}

/* exec.c: fork+exec and posix_spawn of children that map and check each kind of memory. */
#include <dlfcn.h>
#include <fcntl.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "kinds.h"

#define PAGES (KSIZE / KPAGE)

extern char **environ;

static unsigned char want_discarded(const void *arg, size_t page)
{
	return mem_discarded(arg, page);
}

/* The exec'd image: maps @kind (or maps the inherited file @fd), checks it, writes, discards,
 * forks; exit 0 when every byte was right. */
static int child(const char *kind, int fd)
{
	const struct kind *k = kind_find(kind);
	struct mem m;
	size_t wrong;
	pid_t pid;

	/* Whether the shim came with the exec (not compared: "mem:" lines). */
	printf("mem: exec'd ucow=%s\n", dlsym(RTLD_DEFAULT, "ucow_refpage_create") ? "yes" : "no");
	fflush(stdout);
	if (!k)
		return 2;
	if (fd >= 0) {
		m.kind = k;
		m.size = KSIZE;
		m.fd = fd;
		m.touched = 0;
		m.p = mmap(NULL, KSIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
		if (m.p == MAP_FAILED)
			return 2;
	} else if (mem_map(&m, k, KSIZE) < 0) {
		return 2;
	}
	wrong = check_expect(&m, m.p, 0, PAGES, "exec'd image, untouched");
	mem_touch(&m);
	wrong += check_model(&m, m.p, 0, PAGES, "exec'd image, touched");
	if (madvise(m.p, KSIZE / 2, MADV_DONTNEED) < 0)
		wrong++;
	wrong += check_pages(m.p, 0, PAGES / 2, want_discarded, &m, "exec'd image, discarded");
	pid = fork();
	if (pid == 0)
		_exit(check_model(&m, m.p + KSIZE / 2, PAGES / 2, PAGES / 2,
				  "exec'd image's child") ? 1 : 0);
	if (child_status(pid) != 0)
		wrong++;
	return wrong ? 1 : 0;
}

static void exec_child(const struct kind *k)
{
	char *argv[] = { "exec", "--child", (char *)k->name, NULL };
	struct mem m;
	pid_t pid;

	if (setup(&m, k, KSIZE, "exec") < 0)
		return;
	mem_touch(&m);
	pid = fork();
	if (pid == 0) {
		execv("/proc/self/exe", argv);
		_exit(127);
	}
	report(k->name, "fork+exec: the child maps and checks its own", child_status(pid) != 0);
	report(k->name, "fork+exec: the parent's memory stays",
	       check_model(&m, m.p, 0, PAGES, "parent after exec"));
	mem_unmap(&m);
}

static void spawn_child(const struct kind *k)
{
	char *argv[] = { "exec", "--child", (char *)k->name, NULL };
	struct mem m;
	pid_t pid;

	if (setup(&m, k, KSIZE, "spawn") < 0)
		return;
	mem_touch(&m);
	if (posix_spawn(&pid, "/proc/self/exe", NULL, NULL, argv, environ) != 0)
		pid = -1;
	report(k->name, "posix_spawn: the child maps and checks its own", child_status(pid) != 0);
	report(k->name, "posix_spawn: the parent's memory stays",
	       check_model(&m, m.p, 0, PAGES, "parent after posix_spawn"));
	mem_unmap(&m);
}

/* File kinds: the exec'd image maps the file it inherited. */
static void inherit_fd(const struct kind *k)
{
	char fdarg[16];
	char *argv[] = { "exec", "--child-fd", (char *)k->name, fdarg, NULL };
	struct mem m;
	pid_t pid;

	if (k->flags & KIND_ANON)
		return;
	if (setup(&m, k, KSIZE, "inherit-fd") < 0)
		return;
	snprintf(fdarg, sizeof(fdarg), "%d", m.fd);
	fcntl(m.fd, F_SETFD, 0);
	pid = fork();
	if (pid == 0) {
		execv("/proc/self/exe", argv);
		_exit(127);
	}
	report(k->name, "exec'd child maps the file it inherited", child_status(pid) != 0);
	mem_unmap(&m);
}

static void run(const struct kind *k)
{
	exec_child(k);
	spawn_child(k);
	inherit_fd(k);
}

int main(int argc, char **argv)
{
	if (argc == 3 && !strcmp(argv[1], "--child"))
		return child(argv[2], -1);
	if (argc == 4 && !strcmp(argv[1], "--child-fd"))
		return child(argv[2], atoi(argv[3]));
	return kinds_main(argc, argv, "exec", run);
}

/* trust-seccomp.c: a program that installs its own seccomp filter against userfaultfd(2)
 * (as systemd's SystemCallFilter= or a container runtime does), then uses private memory of
 * every kind (trust-kinds.h) and forks. Knows nothing of ucow (test program).
 *
 * usage: trust-seccomp kill|enosys|eperm|none
 *   kill: SECCOMP_RET_KILL_PROCESS on userfaultfd; enosys/eperm: it fails with that errno.
 * Prints one line per kind; exit 0, 1 on a wrong byte, 2 on a setup error. */
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stddef.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include "trust-kinds.h"

#define SIZE (16UL << 20)

static int install(const char *how)
{
	unsigned int action;

	if (strcmp(how, "none") == 0)
		return 0;
	if (strcmp(how, "kill") == 0)
		action = SECCOMP_RET_KILL_PROCESS;
	else if (strcmp(how, "enosys") == 0)
		action = SECCOMP_RET_ERRNO | ENOSYS;
	else if (strcmp(how, "eperm") == 0)
		action = SECCOMP_RET_ERRNO | EPERM;
	else
		return -1;
	struct sock_filter f[] = {
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, AUDIT_ARCH_X86_64, 1, 0),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_userfaultfd, 0, 1),
		BPF_STMT(BPF_RET | BPF_K, action),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
	};
	struct sock_fprog prog = { .len = sizeof(f) / sizeof(f[0]), .filter = f };

	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		return -1;
	return prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog);
}

int main(int argc, char **argv)
{
	static const int kinds[] = { TK_MEMFD, TK_DATA, TK_REFPAGE, TK_LAZY };
	size_t wrong_all = 0;

	if (argc != 2 || install(argv[1]) < 0) {
		fprintf(stderr, "usage: trust-seccomp kill|enosys|eperm|none (%s)\n", strerror(errno));
		return 2;
	}
	for (size_t k = 0; k < sizeof(kinds) / sizeof(kinds[0]); k++) {
		int kind = kinds[k], fd = tk_fd(kind, SIZE), status;
		unsigned char *p = tk_map(kind, fd, SIZE);
		size_t n = SIZE / TK_PAGE, wrong;
		pid_t pid;

		if (p == MAP_FAILED) {
			perror("trust-seccomp: mmap");
			return 2;
		}
		wrong = tk_check(kind, p, 0, n / 2, "parent");
		fflush(stdout);
		pid = fork();
		if (pid == 0)
			_exit(tk_check(kind, p, 0, n, "child") ? 1 : 0);
		if (pid < 0 || waitpid(pid, &status, 0) < 0)
			return 2;
		wrong += tk_check(kind, p, n / 2, n, "parent");
		printf("seccomp %s %s: %zu wrong bytes, child %s %d\n", argv[1], tk_names[kind], wrong,
		       WIFEXITED(status) ? "exit" : "signal",
		       WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status));
		wrong_all += wrong + !(WIFEXITED(status) && WEXITSTATUS(status) == 0);
		munmap(p, SIZE);
		if (fd >= 0)
			close(fd);
	}
	return wrong_all ? 1 : 0;
}

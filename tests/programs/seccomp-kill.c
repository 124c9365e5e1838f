/* seccomp-kill.c: installs a seccomp filter (raw BPF) that answers the named system calls with
 * one action, as systemd's SystemCallFilter= does, then maps a memfd MAP_PRIVATE, touches it,
 * forks, and checks the bytes in both processes. Knows nothing of ucow.
 *
 * usage: seccomp-kill -a ACTION -s NAME [-s NAME]...
 *   ACTION: kill-process, kill-thread, trap, enosys, eperm or none
 *   NAME:   a system call (userfaultfd, clone3, futex, ...) or a uffd ioctl (uffdio_api,
 *           uffdio_register, uffdio_copy, uffdio_zeropage, uffdio_wake, uffdio_unregister,
 *           uffdio_poison, userfaultfd_ioc_new): the filter matches that ioctl command only
 * Prints "ok parent" and "ok child" lines, exit 0; 1 wrong bytes; 2 usage or setup.
 */
#include <errno.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <linux/userfaultfd.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#if defined(__x86_64__)
#define ARCH AUDIT_ARCH_X86_64
#elif defined(__aarch64__)
#define ARCH AUDIT_ARCH_AARCH64
#endif
#ifndef USERFAULTFD_IOC_NEW
#define USERFAULTFD_IOC_NEW _IO(0xAA, 0x00)
#endif
#ifndef UFFDIO_POISON
#define UFFDIO_POISON _IOWR(UFFDIO, 0x08, struct uffdio_range)
#endif

#define PAGES 64
#define PAGE 4096

struct name {
	const char *name;
	long nr;
	long ioctl_cmd;		/* -1: any arguments */
};

static const struct name names[] = {
	{ "userfaultfd", SYS_userfaultfd, -1 },
	{ "ioctl", SYS_ioctl, -1 },
	{ "userfaultfd_ioc_new", SYS_ioctl, (long)USERFAULTFD_IOC_NEW },
	{ "uffdio_api", SYS_ioctl, (long)UFFDIO_API },
	{ "uffdio_register", SYS_ioctl, (long)UFFDIO_REGISTER },
	{ "uffdio_copy", SYS_ioctl, (long)UFFDIO_COPY },
	{ "uffdio_zeropage", SYS_ioctl, (long)UFFDIO_ZEROPAGE },
	{ "uffdio_wake", SYS_ioctl, (long)UFFDIO_WAKE },
	{ "uffdio_unregister", SYS_ioctl, (long)UFFDIO_UNREGISTER },
	{ "uffdio_poison", SYS_ioctl, (long)UFFDIO_POISON },
	{ "clone3", 435, -1 },
	{ "clone", SYS_clone, -1 },
	{ "futex", SYS_futex, -1 },
#ifdef SYS_poll
	{ "poll", SYS_poll, -1 },
#endif
	{ "ppoll", SYS_ppoll, -1 },
	{ "rt_sigprocmask", SYS_rt_sigprocmask, -1 },
	{ "rt_sigaction", SYS_rt_sigaction, -1 },
	{ "gettid", SYS_gettid, -1 },
	{ "sched_yield", SYS_sched_yield, -1 },
	{ "madvise", SYS_madvise, -1 },
	{ "mremap", SYS_mremap, -1 },
	{ "msync", SYS_msync, -1 },
	{ "mincore", SYS_mincore, -1 },
	{ "fcntl", SYS_fcntl, -1 },
	{ "lseek", SYS_lseek, -1 },
	{ "fallocate", SYS_fallocate, -1 },
	{ "unshare", SYS_unshare, -1 },
	{ "pidfd_open", 434, -1 },
	{ "pidfd_getfd", 438, -1 },
	{ "kcmp", SYS_kcmp, -1 },
	{ "close_range", 436, -1 },
	{ "sched_getaffinity", SYS_sched_getaffinity, -1 },
	{ "sched_setaffinity", SYS_sched_setaffinity, -1 },
	{ "process_vm_readv", SYS_process_vm_readv, -1 },
	{ "io_uring_setup", SYS_io_uring_setup, -1 },
	{ "capget", SYS_capget, -1 },
	{ "prctl", SYS_prctl, -1 },
	{ "seccomp", SYS_seccomp, -1 },
	{ NULL, 0, 0 },
};

static const struct name *lookup(const char *s)
{
	for (const struct name *n = names; n->name; n++)
		if (!strcmp(n->name, s))
			return n;
	return NULL;
}

static int action_of(const char *s, unsigned int *out)
{
	if (!strcmp(s, "kill-process"))
		*out = SECCOMP_RET_KILL_PROCESS;
	else if (!strcmp(s, "kill-thread"))
		*out = SECCOMP_RET_KILL_THREAD;
	else if (!strcmp(s, "trap"))
		*out = SECCOMP_RET_TRAP;
	else if (!strcmp(s, "enosys"))
		*out = SECCOMP_RET_ERRNO | ENOSYS;
	else if (!strcmp(s, "eperm"))
		*out = SECCOMP_RET_ERRNO | EPERM;
	else if (!strcmp(s, "none"))
		*out = SECCOMP_RET_ALLOW;
	else
		return -1;
	return 0;
}

/* Per rule: nr match (and, for an ioctl command, the low 32 bits of arg 1) -> action. */
static int install(const struct name **rules, int n, unsigned int action)
{
	struct sock_filter prog[8 + 6 * 16];
	struct sock_fprog fprog;
	int i = 0;

	prog[i++] = (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS,
						 offsetof(struct seccomp_data, arch));
	prog[i++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, ARCH, 1, 0);
	prog[i++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW);
	for (int r = 0; r < n; r++) {
		prog[i++] = (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS,
							 offsetof(struct seccomp_data, nr));
		if (rules[r]->ioctl_cmd < 0) {
			prog[i++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K,
								 (unsigned int)rules[r]->nr, 0, 1);
			prog[i++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, action);
		} else {
			prog[i++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K,
								 (unsigned int)rules[r]->nr, 0, 3);
			prog[i++] = (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS,
						offsetof(struct seccomp_data, args[1]));
			prog[i++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K,
						(unsigned int)rules[r]->ioctl_cmd, 0, 1);
			prog[i++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, action);
		}
	}
	prog[i++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW);
	fprog.len = (unsigned short)i;
	fprog.filter = prog;
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0 ||
	    syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &fprog) < 0) {
		perror("seccomp-kill: cannot install the filter");
		return -1;
	}
	return 0;
}

static unsigned char expect(int page, int written)
{
	if (written && page % 4 == 0)
		return (unsigned char)(0xa0 + page % 16);
	return page < PAGES / 2 ? (unsigned char)(page + 1) : 0;	/* data, then holes */
}

static int check(const unsigned char *p, int written)
{
	for (int pg = 0; pg < PAGES; pg++)
		for (int off = 0; off < PAGE; off += 512)
			if (p[pg * PAGE + off] != expect(pg, written))
				return pg + 1;
	return 0;
}

int main(int argc, char **argv)
{
	const struct name *rules[16];
	unsigned int action = SECCOMP_RET_ALLOW;
	unsigned char data[PAGE];
	unsigned char *p;
	int n = 0, opt, fd, bad, status;
	unsigned long sum = 0;
	pid_t pid;

	while ((opt = getopt(argc, argv, "a:s:")) != -1) {
		if (opt == 'a' && action_of(optarg, &action) == 0)
			continue;
		if (opt == 's' && n < 16 && (rules[n] = lookup(optarg)))
			n++;
		else {
			fprintf(stderr, "usage: seccomp-kill -a ACTION -s NAME [-s NAME]...\n");
			return 2;
		}
	}
	if (n && install(rules, n, action) < 0)
		return 2;

	/* The first half of the file has data, the second half is holes. */
	fd = memfd_create("seccomp-kill", MFD_CLOEXEC);
	if (fd < 0 || ftruncate(fd, PAGES * PAGE) < 0)
		return 2;
	for (int pg = 0; pg < PAGES / 2; pg++) {
		memset(data, pg + 1, sizeof(data));
		if (pwrite(fd, data, sizeof(data), (off_t)pg * PAGE) != PAGE)
			return 2;
	}
	p = mmap(NULL, PAGES * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
	if (p == MAP_FAILED)
		return 2;
	bad = check(p, 0);
	for (int pg = 0; pg < PAGES; pg += 4)
		memset(p + pg * PAGE, 0xa0 + pg % 16, PAGE);
	if (!bad)
		bad = check(p, 1);

	pid = fork();
	if (pid < 0)
		return 2;
	if (pid == 0) {
		int cbad = check(p, 1);

		for (int pg = 1; pg < PAGES; pg += 4)
			p[pg * PAGE] = 0x55;	/* private to the child */
		_exit(cbad ? 10 : 0);
	}
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	if (!bad)
		bad = check(p, 1);
	for (int i = 0; i < PAGES * PAGE; i += 512)
		sum += p[i];
	/* Printed at the end only: a run killed part-way prints nothing, under ucow or not. */
	printf("ok parent: %s, sum %lu\n", bad ? "WRONG BYTES" : "bytes right", sum);
	printf("ok child: %s\n", WIFEXITED(status) && WEXITSTATUS(status) == 0 ? "bytes right" :
	       WIFEXITED(status) ? "WRONG BYTES" : "killed");
	return bad || !WIFEXITED(status) || WEXITSTATUS(status) ? 1 : 0;
}

/* fdtable.c: the handler thread's own descriptor table, out of the program's reach. */
/* The program's descriptor table is the program's. ucow's descriptors live in the handler
 * thread's own table; program threads reach the userfaultfd through uffd_ctl.c. */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "compat.h"
#include "fdtable.h"
#include "filter_probe.h"
#include "log.h"
#include "procfs.h"
#include "source.h"
#include "sys.h"
#include "uffd.h"

/* Sources the handler keeps when it takes its table (a fork child's); beyond: not carried. */
#define KEEP_MAX 1024

struct handler_table handler_table = {
	.priv = -1,
	.shared = -1,
	.pagemap = -1,
};

static int keep[KEEP_MAX];

static int pidfd_thread(pid_t tid)
{
	int fd;

	/* A seccomp filter that kills on either call leaves ucow without copies: requests. */
	if (!filter_allows(UCOW_SYS_PIDFD_OPEN) || !filter_allows(UCOW_SYS_PIDFD_GETFD))
		return -EPERM;
	fd = (int)syscall(SYS_pidfd_open, tid, PIDFD_THREAD);

	return fd < 0 ? -errno : fd;
}

static int getfd(int pidfd, int fd)
{
	int copy = (int)syscall(SYS_pidfd_getfd, pidfd, fd, 0);

	return copy < 0 ? -errno : copy;	/* close-on-exec, by the kernel */
}

static void sort_ints(int *v, size_t n)
{
	for (size_t i = 1; i < n; i++)
		for (size_t j = i; j > 0 && v[j - 1] > v[j]; j--) {
			int t = v[j];

			v[j] = v[j - 1];
			v[j - 1] = t;
		}
}

struct fd_span {
	unsigned int lo, hi;
};

static void close_in_span(unsigned long fd, int dir, void *arg)
{
	const struct fd_span *span = arg;

	if (fd >= span->lo && fd <= span->hi && (int)fd != dir)
		close((int)fd);
}

/*
 * Closes [lo, hi] in this thread's table: close_range, or, where a seccomp filter forbids it,
 * each open number as /proc/thread-self/fd lists it.
 */
static void close_between(unsigned int lo, unsigned int hi)
{
	struct fd_span span = { lo, hi };

	if (lo > hi)
		return;
	if (filter_allows(UCOW_SYS_CLOSE_RANGE) && syscall(SYS_close_range, lo, hi, 0) == 0)
		return;
	procfs_each_number("/proc/thread-self/fd", close_in_span, &span);
}

static void hold_std_fds(void)
{
	int fd;

	while ((fd = open("/dev/null", O_RDWR | O_CLOEXEC)) >= 0 && fd <= STDERR_FILENO)
		;
	if (fd > STDERR_FILENO)
		close(fd);
}

/* For a log line on the handler thread: the program's standard error, for that line only. */
static int borrow_program_stderr(void)
{
	int pidfd, fd;

	if (!ucow_in_handler)
		return STDERR_FILENO;
	pidfd = filter_allows(UCOW_SYS_PIDFD_OPEN) && filter_allows(UCOW_SYS_PIDFD_GETFD) ?
		(int)syscall(SYS_pidfd_open, getpid(), 0) : -1;
	if (pidfd < 0)
		return -1;
	fd = (int)syscall(SYS_pidfd_getfd, pidfd, STDERR_FILENO, 0);
	close(pidfd);
	return fd;
}

static void give_back_stderr(int fd)
{
	if (ucow_in_handler && fd >= 0)
		close(fd);
}

int fdt_handler_enter(int uffd)
{
	unsigned int prev = 0;
	size_t n;

	/*
	 * A table of its own: nothing the program does to its descriptors reaches ucow's, and
	 * none of the program's files is held here (a pipe's reader must see EOF when the
	 * program closes the writer).
	 */
	if (!filter_allows(UCOW_SYS_UNSHARE_FILES)) {
		/* The filter kills on unshare: ucow's descriptors stay in the program's table,
		 * where the program can close them (man 7 ucow). */
		atomic_store(&handler_table.shared_table, true);
		ucow_info("fdtable", "the seccomp filter forbids unshare(CLONE_FILES): ucow's "
			  "descriptors stay in the program's table");
	} else if (unshare(CLONE_FILES) < 0) {
		return -errno;
	}
	ucow_in_handler = true;
	keep[0] = uffd;
	n = 1 + source_fds(keep + 1, KEEP_MAX - 1);
	sort_ints(keep, n);
	if (!atomic_load(&handler_table.shared_table)) {
		for (size_t i = 0; i < n; i++) {
			if ((unsigned int)keep[i] > prev)
				close_between(prev, (unsigned int)keep[i] - 1);
			prev = (unsigned int)keep[i] + 1;
		}
		close_between(prev, ~0U);
	}
	if (!uffd_is_userfaultfd(uffd))
		return -EBADF;	/* the program closed or replaced it before the thread ran */
	if (!atomic_load(&handler_table.shared_table)) {
		/* 0, 1 and 2 are never a file ucow adopts (a library writing to "stderr" from this
		 * thread would write into it); ucow's own lines borrow the program's. */
		hold_std_fds();
		ucow_log_sink.borrow = borrow_program_stderr;
		ucow_log_sink.give_back = give_back_stderr;
	}
	/* Kept for measures after a privilege drop, which closes /proc/self to this process. */
	if (!atomic_load(&handler_table.shared_table))
		handler_table.pagemap = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
	handler_table.priv = uffd;
	/* The same number is still the program's copy: the table was just duplicated. */
	atomic_store(&handler_table.shared, uffd);
	handler_table.pid = getpid();
	atomic_store(&handler_table.tid, (int)sys_gettid());
	atomic_store(&handler_table.handler_alive, true);
	if (!handler_table.bell) {
		void *p = sys_mmap(NULL, UCOW_PAGE_SIZE, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

		handler_table.bell = p == MAP_FAILED ? NULL : p;
	}
	/* A fork child inherits the page but not its registration. */
	atomic_store(&handler_table.bell_ok, handler_table.bell &&
		     uffd_register(uffd, (uintptr_t)handler_table.bell, UCOW_PAGE_SIZE,
				   UFFDIO_REGISTER_MODE_MISSING, NULL) == 0);
	if (!atomic_load(&handler_table.bell_ok))
		ucow_info("fdtable", "no doorbell page: when the program takes every descriptor, "
			  "new mappings are left to the kernel");
	return 0;
}

int fdt_pagemap_open(void)
{
	int fd = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);

	if (fd >= 0 || handler_table.pagemap < 0 || !atomic_load(&handler_table.handler_alive))
		return fd < 0 ? -errno : fd;
	if (ucow_in_handler)
		return handler_table.pagemap;
	return fdt_borrow(handler_table.pagemap);
}

void fdt_pagemap_close(int fd)
{
	if (fd >= 0 && !(ucow_in_handler && fd == handler_table.pagemap))
		close(fd);
}

void fdt_handler_exit(void)
{
	atomic_store(&handler_table.handler_alive, false);
}

/* "/proc/self/task/<tid>/fd/<fd>" without stdio (handler thread). */
static void task_fd_path(char *buf, pid_t tid, int fd)
{
	static const char *parts[] = { "/proc/self/task/", "/fd/" };
	long nums[] = { tid, fd };
	char *p = buf;

	for (int i = 0; i < 2; i++) {
		char digits[24];
		int n = 0;
		long v = nums[i];

		p = stpcpy(p, parts[i]);
		do
			digits[n++] = (char)('0' + v % 10);
		while ((v /= 10) > 0);
		while (n)
			*p++ = digits[--n];
	}
	*p = '\0';
}

/* In the program's table (no table of ucow's own), away from the numbers open() gives. */
static int move_high(int fd)
{
	int high = ucow_dup_high(fd);

	if (high < 0)
		return fd;
	close(fd);
	return high;
}

long fdt_handler_adopt(pid_t tid, int fd, int accmode, dev_t dev, ino_t ino, bool *private_pos)
{
	char path[64];
	struct stat st;
	int own, pidfd;

	task_fd_path(path, tid, fd);
	own = open(path, accmode | O_CLOEXEC | O_NOCTTY);
	if (own >= 0) {
		if (fstat(own, &st) == 0 && st.st_dev == dev && st.st_ino == ino) {
			*private_pos = true;
			return atomic_load(&handler_table.shared_table) ? move_high(own) : own;
		}
		close(own);
	}
	pidfd = pidfd_thread(tid);
	if (pidfd < 0)
		return pidfd;
	own = getfd(pidfd, fd);
	close(pidfd);
	if (own >= 0 && (fstat(own, &st) < 0 || st.st_dev != dev || st.st_ino != ino)) {
		close(own);	/* the program replaced its fd meanwhile */
		return -ESTALE;
	}
	*private_pos = false;
	return own >= 0 && atomic_load(&handler_table.shared_table) ? move_high(own) : own;
}

int fdt_borrow(int fd)
{
	int pidfd, copy;

	if (ucow_in_handler)
		return fd;
	pidfd = pidfd_thread(atomic_load(&handler_table.tid));
	if (pidfd < 0)
		return pidfd;
	copy = getfd(pidfd, fd);
	close(pidfd);
	return copy;
}

void fdt_unborrow(int fd, int copy)
{
	if (copy >= 0 && !(ucow_in_handler && copy == fd))
		close(copy);
}

/*
 * Sources go to a fork child without a descriptor ever entering the parent's table: closing
 * one there would drop the program's POSIX locks on that file (they belong to the table).
 * The child opens each file again through the parent's handler table in /proc (read access
 * to the parent, as /proc/PID/fd needs: no ptrace attach), before its own handler starts.
 */
static struct {
	pid_t pid, handler;
} fork_parent;

static int carry_from_parent(int fd, int accmode)
{
	char path[80];

	if (!fork_parent.handler)
		return -1;
	snprintf(path, sizeof(path), "/proc/%d/task/%d/fd/%d", (int)fork_parent.pid,
		 (int)fork_parent.handler, fd);
	return open(path, accmode | O_CLOEXEC | O_NOCTTY);
}

void fdt_fork_prepare(void)
{
	fork_parent.pid = getpid();
	fork_parent.handler = atomic_load(&handler_table.tid);
	source_fork_prepare();
}

void fdt_fork_parent(void)
{
	source_fork_parent();
}

void fdt_fork_child_carry(void)
{
	source_fork_child_carry(carry_from_parent);
}

void fdt_fork_child(void)
{
	/* uffd_ctl_fork_child() ran first: the parent's copy is closed (when it was ucow's). */
	atomic_store(&handler_table.shared, -1);
	atomic_store(&handler_table.tid, 0);
	atomic_store(&handler_table.handler_alive, false);
	handler_table.priv = -1;
	handler_table.pagemap = -1;	/* the parent's handler table */
	atomic_store(&handler_table.bell_ok, false);
	source_fork_child();
}

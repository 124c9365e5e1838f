/* fdtable.c: the program's descriptor table is the program's. ucow's descriptors live in the
 * handler thread's own table; program threads use a verified copy of the userfaultfd, or ask
 * the handler through a doorbell that needs no descriptor at all. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/futex.h>
#include <linux/kcmp.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "compat.h"
#include "fdtable.h"
#include "filter_probe.h"
#include "log.h"
#include "source.h"
#include "sys.h"


/* A request waits this long for the handler to take it (a doorbell page lost, a process
 * stopped) before that one request fails. */
#define REQUEST_PATIENCE_NS 10000000000ULL
/* Sources the handler keeps when it takes its table (a fork child's); beyond: not carried. */
#define KEEP_MAX 1024

enum req_op {
	REQ_NOP, REQ_REGISTER, REQ_UNREGISTER, REQ_WAKE, REQ_REGISTERED, REQ_ADOPT, REQ_CLOSE,
	REQ_COPY, REQ_ZEROPAGE,
};
enum req_state { REQ_IDLE, REQ_PENDING, REQ_BUSY, REQ_DONE };

struct req {
	enum req_op op;
	uintptr_t start;
	size_t len;
	uint64_t mode;
	uint64_t ioctls;	/* out, REQ_REGISTER */
	const void *src;	/* REQ_COPY */
	bool wake;		/* REQ_COPY, REQ_ZEROPAGE */
	int fd, accmode;	/* REQ_ADOPT: the requester's number and access mode */
	dev_t dev;		/* REQ_ADOPT: the file the handler must end up with */
	ino_t ino;
	bool private_pos;	/* out, REQ_ADOPT */
	pid_t tid;		/* the requesting thread */
	long ret;
};

static struct {
	int priv;			/* the userfaultfd in the handler's table */
	bool shared_table;		/* no table of its own (a seccomp filter forbids unshare) */
	atomic_bool kcmp_refused;	/* kcmp failed other than EBADF: copies cannot be checked */
	atomic_int shared;		/* a copy in the program's table, or -1 */
	atomic_int tid;			/* the handler thread, once it has its table */
	atomic_bool handler_alive;	/* it serves requests (fdt_handler_enter until _exit) */
	pid_t pid;			/* the process it serves */
	pthread_mutex_t reinstall_lock;
	void *bell;			/* the doorbell: registered, never touched */
	bool bell_ok;
	pthread_mutex_t req_lock;	/* one request at a time */
	struct req req;
	atomic_uint state;		/* enum req_state; the requester's futex word */
	int fork_shared;		/* the shared copy at fork, closed in the child... */
	bool fork_verified;		/* ...only if it was ucow's then */
} handler_table = {
	.priv = -1,
	.shared = -1,
	.reinstall_lock = PTHREAD_MUTEX_INITIALIZER,
	.req_lock = PTHREAD_MUTEX_INITIALIZER,
	.fork_shared = -1,
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

struct linux_dirent64 {
	uint64_t d_ino;
	int64_t d_off;
	unsigned short d_reclen;
	unsigned char d_type;
	char d_name[];
};

/*
 * Closes [lo, hi] in this thread's table: close_range, or, where a seccomp filter forbids it,
 * each open number as /proc/thread-self/fd lists it (read with getdents64: no allocation).
 */
static void close_between(unsigned int lo, unsigned int hi)
{
	char buf[4096];
	long n;
	int dir;

	if (lo > hi)
		return;
	if (filter_allows(UCOW_SYS_CLOSE_RANGE) && syscall(SYS_close_range, lo, hi, 0) == 0)
		return;
	dir = open("/proc/thread-self/fd", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dir < 0)
		return;
	while ((n = syscall(SYS_getdents64, dir, buf, sizeof(buf))) > 0) {
		for (long at = 0; at < n;) {
			struct linux_dirent64 *d = (struct linux_dirent64 *)(buf + at);
			char *end;
			unsigned long fd = strtoul(d->d_name, &end, 10);

			at += d->d_reclen;
			if (*end || end == d->d_name || fd < lo || fd > hi || (int)fd == dir)
				continue;
			close((int)fd);
		}
	}
	close(dir);
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
		handler_table.shared_table = true;
		ucow_info("fdtable", "the seccomp filter forbids unshare(CLONE_FILES): ucow's "
			  "descriptors stay in the program's table");
	} else if (unshare(CLONE_FILES) < 0) {
		return -errno;
	}
	ucow_in_handler = true;
	keep[0] = uffd;
	n = 1 + source_fds(keep + 1, KEEP_MAX - 1);
	sort_ints(keep, n);
	if (!handler_table.shared_table) {
		for (size_t i = 0; i < n; i++) {
			if ((unsigned int)keep[i] > prev)
				close_between(prev, (unsigned int)keep[i] - 1);
			prev = (unsigned int)keep[i] + 1;
		}
		close_between(prev, ~0U);
	}
	if (!uffd_is_userfaultfd(uffd))
		return -EBADF;	/* the program closed or replaced it before the thread ran */
	if (!handler_table.shared_table) {
		/* 0, 1 and 2 are never a file ucow adopts (a library writing to "stderr" from this
		 * thread would write into it); ucow's own lines borrow the program's. */
		hold_std_fds();
		ucow_log_sink.borrow = borrow_program_stderr;
		ucow_log_sink.give_back = give_back_stderr;
	}
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
	handler_table.bell_ok = handler_table.bell && uffd_register(uffd, (uintptr_t)handler_table.bell, UCOW_PAGE_SIZE,
						UFFDIO_REGISTER_MODE_MISSING, NULL) == 0;
	if (!handler_table.bell_ok)
		ucow_info("fdtable", "no doorbell page: when the program takes every descriptor, "
			  "new mappings are left to the kernel");
	return 0;
}

/* Whether @fd in the caller's table is the handler's userfaultfd (same thread group: kcmp's
 * ptrace check passes). */
static bool verified(int fd)
{
	if (fd < 0)
		return false;
	/* No private table: ucow's number is the program's, as before; nothing to compare. */
	if (handler_table.shared_table)
		return true;
	/* Without kcmp nothing can be checked: every program-side call becomes a request. */
	if (!filter_allows(UCOW_SYS_KCMP) || atomic_load(&handler_table.kcmp_refused))
		return false;
	switch (syscall(SYS_kcmp, getpid(), atomic_load(&handler_table.tid), KCMP_FILE, fd, handler_table.priv)) {
	case 0:
		return true;
	case -1:
		/* EBADF: the program closed it. Anything else (a filter's EPERM, no kcmp in this
		 * kernel): nothing can ever be checked, so copies are never made again. */
		if (errno != EBADF)
			atomic_store(&handler_table.kcmp_refused, true);
		return false;
	default:
		return false;
	}
}

/*
 * The program closed or replaced ucow's copy: a new one from the handler's table, at the top
 * of the program's range. The old number is the program's now (or free): never closed.
 */
static int reinstall(int seen)
{
	sigset_t all, old;
	int fd, pidfd, copy;

	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	pthread_mutex_lock(&handler_table.reinstall_lock);
	fd = atomic_load(&handler_table.shared);
	if (fd != seen && verified(fd))
		goto out;
	fd = pidfd = pidfd_thread(atomic_load(&handler_table.tid));
	if (pidfd < 0)
		goto out;
	fd = copy = getfd(pidfd, handler_table.priv);
	close(pidfd);
	if (copy < 0)
		goto out;
	fd = ucow_dup_high(copy);
	fd = fd < 0 ? -EMFILE : fd;
	close(copy);
	atomic_store(&handler_table.shared, fd);
	if (fd >= 0)
		ucow_debug("fdtable", "userfaultfd copy %d replaced by the program: now %d", seen, fd);
out:
	pthread_mutex_unlock(&handler_table.reinstall_lock);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	return fd;
}

static long do_op(int ufd, struct req *r);

static void futex_wait_ns(atomic_uint *word, unsigned int val, long ns)
{
	struct timespec ts = { .tv_sec = 0, .tv_nsec = ns };

	syscall(SYS_futex, word, FUTEX_WAIT_PRIVATE, val, &ts, NULL, 0);
}

static void futex_wake(atomic_uint *word)
{
	syscall(SYS_futex, word, FUTEX_WAKE_PRIVATE, INT_MAX, NULL, NULL, 0);
}

/*
 * A request the handler serves: the requester discards the doorbell page, so the kernel
 * queues UFFD_EVENT_REMOVE and holds this thread until the handler has read it; then it
 * waits on a futex for the answer. It holds no lock of ucow's but the request slot, with
 * its signals blocked (a signal handler of its own could ring again, or fault).
 */
static long request(struct req *r)
{
	if (getpid() != handler_table.pid)
		return -ESRCH;	/* no handler of ours in this process (a raw fork) */
	uint64_t deadline;
	sigset_t all, old;
	unsigned int st;
	long ret;

	if (!handler_table.bell_ok || !atomic_load(&handler_table.tid) || !atomic_load(&handler_table.handler_alive))
		return -ENOTCONN;
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	pthread_mutex_lock(&handler_table.req_lock);
	r->tid = (pid_t)sys_gettid();
	handler_table.req = *r;
	atomic_store(&handler_table.state, REQ_PENDING);
	sys_madvise(handler_table.bell, UCOW_PAGE_SIZE, MADV_DONTNEED);
	deadline = sys_now_ns() + REQUEST_PATIENCE_NS;
	for (;;) {
		st = atomic_load(&handler_table.state);
		if (st == REQ_DONE)
			break;
		if (st == REQ_PENDING && sys_now_ns() > deadline &&
		    atomic_compare_exchange_strong(&handler_table.state, &st, REQ_IDLE)) {
			ucow_warn("fdtable", "the handler did not answer a request in %llu s",
				  REQUEST_PATIENCE_NS / 1000000000ULL);
			ret = -ETIMEDOUT;
			goto out;
		}
		futex_wait_ns(&handler_table.state, st, 10000000);	/* EINTR and timeouts: look again */
	}
	*r = handler_table.req;
	ret = r->ret;
	atomic_store(&handler_table.state, REQ_IDLE);
out:
	pthread_mutex_unlock(&handler_table.req_lock);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	return ret;
}

void fdt_handler_exit(void)
{
	atomic_store(&handler_table.handler_alive, false);
}

bool fdt_doorbell(const struct uffd_msg *msg)
{
	unsigned int st = REQ_PENDING;

	if (!handler_table.bell || msg->arg.remove.start != (uintptr_t)handler_table.bell ||
	    msg->arg.remove.end != (uintptr_t)handler_table.bell + UCOW_PAGE_SIZE)
		return false;
	/* A requester that gave up, or a program discarding this page itself: nothing to do. */
	if (!atomic_compare_exchange_strong(&handler_table.state, &st, REQ_BUSY))
		return true;
	handler_table.req.ret = do_op(handler_table.priv, &handler_table.req);
	atomic_store(&handler_table.state, REQ_DONE);
	futex_wake(&handler_table.state);
	source_reap();
	return true;
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

/* Handler thread: its own description of the requester's file, else a duplicate. */
static long adopt(struct req *r)
{
	char path[64];
	struct stat st;
	int fd, pidfd;

	task_fd_path(path, r->tid, r->fd);
	fd = open(path, r->accmode | O_CLOEXEC | O_NOCTTY);
	if (fd >= 0) {
		if (fstat(fd, &st) == 0 && st.st_dev == r->dev && st.st_ino == r->ino) {
			r->private_pos = true;
			return handler_table.shared_table ? move_high(fd) : fd;
		}
		close(fd);
	}
	pidfd = pidfd_thread(r->tid);
	if (pidfd < 0)
		return pidfd;
	fd = getfd(pidfd, r->fd);
	close(pidfd);
	if (fd >= 0 && (fstat(fd, &st) < 0 || st.st_dev != r->dev || st.st_ino != r->ino)) {
		close(fd);	/* the program replaced its fd meanwhile */
		return -ESTALE;
	}
	r->private_pos = false;
	return fd >= 0 && handler_table.shared_table ? move_high(fd) : fd;
}

static long do_op(int ufd, struct req *r)
{
	switch (r->op) {
	case REQ_NOP:
		return 0;
	case REQ_REGISTER:
		return uffd_register(ufd, r->start, r->len, r->mode, &r->ioctls);
	case REQ_UNREGISTER:
		return uffd_unregister(ufd, r->start, r->len);
	case REQ_WAKE:
		return uffd_wake(ufd, r->start, r->len);
	case REQ_REGISTERED:
		return uffd_registered(ufd, r->start);
	case REQ_ADOPT:
		return ucow_in_handler ? adopt(r) : -EINVAL;
	case REQ_CLOSE:
		return ucow_in_handler ? close(r->fd) : -EINVAL;
	case REQ_COPY:
		return uffd_copy(ufd, r->start, r->src, r->len, r->wake);
	case REQ_ZEROPAGE:
		return uffd_zeropage(ufd, r->start, r->len, r->wake);
	}
	return -EINVAL;
}

/* A program-side ioctl: on ucow's verified copy, else by the handler on request. */
static long ctl(struct req *r)
{
	int fd;

	if (ucow_in_handler)
		return do_op(handler_table.priv, r);
	if (!atomic_load(&handler_table.tid))
		return -EBADF;	/* no handler, no userfaultfd */
	/* A child made behind ucow's back (a raw fork) holds the parent's userfaultfd, whose
	 * ioctls would act on the parent's address space: never used from there. */
	if (getpid() != handler_table.pid)
		return -ESRCH;
	if (!handler_table.shared_table && (!filter_allows(UCOW_SYS_KCMP) || atomic_load(&handler_table.kcmp_refused)))
		return request(r);	/* a copy could never be checked */
	fd = atomic_load(&handler_table.shared);
	if (!verified(fd))
		fd = atomic_load(&handler_table.kcmp_refused) ? -EPERM : reinstall(fd);
	if (fd >= 0)
		return do_op(fd, r);
	return request(r);
}

int uffd_ctl_register(uintptr_t start, size_t len, uint64_t mode, uint64_t *ioctls)
{
	struct req r = { .op = REQ_REGISTER, .start = start, .len = len, .mode = mode };
	int ret = (int)ctl(&r);

	if (ioctls)
		*ioctls = r.ioctls;
	return ret;
}

int uffd_ctl_unregister(uintptr_t start, size_t len)
{
	struct req r = { .op = REQ_UNREGISTER, .start = start, .len = len };

	return (int)ctl(&r);
}

int uffd_ctl_wake(uintptr_t start, size_t len)
{
	struct req r = { .op = REQ_WAKE, .start = start, .len = len };

	return (int)ctl(&r);
}

long uffd_ctl_copy(uintptr_t dst, const void *src, size_t len, bool wake)
{
	struct req r = { .op = REQ_COPY, .start = dst, .src = src, .len = len, .wake = wake };

	return ctl(&r);
}

long uffd_ctl_zeropage(uintptr_t dst, size_t len, bool wake)
{
	struct req r = { .op = REQ_ZEROPAGE, .start = dst, .len = len, .wake = wake };

	return ctl(&r);
}

int uffd_ctl_registered(uintptr_t addr)
{
	struct req r = { .op = REQ_REGISTERED, .start = addr };

	return (int)ctl(&r);
}

int fdt_adopt(int fd, int accmode, bool *private_pos)
{
	struct req r = { .op = REQ_ADOPT, .fd = fd, .accmode = accmode };
	struct stat st;
	long ret;

	if (fstat(fd, &st) < 0)
		return -errno;
	r.dev = st.st_dev;
	r.ino = st.st_ino;
	ret = request(&r);
	*private_pos = r.private_pos;
	return (int)ret;
}

void fdt_close(int fd)
{
	struct req r = { .op = REQ_CLOSE, .fd = fd };

	if (ucow_in_handler)
		close(fd);
	else
		request(&r);
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

long fdt_ping(void)
{
	struct req r = { .op = REQ_NOP };
	uint64_t t0 = sys_now_ns();
	long ret = request(&r);

	return ret < 0 ? ret : (long)(sys_now_ns() - t0);
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
	handler_table.fork_shared = atomic_load(&handler_table.shared);
	handler_table.fork_verified = atomic_load(&handler_table.tid) && verified(handler_table.fork_shared);
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
	pthread_mutex_init(&handler_table.reinstall_lock, NULL);
	pthread_mutex_init(&handler_table.req_lock, NULL);
	atomic_store(&handler_table.state, REQ_IDLE);
	/* The parent's userfaultfd serves the parent's address space. Its copy here is closed
	 * only if it was verified ucow's at fork: never a number the program dup'ed over. */
	if (handler_table.fork_verified)
		close(handler_table.fork_shared);
	handler_table.fork_verified = false;
	atomic_store(&handler_table.shared, -1);
	atomic_store(&handler_table.tid, 0);
	atomic_store(&handler_table.handler_alive, false);
	handler_table.priv = -1;
	handler_table.bell_ok = false;
	source_fork_child();
}

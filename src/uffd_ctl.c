/* uffd_ctl.c: program threads' ioctls on ucow's userfaultfd, on a verified copy or by request. */
/* Program threads use a verified copy of the userfaultfd in their own table, or ask the
 * handler through a doorbell that needs no descriptor at all. */
#include <errno.h>
#include <linux/kcmp.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "fdtable.h"
#include "filter_probe.h"
#include "log.h"
#include "source.h"
#include "sys.h"
#include "uffd.h"
#include "uffd_ctl.h"

/* A request waits this long for the handler to take it (a doorbell page lost, a process
 * stopped) before that one request fails. */
#define REQUEST_PATIENCE_NS 10000000000ULL

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

/* ucow's copy of the userfaultfd in the program's table (handler_table.shared). */
static struct {
	atomic_bool kcmp_refused;	/* kcmp failed other than EBADF: copies cannot be checked */
	pthread_mutex_t reinstall_lock;
	int fork_shared;		/* the shared copy at fork, closed in the child... */
	bool fork_verified;		/* ...only if it was ucow's then */
} program_copy = {
	.reinstall_lock = PTHREAD_MUTEX_INITIALIZER,
	.fork_shared = -1,
};

/* The request slot: what a program thread asks of the handler, and the answer. */
static struct {
	pthread_mutex_t lock;		/* one request at a time */
	struct req req;
	atomic_uint state;		/* enum req_state; the requester's futex word */
} request_slot = {
	.lock = PTHREAD_MUTEX_INITIALIZER,
};

/* Whether @fd in the caller's table is the handler's userfaultfd (same thread group: kcmp's
 * ptrace check passes). */
static bool verified(int fd)
{
	if (fd < 0)
		return false;
	/* No private table: ucow's number is the program's, as before; nothing to compare. */
	if (atomic_load(&handler_table.shared_table))
		return true;
	/* Without kcmp nothing can be checked: every program-side call becomes a request. */
	if (!filter_allows(UCOW_SYS_KCMP) || atomic_load(&program_copy.kcmp_refused))
		return false;
	switch (syscall(SYS_kcmp, getpid(), atomic_load(&handler_table.tid), KCMP_FILE, fd, handler_table.priv)) {
	case 0:
		return true;
	case -1:
		/* EBADF: the program closed it. Anything else (a filter's EPERM, no kcmp in this
		 * kernel): nothing can ever be checked, so copies are never made again. */
		if (errno != EBADF)
			atomic_store(&program_copy.kcmp_refused, true);
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
	int fd, copy;

	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	pthread_mutex_lock(&program_copy.reinstall_lock);
	fd = atomic_load(&handler_table.shared);
	if (fd != seen && verified(fd))
		goto out;
	/* Program threads only (ctl): a copy taken from the handler's table, or -errno. */
	fd = copy = fdt_borrow(handler_table.priv);
	if (copy < 0)
		goto out;
	fd = ucow_dup_high(copy);
	fd = fd < 0 ? -EMFILE : fd;
	close(copy);
	atomic_store(&handler_table.shared, fd);
	if (fd >= 0)
		ucow_debug("fdtable", "userfaultfd copy %d replaced by the program: now %d", seen, fd);
out:
	pthread_mutex_unlock(&program_copy.reinstall_lock);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	return fd;
}

static long do_op(int ufd, struct req *r);

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

	if (!atomic_load(&handler_table.bell_ok) || !atomic_load(&handler_table.tid) || !atomic_load(&handler_table.handler_alive))
		return -ENOTCONN;
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	pthread_mutex_lock(&request_slot.lock);
	r->tid = (pid_t)sys_gettid();
	request_slot.req = *r;
	atomic_store(&request_slot.state, REQ_PENDING);
	sys_madvise(handler_table.bell, UCOW_PAGE_SIZE, MADV_DONTNEED);
	deadline = sys_now_ns() + REQUEST_PATIENCE_NS;
	for (;;) {
		st = atomic_load(&request_slot.state);
		if (st == REQ_DONE)
			break;
		if (st == REQ_PENDING && sys_now_ns() > deadline &&
		    atomic_compare_exchange_strong(&request_slot.state, &st, REQ_IDLE)) {
			ucow_warn("fdtable", "the handler did not answer a request in %llu s",
				  REQUEST_PATIENCE_NS / 1000000000ULL);
			ret = -ETIMEDOUT;
			goto out;
		}
		sys_futex_wait(&request_slot.state, st, 10000000);	/* EINTR and timeouts: look again */
	}
	*r = request_slot.req;
	ret = r->ret;
	atomic_store(&request_slot.state, REQ_IDLE);
out:
	pthread_mutex_unlock(&request_slot.lock);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	return ret;
}

bool uffd_ctl_doorbell(const struct uffd_msg *msg)
{
	unsigned int st = REQ_PENDING;

	if (!handler_table.bell || msg->arg.remove.start != (uintptr_t)handler_table.bell ||
	    msg->arg.remove.end != (uintptr_t)handler_table.bell + UCOW_PAGE_SIZE)
		return false;
	/* A requester that gave up, or a program discarding this page itself: nothing to do. */
	if (!atomic_compare_exchange_strong(&request_slot.state, &st, REQ_BUSY))
		return true;
	request_slot.req.ret = do_op(handler_table.priv, &request_slot.req);
	atomic_store(&request_slot.state, REQ_DONE);
	sys_futex_wake(&request_slot.state);
	source_reap();
	return true;
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
		return ucow_in_handler ? fdt_handler_adopt(r->tid, r->fd, r->accmode, r->dev, r->ino,
							       &r->private_pos) : -EINVAL;
	case REQ_CLOSE:
		return ucow_in_handler ? close(r->fd) : -EINVAL;
	case REQ_COPY:
		return uffd_copy(ufd, r->start, r->src, r->len, r->wake);
	case REQ_ZEROPAGE:
		return uffd_zeropage(ufd, r->start, r->len, r->wake);
	}
	return -EINVAL;
}

/*
 * The userfaultfd a program thread may use in its own table: ucow's verified copy, or
 * -ENOTCONN where only a request to the handler can do it, or another -errno.
 */
static int program_fd(void)
{
	int fd;

	if (!atomic_load(&handler_table.tid))
		return -EBADF;	/* no handler, no userfaultfd */
	/* A child made behind ucow's back (a raw fork) holds the parent's userfaultfd, whose
	 * ioctls would act on the parent's address space: never used from there. */
	if (getpid() != handler_table.pid)
		return -ESRCH;
	if (!atomic_load(&handler_table.shared_table) && (!filter_allows(UCOW_SYS_KCMP) || atomic_load(&program_copy.kcmp_refused)))
		return -ENOTCONN;	/* a copy could never be checked */
	fd = atomic_load(&handler_table.shared);
	if (!verified(fd))
		fd = atomic_load(&program_copy.kcmp_refused) ? -EPERM : reinstall(fd);
	return fd >= 0 ? fd : -ENOTCONN;
}

/* A program-side ioctl: on ucow's verified copy, else by the handler on request. */
static long ctl(struct req *r)
{
	int fd;

	if (ucow_in_handler)
		return do_op(handler_table.priv, r);
	fd = program_fd();
	if (fd >= 0)
		return do_op(fd, r);
	return fd == -ENOTCONN ? request(r) : fd;
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

int uffd_ctl_events_read(void)
{
	int fd = ucow_in_handler ? handler_table.priv : atomic_load(&handler_table.shared);

	/*
	 * Not checked with kcmp first: the probe changes nothing, so on a number the program
	 * has taken over it is harmless (an answer about another descriptor: one wait too
	 * many or too few). Not by request: the request's own event holds mmap_changing up
	 * while it is served.
	 */
	if (fd < 0 && !ucow_in_handler)
		fd = program_fd();
	return fd < 0 ? fd : uffd_events_read(fd);
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

long fdt_ping(void)
{
	struct req r = { .op = REQ_NOP };
	uint64_t t0 = sys_now_ns();
	long ret = request(&r);

	return ret < 0 ? ret : (long)(sys_now_ns() - t0);
}

void uffd_ctl_fork_prepare(void)
{
	program_copy.fork_shared = atomic_load(&handler_table.shared);
	program_copy.fork_verified = atomic_load(&handler_table.tid) && verified(program_copy.fork_shared);
}

void uffd_ctl_fork_child(void)
{
	pthread_mutex_init(&program_copy.reinstall_lock, NULL);
	pthread_mutex_init(&request_slot.lock, NULL);
	atomic_store(&request_slot.state, REQ_IDLE);
	/* The parent's userfaultfd serves the parent's address space. Its copy here is closed
	 * only if it was verified ucow's at fork: never a number the program dup'ed over. */
	if (program_copy.fork_verified)
		close(program_copy.fork_shared);
	program_copy.fork_verified = false;
}

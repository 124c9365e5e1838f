/* filter_probe.h: what a seccomp filter the program runs under lets ucow do, learnt once in a
 * short-lived child, so that ucow never makes a system call the filter would kill it for. */
#ifndef UCOW_FILTER_PROBE_H
#define UCOW_FILTER_PROBE_H

#include <stdbool.h>

/* The system calls ucow makes on its own account, as the probe tries them. */
enum ucow_syscall {
	UCOW_SYS_PRCTL,			/* PR_SET_DUMPABLE, PR_GET_NO_NEW_PRIVS (the trap) */
	UCOW_SYS_RT_SIGACTION,		/* SIGSYS (the trap) */
	UCOW_SYS_USERFAULTFD,		/* userfaultfd(2) */
	UCOW_SYS_DEV_USERFAULTFD,	/* USERFAULTFD_IOC_NEW on /dev/userfaultfd */
	UCOW_SYS_UFFDIO_API,
	UCOW_SYS_UFFDIO_REGISTER,
	UCOW_SYS_UFFDIO_COPY,
	UCOW_SYS_UFFDIO_ZEROPAGE,
	UCOW_SYS_UFFDIO_WAKE,
	UCOW_SYS_UFFDIO_POISON,
	UCOW_SYS_UFFDIO_UNREGISTER,
	UCOW_SYS_CLONE3,		/* pthread_create, glibc 2.34 and later */
	UCOW_SYS_CLONE_THREAD,		/* pthread_create when clone3 says ENOSYS */
	UCOW_SYS_FUTEX,
	UCOW_SYS_POLL,
	UCOW_SYS_PPOLL,
	UCOW_SYS_RT_SIGPROCMASK,
	UCOW_SYS_GETTID,
	UCOW_SYS_SCHED_YIELD,
	UCOW_SYS_MADVISE,
	UCOW_SYS_MREMAP,
	UCOW_SYS_MSYNC,
	UCOW_SYS_MINCORE,
	UCOW_SYS_FCNTL,
	UCOW_SYS_LSEEK,
	UCOW_SYS_FALLOCATE,
	UCOW_SYS_UNSHARE_FILES,		/* unshare(CLONE_FILES) */
	UCOW_SYS_PIDFD_OPEN,
	UCOW_SYS_PIDFD_GETFD,
	UCOW_SYS_KCMP,
	UCOW_SYS_CLOSE_RANGE,
	UCOW_SYS_SCHED_GETAFFINITY,
	UCOW_SYS_SCHED_SETAFFINITY,
	UCOW_SYS_SCHED_SETSCHEDULER,	/* the waker's SCHED_IDLE */
	UCOW_SYS_PROCESS_VM_READV,
	UCOW_SYS_IO_URING_SETUP,
	UCOW_SYS_CAPGET,
	UCOW_SYS_SECCOMP,
	UCOW_SYS_SYSINFO,		/* is swap on (hole_runs.c) */
	UCOW_SYS_MEMFD_CREATE,		/* the live stats page (ucow stat) */
	UCOW_SYS_EVENTFD2,		/* its doorbell */
	UCOW_SYS_COUNT
};

/*
 * Called before ucow's first userfaultfd (the engine's start): with no filter, one read of
 * /proc/thread-self/status. Under a filter, the first call (and a call after the program
 * added filters) runs the probe. Returns 0 when the engine may start, or -EPERM after one
 * "ucow: seccomp:" line when the filter kills a call ucow cannot do without.
 */
int filter_probe(void);

/*
 * Whether ucow may make @sc: false only when a probe saw the filter kill, trap or stall it.
 * A call the filter fails with an errno is allowed: the caller sees the error. Before any
 * probe (no filter, or none seen yet), true.
 */
bool filter_allows(enum ucow_syscall sc);

/* The name of @sc, for messages. */
const char *filter_syscall_name(enum ucow_syscall sc);

/*
 * The calling thread's seccomp mode (0, 1 strict, 2 filter) and number of filters, from
 * /proc/thread-self/status: no system call a filter could object to. -1 when unreadable.
 */
int filter_mode(int *filters);

/* ucow installed a filter of its own (the trap): not the program's, nothing to probe again. */
void filter_note_own(void);

#endif

/* filter_probe.c: under a seccomp filter, ucow's own system calls are tried first in a
 * short-lived child, so that a filter that kills on one (systemd's default) costs ucow, not
 * the program: ucow steps aside, or does without the call. */
#include <errno.h>
#include <fcntl.h>
#include <linux/futex.h>
#include <linux/io_uring.h>
#include <linux/kcmp.h>
#include <linux/seccomp.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/sysinfo.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "compat.h"
#include "filter_probe.h"
#include "log.h"
#include "procfs.h"
#include "sys.h"


/* A child that has not finished by then is stalled in the filter (a user-notify supervisor
 * that does not answer): it is killed, and what it was trying counts as forbidden. */
#define PROBE_TIMEOUT_NS 2000000000ULL
#define PROBE_QUICK_NS 5000000ULL	/* polled every 25 us until then */

static const char *const names[UCOW_SYS_COUNT] = {
	[UCOW_SYS_PRCTL] = "prctl",
	[UCOW_SYS_RT_SIGACTION] = "rt_sigaction",
	[UCOW_SYS_USERFAULTFD] = "userfaultfd",
	[UCOW_SYS_DEV_USERFAULTFD] = "ioctl USERFAULTFD_IOC_NEW",
	[UCOW_SYS_UFFDIO_API] = "ioctl UFFDIO_API",
	[UCOW_SYS_UFFDIO_REGISTER] = "ioctl UFFDIO_REGISTER",
	[UCOW_SYS_UFFDIO_COPY] = "ioctl UFFDIO_COPY",
	[UCOW_SYS_UFFDIO_ZEROPAGE] = "ioctl UFFDIO_ZEROPAGE",
	[UCOW_SYS_UFFDIO_WAKE] = "ioctl UFFDIO_WAKE",
	[UCOW_SYS_UFFDIO_POISON] = "ioctl UFFDIO_POISON",
	[UCOW_SYS_UFFDIO_UNREGISTER] = "ioctl UFFDIO_UNREGISTER",
	[UCOW_SYS_CLONE3] = "clone3",
	[UCOW_SYS_CLONE_THREAD] = "clone",
	[UCOW_SYS_FUTEX] = "futex",
	[UCOW_SYS_POLL] = "poll",
	[UCOW_SYS_PPOLL] = "ppoll",
	[UCOW_SYS_RT_SIGPROCMASK] = "rt_sigprocmask",
	[UCOW_SYS_GETTID] = "gettid",
	[UCOW_SYS_SCHED_YIELD] = "sched_yield",
	[UCOW_SYS_MADVISE] = "madvise",
	[UCOW_SYS_MREMAP] = "mremap",
	[UCOW_SYS_MSYNC] = "msync",
	[UCOW_SYS_MINCORE] = "mincore",
	[UCOW_SYS_FCNTL] = "fcntl",
	[UCOW_SYS_LSEEK] = "lseek",
	[UCOW_SYS_FALLOCATE] = "fallocate",
	[UCOW_SYS_UNSHARE_FILES] = "unshare",
	[UCOW_SYS_PIDFD_OPEN] = "pidfd_open",
	[UCOW_SYS_PIDFD_GETFD] = "pidfd_getfd",
	[UCOW_SYS_KCMP] = "kcmp",
	[UCOW_SYS_CLOSE_RANGE] = "close_range",
	[UCOW_SYS_SCHED_GETAFFINITY] = "sched_getaffinity",
	[UCOW_SYS_SCHED_SETAFFINITY] = "sched_setaffinity",
	[UCOW_SYS_SCHED_SETSCHEDULER] = "sched_setscheduler",
	[UCOW_SYS_PROCESS_VM_READV] = "process_vm_readv",
	[UCOW_SYS_IO_URING_SETUP] = "io_uring_setup",
	[UCOW_SYS_CAPGET] = "capget",
	[UCOW_SYS_SECCOMP] = "seccomp",
	[UCOW_SYS_SYSINFO] = "sysinfo",
	[UCOW_SYS_MEMFD_CREATE] = "memfd_create",
	[UCOW_SYS_EVENTFD2] = "eventfd2",
};

#define BIT(sc) (1ULL << (sc))

/*
 * Calls the engine cannot do without: no path around them (rt_sigaction: glibc's first
 * pthread_create installs its SIGCANCEL and SIGSETXID handlers). The rest are optional: their
 * callers ask filter_allows() and do without (the uffd ioctls a fork child, the trap, pins,
 * placement, the descriptor-table work). userfaultfd and /dev/userfaultfd stand in for each
 * other, and clone for clone3 only when clone3 says ENOSYS (glibc then falls back): judged
 * in required_refused().
 */
#if defined(SYS_poll)
#define POLL_USED UCOW_SYS_POLL		/* glibc's poll() */
#else
#define POLL_USED UCOW_SYS_PPOLL
#endif
static const uint64_t required =
	BIT(UCOW_SYS_UFFDIO_API) | BIT(UCOW_SYS_UFFDIO_REGISTER) | BIT(UCOW_SYS_UFFDIO_COPY) |
	BIT(UCOW_SYS_UFFDIO_ZEROPAGE) | BIT(UCOW_SYS_UFFDIO_WAKE) |
	BIT(UCOW_SYS_UFFDIO_UNREGISTER) | BIT(UCOW_SYS_CLONE3) | BIT(UCOW_SYS_FUTEX) |
	BIT(POLL_USED) | BIT(UCOW_SYS_RT_SIGPROCMASK) | BIT(UCOW_SYS_GETTID) |
	BIT(UCOW_SYS_SCHED_YIELD) | BIT(UCOW_SYS_RT_SIGACTION) | BIT(UCOW_SYS_MADVISE) | BIT(UCOW_SYS_MREMAP) |
	BIT(UCOW_SYS_MSYNC) | BIT(UCOW_SYS_MINCORE) | BIT(UCOW_SYS_FCNTL) | BIT(UCOW_SYS_LSEEK);

/* Shared with the probe child (MAP_SHARED): how far it got, and what each call returned. */
struct probe_page {
	atomic_int at;			/* the call under way, -1 before the first */
	atomic_int done;		/* reached the end */
	uint64_t skip;			/* calls known to be fatal: not tried again */
	uint64_t ran;			/* calls that returned */
	long ret[UCOW_SYS_COUNT];	/* their results, -errno on failure */
};

static struct {
	atomic_uint_fast64_t unsafe;	/* calls the filter kills, traps or stalls */
	int filters;			/* the program's filters at the last probe; -1 none yet */
	int own;			/* filters ucow added itself since */
	int verdict;			/* of the last probe: 0 or -EPERM */
} filter_seen = { .filters = -1 };

bool filter_allows(enum ucow_syscall sc)
{
	return !(atomic_load_explicit(&filter_seen.unsafe, memory_order_acquire) & BIT(sc));
}

const char *filter_syscall_name(enum ucow_syscall sc)
{
	return sc < UCOW_SYS_COUNT ? names[sc] : "?";
}

void filter_note_own(void)
{
	filter_seen.own++;
}

int filter_mode(int *filters)
{
	char buf[4096], *p;
	int mode = -1;

	*filters = 0;
	if (procfs_read("/proc/thread-self/status", buf, sizeof(buf)) < 0)
		return -1;
	p = strstr(buf, "\nSeccomp:");
	if (p)
		mode = (int)strtol(p + 9, NULL, 10);
	p = strstr(buf, "\nSeccomp_filters:");
	if (p)
		*filters = (int)strtol(p + 17, NULL, 10);
	return mode;
}

/* ---- the child: system calls only, on a private copy of the parent's memory --------------- */

/*
 * clone with glibc's pthread_create flags, as glibc makes it when clone3 is refused. The new
 * thread exits at once, in assembly: it has no stack frame to return through.
 */
static long clone_thread_and_exit(void *stack, int *ptid, int *ctid, void *tls)
{
	const unsigned long flags = CLONE_VM | CLONE_FS | CLONE_FILES | CLONE_SYSVSEM |
				    CLONE_SIGHAND | CLONE_THREAD | CLONE_SETTLS |
				    CLONE_PARENT_SETTID | CLONE_CHILD_CLEARTID;
#if defined(__x86_64__)
	register long r10 __asm__("r10") = (long)ctid;
	register long r8 __asm__("r8") = (long)tls;
	long ret;

	__asm__ volatile("syscall\n\t"
			 "test %%rax, %%rax\n\t"
			 "jnz 1f\n\t"
			 "mov %[nr_exit], %%eax\n\t"
			 "xor %%edi, %%edi\n\t"
			 "syscall\n\t"
			 "hlt\n"
			 "1:"
			 : "=a"(ret)
			 : "0"((long)SYS_clone), "D"(flags), "S"(stack), "d"(ptid), "r"(r10), "r"(r8),
			   [nr_exit] "i"(SYS_exit)
			 : "rcx", "r11", "memory");
	return ret;
#elif defined(__aarch64__)
	/* arm64 takes clone's arguments in the CLONE_BACKWARDS order: tls before child_tid. */
	register long x8 __asm__("x8") = SYS_clone;
	register long x0 __asm__("x0") = (long)flags;
	register long x1 __asm__("x1") = (long)stack;
	register long x2 __asm__("x2") = (long)ptid;
	register long x3 __asm__("x3") = (long)tls;
	register long x4 __asm__("x4") = (long)ctid;

	__asm__ volatile("svc #0\n\t"
			 "cbnz x0, 1f\n\t"
			 "mov x8, %[nr_exit]\n\t"
			 "mov x0, #0\n\t"
			 "svc #0\n"
			 "1:"
			 : "+r"(x0)
			 : "r"(x8), "r"(x1), "r"(x2), "r"(x3), "r"(x4), [nr_exit] "i"(SYS_exit)
			 : "memory");
	return x0;
#else
	return -ENOSYS;	/* not tried: counted as allowed */
#endif
}

static bool begin(struct probe_page *pg, enum ucow_syscall sc)
{
	if (pg->skip & BIT(sc))
		return false;
	atomic_store_explicit(&pg->at, (int)sc, memory_order_seq_cst);
	return true;
}

static void record(struct probe_page *pg, enum ucow_syscall sc, long r)
{
	pg->ret[sc] = r < 0 ? -errno : r;
	pg->ran |= BIT(sc);
}

#define TRY(pg, sc, call)						\
	do {								\
		if (begin(pg, sc))					\
			record(pg, sc, (long)(call));			\
	} while (0)

/* The uffd ioctls on a page of the child's own, with the arguments the engine uses. */
static void try_uffd(struct probe_page *pg, int uffd, char *page, char *src)
{
	struct uffdio_api api = { .api = UFFD_API };
	struct uffdio_register reg = {
		.range = { .start = (uintptr_t)page, .len = UCOW_PAGE_SIZE },
		.mode = UFFDIO_REGISTER_MODE_MISSING,
	};
	struct uffdio_copy copy = {
		.dst = (uintptr_t)page, .src = (uintptr_t)src, .len = UCOW_PAGE_SIZE,
		.mode = UFFDIO_COPY_MODE_DONTWAKE,
	};
	struct uffdio_zeropage zero = {
		.range = { .start = (uintptr_t)page, .len = UCOW_PAGE_SIZE },
		.mode = UFFDIO_ZEROPAGE_MODE_DONTWAKE,
	};
	struct uffdio_range range = { .start = (uintptr_t)page, .len = UCOW_PAGE_SIZE };
	struct uffdio_poison poison = { .range = range };

	TRY(pg, UCOW_SYS_UFFDIO_API, syscall(SYS_ioctl, uffd, UFFDIO_API, &api));
	TRY(pg, UCOW_SYS_UFFDIO_REGISTER, syscall(SYS_ioctl, uffd, UFFDIO_REGISTER, &reg));
	TRY(pg, UCOW_SYS_UFFDIO_COPY, syscall(SYS_ioctl, uffd, UFFDIO_COPY, &copy));
	TRY(pg, UCOW_SYS_UFFDIO_ZEROPAGE, syscall(SYS_ioctl, uffd, UFFDIO_ZEROPAGE, &zero));
	TRY(pg, UCOW_SYS_UFFDIO_WAKE, syscall(SYS_ioctl, uffd, UFFDIO_WAKE, &range));
	TRY(pg, UCOW_SYS_UFFDIO_POISON, syscall(SYS_ioctl, uffd, UFFDIO_POISON, &poison));
	TRY(pg, UCOW_SYS_UFFDIO_UNREGISTER, syscall(SYS_ioctl, uffd, UFFDIO_UNREGISTER, &range));
}

static __attribute__((noreturn)) void probe_child(struct probe_page *pg)
{
	struct sigaction dfl = { .sa_handler = SIG_DFL };
	const struct timespec zero_ts = { 0, 0 };
	char *mem = sys_mmap(NULL, 4 * UCOW_PAGE_SIZE, PROT_READ | PROT_WRITE,
			     MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	char *page = mem + UCOW_PAGE_SIZE, *src = mem + 2 * UCOW_PAGE_SIZE;
	int *tids = (int *)(mem + 3 * UCOW_PAGE_SIZE);
	int uffd = -1, dev, pidfd = -1, word = 0;
	long pid = syscall(SYS_getpid);
	cpu_set_t cpus;
	sigset_t none;
	struct iovec local, remote;
	struct io_uring_params params;
	uint32_t caphdr[2] = { 0x20080522 /* _LINUX_CAPABILITY_VERSION_3 */, 0 }, capdata[6];
	struct sysinfo si;

	if (mem == MAP_FAILED)
		syscall(SYS_exit_group, 2);
	/* No core file for a child the filter kills: nothing in it is worth one. */
	TRY(pg, UCOW_SYS_PRCTL, syscall(SYS_prctl, PR_SET_DUMPABLE, 0, 0, 0, 0));
	TRY(pg, UCOW_SYS_PRCTL, syscall(SYS_prctl, PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0));
	/* A trap must end the child, whatever handler (ucow's or the program's) the parent has. */
	TRY(pg, UCOW_SYS_RT_SIGACTION, sigaction(SIGSYS, &dfl, NULL));

	TRY(pg, UCOW_SYS_USERFAULTFD, syscall(SYS_userfaultfd, O_CLOEXEC | O_NONBLOCK));
	if (pg->ran & BIT(UCOW_SYS_USERFAULTFD))
		uffd = (int)pg->ret[UCOW_SYS_USERFAULTFD];
	dev = (int)syscall(SYS_openat, AT_FDCWD, "/dev/userfaultfd", O_RDWR | O_CLOEXEC);
	if (dev >= 0) {
		TRY(pg, UCOW_SYS_DEV_USERFAULTFD,
		    syscall(SYS_ioctl, dev, USERFAULTFD_IOC_NEW, O_CLOEXEC | O_NONBLOCK));
		if (uffd < 0 && (pg->ran & BIT(UCOW_SYS_DEV_USERFAULTFD)))
			uffd = (int)pg->ret[UCOW_SYS_DEV_USERFAULTFD];
	} else if (begin(pg, UCOW_SYS_DEV_USERFAULTFD)) {
		pg->ret[UCOW_SYS_DEV_USERFAULTFD] = -errno;	/* never reached the ioctl */
		pg->ran |= BIT(UCOW_SYS_DEV_USERFAULTFD);
	}
	/* Without a userfaultfd here, ucow gets none either and never makes these calls. */
	if (uffd >= 0)
		try_uffd(pg, uffd, page, src);

	TRY(pg, UCOW_SYS_CLONE3, syscall(SYS_clone3, NULL, 0));	/* EINVAL once let through */
	if (begin(pg, UCOW_SYS_CLONE_THREAD)) {
		tids[1] = 1;
		/*
		 * Not waited for: if a later call's verdict kills only the calling thread while
		 * this one lives, the child still ends with SIGSYS once both are gone.
		 */
		record(pg, UCOW_SYS_CLONE_THREAD, clone_thread_and_exit(mem + UCOW_PAGE_SIZE,
									&tids[0], &tids[1], src));
	}
	TRY(pg, UCOW_SYS_FUTEX, syscall(SYS_futex, &word, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0));
#if defined(SYS_poll)
	TRY(pg, UCOW_SYS_POLL, syscall(SYS_poll, NULL, 0, 0));
#endif
	TRY(pg, UCOW_SYS_PPOLL, syscall(SYS_ppoll, NULL, 0, &zero_ts, NULL, 8));
	sigemptyset(&none);
	TRY(pg, UCOW_SYS_RT_SIGPROCMASK, syscall(SYS_rt_sigprocmask, SIG_BLOCK, &none, NULL, 8));
	TRY(pg, UCOW_SYS_GETTID, syscall(SYS_gettid));
	TRY(pg, UCOW_SYS_SCHED_YIELD, syscall(SYS_sched_yield));
	TRY(pg, UCOW_SYS_MADVISE, syscall(SYS_madvise, page, UCOW_PAGE_SIZE, MADV_DONTNEED));
	TRY(pg, UCOW_SYS_MREMAP, syscall(SYS_mremap, page, UCOW_PAGE_SIZE, UCOW_PAGE_SIZE,
					 MREMAP_MAYMOVE | MREMAP_FIXED, src));
	TRY(pg, UCOW_SYS_MSYNC, syscall(SYS_msync, src, UCOW_PAGE_SIZE, MS_ASYNC));
	TRY(pg, UCOW_SYS_MINCORE, syscall(SYS_mincore, src, UCOW_PAGE_SIZE, mem));
	TRY(pg, UCOW_SYS_FCNTL, syscall(SYS_fcntl, 0, F_DUPFD_CLOEXEC, 3));
	TRY(pg, UCOW_SYS_LSEEK, syscall(SYS_lseek, 0, 0, SEEK_CUR));
	TRY(pg, UCOW_SYS_FALLOCATE, syscall(SYS_fallocate, -1, FALLOC_FL_KEEP_SIZE, 0, 1));
	TRY(pg, UCOW_SYS_UNSHARE_FILES, syscall(SYS_unshare, CLONE_FILES));
	TRY(pg, UCOW_SYS_PIDFD_OPEN, syscall(SYS_pidfd_open, pid, 0));
	if (pg->ran & BIT(UCOW_SYS_PIDFD_OPEN))
		pidfd = (int)pg->ret[UCOW_SYS_PIDFD_OPEN];
	TRY(pg, UCOW_SYS_PIDFD_GETFD, syscall(SYS_pidfd_getfd, pidfd, 0, 0));
	TRY(pg, UCOW_SYS_KCMP, syscall(SYS_kcmp, pid, pid, KCMP_FILE, 0, 0));
	TRY(pg, UCOW_SYS_CLOSE_RANGE, syscall(SYS_close_range, 1U << 20, ~0U, 0));
	TRY(pg, UCOW_SYS_SCHED_GETAFFINITY, syscall(SYS_sched_getaffinity, 0, sizeof(cpus), &cpus));
	if (pg->ret[UCOW_SYS_SCHED_GETAFFINITY] > 0)
		TRY(pg, UCOW_SYS_SCHED_SETAFFINITY,
		    syscall(SYS_sched_setaffinity, 0, sizeof(cpus), &cpus));
	/* The filter sees the policy: a NULL parameter fails with EINVAL, the policy unchanged. */
	TRY(pg, UCOW_SYS_SCHED_SETSCHEDULER, syscall(SYS_sched_setscheduler, 0, SCHED_IDLE, NULL));
	local = (struct iovec){ mem, 8 };
	remote = (struct iovec){ src, 8 };
	TRY(pg, UCOW_SYS_PROCESS_VM_READV,
	    syscall(SYS_process_vm_readv, pid, &local, 1, &remote, 1, 0));
	memset(&params, 0, sizeof(params));
	TRY(pg, UCOW_SYS_IO_URING_SETUP, syscall(SYS_io_uring_setup, 1, &params));
	TRY(pg, UCOW_SYS_CAPGET, syscall(SYS_capget, caphdr, capdata));
	TRY(pg, UCOW_SYS_SYSINFO, syscall(SYS_sysinfo, &si));
	/* The filter sees the operation and flags only: a NULL program fails with EFAULT. */
	TRY(pg, UCOW_SYS_SECCOMP, syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER,
					  SECCOMP_FILTER_FLAG_TSYNC, NULL));
	TRY(pg, UCOW_SYS_MEMFD_CREATE, syscall(SYS_memfd_create, "probe", 1U /* CLOEXEC */));
	TRY(pg, UCOW_SYS_EVENTFD2, syscall(SYS_eventfd2, 0, 02000000 /* EFD_CLOEXEC */));
	atomic_store(&pg->done, 1);
	syscall(SYS_exit_group, 0);
	__builtin_unreachable();
}

/* ---- the parent --------------------------------------------------------------------------- */

enum outcome {
	OUT_DONE,
	OUT_KILLED,		/* at pg->at, by a signal: SIGSYS from the filter */
	OUT_STALLED,		/* at pg->at, killed after PROBE_TIMEOUT_NS */
	OUT_LOST,		/* no child, or no telling what happened */
};

/* Runs one child; waits for that pid only, bounded. */
static enum outcome run_child(struct probe_page *pg, int *sig, int *err)
{
	uint64_t deadline = sys_now_ns() + PROBE_TIMEOUT_NS;
	long delay_ns = 25000;
	int status = 0;
	long pid, r;

	atomic_store(&pg->at, -1);
	atomic_store(&pg->done, 0);
	/*
	 * A raw clone: no atfork handler, no libc lock. No exit signal: the program's SIGCHLD
	 * handler and its wait(-1) never see the child (only __WALL does).
	 */
	pid = syscall(SYS_clone, 0, NULL, NULL, NULL, 0);
	if (pid == 0)
		probe_child(pg);
	if (pid < 0) {
		*err = errno;
		return OUT_LOST;
	}
	for (;;) {
		r = syscall(SYS_wait4, pid, &status, __WALL | WNOHANG, NULL);
		if (r == pid)
			break;
		if (r < 0 && errno != EINTR) {
			*err = errno;	/* reaped by someone else's wait(__WALL) */
			return atomic_load(&pg->done) ? OUT_DONE : OUT_LOST;
		}
		if (sys_now_ns() >= deadline) {
			syscall(SYS_kill, pid, SIGKILL);
			while (syscall(SYS_wait4, pid, &status, __WALL, NULL) < 0 && errno == EINTR)
				;
			return atomic_load(&pg->done) ? OUT_DONE : OUT_STALLED;
		}
		if (r == 0) {
			/*
			 * Short naps while a child that runs through has not had its ~0.5 ms, then
			 * longer ones: only a stalled child gets that far.
			 */
			struct timespec ts = { 0, delay_ns };

			syscall(SYS_nanosleep, &ts, NULL);
			if (sys_now_ns() + PROBE_TIMEOUT_NS - deadline > PROBE_QUICK_NS &&
			    delay_ns < 1000000)
				delay_ns *= 2;
		}
	}
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0 && atomic_load(&pg->done))
		return OUT_DONE;
	*sig = WIFSIGNALED(status) ? WTERMSIG(status) : 0;
	*err = WIFEXITED(status) ? WEXITSTATUS(status) : 0;
	return atomic_load(&pg->at) >= 0 ? OUT_KILLED : OUT_LOST;
}

/* The first call ucow cannot do without that the filter refuses, or -1. */
static int required_refused(uint64_t unsafe, const struct probe_page *pg)
{
	bool dev_works = !(unsafe & BIT(UCOW_SYS_DEV_USERFAULTFD)) &&
			 (pg->ran & BIT(UCOW_SYS_DEV_USERFAULTFD)) &&
			 pg->ret[UCOW_SYS_DEV_USERFAULTFD] >= 0;

	if ((unsafe & BIT(UCOW_SYS_USERFAULTFD)) && !dev_works)
		return UCOW_SYS_USERFAULTFD;
	if ((unsafe & BIT(UCOW_SYS_CLONE_THREAD)) && pg->ret[UCOW_SYS_CLONE3] == -ENOSYS)
		return UCOW_SYS_CLONE_THREAD;
	for (int sc = 0; sc < UCOW_SYS_COUNT; sc++)
		if (unsafe & required & BIT(sc))
			return sc;
	return -1;
}

static const char *verdict_words(int sig, bool stalled, char *buf, size_t len)
{
	if (stalled)
		snprintf(buf, len, "stalls the process (no answer in %llu s)",
			 PROBE_TIMEOUT_NS / 1000000000ULL);
	else if (sig == SIGSYS)
		snprintf(buf, len, "kills the process (SIGSYS)");
	else
		snprintf(buf, len, "ends the process (%s)", sig ? strsignal(sig) : "exit");
	return buf;
}

static int probe(int filters)
{
	struct probe_page *pg;
	struct probe_page seen = { 0 };
	uint64_t unsafe = 0;
	int how_sig[UCOW_SYS_COUNT] = { 0 };
	uint64_t stalled = 0;
	uint64_t t0 = sys_now_ns();
	char words[96];
	int sig = 0, err = 0, sc, children = 0;
	enum outcome out = OUT_DONE;

	pg = sys_mmap(NULL, UCOW_PAGE_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS,
		      -1, 0);
	if (pg == MAP_FAILED) {
		ucow_warn("seccomp", "cannot probe this process's seccomp filter (mmap: %s); "
			  "running unmanaged", strerror(errno));
		return -EPERM;
	}
	/* One child per fatal call: each retry skips the calls already known to be fatal. */
	for (children = 0; children <= UCOW_SYS_COUNT; children++) {
		memset(pg->ret, 0, sizeof(pg->ret));
		pg->ran = 0;
		pg->skip = unsafe;
		out = run_child(pg, &sig, &err);
		for (sc = 0; sc < UCOW_SYS_COUNT; sc++)
			if (pg->ran & BIT(sc)) {
				seen.ret[sc] = pg->ret[sc];
				seen.ran |= BIT(sc);
			}
		if (out != OUT_KILLED && out != OUT_STALLED)
			break;
		sc = atomic_load(&pg->at);
		unsafe |= BIT(sc);
		how_sig[sc] = sig;
		if (out == OUT_STALLED) {
			/* Another 2 s per call would hold the program up: the rest count as refused. */
			stalled |= BIT(sc);
			for (int rest = sc + 1; rest < UCOW_SYS_COUNT; rest++)
				if (!(seen.ran & BIT(rest)))
					unsafe |= BIT(rest), stalled |= BIT(rest);
			break;
		}
	}
	sys_munmap(pg, UCOW_PAGE_SIZE);
	children++;
	if (out == OUT_LOST) {
		ucow_warn("seccomp", "cannot probe this process's seccomp filter (%s); running "
			  "unmanaged", err ? strerror(err) : "the probe ended early");
		return -EPERM;
	}
	atomic_store_explicit(&filter_seen.unsafe, unsafe, memory_order_release);
	filter_seen.filters = filters;
	filter_seen.own = 0;
	ucow_debug("seccomp", "probed %d filter(s) in %d child(ren), %llu us: refused %#llx",
		   filters, children, (unsigned long long)(sys_now_ns() - t0) / 1000,
		   (unsigned long long)unsafe);
	sc = required_refused(unsafe, &seen);
	if (sc >= 0) {
		ucow_warn("seccomp", "this process's seccomp filter %s on %s, which ucow cannot "
			  "do without: the program runs unmanaged",
			  verdict_words(how_sig[sc], stalled & BIT(sc), words, sizeof(words)),
			  names[sc]);
		return -EPERM;
	}
	for (sc = 0; sc < UCOW_SYS_COUNT; sc++)
		if (unsafe & BIT(sc))
			ucow_info("seccomp", "this process's seccomp filter %s on %s: ucow does "
				  "without it",
				  verdict_words(how_sig[sc], stalled & BIT(sc), words, sizeof(words)),
				  names[sc]);
	return 0;
}

int filter_probe(void)
{
	int saved_errno = errno;
	int filters, mode, ret;

	mode = filter_mode(&filters);
	if (mode == 0) {
		/* Filters ucow adds itself later are known not to need a probe. */
		filter_seen.filters = 0;
		filter_seen.own = 0;
		filter_seen.verdict = 0;
		return 0;
	}
	if (mode < 0)
		return 0;	/* no /proc to tell: as before the probe existed */
	if (mode == 1)
		return -EPERM;	/* strict mode: any further call would be fatal; not reached */
	/*
	 * A result holds for the filters it saw. A fork child inherits them, so the parent's
	 * result holds there too, unless the program added a filter since (it can only add).
	 */
	if (filter_seen.filters >= 0 && filters == filter_seen.filters + filter_seen.own)
		return filter_seen.verdict;
	ret = probe(filters);
	filter_seen.verdict = ret;
	if (ret < 0)
		filter_seen.filters = filters;	/* a refusal stands for the same filters too */
	errno = saved_errno;
	return ret;
}

/* waker.c: wakes a thread from its fault on the CPU it faulted on. While the handler serves a
 * burst, a thread of ucow's spins there at SCHED_IDLE and the handler hands it the wake. */
#include <errno.h>
#include <linux/capability.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "config.h"
#include "filter_probe.h"
#include "log.h"
#include "procfs.h"
#include "stats.h"
#include "sys.h"
#include "uffd.h"
#include "waker.h"

/*
 * Why: a thread blocked in a fault leaves its CPU idle, and in a VM without halt polling an
 * idle CPU woken from another costs 10-15 us (an interrupt through the host). Woken by a
 * thread running on its own CPU, it runs again at once: the scheduler keeps it there, since
 * only SCHED_IDLE work runs there, and it preempts the waker. Measured on this machine, a
 * one-page fault's round trip: 5.5-7.3 us against 13.5-14.7 us woken from the handler's CPU.
 * At SCHED_IDLE the spin never takes a CPU from other work: where there is some, the waker
 * does not run, the hand-off is not taken, and the handler wakes the thread itself.
 */
#define CLAIM_NS 5000		/* how long the handler waits for the waker to take a wake */
#define CHECK_NS 100000		/* a wake taken but not done by then is made by the handler */
/* A miss counts 2 and a wake taken takes 1 off: at 4, a pause (a miss every other wake). */
#define MISS_WEIGHT 2
#define MISSES_MAX 4
#define PAUSE_NS 2000000	/* no hand-offs for this long after them, */
#define PAUSE_MAX_NS 64000000	/* doubling up to this while hand-offs keep failing */
/* The waker's own spin without a job, after which it rests until the next pause is over (the
 * faulting thread moved, or faults from elsewhere): a spinning virtual CPU takes the host's
 * time from the others. Gaps longer than SPIN_STEP_NS are time it did not run. */
#define SPIN_IDLE_NS 50000
#define SPIN_STEP_NS 5000

#define FOLLOW_GAP_NS 1000000	/* within a burst, the thread's CPU is read this often, */
#define REFOLLOW_GAP_NS 200000	/* or this often after a miss or a move of the handler's */
#define STACK_SIZE (64 * 1024)

enum { WAKER_ABSENT, WAKER_REST, WAKER_SPIN, WAKER_STOP };

static struct {
	atomic_uint state;		/* the waker's futex word */
	atomic_bool idled;		/* it stopped spinning for want of jobs */
	/* The hand-off: odd while the handler writes it; claimed just before the waker's
	 * ioctl, done after it. */
	atomic_ulong job, claimed, done;
	atomic_uintptr_t start;
	atomic_size_t len;
	int uffd;
	pthread_t thread;
	int cpu;			/* the waker's CPU, -1 if not pinned */
	pid_t tid;			/* the thread that ran there when it was pinned */
	/* Handler side. */
	pid_t faulting;			/* the thread whose fault is served */
	uintptr_t fault_addr;		/* the page it waits for */
	bool handed;			/* its wake went to the waker */
	unsigned long posted;		/* the last job posted */
	unsigned long settled;		/* the last job known made, by either thread */
	uint64_t posted_at, paused_until, followed_at, pause_ns;
	uint64_t waited;		/* the handler's time runnable, not running, at that look */
	unsigned int misses;
	bool follow;			/* read the thread's CPU again at the next fault served */
	bool burst_new;			/* the next fault served starts a burst */
	bool idle_policy;		/* the handler set it to SCHED_IDLE */
} waker = { .cpu = -1 };

static inline void cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
	__builtin_ia32_pause();
#elif defined(__aarch64__)
	__asm__ __volatile__("yield");
#endif
}

static void *waker_main(void *arg)
{
	unsigned long job, tried = 0;
	uint64_t last = 0, idle = 0, now;
	unsigned int state;

	(void)arg;
	for (;;) {
		state = atomic_load(&waker.state);
		if (state == WAKER_STOP)
			return NULL;
		if (state != WAKER_SPIN) {
			sys_futex_wait(&waker.state, state, 0);
			last = idle = 0;
			continue;
		}
		job = atomic_load(&waker.job);
		if (job & 1 || job == tried) {
			now = sys_now_ns();
			if (last)
				idle += now - last < SPIN_STEP_NS ? now - last : SPIN_STEP_NS;
			last = now;
			if (idle > SPIN_IDLE_NS) {
				state = WAKER_SPIN;
				if (atomic_compare_exchange_strong(&waker.state, &state, WAKER_REST))
					atomic_store(&waker.idled, true);
				continue;
			}
			/* A spin that holds the CPU at a tick would keep a program thread or the
			 * handler from it for a whole slice: SCHED_IDLE is not enough. */
			sched_yield();
			continue;
		}
		idle = 0;
		uintptr_t start = atomic_load(&waker.start);
		size_t len = atomic_load(&waker.len);

		if (atomic_load(&waker.job) != job)
			continue;	/* rewritten meanwhile: read it again */
		tried = job;
		atomic_store(&waker.claimed, job);
		if (uffd_wake(waker.uffd, start, len) == 0)
			atomic_store(&waker.done, job);
	}
}

/*
 * The waker spins at SCHED_IDLE and sleeps at SCHED_OTHER, set by the handler, which runs
 * whatever the machine's load: glibc's set*id() calls, exec and exit wait for every thread,
 * and a SCHED_IDLE one on a machine whose CPUs are all busy gets a turn only after tens to
 * hundreds of milliseconds (measured). Leaving SCHED_IDLE needs CAP_SYS_NICE (or an
 * RLIMIT_NICE of 20), so the waker spins only while the handler may bring it back.
 */
static int set_policy(int policy)
{
	struct sched_param none = { 0 };

	return -pthread_setschedparam(waker.thread, policy, &none);
}

static bool may_bring_back(void)
{
	struct __user_cap_header_struct hdr = { .version = _LINUX_CAPABILITY_VERSION_3 };
	struct __user_cap_data_struct data[2] = { { 0 } };
	struct rlimit nice;

	if (getrlimit(RLIMIT_NICE, &nice) == 0 && nice.rlim_cur >= 20)
		return true;
	if (!filter_allows(UCOW_SYS_CAPGET) || syscall(SYS_capget, &hdr, data) < 0)
		return false;
	return data[CAP_SYS_NICE / 32].effective & (1u << (CAP_SYS_NICE % 32));
}

/* Makes the waker, resting, once it is known it may be set to SCHED_IDLE and back: 0, or
 * -errno (there is none). */
static int start_thread(void)
{
	pthread_attr_t attr;
	cpu_set_t home;
	int ret;

	if (!filter_allows(UCOW_SYS_SCHED_SETSCHEDULER) ||
	    !filter_allows(UCOW_SYS_SCHED_GETAFFINITY) ||
	    !filter_allows(UCOW_SYS_SCHED_SETAFFINITY))
		return -EPERM;
	if (sched_getaffinity(0, sizeof(home), &home) < 0)
		return -errno;
	if (CPU_COUNT(&home) < 2)
		return -EXDEV;	/* said as "one CPU" */
	if (!may_bring_back())
		return -EACCES;	/* said as "needs CAP_SYS_NICE" */
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	pthread_attr_setstacksize(&attr, STACK_SIZE);
	atomic_store(&waker.state, WAKER_REST);
	/* The handler's signal mask (every signal blocked) and descriptor table go with it. */
	ret = pthread_create(&waker.thread, &attr, waker_main, NULL);
	pthread_attr_destroy(&attr);
	if (ret) {
		atomic_store(&waker.state, WAKER_ABSENT);
		return -ret;
	}
	pthread_setname_np(waker.thread, "ucow-waker");
	/* A filter may refuse the moves or the policies: found now, not in a burst. */
	ret = -pthread_setaffinity_np(waker.thread, sizeof(home), &home);
	if (!ret && (ret = set_policy(SCHED_IDLE)) == 0)
		ret = set_policy(SCHED_OTHER);
	if (ret) {
		atomic_store(&waker.state, WAKER_STOP);
		sys_futex_wake(&waker.state);
		return ret;
	}
	return 0;
}

/*
 * At handler start, before it serves a fault: pthread_create may allocate (glibc's TLS
 * vector), which the handler must never do once a program thread may wait for it.
 */
void waker_init(int uffd)
{
	int ret;

	waker.uffd = uffd;
	waker.burst_new = true;
	if (!ucow_cfg.local_wake)
		return;
	ret = start_thread();
	if (ret < 0)
		ucow_info("waker", "no waker thread (%s): threads are woken from their faults "
			  "by the handler, from its CPU",
			  ret == -EXDEV ? "the handler may run on one CPU only" :
			  ret == -EACCES ? "taking a thread back from SCHED_IDLE needs CAP_SYS_NICE" :
			  strerror(-ret));
}

bool waker_spinning(void)
{
	return atomic_load(&waker.state) == WAKER_SPIN;
}

bool waker_exists(void)
{
	unsigned int state = atomic_load(&waker.state);

	return state == WAKER_REST || state == WAKER_SPIN;
}

void waker_fault(pid_t tid, uintptr_t addr)
{
	waker.faulting = tid;
	waker.fault_addr = addr;
	waker.handed = false;
}

/*
 * Whether the handler waited for its CPU more than a quarter of the time since the last look
 * (the second field of its schedstat: time runnable, not running). Then another task shares
 * that CPU, and a thread kept on its own CPU by the waker would be served from a CPU the
 * handler only half has; left alone the scheduler puts the two together, where the handler's
 * own wake is local (with one CPU-bound process beside: 9-10 us against 14-18 us a fault).
 */
static bool handler_crowded(uint64_t now)
{
	char buf[96], *end;
	uint64_t waited, prev = waker.waited;

	if (procfs_read("/proc/thread-self/schedstat", buf, sizeof(buf)) <= 0)
		return false;
	strtoull(buf, &end, 10);
	waited = strtoull(end, NULL, 10);
	waker.waited = waited;
	return waker.followed_at && waited - prev > (now - waker.followed_at) / 4;
}

/* Pins the waker to the CPU of the thread whose fault was served, or leaves it resting. */
static void follow(bool burst_start)
{
	uint64_t now = sys_now_ns();
	cpu_set_t one;
	bool crowded;
	int cpu, policy = SCHED_OTHER;

	if (!burst_start &&
	    now - waker.followed_at < (waker.follow ? REFOLLOW_GAP_NS : FOLLOW_GAP_NS))
		return;
	crowded = handler_crowded(now);
	waker.followed_at = now;
	waker.follow = waker.burst_new = false;
	waker.tid = 0;
	if (crowded)
		return;
	cpu = waker.faulting ? procfs_thread_sched(waker.faulting, &policy) : -1;
	/*
	 * On the handler's CPU the handler's own wake is local: the waker rests. So it does
	 * beside a SCHED_IDLE or SCHED_BATCH thread, whose CPU time it would share.
	 */
	if (cpu < 0 || cpu == sched_getcpu() || policy == SCHED_IDLE || policy == SCHED_BATCH)
		return;
	if (cpu != waker.cpu) {
		CPU_ZERO(&one);
		CPU_SET(cpu, &one);
		if (pthread_setaffinity_np(waker.thread, sizeof(one), &one) != 0) {
			waker.cpu = -1;
			return;
		}
		waker.cpu = cpu;
	}
	waker.tid = waker.faulting;
	/* Said again while it spins: someone may have changed it (chrt -a). */
	if (waker.idle_policy && set_policy(SCHED_IDLE) < 0)
		waker.tid = 0;
}

/*
 * At rest: SCHED_OTHER (see set_policy()), and unpinned: a thread pinned to a busy CPU waits
 * there for its turn while a set*id() call or an exit waits for it; free to move, it runs
 * at once on any CPU the program leaves idle.
 */
static void disarm(void)
{
	unsigned int spin = WAKER_SPIN;
	cpu_set_t home;

	atomic_compare_exchange_strong(&waker.state, &spin, WAKER_REST);
	if (waker.idle_policy) {
		waker.idle_policy = false;
		if (set_policy(SCHED_OTHER) < 0) {
			/* The program dropped its privileges: no more spins. */
			ucow_debug("waker", "cannot take it back from SCHED_IDLE: it ends");
			waker_stop();
			return;
		}
	}
	if (waker.cpu < 0)
		return;
	waker.cpu = -1;
	/* The handler's mask as it is now: an administrator may have narrowed the process's. */
	if (sched_getaffinity(0, sizeof(home), &home) < 0 ||
	    pthread_setaffinity_np(waker.thread, sizeof(home), &home) != 0)
		ucow_debug("waker", "cannot take back its CPU mask: %m");
}

/* The waker spins from now on, at SCHED_IDLE: false if it may not. */
static bool arm(void)
{
	if (!may_bring_back() || set_policy(SCHED_IDLE) < 0)
		return false;
	waker.idle_policy = true;
	atomic_store(&waker.state, WAKER_SPIN);
	sys_futex_wake(&waker.state);
	return true;
}

/* No hand-offs for a while, twice as long as the last time until a wake is taken again. */
static void pause_handoffs(void)
{
	waker.pause_ns = waker.pause_ns ? waker.pause_ns * 2 : PAUSE_NS;
	if (waker.pause_ns > PAUSE_MAX_NS)
		waker.pause_ns = PAUSE_MAX_NS;
	waker.paused_until = sys_now_ns() + waker.pause_ns;
}

static bool paused(void)
{
	if (!waker.paused_until)
		return false;
	if (sys_now_ns() < waker.paused_until)
		return true;
	waker.paused_until = 0;
	return false;
}

void waker_served(void)
{
	unsigned int state = atomic_load(&waker.state);

	if (state == WAKER_ABSENT || state == WAKER_STOP)
		return;
	if (atomic_exchange(&waker.idled, false))
		pause_handoffs();
	/* Looked at again every FOLLOW_GAP_NS: the machine's load changes. */
	if (!paused())
		follow(waker.burst_new);
	else
		waker.tid = 0;
	if (!waker.tid)
		disarm();
	else if (state == WAKER_REST && !arm())
		waker.tid = 0;
}

static void missed(void)
{
	ucow_stat_add(UCOW_ST_WAKES_MISSED, 1);
	waker.follow = true;
	waker.misses += MISS_WEIGHT;
	if (waker.misses >= MISSES_MAX) {
		waker.misses = 0;
		pause_handoffs();
	}
}

/* A wake handed off but not seen made: made again here (a second wake of a woken thread
 * only makes it look at its page again). */
static void settle(void)
{
	if (waker.settled == waker.posted || atomic_load(&waker.done) == waker.posted) {
		waker.settled = waker.posted;
		return;
	}
	uffd_wake(waker.uffd, atomic_load(&waker.start), atomic_load(&waker.len));
	waker.settled = waker.posted;
}

bool waker_ready(uintptr_t start, size_t len)
{
	if (atomic_load_explicit(&waker.state, memory_order_relaxed) != WAKER_SPIN ||
	    waker.handed || !waker.faulting || waker.faulting != waker.tid ||
	    waker.fault_addr - start >= len)
		return false;
	if (sched_getcpu() == waker.cpu) {
		/* The handler moved there: a wake from here is as local as the waker's. */
		waker.follow = true;
		return false;
	}
	return !paused();
}

bool waker_wake(uintptr_t start, size_t len)
{
	unsigned long job;
	uint64_t since;

	if (!waker_ready(start, len))
		return false;
	/* One wake outstanding at a time; the one before is usually done already. */
	if (waker.settled != waker.posted) {
		since = sys_now_ns();
		while (atomic_load(&waker.done) != waker.posted && sys_now_ns() - since < CLAIM_NS)
			cpu_relax();
		settle();
	}
	job = waker.posted + 2;
	atomic_store(&waker.job, job - 1);
	atomic_store(&waker.start, start);
	atomic_store(&waker.len, len);
	atomic_store(&waker.job, job);
	waker.posted = job;
	since = waker.posted_at = sys_now_ns();
	while (atomic_load(&waker.claimed) != job) {
		if (sys_now_ns() - since > CLAIM_NS) {
			missed();
			settle();
			return true;
		}
		cpu_relax();
	}
	/* Only the wake of the faulting thread goes through the waker: once it runs, the
	 * waker does not, until the thread faults again. */
	waker.handed = true;
	waker.pause_ns = 0;
	if (waker.misses)
		waker.misses--;
	ucow_stat_add(UCOW_ST_WAKES_HANDED, 1);
	return true;
}

void waker_check(void)
{
	if (waker.settled != waker.posted && sys_now_ns() - waker.posted_at > CHECK_NS)
		settle();
}

void waker_rest(void)
{
	settle();
	disarm();
	waker.burst_new = true;
}

void waker_stop(void)
{
	settle();
	if (!waker_exists())
		return;
	atomic_store(&waker.state, WAKER_STOP);
	sys_futex_wake(&waker.state);
}

void waker_fork_child(void)
{
	memset(&waker, 0, sizeof(waker));
	waker.cpu = -1;
}

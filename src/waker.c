/* waker.c: wakes a thread from its fault on the CPU it faulted on. While the handler serves a
 * burst, a thread of ucow's spins there at SCHED_IDLE and the handler hands it the wake. */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

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
#define MISSES_MAX 2		/* wakes not taken in a row before a pause */
#define PAUSE_NS 2000000	/* no hand-offs for this long after them */
#define FOLLOW_GAP_NS 1000000	/* within a burst, the thread's CPU is read at most this often */
#define STACK_SIZE (64 * 1024)

enum { WAKER_ABSENT, WAKER_REST, WAKER_SPIN, WAKER_STOP };

static struct {
	atomic_uint state;		/* the waker's futex word */
	atomic_int began;		/* 1 once it runs at SCHED_IDLE, -errno if it cannot */
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
	uint64_t posted_at, paused_until, followed_at;
	uint64_t waited;		/* the handler's time runnable, not running, at that look */
	unsigned int misses;
	bool follow;			/* read the thread's CPU again at the next fault served */
	bool burst_new;			/* the next fault served starts a burst */
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
	struct sched_param none = { 0 };
	unsigned long job, tried = 0;
	unsigned int state;

	(void)arg;
	/* Before it ever spins. (pthread attributes cannot ask for SCHED_IDLE.) */
	if (sched_setscheduler(0, SCHED_IDLE, &none) < 0) {
		atomic_store(&waker.began, -errno);
		sys_futex_wake((atomic_uint *)&waker.began);
		return NULL;
	}
	atomic_store(&waker.began, 1);
	sys_futex_wake((atomic_uint *)&waker.began);
	for (;;) {
		state = atomic_load(&waker.state);
		if (state == WAKER_STOP)
			return NULL;
		if (state != WAKER_SPIN) {
			sys_futex_wait(&waker.state, state, 0);
			continue;
		}
		job = atomic_load(&waker.job);
		if (job & 1 || job == tried) {
			/* A spin that holds the CPU at a tick would keep a program thread or the
			 * handler from it for a whole slice: SCHED_IDLE is not enough. */
			sched_yield();
			continue;
		}
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

/* Returns once the waker runs at SCHED_IDLE: 0, or -errno (it is gone). */
static int start_thread(void)
{
	pthread_attr_t attr;
	int ret;

	if (!filter_allows(UCOW_SYS_SCHED_SETSCHEDULER) ||
	    !filter_allows(UCOW_SYS_SCHED_SETAFFINITY))
		return -EPERM;
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	pthread_attr_setstacksize(&attr, STACK_SIZE);
	atomic_store(&waker.state, WAKER_REST);
	atomic_store(&waker.began, 0);
	/* The handler's signal mask (every signal blocked) and descriptor table go with it. */
	ret = pthread_create(&waker.thread, &attr, waker_main, NULL);
	pthread_attr_destroy(&attr);
	if (ret) {
		atomic_store(&waker.state, WAKER_ABSENT);
		return -ret;
	}
	while ((ret = atomic_load(&waker.began)) == 0)
		sys_futex_wait((atomic_uint *)&waker.began, 0, 0);
	if (ret < 0) {
		atomic_store(&waker.state, WAKER_ABSENT);
		return ret;
	}
	pthread_setname_np(waker.thread, "ucow-waker");
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
			  "by the handler, from its CPU", strerror(-ret));
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

/* Pins the waker to the CPU of the thread whose fault was served. */
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

static void follow(bool burst_start)
{
	uint64_t now = sys_now_ns();
	cpu_set_t one;
	bool crowded;
	int cpu;

	if (!burst_start && now - waker.followed_at < FOLLOW_GAP_NS)
		return;
	crowded = handler_crowded(now);
	waker.followed_at = now;
	waker.follow = waker.burst_new = false;
	waker.tid = 0;
	if (crowded)
		return;
	cpu = waker.faulting ? procfs_thread_cpu(waker.faulting) : -1;
	/* On the handler's CPU the handler's own wake is local: the waker rests. */
	if (cpu < 0 || cpu == sched_getcpu())
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
}

void waker_served(void)
{
	unsigned int state = atomic_load(&waker.state);

	if (state == WAKER_ABSENT || state == WAKER_STOP)
		return;
	/* Looked at again every FOLLOW_GAP_NS: the machine's load changes. */
	follow(waker.burst_new);
	if (!waker.tid) {
		if (state == WAKER_SPIN)
			atomic_store(&waker.state, WAKER_REST);
	} else if (state == WAKER_REST) {
		atomic_store(&waker.state, WAKER_SPIN);
		sys_futex_wake(&waker.state);
	}
}

static void missed(void)
{
	ucow_stat_add(UCOW_ST_WAKES_MISSED, 1);
	waker.follow = true;
	if (++waker.misses >= MISSES_MAX) {
		waker.misses = 0;
		waker.paused_until = sys_now_ns() + PAUSE_NS;
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
	if (waker.paused_until) {
		if (sys_now_ns() < waker.paused_until)
			return false;
		waker.paused_until = 0;
	}
	return true;
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
	waker.misses = 0;
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
	if (waker.settled != waker.posted)
		settle();
	if (atomic_load(&waker.state) == WAKER_SPIN)
		atomic_store(&waker.state, WAKER_REST);
	waker.burst_new = true;
}

void waker_stop(void)
{
	if (waker.settled != waker.posted)
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

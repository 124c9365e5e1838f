/* placement.c: where the handler thread fills a large window. On the CPU of the thread that
 * faulted, which will use and unmap the pages, then off it before the wake-up. */
#include <fcntl.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "filter_probe.h"
#include "log.h"
#include "placement.h"
#include "procfs.h"
#include "sys.h"
#include "waker.h"

/*
 * Filled from another CPU, a page costs 0.7 to 0.95 us to fill and its unmap takes twice as
 * long (the page allocator's per-CPU lists, the unmap's TLB flush); filled on the CPU that
 * frees it, 0.4 us (measured: 1000 pages filled, touched and unmapped in a loop). The
 * scheduler wakes the faulting thread on an idle CPU, so left alone the handler fills from
 * the other one. Moving there and back costs two migrations and a read of the thread's
 * stat file and /proc/loadavg, about 50 us: worth it from this many pages.
 */
#define NEAR_MIN_PAGES 256

static struct {
	cpu_set_t home;		/* the handler's mask before a move, put back after it */
	pid_t tid;		/* the thread whose fault is being served, 0 if unknown */
} place;

void placement_init(void)
{
	place.tid = 0;
}

static void add_thread_mask(unsigned long tid, int dir, void *arg)
{
	cpu_set_t *all = arg, one;

	(void)dir;
	if (tid > 0 && sched_getaffinity((pid_t)tid, sizeof(one), &one) == 0)
		CPU_OR(all, all, &one);
}

void placement_adopt_process_mask(void)
{
	cpu_set_t mask;

	if (!filter_allows(UCOW_SYS_SCHED_GETAFFINITY) || !filter_allows(UCOW_SYS_SCHED_SETAFFINITY))
		return;
	CPU_ZERO(&mask);
	if (procfs_each_number("/proc/self/task", add_thread_mask, &mask) < 0 ||
	    CPU_COUNT(&mask) == 0)
		return;
	if (sched_setaffinity(0, sizeof(mask), &mask) < 0)
		ucow_debug("handler", "cannot take the program's CPU mask: %m");
}

void placement_fault(pid_t tid)
{
	place.tid = tid;
}

/*
 * Whether every other CPU is idle: the tasks running system-wide (the fourth field of
 * /proc/loadavg) are this thread alone, and ucow's waker. Otherwise the handler stays where
 * it is: moved onto a CPU that is busy (a pinned or real-time task the count cannot place),
 * it would wait there behind it while the faulting thread waits for the handler.
 */
static bool cpus_to_spare(void)
{
	char buf[128], *slash;

	if (procfs_read("/proc/loadavg", buf, sizeof(buf)) <= 0)
		return false;
	slash = strchr(buf, '/');
	if (!slash)
		return false;
	while (slash > buf && slash[-1] != ' ')
		slash--;
	/* The waker spins only on a CPU with nothing else to run. */
	return atoi(slash) <= 1 + (waker_spinning() ? 1 : 0);
}

static bool set_mask(const cpu_set_t *mask)
{
	return sched_setaffinity(0, sizeof(*mask), mask) == 0;
}

int placement_near(size_t len)
{
	cpu_set_t one;
	int cpu;

	if (!place.tid || len < NEAR_MIN_PAGES * UCOW_PAGE_SIZE ||
	    !filter_allows(UCOW_SYS_SCHED_GETAFFINITY) || !filter_allows(UCOW_SYS_SCHED_SETAFFINITY))
		return -1;
	/* Read each time: the program or an administrator may have set it since. */
	if (sched_getaffinity(0, sizeof(place.home), &place.home) < 0 ||
	    CPU_COUNT(&place.home) < 2)
		return -1;
	cpu = procfs_thread_cpu(place.tid);
	if (cpu < 0 || !CPU_ISSET(cpu, &place.home) || !cpus_to_spare())
		return -1;
	if (cpu == sched_getcpu())
		return cpu;	/* already there; still leave before the wake */
	CPU_ZERO(&one);
	CPU_SET(cpu, &one);
	return set_mask(&one) ? cpu : -1;
}

void placement_leave(int cpu)
{
	cpu_set_t others = place.home;

	if (cpu < 0)
		return;
	/* On this CPU at the wake-up, the woken thread would go to another, idle one. */
	CPU_CLR(cpu, &others);
	if (!set_mask(&others))
		ucow_debug("handler", "cannot leave CPU %d: %m", cpu);
}

void placement_home(int cpu)
{
	if (cpu >= 0 && !set_mask(&place.home))
		ucow_debug("handler", "cannot take back the CPU mask: %m");
}

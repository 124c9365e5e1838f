/* unmapped.c: forgetting the regions whose mapping is gone. The kernel queues an unmap event
 * after it lets go of the address space, so the range may be mapped again already: a region
 * piece is kept only while its range is registered with ucow's userfaultfd. */
#include <errno.h>
#include <sched.h>
#include <stddef.h>
#include <sys/mman.h>

#include "region.h"
#include "registration.h"
#include "sys.h"
#include "uffd_ctl.h"
#include "unmapped.h"

#define PROBE_PATIENCE_NS 2000000	/* 2 ms per pass */

static bool mapped(uintptr_t start, uintptr_t end)
{
	/* msync(MS_ASYNC) does nothing but say ENOMEM where a page is not mapped. */
	return !(msync((void *)start, end - start, MS_ASYNC) < 0 && errno == ENOMEM);
}

/*
 * Whether a region piece still stands for a live managed mapping: whether its range is still
 * registered with the userfaultfd (a range mapped again without ucow is not), or, with no
 * userfaultfd, whether anything is mapped there.
 * The probe says EAGAIN while an event is on its way, and that includes the unmap whose
 * notice the handler has just read until the unmapping thread runs again (it lowers the
 * kernel's mmap_changing once woken, which on an idle virtual CPU takes 100 us or more, and
 * on a busy one milliseconds): without waiting for it, half the handler's probes ended in
 * doubt (measured). @deadline bounds one pass. With @doubt (the handler thread), a probe
 * still in doubt then, or one that waits for a message only the handler can read (mremap
 * over a managed range: its remap follows its unmap), says so instead of guessing.
 */
static bool piece_alive(uintptr_t start, uintptr_t end, uint64_t deadline, bool *doubt,
			bool (*pending)(void))
{
	int ret;

	if (engine_uffd() < 0)
		return mapped(start, end);
	while ((ret = uffd_ctl_registered(start)) == -EAGAIN) {
		if (doubt && (pending() || sys_now_ns() >= deadline)) {
			*doubt = true;
			return true;
		}
		if (sys_now_ns() >= deadline)
			break;
		sched_yield();
	}
	return ret != 0;	/* in doubt, keep it: a stale entry costs less than a lost one */
}

/*
 * Unmap notices the handler could not settle yet (handler thread only). The handler stays
 * busy, reading and serving, until they are settled (handler_barrier() waits for that), or
 * for DOUBT_PATIENCE_NS at most: an unmapping thread stopped (SIGSTOP, a debugger) right
 * after its event would otherwise keep every barrier waiting.
 */
#define DOUBTS_MAX 16
#define DOUBT_PATIENCE_NS 200000000ULL	/* 200 ms */
static struct {
	size_t n;
	struct {
		uintptr_t start, end;
		uint64_t since;
	} v[DOUBTS_MAX];
} unsettled;

void unmapped_forget_parts(const struct ucow_region *r, void *arg)
{
	uintptr_t hole = 0;

	if (mapped(r->start, r->end))
		return;
	for (uintptr_t a = r->start; a < r->end; a += UCOW_PAGE_SIZE) {
		bool here = mapped(a, a + UCOW_PAGE_SIZE);

		if (!here && !hole)
			hole = a;
		if (here && hole) {
			registry_remove_birth(&ucow_registry, hole, a, r->birth);
			hole = 0;
		}
	}
	if (hole)
		registry_remove_birth(&ucow_registry, hole, r->end, r->birth);
}

struct forgetting {
	uint64_t deadline;		/* of this pass's probes */
	uint64_t since;			/* when the notice came */
	bool (*pending)(void);		/* the handler's, or NULL on a program thread */
	void (*settle)(void);		/* a program thread's wait for events begun before */
};

static void forget_if_dead(const struct ucow_region *r, void *arg)
{
	const struct forgetting *fg = arg;
	bool doubt = false;
	bool may_doubt = fg->pending && unsettled.n < DOUBTS_MAX &&
			 sys_now_ns() - fg->since < DOUBT_PATIENCE_NS;

	/*
	 * By birth: the range may have been managed again since it was looked at. On a program
	 * thread, only once the events begun before the probe are applied: a piece no longer
	 * registered may have been moved (its REMAP read, not yet applied), and then it is gone
	 * from here by the time it would be forgotten.
	 */
	if (!piece_alive(r->start, r->end, fg->deadline, may_doubt ? &doubt : NULL, fg->pending)) {
		if (fg->settle)
			fg->settle();
		registry_remove_birth(&ucow_registry, r->start, r->end, r->birth);
	} else if (doubt) {
		unsettled.v[unsettled.n].start = r->start;
		unsettled.v[unsettled.n].end = r->end;
		unsettled.v[unsettled.n].since = fg->since;
		unsettled.n++;
	}
}

/* @since: when the notice for [start,end) came (0: now). Without @pending (a program
 * thread), no doubts: it waits. */
static void forget_dead_since(uintptr_t start, uintptr_t end, bool (*pending)(void),
			      void (*settle)(void), uint64_t since)
{
	uint64_t now = sys_now_ns();
	struct forgetting fg = {
		.deadline = now + PROBE_PATIENCE_NS,
		.since = since ? since : now,
		.pending = pending,
		.settle = settle,
	};

	registry_walk(&ucow_registry, start, end, forget_if_dead, &fg);
}

void unmapped_forget(uintptr_t start, uintptr_t end, void (*settle)(void))
{
	forget_dead_since(start, end, NULL, settle, 0);
}

void unmapped_event(uintptr_t start, uintptr_t end, bool (*pending)(void))
{
	forget_dead_since(start, end, pending, NULL, 0);
}

void unmapped_settle_doubts(bool (*pending)(void))
{
	size_t n = unsettled.n;

	for (size_t i = 0; i < n; i++) {
		uintptr_t s = unsettled.v[0].start, e = unsettled.v[0].end;
		uint64_t since = unsettled.v[0].since;

		/* Taken off first: the recheck may doubt again, at the end of the list. */
		unsettled.n--;
		for (size_t j = 0; j < unsettled.n; j++)
			unsettled.v[j] = unsettled.v[j + 1];
		forget_dead_since(s, e, pending, NULL, since);
	}
}

bool unmapped_doubts_left(void)
{
	return unsettled.n != 0;
}

/* lazy_defer.h: what a large memset defers under lazy memset — the memory it may defer (never
 * touched, private anonymous, not the kernel's huge pages), the regions that record the
 * value, and lazy memset's own counters. */
#ifndef UCOW_LAZY_DEFER_H
#define UCOW_LAZY_DEFER_H

#include <stdatomic.h>
#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "memset_hook.h"
#include "region.h"

/* Lazy memset's counters (UCOW_STATS), bumped with ucow_count() from any thread. */
enum lazy_counter {
	LAZY_CALLS,		/* memsets of at least UCOW_LAZY_MEMSET_MIN */
	LAZY_DEFERRED_CALLS,	/* ... that deferred some pages */
	LAZY_DECLINED,		/* ... written for real whole */
	LAZY_RESIDENT,		/* ... over pages all resident: written at once */
	LAZY_PAGES_DEFERRED,	/* pages registered to be filled on first touch */
	LAZY_PAGES_ZERO,	/* untouched pages a memset of 0 left alone */
	LAZY_PAGES_REVALUED,	/* deferred pages given another value by a later memset */
	LAZY_BYTES_WRITTEN,	/* bytes of those calls written for real */
	LAZY_DISCARDS,		/* MADV_DONTNEED/FREE/REMOVE events over deferred ranges */
	LAZY_PAGES_PRESENT,	/* measured when a range goes: pages touched (filled) */
	LAZY_PAGES_UNTOUCHED,	/* ... and pages never touched: memory saved */
	LAZY_REGIONS,		/* ranges registered to be filled on first touch */
	LAZY__COUNT,
};
extern atomic_ulong lazy_counters[LAZY__COUNT];

/* Once, when lazy memset is armed: @real is the memset that never defers (libc's). Reads
 * which VMAs the kernel gives transparent huge pages. */
void lazy_defer_init(ucow_memset_fn real);

/*
 * A memset (bzero, __memset_chk) of at least UCOW_LAZY_MEMSET_MIN, from libucow-memset.so
 * (a ucow_lazy_memset_fn): the untouched pages of private anonymous memory in [s,s+n) get
 * @c on their first touch, everything else is written now. @caller: the call's return
 * address (ucow's own calls are written at once). Returns @s.
 */
void *lazy_defer_memset(void *s, int c, size_t n, const void *caller);

/* Some VMA may carry MADV_HUGEPAGE, MADV_DONTFORK or MADV_WIPEONFORK: from now on each
 * memset reads /proc/self/smaps to know. */
void lazy_defer_advice_seen(void);

/* No lazy memset changes the registry from now until lazy_defer_release() (this thread's
 * signals blocked meanwhile, its own memsets written for real). */
void lazy_defer_hold(sigset_t *old);
void lazy_defer_release(const sigset_t *old);

/* The fork child: the lock of the one memset that changes the registry at a time may have
 * been held by a thread that does not exist there. */
void lazy_defer_fork_child(void);

/* The regions of lazy memset over a range, copied out of the registry. */
#define LAZY_MAX_PARTS 32
struct lazy_parts {
	size_t n;
	bool overflow;		/* more than LAZY_MAX_PARTS regions: ask again after these */
	bool foreign;		/* another policy manages part of the range */
	struct ucow_region v[LAZY_MAX_PARTS];
};

void lazy_parts(uintptr_t start, uintptr_t end, struct lazy_parts *p);
/* Unregisters the regions of @p: their pages read zero again (those never touched). */
void lazy_forget_parts(const struct lazy_parts *p);

struct own_fd;
/* The descriptor this thread's lazy memset reads the pagemap through (NULL: none): what the
 * two calls below read through it counts only while it is still ucow's (-EBADF otherwise). */
void lazy_scan_bind(const struct own_fd *pm);

/*
 * Calls @fn on each run of pages in [start,end) that are present or swapped out (a page
 * that is neither was never touched, or was discarded), through @pm, an open
 * /proc/self/pagemap. 0, or -errno.
 */
int lazy_present_runs(int pm, uintptr_t start, uintptr_t end,
		      void (*fn)(uintptr_t s, uintptr_t e, void *arg), void *arg);

/*
 * The first guard page (MADV_GUARD_INSTALL) in [start,end), or @end (also where the kernel
 * cannot tell, before 6.15). A memset that reaches one takes SIGSEGV there, which the program
 * may catch: lazy memset stops before it, and the rest is written with the program's signal
 * mask, as its own memset would.
 */
uintptr_t lazy_first_guard(int pm, uintptr_t start, uintptr_t end);

#endif

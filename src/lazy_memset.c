/* lazy_memset.c: the lazy memset policy (UCOW_LAZY_MEMSET): its row of the policy table — arming
 * libucow-memset.so, and following what the program does to memory it deferred (discards,
 * advice, mremap, fork) — and its statistics. */
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "compat.h"
#include "config.h"
#include "engine.h"
#include "handler.h"
#include "lazy_defer.h"
#include "fdtable.h"
#include "lazy_memset.h"
#include "log.h"
#include "memset_hook.h"
#include "own_code.h"
#include "pattern.h"
#include "procfs.h"
#include "region.h"
#include "stats.h"
#include "sys.h"
#include "unmap.h"
#include "window.h"

/* The smallest memset deferred, once libucow-memset.so is armed; 0 while lazy memset is off. */
static atomic_size_t armed_min;

/*
 * Whether the parent process runs libucow.so without libucow-memset.so, with the same
 * UCOW_LAZY_MEMSET: then it said so already, and a shell script running five programs says
 * it once, not five times (as for a bad knob). A parent whose /proc files this process cannot
 * read counts as not having said it.
 */
static bool parent_said_it(void)
{
	return procfs_parent_said("/libucow.so", "/libucow-memset.so", "UCOW_LAZY_MEMSET",
				  getenv("UCOW_LAZY_MEMSET"));
}

/*
 * From the constructor once the knobs are valid and ucow is enabled: with UCOW_LAZY_MEMSET=on,
 * arms libucow-memset.so (or says in one line that it is not preloaded, and lazy memset stays
 * off).
 */
static void lazy_memset_init(void)
{
	ucow_memset_arm_fn arm;
	ucow_memset_fn real;
	size_t min;

	if (!ucow_cfg.lazy_memset )
		return;
	/* libucow-memset.so holds memset: a program that does not ask for lazy memset keeps the
	 * C library's (a preloaded memset cost 2.2 ns for 8 bytes against libc's 1.4). */
	arm = (ucow_memset_arm_fn)dlsym(RTLD_DEFAULT, UCOW_MEMSET_ARM);
	if (!arm) {
		if (parent_said_it())
			return;
		ucow_warn("lazy-memset", "libucow-memset.so is not preloaded: lazy memset is off; "
			  "preload it after libucow.so (LD_PRELOAD=\"libucow.so "
			  "libucow-memset.so\"), or use 'ucow run --lazy-memset'");
		return;
	}
	/* Below a page nothing could ever be deferred. */
	min = ucow_cfg.lazy_memset_min > UCOW_PAGE_SIZE ? ucow_cfg.lazy_memset_min
							: UCOW_PAGE_SIZE;
	/* The memset that never defers, first: ucow's own large memsets from now on use it. */
	real = arm(SIZE_MAX, NULL);
	lazy_defer_init(real);
	atomic_store(&armed_min, min);
	arm(min, lazy_defer_memset);
}

/* ---- the rest of the address space follows --------------------------------------------- */

/* Fills the deferred pages of @r as a touch would, but its guard pages, where a touch would
 * take SIGSEGV: the populate stops at one with EFAULT, and goes on page by page past it. The
 * pages it cannot populate otherwise (not writable, no memory, a signal, no
 * MADV_POPULATE_WRITE before 5.14) are filled by copies, not touches (PROT_NONE): each must
 * have its value before the range leaves ucow. */
static void fill_deferred(const struct ucow_region *r)
{
	bool copy = false;

	if (sys_madvise((void *)r->start, r->end - r->start, MADV_POPULATE_WRITE) == 0)
		return;
	for (uintptr_t a = r->start; a < r->end; a += UCOW_PAGE_SIZE)
		if (sys_madvise((void *)a, UCOW_PAGE_SIZE, MADV_POPULATE_WRITE) < 0 &&
		    errno != EFAULT)
			copy = true;
	if (copy && r->policy->materialise(r, true) < 0)
		ucow_warn("lazy-memset", "cannot fill %#lx-%#lx before the advice: some of its "
			  "pages read zero", (unsigned long)r->start, (unsigned long)r->end);
}

static bool same_birth(const struct ucow_region *r, void *arg)
{
	return r->birth == *(const uint64_t *)arg;
}

/*
 * Fills every deferred page of @p (as a touch would) and forgets the ranges, by birth: another
 * thread may have unmapped one since @p was taken, and mapped and managed the address again.
 * A range is unregistered too when no other thread could have: left registered, a page
 * discarded later faults to the handler, which knows no value there and gives zeroes, as
 * the kernel would. Lazy memset is held (lazy_defer_hold).
 */
static void materialize(const struct lazy_parts *p, bool alone)
{
	for (size_t i = 0; i < p->n; i++) {
		const struct ucow_region *r = &p->v[i];
		uint64_t birth = r->birth;

		if (!registry_any(&ucow_registry, r->start, r->end, same_birth, &birth))
			continue;
		fill_deferred(r);
		registry_remove_birth(&ucow_registry, r->start, r->end, birth);
		if (alone)
			engine_unmanage(r->start, r->end);
	}
}

/* Advice after which a page must be there, as the kernel's memset would have left it. */
static bool needs_pages(int advice)
{
	switch (advice) {
	case MADV_HUGEPAGE:	/* a huge page needs all its pages */
	case MADV_COLLAPSE:	/* refused where a registered range has a page missing */
	case MADV_DONTFORK:	/* a child must see nothing (DONTFORK) or zeroes (WIPEONFORK) */
	case MADV_WIPEONFORK:
	case MADV_MERGEABLE:	/* KSM merges only the pages that are there */
		return true;
	}
	return false;
}

/*
 * madvise, before the real call: advice that makes deferring wrong from now on (MADV_HUGEPAGE,
 * MADV_WIPEONFORK, MADV_DONTFORK, MADV_MERGEABLE) is noted, and deferred pages under any
 * advice that needs them are filled first, so that huge pages, fork-time semantics and KSM
 * stay the kernel's.
 */
static void lazy_memset_advise(uintptr_t start, uintptr_t end, int advice)
{
	struct lazy_parts p;
	sigset_t old;
	bool alone;

	if (!needs_pages(advice) && advice != MADV_NOHUGEPAGE)
		return;
	if (!atomic_load_explicit(&armed_min, memory_order_relaxed) || !ucow_enabled)
		return;
	lazy_defer_advice_seen();
	if (advice == MADV_NOHUGEPAGE || !registry_may_overlap(&ucow_registry, start, end))
		return;
	/* An unmap made behind ucow's back (libc's own munmap, a raw syscall) was read by the
	 * handler before it returned, maybe not applied yet: a dead entry would be filled here,
	 * in whatever is mapped there now. */
	handler_barrier();
	/* Each batch leaves the registry as it is filled: the next one is the rest. */
	lazy_defer_hold(&old);
	alone = program_alone();
	do {
		lazy_parts(start, end, &p);
		materialize(&p, alone);
	} while (p.overflow && p.n);
	lazy_defer_release(&old);
}

static int lazy_advise_before(uintptr_t start, uintptr_t end, int advice)
{
	lazy_memset_advise(start, end, advice);
	return advice;
}

/* Hands the regions of lazy memset inside [start,end) back to the kernel (zero from now on). */
static void forget_range(uintptr_t start, uintptr_t end)
{
	struct lazy_parts p;

	do {
		lazy_parts(start, end, &p);
		lazy_forget_parts(&p);
	} while (p.overflow);
}

/* A guard page took the place of whatever was there, without an event: once removed it
 * reads zero, as a discarded page does, not the value deferred under it. */
static void lazy_advise_after(uintptr_t start, uintptr_t end, int advice)
{
	if (advice != MADV_GUARD_INSTALL || !registry_may_overlap(&ucow_registry, start, end))
		return;
	handler_barrier();
	forget_range(start, end);
}

/*
 * What mremap made that reads zero (remap_zero: no region was extended there) but is
 * registered with the moved VMA goes back to the kernel: not a round trip per page to learn
 * that it reads zero. Not where a memset of another thread was deferred since.
 */
static void give_back_new(uintptr_t start, uintptr_t end)
{
	sigset_t old;

	lazy_defer_hold(&old);
	if (!registry_overlaps(&ucow_registry, start, end))
		engine_unmanage(start, end);
	lazy_defer_release(&old);
}

static bool is_lazy(const struct ucow_region *r, void *arg)
{
	return r->policy == &ucow_lazy_memset_policy;
}

/*
 * mremap: new pages (growth) and the source of MREMAP_DONTUNMAP are plain anonymous memory that
 * reads zero, not the deferred value.
 */
static void lazy_memset_remapped(uintptr_t old, size_t old_len, uintptr_t new, size_t new_len,
				 int flags)
{
	size_t kept = old_len < new_len ? old_len : new_len;

	if (!kept || !registry_any(&ucow_registry, new, new + kept, is_lazy, NULL))
		return;
	if (new_len > old_len)
		give_back_new(new + old_len, new + new_len);
	if (flags & MREMAP_DONTUNMAP)
		give_back_new(old, old + old_len);
}

/* ---- the policy ------------------------------------------------------------------------ */

/*
 * MADV_DONTNEED, MADV_FREE, MADV_REMOVE, seen as an event by the handler (glibc's and raw
 * calls included): the deferred value is forgotten, the pages read zero, as the kernel's do.
 * Runs on the handler thread, outside the registry lock.
 */
static void lazy_discard(const struct ucow_region *r, uintptr_t start, uintptr_t end)
{
	window_forget(start, end);
	engine_unmanage(start, end);
	ucow_count(&lazy_counters[LAZY_DISCARDS], 1);
}

struct touched {
	size_t present;
};

static void count_run(uintptr_t s, uintptr_t e, void *arg)
{
	((struct touched *)arg)->present += e - s;
}

/* With UCOW_STATS, as the region goes: pages filled (touched) and pages never touched. */
/* What a live measure (ucow stat) found in the regions still there: added, then cleared. */
static atomic_ulong lazy_live[LAZY__COUNT];

static void lazy_live_clear(void)
{
	ucow_counts_reset(lazy_live, LAZY__COUNT);
}

static void lazy_account(const struct ucow_region *r, bool live)
{
	atomic_ulong *into = live ? lazy_live : lazy_counters;
	struct touched t = { 0 };
	int pm = fdt_pagemap_open();

	if (pm < 0)
		return;
	if (lazy_present_runs(pm, r->start, r->end, count_run, &t) == 0) {
		ucow_count(&into[LAZY_PAGES_PRESENT], t.present / UCOW_PAGE_SIZE);
		ucow_count(&into[LAZY_PAGES_UNTOUCHED],
			   (r->end - r->start - t.present) / UCOW_PAGE_SIZE);
	}
	fdt_pagemap_close(pm);
}

static int lazy_memset_stats_json(char *buf, size_t size)
{
	size_t min = atomic_load_explicit(&armed_min, memory_order_relaxed);
#define C(id) (ucow_count_read(&lazy_counters[id]) + ucow_count_read(&lazy_live[id]))
	unsigned long untouched = C(LAZY_PAGES_UNTOUCHED);

	return snprintf(buf, size,
		",\"lazy_memset\":{\"enabled\":%s,\"min\":%zu,\"calls\":%lu,\"deferred_calls\":%lu,"
		"\"declined_calls\":%lu,\"pages_deferred\":%lu,\"pages_zero_skipped\":%lu,"
		"\"pages_revalued\":%lu,\"bytes_written\":%lu,\"regions\":%lu,\"discards\":%lu,"
		"\"pages_touched\":%lu,\"pages_untouched\":%lu,\"bytes_saved\":%lu,"
		"\"resident_calls\":%lu}",
		min ? "true" : "false", min, C(LAZY_CALLS), C(LAZY_DEFERRED_CALLS),
		C(LAZY_DECLINED), C(LAZY_PAGES_DEFERRED), C(LAZY_PAGES_ZERO),
		C(LAZY_PAGES_REVALUED), C(LAZY_BYTES_WRITTEN),
		C(LAZY_REGIONS), C(LAZY_DISCARDS),
		C(LAZY_PAGES_PRESENT), untouched, untouched * UCOW_PAGE_SIZE, C(LAZY_RESIDENT));
#undef C
}

static void lazy_stats_reset(void)
{
	ucow_counts_reset(lazy_counters, LAZY__COUNT);
}

const struct ucow_policy ucow_lazy_memset_policy = {
	.name = "lazy-memset",
	.init = lazy_memset_init,
	.fault = pattern_fault,
	/* The kernel knows nothing of the value: a fault it cannot resolve is poisoned. */
	.kernel_fallback = false,
	.discard = lazy_discard,
	.advise_before = lazy_advise_before,
	.advise_after = lazy_advise_after,
	.remapped = lazy_memset_remapped,
	.fork_child_early = lazy_defer_fork_child,
	.materialise = pattern_materialise,
	/* DONTNEED makes a filled page read zero, as the kernel's would: nothing of ours left. */
	.plain_when_filled = true,
	.remap_zero = true,
	.regions_counter = &lazy_counters[LAZY_REGIONS],
	.account = lazy_account,
	.live_clear = lazy_live_clear,
	.stats_json = lazy_memset_stats_json,
	.stats_reset = lazy_stats_reset,
};

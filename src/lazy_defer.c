/* lazy_defer.c: what a large memset defers under lazy memset — the memory it may defer (never
 * touched, private anonymous, not the kernel's huge pages), and the regions that record the
 * value; everything else is written at once, as the program's own memset would. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <unistd.h>

#include "cancel.h"
#include "compat.h"
#include "engine.h"
#include "filter_probe.h"
#include "foreign_uffd.h"
#include "handler.h"
#include "lazy_defer.h"
#include "own_code.h"
#include "own_fd.h"
#include "pagemap.h"
#include "pattern.h"
#include "pin.h"
#include "policy.h"
#include "procfs.h"
#include "region.h"
#include "stats.h"
#include "sys.h"

/* The policy's row (lazy_memset.c): the regions this file records are its. */
extern const struct ucow_policy ucow_lazy_memset_policy;

atomic_ulong lazy_counters[LAZY__COUNT];

/* The memset that never defers (libc's), from libucow-memset.so when it armed us. */
static ucow_memset_fn real_memset;

/* The smallest huge page size the kernel gives any anonymous VMA on its own faults, and the
 * same for MADV_HUGEPAGE VMAs; 0: none. Read once at start-up. */
static struct {
	size_t always;
	size_t madvise;
} thp_size;

/* Some VMA may carry a flag only smaps shows (MADV_HUGEPAGE, DONTFORK, WIPEONFORK, MERGEABLE):
 * read it. */
static atomic_bool vma_advice_seen;
/* One lazy memset at a time changes the registry. */
static pthread_mutex_t defer_lock = PTHREAD_MUTEX_INITIALIZER;
/* This thread is inside a lazy memset: a signal handler's memset is written for real. */
static __thread bool in_lazy_memset;

/* ---- start-up -------------------------------------------------------------------------- */

/* "always [madvise] never" -> 2, 1, 0; "inherit" -> -1; unknown -> 0. */
static int thp_setting(const char *path)
{
	char buf[128];
	ssize_t n;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return 0;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return 0;
	buf[n] = '\0';
	if (strstr(buf, "[always]"))
		return 2;
	if (strstr(buf, "[madvise]"))
		return 1;
	if (strstr(buf, "[inherit]"))
		return -1;
	return 0;
}

/* Which VMAs the kernel would give huge pages on its own faults, and of what size at least. */
static void read_thp_settings(void)
{
	static const size_t sizes_kb[] = { 16, 32, 64, 128, 256, 512, 1024, 2048 };
	char path[96];
	int top = thp_setting("/sys/kernel/mm/transparent_hugepage/enabled");
	bool per_size = false;

	for (size_t i = 0; i < sizeof(sizes_kb) / sizeof(sizes_kb[0]); i++) {
		int s;

		snprintf(path, sizeof(path),
			 "/sys/kernel/mm/transparent_hugepage/hugepages-%zukB/enabled", sizes_kb[i]);
		if (access(path, F_OK) < 0)
			continue;
		per_size = true;
		s = thp_setting(path);
		if (s < 0)
			s = top;
		if (s == 2 && !thp_size.always)
			thp_size.always = sizes_kb[i] * 1024;
		if (s >= 1 && !thp_size.madvise)
			thp_size.madvise = sizes_kb[i] * 1024;
	}
	if (!per_size) {	/* before multi-size THP: one size, the PMD's */
		thp_size.always = top == 2 ? 2UL << 20 : 0;
		thp_size.madvise = top >= 1 ? 2UL << 20 : 0;
	}
}

void lazy_defer_init(ucow_memset_fn real)
{
	const char *tunables = getenv("GLIBC_TUNABLES");

	real_memset = real;
	read_thp_settings();
	/* glibc's malloc then advises MADV_HUGEPAGE itself, without calling madvise. */
	if (tunables && strstr(tunables, "glibc.malloc.hugetlb="))
		lazy_defer_advice_seen();
	/* KSM merging for the whole process, from a parent: every new VMA is mergeable. */
	if (filter_allows(UCOW_SYS_PRCTL) && prctl(PR_GET_MEMORY_MERGE, 0, 0, 0, 0) == 1)
		lazy_defer_advice_seen();
}

void lazy_defer_advice_seen(void)
{
	atomic_store(&vma_advice_seen, true);
}

void lazy_defer_hold(sigset_t *old)
{
	sigset_t all;

	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, old);
	in_lazy_memset = true;
	pthread_mutex_lock(&defer_lock);
}

void lazy_defer_release(const sigset_t *old)
{
	pthread_mutex_unlock(&defer_lock);
	in_lazy_memset = false;
	pthread_sigmask(SIG_SETMASK, old, NULL);
}

void lazy_defer_fork_child(void)
{
	pthread_mutex_init(&defer_lock, NULL);
}

/* ---- what the kernel says about the address space ---------------------------------------- */

/* A VMA as lazy memset sees it. */
struct lazy_vma {
	struct procfs_vma v;
	bool anon;		/* private anonymous, readable and writable, not a stack */
	int flags;		/* PROCFS_VMF_*, when smaps was read */
};

static bool anonymous_name(const struct procfs_vma *v)
{
	return !v->name_cut && (v->name[0] == '\0' || strcmp(v->name, "[heap]") == 0 ||
				strncmp(v->name, "[anon:", 6) == 0);
}

static int vma_at(int maps, uintptr_t addr, struct lazy_vma *l)
{
	const struct procfs_vma *v = &l->v;
	int ret = procfs_vma_at(maps, addr, &l->v);

	l->flags = 0;
	if (ret < 0)
		return ret;
	l->anon = (v->prot & (PROT_READ | PROT_WRITE)) == (PROT_READ | PROT_WRITE) &&
		  !v->shared && v->inode == 0 && v->dev_major == 0 && v->dev_minor == 0 &&
		  anonymous_name(v);
	if (l->anon && atomic_load_explicit(&vma_advice_seen, memory_order_relaxed)) {
		l->flags = procfs_vma_flags(v->start);
		if (l->flags == -ENOENT)	/* gone meanwhile: the memset will fault as it must */
			l->flags = 0;
		else if (l->flags < 0)		/* cannot tell: assume the worst */
			l->flags = PROCFS_VMF_HG | PROCFS_VMF_DC;
		if (l->flags & (PROCFS_VMF_DC | PROCFS_VMF_WF | PROCFS_VMF_GD | PROCFS_VMF_MG))
			l->anon = false;
	}
	return 0;
}

/* The huge page size the kernel would use for faults in @l, or 0: those blocks stay its own. */
static size_t thp_block(const struct lazy_vma *l)
{
	if (thp_size.always && !(l->flags & PROCFS_VMF_NH))
		return thp_size.always;
	if (thp_size.madvise && (l->flags & PROCFS_VMF_HG))
		return thp_size.madvise;
	return 0;
}

/* ---- deferring ------------------------------------------------------------------------- */

static void collect_parts(const struct ucow_region *r, void *arg)
{
	struct lazy_parts *p = arg;

	if (r->policy != &ucow_lazy_memset_policy) {
		p->foreign = true;
		return;
	}
	if (p->n == LAZY_MAX_PARTS) {
		p->overflow = true;
		return;
	}
	p->v[p->n++] = *r;
}

void lazy_parts(uintptr_t start, uintptr_t end, struct lazy_parts *p)
{
	p->n = 0;
	p->overflow = p->foreign = false;
	if (registry_may_overlap(&ucow_registry, start, end))
		registry_foreach(&ucow_registry, start, end, collect_parts, p);
}

void lazy_forget_parts(const struct lazy_parts *p)
{
	for (size_t i = 0; i < p->n; i++)
		engine_unmanage(p->v[i].start, p->v[i].end);
}

static size_t parts_bytes(const struct lazy_parts *p)
{
	size_t bytes = 0;

	for (size_t i = 0; i < p->n; i++)
		bytes += p->v[i].end - p->v[i].start;
	return bytes;
}

struct hull {
	uintptr_t cursor;	/* end of the last present run seen */
	uintptr_t lo, hi;	/* the pages never touched lie in [lo, hi) */
	size_t missing;		/* bytes never touched */
};

static void hull_add_missing(struct hull *h, uintptr_t s, uintptr_t e)
{
	if (s >= e)
		return;
	if (!h->missing)
		h->lo = s;
	h->hi = e;
	h->missing += e - s;
}

static void hull_run(uintptr_t s, uintptr_t e, void *arg)
{
	struct hull *h = arg;

	hull_add_missing(h, h->cursor, s);
	h->cursor = e;
}

struct writer {
	int c;
	size_t bytes;
};

static void write_run(uintptr_t s, uintptr_t e, void *arg)
{
	struct writer *w = arg;

	real_memset((void *)s, w->c, e - s);
	w->bytes += e - s;
}

/*
 * Gives [start,end) (inside one VMA) the value @id from now on: one new region (a birth of its
 * own) over it, in place of the regions of lazy memset already there. Never the old entries
 * revalued in place: one may be a dead mapping's that another thread just unmapped, whose
 * notice forgets it by its birth and would take the new value with it. Returns false
 * (nothing left half done) when the range could not be registered.
 */
static bool manage_value(uintptr_t start, uintptr_t end, int id, const struct lazy_parts *p)
{
	if (engine_manage(start, end - start, &ucow_lazy_memset_policy, -1, start, (uint64_t)id,
			  PROT_READ | PROT_WRITE) < 0)
		return false;
	if (p->n) {
		ucow_count(&lazy_counters[LAZY_PAGES_REVALUED], parts_bytes(p) / UCOW_PAGE_SIZE);
		/* A fault the handler is filling from the old value ends before we go on. */
		handler_barrier();
	}
	return true;
}

/* defer_piece() did nothing: the caller writes from the piece on, outside ucow's locks and
 * with the program's signal mask (a fault there may be the program's own, with a signal). */
#define PIECE_LEFT SIZE_MAX

/*
 * [start,end): whole pages of one private anonymous VMA, outside its huge-page blocks. The
 * pages present (or swapped) are written; those never touched get the value later, on their
 * first fault (or nothing at all, for zero). Returns the bytes written for real, or
 * PIECE_LEFT where ucow cannot tell what a fault there would do (it cannot register the
 * range: another userfaultfd has it).
 */
static size_t defer_piece(int pm, uintptr_t start, uintptr_t end, unsigned char c, int id)
{
	struct hull h = { .cursor = start };
	struct writer w = { .c = c };
	struct lazy_parts p;

	lazy_parts(start, end, &p);
	if (p.foreign || p.overflow)
		goto all_real;
	if (lazy_present_runs(pm, start, end, hull_run, &h) < 0)
		return PIECE_LEFT;
	hull_add_missing(&h, h.cursor, end);
	if (c == 0) {
		/* Untouched anonymous memory already reads zero: forget any older value. */
		lazy_forget_parts(&p);
		if (lazy_present_runs(pm, start, end, write_run, &w) < 0)
			goto all_real;
		ucow_count(&lazy_counters[LAZY_PAGES_ZERO], (end - start - w.bytes) / UCOW_PAGE_SIZE);
		return w.bytes;
	}
	/* Every page present: an older value is of no account any more. */
	if (!h.missing)
		goto all_real;
	/* Registered first, then present pages written: a page touched in between is filled
	 * by the handler with the value and then written again, never left behind. */
	if (p.n) {
		if (h.lo > p.v[0].start)
			h.lo = p.v[0].start;
		if (h.hi < p.v[p.n - 1].end)
			h.hi = p.v[p.n - 1].end;
	}
	if (!manage_value(h.lo, h.hi, id, &p))
		return PIECE_LEFT;
	if (lazy_present_runs(pm, start, end, write_run, &w) < 0) {
		/* Cannot tell which pages are present: write them all; the handler fills the
		 * missing ones on the way. */
		real_memset((void *)start, c, end - start);
		return end - start;
	}
	ucow_count(&lazy_counters[LAZY_PAGES_DEFERRED], (end - start - w.bytes) / UCOW_PAGE_SIZE);
	return w.bytes;
all_real:
	/* Unregistered pages fault to the kernel; registered ones to the handler, with their
	 * old value, then written. */
	real_memset((void *)start, c, end - start);
	return end - start;
}

static bool add_piece(int pm, uintptr_t start, uintptr_t end, unsigned char c, int id,
		      size_t *written)
{
	size_t n = defer_piece(pm, start, end, c, id);

	if (n == PIECE_LEFT)
		return false;
	*written += n;
	return true;
}

/* Whether this thread may take the registry lock: not if it holds it already (a signal
 * handler interrupted ucow). Other threads hold it only for a moment. */
static bool registry_lock_free(void)
{
	for (int i = 0; i < 100; i++) {
		if (pthread_rwlock_trywrlock(&ucow_registry.lock) == 0) {
			pthread_rwlock_unlock(&ucow_registry.lock);
			return true;
		}
		sched_yield();
	}
	return false;
}

/*
 * [lo,hi) (page aligned) under lazy memset: VMA by VMA, deferred where that is safe. Stops
 * at the first part that is not private anonymous memory (or not mapped): returns where, the
 * caller writes the rest for real, outside ucow's locks, so that a fault there is the
 * program's as its own memset would take it. @written: bytes written for real before that.
 */
static uintptr_t lazy_range(uintptr_t lo, uintptr_t hi, unsigned char c, size_t *written)
{
	struct own_fd pagemap, maps_file = { .fd = -1 };
	int maps = -1, pm, id = 0;
	uintptr_t addr;

	*written = 0;
	if (pin_overlaps(lo, hi))
		return lo;
	if (engine_start() < 0 || engine_mode() != UCOW_ENGINE_FULL)
		return lo;
	if (!registry_lock_free())
		return lo;
	/* Events this thread caused (an allocator's MADV_DONTNEED, a munmap) are read by the
	 * handler before the call returns, but maybe not applied yet: the registry must hold
	 * them before we read it. */
	handler_barrier();
	if (c) {
		id = pattern_of_byte(c);
		if (id <= 0)
			return lo;
	}
	pm = own_fd_open(&pagemap, "/proc/self/pagemap");
	if (pm < 0)
		return lo;
	lazy_scan_bind(&pagemap);
	if (procfs_vma_query_usable())
		maps = own_fd_open(&maps_file, "/proc/self/maps");
	for (addr = lo; addr < hi;) {
		struct lazy_vma v;
		uintptr_t end, guard, blo, bhi;
		size_t block;

		if (vma_at(maps, addr, &v) < 0 || v.v.start > addr || !v.anon)
			break;
		end = v.v.end < hi ? v.v.end : hi;
		/* A memset that faults there takes a signal the program may catch: from there
		 * on it is written outside, with the program's signal mask. */
		if (foreign_uffd_may_overlap(addr, end))
			break;
		guard = lazy_first_guard(pm, addr, end);
		if (guard == addr)
			break;
		end = guard;
		/* The kernel's huge pages stay the kernel's: blocks it would fill are written,
		 * after the pieces beside them (which would find another userfaultfd first). */
		block = thp_block(&v);
		blo = block ? (v.v.start + block - 1) / block * block : end;
		bhi = block ? v.v.end / block * block : end;
		if (blo >= bhi || blo >= end || bhi <= addr) {
			if (!add_piece(pm, addr, end, c, id, written))
				break;
		} else {
			if (blo > addr && !add_piece(pm, addr, blo, c, id, written))
				break;
			blo = blo > addr ? blo : addr;
			bhi = bhi < end ? bhi : end;
			if (end > bhi && !add_piece(pm, bhi, end, c, id, written)) {
				addr = blo;
				break;
			}
			real_memset((void *)blo, c, bhi - blo);
			*written += bhi - blo;
		}
		addr = end;
	}
	own_fd_close(&maps_file);
	lazy_scan_bind(NULL);
	own_fd_close(&pagemap);
	return addr;
}

/*
 * Whether every page of [lo,hi) is resident: then nothing can be deferred, and the call costs
 * one mincore instead of the whole look (a program clearing the same buffer again and again).
 * Only the first pages are looked at; a miss only means the full look follows.
 */
static bool all_resident(uintptr_t lo, uintptr_t hi)
{
	unsigned char vec[256];
	size_t pages = (hi - lo) / UCOW_PAGE_SIZE;

	if (pages > sizeof(vec))
		pages = sizeof(vec);
	if (mincore((void *)lo, pages * UCOW_PAGE_SIZE, vec) < 0)
		return false;
	for (size_t i = 0; i < pages; i++)
		if (!(vec[i] & 1))
			return false;
	/* The last pages too: a buffer grown at its end. */
	if ((hi - lo) / UCOW_PAGE_SIZE > pages) {
		lo = hi - pages * UCOW_PAGE_SIZE;
		if (mincore((void *)lo, pages * UCOW_PAGE_SIZE, vec) < 0)
			return false;
		for (size_t i = 0; i < pages; i++)
			if (!(vec[i] & 1))
				return false;
	}
	return true;
}

void *lazy_defer_memset(void *s, int c, size_t n, const void *caller)
{
	uintptr_t a = (uintptr_t)s, e = a + n;
	uintptr_t lo = UCOW_PAGE_UP(a), hi = UCOW_PAGE_DOWN(e), stop;
	size_t written;
	sigset_t all, mask;

	if (e < a || lo >= hi || !ucow_enabled || in_lazy_memset || own_code_has(caller))
		return real_memset(s, c, n);
	UCOW_NO_CANCEL;

	ucow_count(&lazy_counters[LAZY_CALLS], 1);
	if (all_resident(lo, hi)) {
		ucow_count(&lazy_counters[LAZY_RESIDENT], 1);
		return real_memset(s, c, n);
	}
	/* The head first, as the program's own memset would fault there first. */
	if (lo > a)
		real_memset(s, c, lo - a);
	/* No signal handler runs on this thread while it changes ucow's state. */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &mask);
	in_lazy_memset = true;
	pthread_mutex_lock(&defer_lock);
	stop = lazy_range(lo, hi, (unsigned char)c, &written);
	pthread_mutex_unlock(&defer_lock);
	in_lazy_memset = false;
	pthread_sigmask(SIG_SETMASK, &mask, NULL);
	if (stop == lo)
		ucow_count(&lazy_counters[LAZY_DECLINED], 1);
	else if (written < stop - lo)
		ucow_count(&lazy_counters[LAZY_DEFERRED_CALLS], 1);
	ucow_count(&lazy_counters[LAZY_BYTES_WRITTEN], written + (lo - a) + (e - stop));
	if (e > stop)
		real_memset((void *)stop, c, e - stop);
	return s;
}

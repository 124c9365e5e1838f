/* shmem_ahead.c: private pages for the holes of a MAP_PRIVATE shmem mapping, one at a time or
 * by the window, and the windows filled ahead of a writer going through them in order. */
#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

#include "config.h"
#include "fill.h"
#include "hole_runs.h"
#include "pagemap.h"
#include "shmem_ahead.h"
#include "shmem_holes_stats.h"
#include "shmem_measure.h"
#include "sys.h"

int shmem_fill_private(uintptr_t addr)
{
	long filled = fill_copy(addr, fill_zeroes, UCOW_PAGE_SIZE);

	if (filled < 0)
		return (int)filled;
	if (filled)
		shmem_holes_count(SH_FILLED_PRIVATE, 1);
	return 0;
}

/*
 * Before the writer wakes: the pages ucow filled in @w around its fault are marked not
 * touched, so that "page cache avoided" counts only those it goes on to touch (data pages
 * in the window are not ucow's and were not filled).
 */
static void filled_ahead(const struct window *w, uintptr_t addr, unsigned long filled)
{
	if (range_holds(w->start, w->end, addr)) {
		shmem_measure_filled_ahead(w->start, addr);
		shmem_measure_filled_ahead(addr + UCOW_PAGE_SIZE, w->end);
	} else {
		shmem_measure_filled_ahead(w->start, w->end);
	}
	shmem_holes_count(SH_FILLED_AHEAD, filled);
}

#define STREAM_WAKE_RUN (8 * UCOW_PAGE_SIZE)	/* the longest run woken as it is filled */
#define SAMPLE_EVERY 8	/* with @sample, one piece in this many gets the zero page */

int shmem_map_zero(uintptr_t start, uintptr_t end, bool wake)
{
	long filled;

	if (start >= end)
		return 0;
	filled = wake ? fill_zero(start, end - start) : fill_zero_quiet(start, end - start);
	if (filled < 0)
		return (int)filled;
	shmem_holes_count(SH_ZERO_MAPPED, (unsigned long)filled / UCOW_PAGE_SIZE);
	return 0;
}

/*
 * One piece of a run of holes (FILL_ZEROES_LEN at most): private zero pages, or with @zero the
 * zero page; woken at once with @wake. Returns the bytes given private pages (0 for the zero
 * page) or -errno.
 */
static long fill_piece(uintptr_t at, size_t len, bool zero, bool wake)
{
	if (zero)
		return shmem_map_zero(at, at + len, wake);
	return wake ? fill_copy(at, fill_zeroes, len) : fill_copy_quiet(at, fill_zeroes, len);
}

/*
 * Private zero pages over every run of holes in @w, the faulting page's included, and one
 * wake for all of them at the end; with @stream, a short run (data every few pages) also
 * wakes as it is filled, so that a writer going up, slowed by the kernel's copies of the
 * data pages, works its way through the window while the rest is being filled (sequential
 * writes, data every 4 or 8 pages: a fifth to a third less time, measured). A writer woken
 * after a longer run would only catch up and fault again (data every 64 pages: 10% more).
 * @mark: the pages filled are marked not touched
 * (filled_ahead), for a window filled whole (MADV_HUGEPAGE), where most may never be; not for
 * a sequential writer's next window, which it is heading through (it costs a tenth of the
 * fill: sequential writes 0.42 -> 0.56 of the kernel's time, measured) and of which at most
 * the window it is in counts as written before it is. @sample: one piece in SAMPLE_EVERY
 * (never the faulting page's) gets the zero page instead, for the writer to show it still
 * writes every page; the pieces chosen shift from one sampled window to the next, so that a
 * writer that skips a part of every window at the same place is caught too. Returns 0 or
 * -errno.
 */
static int fill_runs(const struct ucow_region *r, const struct window *w, uintptr_t addr,
		     bool mark, bool stream, bool sample)
{
	static unsigned int phase;	/* where samples fall, moved on at each sampled window */
	unsigned long filled = 0, pieces = sample ? phase++ % SAMPLE_EVERY : 0;
	bool fault_done = false;
	struct hole_walk walk;
	uintptr_t s, e;
	long n = 0;

	if (hole_walk_start(&walk, r, w->start, w->end))
		while (n >= 0 && hole_walk_next(&walk, &s, &e)) {
			for (uintptr_t at = s; at < e && n >= 0; at += FILL_ZEROES_LEN) {
				size_t len = e - at < FILL_ZEROES_LEN ? e - at : FILL_ZEROES_LEN;
				bool zero = sample && ++pieces % SAMPLE_EVERY == 0 &&
					    !range_holds(at, at + len, addr);

				n = fill_piece(at, len, zero, stream && e - s <= STREAM_WAKE_RUN);
				filled += n > 0 ? (unsigned long)n : 0;
			}
			fault_done |= range_holds(s, e, addr);
		}
	filled /= UCOW_PAGE_SIZE;
	shmem_holes_count(SH_FILLED_PRIVATE, filled);
	if (mark)
		filled_ahead(w, addr, filled && fault_done ? filled - 1 : filled);
	/* After a failure too: a thread waiting on a page left missing faults again. */
	fill_wake(w->start, w->end - w->start);
	if (n < 0)
		return (int)n;
	return fault_done ? 0 : shmem_fill_private(addr);
}

int shmem_fill_window(const struct ucow_region *r, const struct window *w, uintptr_t addr)
{
	return fill_runs(r, w, addr, true, false, false);
}

/* Windows filled ahead, one after another, before the writer is measured again. */
#define BLIND_FILLS 16

/*
 * Whether every page of the window the writer came through (before @addr going up, after it
 * going down) is now a private page of this process: a writer that ran through a zero-page
 * window, or a window with sample pieces left to the zero page, writing every page earns
 * windows filled ahead; a strided or scattered one keeps the zero page, and memory equal to
 * what it writes.
 */
static bool written_densely(const struct ucow_region *r, uintptr_t addr, int heading)
{
	uint64_t entries[PM_BATCH];
	size_t n = ucow_cfg.fault_around / UCOW_PAGE_SIZE;
	size_t room = heading > 0 ? (addr - r->start) / UCOW_PAGE_SIZE
				  : (r->end - addr) / UCOW_PAGE_SIZE - 1;
	uintptr_t start;
	ssize_t got;
	int pm;

	if (n > PM_BATCH)
		n = PM_BATCH;
	if (n > room)
		n = room;
	if (n == 0)
		return false;
	start = heading > 0 ? addr - n * UCOW_PAGE_SIZE : addr + UCOW_PAGE_SIZE;
	pm = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
	if (pm < 0)
		return false;
	got = pagemap_read(pm, start, entries, n);
	close(pm);
	if (got != (ssize_t)n)
		return false;
	for (size_t i = 0; i < n; i++)
		if ((entries[i] & (PM_PRESENT | PM_FILE | PM_EXCLUSIVE)) != (PM_PRESENT | PM_EXCLUSIVE))
			return false;
	return true;
}

/*
 * Zero mode, a write continuing a sequential stream: fill ahead if the writer wrote every
 * page of the zero window it came through, and then for a few windows without looking
 * (pages filled ahead cannot tell written from not). The window after those has an eighth
 * of its holes, piece by piece across it, left to the zero page, and the writer's next
 * fault past it measures it again. A writer that stops leaves at most one window filled
 * and unwritten; one that turns strided is caught at the next measured window. Measuring
 * with a whole zero window instead made sequential writes 5-7% slower (data every 4 or 16
 * pages: the writer's own zero-page copy-on-write faults, measured). Handler thread only.
 */
static struct {
	uintptr_t next;		/* where the writer faults after the last window filled */
	uint64_t birth;		/* in which mapping (region.birth) */
	struct window filling;	/* the last window filled ahead there, */
	uint64_t filling_until;	/* and until when a fault in it is one the fill overtook */
	unsigned int blind;	/* windows filled since the writer was last measured */
} ahead;
#define FILL_OVERTAKEN_NS 1000000

enum ahead_fill { AHEAD_NONE, AHEAD_FILL, AHEAD_SAMPLE };

static enum ahead_fill ahead_earned(const struct ucow_region *r, uintptr_t addr, int heading)
{
	bool resumes = addr == ahead.next && r->birth == ahead.birth;

	if (resumes && ahead.blind < BLIND_FILLS) {
		ahead.blind++;
		return AHEAD_FILL;
	}
	if (resumes && ahead.blind == BLIND_FILLS) {
		ahead.blind++;
		return AHEAD_SAMPLE;
	}
	/* A new stream, or the one whose sampled window was just written through. */
	if (written_densely(r, addr, heading)) {
		ahead.blind = 1;
		return AHEAD_FILL;
	}
	ahead.blind = 0;
	ahead.next = 0;
	return AHEAD_NONE;
}

/* The window filled ahead of a writer heading up or down from @addr. */
static struct window ahead_window(const struct ucow_region *r, uintptr_t addr, int heading)
{
	size_t win = ucow_cfg.fault_around & UCOW_PAGE_MASK;
	struct window w = { addr, addr + UCOW_PAGE_SIZE };

	if (heading > 0)
		w.end = r->end - addr < win ? r->end : addr + win;
	else
		w.start = w.end - r->start < win ? r->start : w.end - win;
	return w;
}

bool shmem_ahead_overtaken(const struct ucow_region *r, uintptr_t addr)
{
	if (r->birth == ahead.birth && range_holds(ahead.filling.start, ahead.filling.end, addr) &&
	    sys_now_ns() < ahead.filling_until)
		return true;
	ahead.filling = (struct window){ 0, 0 };
	return false;
}

/*
 * The holes ahead, up to the stream's window and past the data pages in it, get private
 * zero pages in one go, so the writes that follow never fault. At most one window beyond
 * the last page a stream writes is filled without being written (filling the next window
 * too while the writer writes this one, as readers get, was 10-15% faster with data every
 * 16 or 64 pages or none, measured, but holds two; half windows, to hold one, were slower
 * than none). Not on the writer's CPU: fresh memory for the most part (guest RAM) gains
 * nothing there, and each move wakes an idle CPU (sequential writes: 0.48 -> 0.56 of the
 * kernel's time, measured).
 */
int shmem_ahead_write(const struct ucow_region *r, uintptr_t addr, int heading)
{
	enum ahead_fill how = ahead_earned(r, addr, heading);
	struct window w = ahead_window(r, addr, heading);
	int ret;

	if (how == AHEAD_NONE)
		return 0;
	ret = fill_runs(r, &w, addr, false, true, how == AHEAD_SAMPLE);
	if (ret < 0)
		return ret;
	/* Going up, the writer's next fault is at the first hole past the window. */
	ahead.next = heading > 0 ? hole_at_or_after(r, w.end) : w.start - UCOW_PAGE_SIZE;
	ahead.birth = r->birth;
	ahead.filling = w;
	ahead.filling_until = sys_now_ns() + FILL_OVERTAKEN_NS;
	window_covered(addr, heading > 0 ? w.start : ahead.next + UCOW_PAGE_SIZE,
		       heading > 0 ? ahead.next : w.end);
	return 1;
}

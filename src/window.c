/* window.c: fault-around windows that adapt to the access pattern. A few streams are
 * remembered; a fault just past either end of a stream's last range continues it in that
 * direction, and a stream that continues gets the whole window at once. Only the handler
 * thread calls in, so no lock is needed. */
#include <stdbool.h>

#include "sys.h"
#include "window.h"

#define STREAMS 4
/*
 * Faults on consecutive pages before a stream gets its window. Scattered faults line up by
 * chance (a random page order gives pairs often), so one is not enough. Then the whole
 * window at once: each fault costs a round trip worth 20 to 100 pages of copying here, and
 * a window that doubles fault by fault overshoots where a toucher stops about as much
 * (measured: contrib/bench refpage and lazy-memset, half and all of 1000 pages touched).
 */
#define CONFIRM 2

enum direction {
	EITHER = 0,	/* one range so far: the next fault may continue it either way */
	UP = 1,
	DOWN = -1,
};

struct stream {
	uint64_t birth;		/* the mapping (region.birth) the stream runs through */
	uintptr_t last;		/* its last fault */
	uintptr_t start, end;	/* its last range */
	enum direction dir;
	bool live;
	unsigned int hits;	/* consecutive faults that continued it */
	unsigned long used;	/* for least-recently-used replacement */
};

static struct stream streams[STREAMS];
static unsigned long clock_ticks;
/* The mapping of the fault being resolved: a stream never continues into another one,
 * such as a new mapping at an address unmapped without an event. */
static uint64_t current_birth;

void window_fault_region(uint64_t birth)
{
	current_birth = birth;
}

/*
 * Only the very next page on either side continues a stream: a scattered fault that lands
 * near a range must not make ucow fill pages nobody asked for.
 */
static struct stream *find_stream(uintptr_t addr, enum direction *dir)
{
	for (int i = 0; i < STREAMS; i++) {
		struct stream *s = &streams[i];

		if (!s->live || s->birth != current_birth)
			continue;
		if (s->dir != DOWN && addr == s->end) {
			*dir = UP;
			return s;
		}
		if (s->dir != UP && addr + UCOW_PAGE_SIZE == s->start) {
			*dir = DOWN;
			return s;
		}
	}
	return NULL;
}

static struct stream *oldest_stream(void)
{
	struct stream *old = &streams[0];

	for (int i = 1; i < STREAMS; i++)
		if (streams[i].used < old->used)
			old = &streams[i];
	return old;
}

/* The window of @size bytes that holds the page at @addr, going @dir, within [lo, hi). */
static struct window place(uintptr_t addr, size_t size, enum direction dir, uintptr_t lo,
			   uintptr_t hi)
{
	struct window w = { addr, addr + UCOW_PAGE_SIZE };

	if (dir == DOWN)
		w.start = w.end - lo < size ? lo : w.end - size;
	else
		w.end = hi - addr < size ? hi : addr + size;
	return w;
}

struct window window_next(uintptr_t addr, uintptr_t lo, uintptr_t hi, size_t max)
{
	enum direction dir = EITHER;
	size_t size = UCOW_PAGE_SIZE;
	struct stream *s;
	struct window w;

	max &= UCOW_PAGE_MASK;
	if (max <= UCOW_PAGE_SIZE)
		return (struct window){ addr, addr + UCOW_PAGE_SIZE };
	s = find_stream(addr, &dir);
	if (s) {
		s->dir = dir;
		if (++s->hits >= CONFIRM)
			size = max;
	} else {
		s = oldest_stream();
		*s = (struct stream){ .birth = current_birth, .live = true, .dir = EITHER };
	}
	w = place(addr, size, dir, lo, hi);
	s->last = addr;
	s->start = w.start;
	s->end = w.end;
	s->used = ++clock_ticks;
	return w;
}

/*
 * Strided streams: faults a fixed distance apart, either way (a program that touches every
 * 100th page, or reads a buffer backward a record at a time). Recent faults are kept to
 * spot the first pair; a third fault at the same distance confirms the stride, and the
 * stream then gets a window's worth of pages at that stride.
 */
#define RECENT 4
#define STRIDE_MAX (4L << 20)	/* farther apart than this is scattered, not strided */

struct strided {
	uint64_t birth;
	uintptr_t next;		/* where the stream's next fault is expected */
	long stride;		/* 0: no stream */
	unsigned int hits;
	unsigned long used;
};

static struct strided strided[STREAMS];
static struct {
	uintptr_t addr;
	uint64_t birth;
} recent[RECENT];
static unsigned int recent_at;

static struct strided *find_strided(uintptr_t addr)
{
	for (int i = 0; i < STREAMS; i++)
		if (strided[i].stride && strided[i].next == addr &&
		    strided[i].birth == current_birth)
			return &strided[i];
	return NULL;
}

/* Farther than the next page either way, and not so far as to be scattered. */
static bool stride_plausible(long d)
{
	long far = d < 0 ? -d : d;

	return far > (long)UCOW_PAGE_SIZE && far <= STRIDE_MAX;
}

static struct strided *new_strided(uintptr_t addr)
{
	struct strided *old = &strided[0];

	for (int i = 0; i < RECENT; i++) {
		long d = (long)(addr - recent[i].addr);

		if (!recent[i].addr || recent[i].birth != current_birth || !stride_plausible(d))
			continue;
		for (int j = 1; j < STREAMS; j++)
			if (strided[j].used < old->used)
				old = &strided[j];
		old->stride = d;
		old->hits = 1;
		old->birth = current_birth;
		return old;
	}
	return NULL;
}

/* How many of @want pages at @addr, @addr + @stride, ... lie within [lo, hi). */
static unsigned long fit_strided(uintptr_t addr, long stride, uintptr_t lo, uintptr_t hi,
				 unsigned long want)
{
	unsigned long room = stride > 0 ? (hi - addr - 1) / (unsigned long)stride + 1
					: (addr - lo) / (unsigned long)-stride + 1;

	return want < room ? want : room;
}

unsigned int window_strided(uintptr_t addr, uintptr_t lo, uintptr_t hi, size_t max,
			    long *stride)
{
	struct strided *s;
	unsigned long count = 1;

	if ((max & UCOW_PAGE_MASK) <= UCOW_PAGE_SIZE)
		return 1;
	s = find_strided(addr);
	if (s && ++s->hits >= CONFIRM + 1) {
		count = fit_strided(addr, s->stride, lo, hi, (max & UCOW_PAGE_MASK) / UCOW_PAGE_SIZE);
	} else if (!s) {
		s = new_strided(addr);
		recent[recent_at % RECENT].addr = addr;
		recent[recent_at++ % RECENT].birth = current_birth;
		if (!s)
			return 1;
	}
	s->next = addr + (uintptr_t)((long)count * s->stride);
	s->used = ++clock_ticks;
	*stride = s->stride;
	return (unsigned int)count;
}

int window_heading(uintptr_t addr)
{
	enum direction dir = EITHER;

	return find_stream(addr, &dir) ? (int)dir : 0;
}

bool window_continues(uintptr_t addr)
{
	return window_heading(addr) != 0;
}

void window_covered(uintptr_t addr, uintptr_t start, uintptr_t end)
{
	for (int i = 0; i < STREAMS; i++) {
		struct stream *s = &streams[i];

		if (!s->live || s->last != addr || s->birth != current_birth)
			continue;
		if (start < s->start)
			s->start = start;
		if (end > s->end)
			s->end = end;
		return;
	}
}

static bool inside(uintptr_t addr, uintptr_t start, uintptr_t end)
{
	return addr >= start && addr < end;
}

/* A stream whose next fault would come next to [start, end), or in it, is gone with it. */
void window_forget(uintptr_t start, uintptr_t end)
{
	for (int i = 0; i < STREAMS; i++) {
		struct strided *t = &strided[i];

		if (t->stride && (inside(t->next, start, end) ||
				  inside(t->next - (t->stride > 0 ? UCOW_PAGE_SIZE : -UCOW_PAGE_SIZE),
					 start, end)))
			t->stride = 0;
	}
	for (int i = 0; i < STREAMS; i++) {
		struct stream *s = &streams[i];

		if (!s->live)
			continue;
		if ((s->dir != DOWN && inside(s->end - UCOW_PAGE_SIZE, start, end)) ||
		    (s->dir != UP && inside(s->start, start, end)))
			s->live = false;
	}
}

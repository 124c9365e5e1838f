/* window.c: fault-around windows that adapt to the access pattern. A few streams are
 * remembered; a fault on the page where a stream's last window ended continues it, and a
 * stream that continues gets the whole window at once. Only the handler thread calls in, so
 * no lock is needed. */
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

struct stream {
	uint64_t birth;		/* the mapping (region.birth) the stream runs through */
	uintptr_t last;		/* where the stream's last window began: its last fault */
	uintptr_t next;		/* where the stream's last window ended */
	size_t size;		/* its window, bytes, once confirmed */
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

static struct stream *find_stream(uintptr_t addr)
{
	for (int i = 0; i < STREAMS; i++) {
		struct stream *s = &streams[i];

		/* Only the very next page continues a stream: a scattered fault that lands
		 * near a window must not make ucow fill pages nobody asked for. */
		if (s->size && addr == s->next && s->birth == current_birth)
			return s;
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

static uintptr_t clip(uintptr_t addr, size_t size, uintptr_t hi)
{
	return size > hi - addr ? hi : addr + size;
}

uintptr_t window_next(uintptr_t addr, uintptr_t hi, size_t max)
{
	struct stream *s;
	size_t size = UCOW_PAGE_SIZE;

	max &= UCOW_PAGE_MASK;
	if (max <= UCOW_PAGE_SIZE)
		return addr + UCOW_PAGE_SIZE;
	s = find_stream(addr);
	if (s && ++s->hits >= CONFIRM) {
		s->size = max;
		size = s->size;
	} else if (!s) {
		s = oldest_stream();
		s->hits = 0;
		s->size = UCOW_PAGE_SIZE;
		s->birth = current_birth;
	}
	s->last = addr;
	s->next = clip(addr, size, hi);
	s->used = ++clock_ticks;
	return s->next;
}

/*
 * Strided streams: faults a fixed distance apart (a program that touches every 100th page).
 * Recent faults are kept to spot the first pair; a third fault at the same distance
 * confirms the stride, and the stream then gets a window's worth of pages at that stride.
 */
#define RECENT 4
#define STRIDE_MAX (4UL << 20)	/* farther apart than this is scattered, not strided */

struct strided {
	uint64_t birth;
	uintptr_t next;		/* where the stream's next fault is expected */
	size_t stride;
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

static struct strided *new_strided(uintptr_t addr)
{
	struct strided *old = &strided[0];

	for (int i = 0; i < RECENT; i++) {
		uintptr_t r = recent[i].addr;

		if (r && recent[i].birth == current_birth && addr > r + UCOW_PAGE_SIZE &&
		    addr - r <= STRIDE_MAX) {
			for (int j = 1; j < STREAMS; j++)
				if (strided[j].used < old->used)
					old = &strided[j];
			old->stride = addr - r;
			old->hits = 1;
			old->birth = current_birth;
			return old;
		}
	}
	return NULL;
}

unsigned int window_strided(uintptr_t addr, uintptr_t hi, size_t max, size_t *stride)
{
	struct strided *s;
	unsigned long count = 1;

	if ((max & UCOW_PAGE_MASK) <= UCOW_PAGE_SIZE)
		return 1;
	s = find_strided(addr);
	if (s && ++s->hits >= CONFIRM + 1) {
		count = (max & UCOW_PAGE_MASK) / UCOW_PAGE_SIZE;
		if (count > (hi - addr - 1) / s->stride + 1)
			count = (hi - addr - 1) / s->stride + 1;
	} else if (!s) {
		s = new_strided(addr);
		recent[recent_at % RECENT].addr = addr;
		recent[recent_at++ % RECENT].birth = current_birth;
		if (!s)
			return 1;
	}
	s->next = addr + count * s->stride;
	s->used = ++clock_ticks;
	*stride = s->stride;
	return (unsigned int)count;
}

bool window_continues(uintptr_t addr)
{
	return find_stream(addr) != NULL;
}

void window_covered(uintptr_t addr, uintptr_t end)
{
	for (int i = 0; i < STREAMS; i++) {
		struct stream *s = &streams[i];

		if (s->size && s->last == addr && s->birth == current_birth && end > s->next) {
			s->size = end - addr;
			s->next = end;
			return;
		}
	}
}

void window_forget(uintptr_t start, uintptr_t end)
{
	for (int i = 0; i < STREAMS; i++)
		if (strided[i].next > start && strided[i].next <= end)
			strided[i].stride = 0;
	for (int i = 0; i < STREAMS; i++)
		if (streams[i].next > start && streams[i].next <= end)
			streams[i].size = 0;
}

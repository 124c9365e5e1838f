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
	uintptr_t last;		/* where the stream's last window began: its last fault */
	uintptr_t next;		/* where the stream's last window ended */
	size_t size;		/* its window, bytes, once confirmed */
	unsigned int hits;	/* consecutive faults that continued it */
	unsigned long used;	/* for least-recently-used replacement */
};

static struct stream streams[STREAMS];
static unsigned long clock_ticks;

static struct stream *find_stream(uintptr_t addr)
{
	for (int i = 0; i < STREAMS; i++) {
		struct stream *s = &streams[i];

		/* Only the very next page continues a stream: a scattered fault that lands
		 * near a window must not make ucow fill pages nobody asked for. */
		if (s->size && addr == s->next)
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

uintptr_t window_next(uintptr_t addr, uintptr_t lo, uintptr_t hi, size_t max)
{
	struct stream *s;
	size_t size = UCOW_PAGE_SIZE;

	(void)lo;
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
	}
	s->last = addr;
	s->next = clip(addr, size, hi);
	s->used = ++clock_ticks;
	return s->next;
}

bool window_continues(uintptr_t addr)
{
	return find_stream(addr) != NULL;
}

void window_covered(uintptr_t addr, uintptr_t end)
{
	for (int i = 0; i < STREAMS; i++) {
		struct stream *s = &streams[i];

		if (s->size && s->last == addr && end > s->next) {
			s->size = end - addr;
			s->next = end;
			return;
		}
	}
}

void window_forget(uintptr_t start, uintptr_t end)
{
	for (int i = 0; i < STREAMS; i++)
		if (streams[i].next > start && streams[i].next <= end)
			streams[i].size = 0;
}

/* window.h: how much to fill around a fault: one page for scattered faults, the whole
 * UCOW_FAULT_AROUND window once faults arrive in sequence, upward or downward. Handler
 * thread only. */
#ifndef UCOW_WINDOW_H
#define UCOW_WINDOW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* A range to fill, [start, end); it holds the faulting page. */
struct window {
	uintptr_t start;
	uintptr_t end;
};

/* Whether [@start, @end) holds @addr. */
static inline bool range_holds(uintptr_t start, uintptr_t end, uintptr_t addr)
{
	return addr >= start && addr < end;
}

/*
 * The range to fill for a fault at @addr, within [@lo, @hi). @max is the largest window in
 * bytes (0 or a page: one page). A fault on the page just past either end of a stream's last
 * range continues the stream in that direction; after two in a row the stream gets @max at
 * a time: [@addr, @addr + @max) going up, [@addr + page - @max, @addr + page) going down.
 */
struct window window_next(uintptr_t addr, uintptr_t lo, uintptr_t hi, size_t max);
/*
 * For a fault window_next() gave one page: whether it continues a strided stream (faults a
 * fixed distance apart, either way). Returns how many pages to fill, at @addr,
 * @addr + *@stride, ..., all within [@lo, @hi) (1: just this one; then *@stride is left
 * alone). At most @max / page size. *@stride is negative for a stream that goes down.
 */
unsigned int window_strided(uintptr_t addr, uintptr_t lo, uintptr_t hi, size_t max,
			    long *stride);
/*
 * Whether a fault at @addr would continue a stream (before window_next() is told of it):
 * 1 going up, -1 going down, 0 not.
 */
int window_heading(uintptr_t addr);
bool window_continues(uintptr_t addr);
/*
 * The stream whose last fault was at @addr now covers [@start, @end): a policy mapped more
 * than window_next() asked for (the zero page over the holes of an aligned window), and the
 * stream's next fault comes just past either end of it.
 */
void window_covered(uintptr_t addr, uintptr_t start, uintptr_t end);
/* The mapping (region.birth) of the fault the calls below are about; set per fault. */
void window_fault_region(uint64_t birth);
/* Forgets the streams inside [start, end) (unmapped, discarded). */
void window_forget(uintptr_t start, uintptr_t end);

#endif

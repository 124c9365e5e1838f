/* window.h: how much to fill around a fault: one page for scattered faults, the whole
 * UCOW_FAULT_AROUND window once faults arrive in sequence. Handler thread only. */
#ifndef UCOW_WINDOW_H
#define UCOW_WINDOW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * The range to fill for a fault at @addr below @hi: returns its end (> @addr,
 * <= @hi); the range starts at @addr. @max is the largest window in bytes (0 or a page: one
 * page). A fault on the page where a stream's last range ended continues the stream; after
 * two in a row the stream gets @max at a time.
 */
uintptr_t window_next(uintptr_t addr, uintptr_t hi, size_t max);
/*
 * For a fault window_next() gave one page: whether it continues a strided stream (faults a
 * fixed distance apart). Returns how many pages to fill, at @addr, @addr + *@stride, ...,
 * all below @hi (1: just this one; then *@stride is left alone). At most @max / page size.
 */
unsigned int window_strided(uintptr_t addr, uintptr_t hi, size_t max, size_t *stride);
/* Whether a fault at @addr would continue a stream (before window_next() is told of it). */
bool window_continues(uintptr_t addr);
/*
 * The stream whose last fault was at @addr now ends at @end: a policy mapped
 * more than window_next() asked for (the zero page over a run of holes), and the next fault
 * of the stream will come at @end.
 */
void window_covered(uintptr_t addr, uintptr_t end);
/* The mapping (region.birth) of the fault the calls below are about; set per fault. */
void window_fault_region(uint64_t birth);
/* Forgets the streams inside [start, end) (unmapped, discarded). */
void window_forget(uintptr_t start, uintptr_t end);

#endif

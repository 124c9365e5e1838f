/* shmem_ahead.h: private pages for the holes of a MAP_PRIVATE shmem mapping, one at a time or
 * by the window, and the windows filled ahead of a writer going through them in order.
 * Handler thread only. */
#ifndef UCOW_SHMEM_AHEAD_H
#define UCOW_SHMEM_AHEAD_H

#include <stdbool.h>
#include <stdint.h>

#include "region.h"
#include "window.h"

/* A write to a hole: one private page of zeroes, the file untouched. Returns 0 or -errno. */
int shmem_fill_private(uintptr_t addr);
/* The zero page over the holes [@start, @end), woken with @wake. Returns 0 or -errno. */
int shmem_map_zero(uintptr_t start, uintptr_t end, bool wake);
/*
 * Every hole of @w gets a private page (@addr, the faulting page, first if it is one), marked
 * not touched for the savings measure. Returns 0 or -errno.
 */
int shmem_fill_window(const struct ucow_region *r, const struct window *w, uintptr_t addr);
/*
 * Whether a write fault at @addr is one the window being filled ahead of the writer overtook:
 * its page needs filling alone, and the stream goes on past the window.
 */
bool shmem_ahead_overtaken(const struct ucow_region *r, uintptr_t addr);
/*
 * A write at @addr continuing a stream heading up (@heading 1) or down (-1): fills the
 * window ahead if the writer earned it. Returns 1 if it did (the faulting page is filled),
 * 0 if the fault is left to the zero window, or -errno.
 */
int shmem_ahead_write(const struct ucow_region *r, uintptr_t addr, int heading);

#endif

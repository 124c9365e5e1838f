/* shmem_measure.h: what a MAP_PRIVATE shmem mapping holds as it goes, from the kernel's own
 * tables (pagemap, smaps): the figures behind "page cache avoided". */
#ifndef UCOW_SHMEM_MEASURE_H
#define UCOW_SHMEM_MEASURE_H

#include <stdint.h>

#include "region.h"

struct shmem_measure {
	unsigned long private;		/* private pages of the mapping (its anonymous memory) */
	unsigned long written;		/* private pages over holes the program touched */
	unsigned long zero;		/* zero pages over holes (fault-around), read or not */
	unsigned long untouched;	/* private pages ucow filled ahead, never touched since */
};

/*
 * Measures [r->start, r->end) of @r. Pages not accessed count as untouched only where ucow
 * filled ahead (@filled_ahead pages, at most, not yet measured): a fork child's inherited
 * pages are old too.
 */
void shmem_measure(const struct ucow_region *r, unsigned long filled_ahead,
		   struct shmem_measure *m);

/*
 * Marks [start, end), just filled by ucow ahead of the program, as not touched (the pages'
 * accessed bits cleared, MADV_COLD), so that shmem_measure() can tell them from pages the
 * program touched since. Handler thread, before the faulting thread runs on.
 */
void shmem_measure_filled_ahead(uintptr_t start, uintptr_t end);

/*
 * A read fault at @addr in @r, whose window [@start, @end) holds @holes hole pages now
 * mapped to the zero page: how many of them to count as read (the faulting page, or the
 * whole windows of a reader going through them in order). Handler thread.
 */
unsigned long shmem_measure_read(const struct ucow_region *r, uintptr_t addr, uintptr_t start,
				 uintptr_t end, unsigned long holes);

#endif

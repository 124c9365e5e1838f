/* shmem_cache.h: write mode's reads of holes: the page-cache page, allocated as the kernel's
 * own read fault would allocate it (shmem_cache.c). */
#ifndef UCOW_SHMEM_CACHE_H
#define UCOW_SHMEM_CACHE_H

#include <stdint.h>

struct ucow_region;

/*
 * A read of a hole of @r at @addr in write mode: the page cache gets its page and the thread
 * waiting there is woken. Returns 1 if a page was added, 0 if none was (beyond the end of
 * file: the woken thread gets its SIGBUS), -errno.
 */
int shmem_cache_fill(const struct ucow_region *r, uintptr_t addr);

#endif

/* lazy_memset.h: lazy memset (UCOW_LAZY_MEMSET) — a large memset of private anonymous pages
 * never touched is recorded instead of written, and each page is filled on its first touch. */
#ifndef UCOW_LAZY_MEMSET_H
#define UCOW_LAZY_MEMSET_H

#include <stddef.h>
#include <stdint.h>

#include "policy.h"

extern const struct ucow_policy ucow_lazy_memset_policy;

/* From interpose_resolve(), before the knobs are read: finds the next memset (until then a
 * plain loop stands in) and the bounds of ucow's own code. */
void lazy_memset_resolve(void);
/* From the constructor once the knobs are valid and ucow is enabled: arms the threshold. */
void lazy_memset_init(void);

/* Writes for real, never deferred: for ucow's own fills of memory it does not manage. */
void *lazy_memset_real(void *s, int c, size_t n);

/*
 * Interposed madvise, before the real call: advice that makes deferring wrong from now on
 * (MADV_HUGEPAGE, MADV_WIPEONFORK, MADV_DONTFORK) is noted, and deferred pages under it are
 * filled first, so that huge pages and fork-time semantics stay the kernel's.
 */
void lazy_memset_advise(uintptr_t start, uintptr_t end, int advice);

/*
 * Interposed mremap, after the registry followed it: new pages (growth) and the source of
 * MREMAP_DONTUNMAP are plain anonymous memory that reads zero, not the deferred value.
 */
void lazy_memset_remapped(uintptr_t old, size_t old_len, uintptr_t new, size_t new_len,
			  int flags);

/* The "lazy_memset" group of the stats object: ',"lazy_memset":{...}', snprintf-like. */
int lazy_memset_stats_json(char *buf, size_t size);

#endif

/* lazy_memset.h: lazy memset (UCOW_LAZY_MEMSET) — a large memset of private anonymous pages
 * never touched is recorded instead of written, and each page is filled on its first touch.
 * The memsets themselves reach it from libucow-memset.so (memset.c). */
#ifndef UCOW_LAZY_MEMSET_H
#define UCOW_LAZY_MEMSET_H

#include <stddef.h>
#include <stdint.h>

#include "policy.h"

extern const struct ucow_policy ucow_lazy_memset_policy;

/* From interpose_resolve(), before the knobs are read: finds the bounds of ucow's own code
 * (own_code_find(): interpose.c may call that itself and drop this). */
void lazy_memset_resolve(void);
/*
 * The policy's .init, from the constructor once the knobs are valid and ucow is enabled:
 * with UCOW_LAZY_MEMSET=on, arms libucow-memset.so (or says in one line that it is not
 * preloaded, and lazy memset stays off). Does nothing the second time.
 */
void lazy_memset_init(void);

/*
 * Interposed madvise, before the real call (the policy's .advise_before, which returns the
 * advice unchanged): advice that makes deferring wrong from now on (MADV_HUGEPAGE,
 * MADV_WIPEONFORK, MADV_DONTFORK) is noted, and deferred pages under it are filled first, so
 * that huge pages and fork-time semantics stay the kernel's.
 */
void lazy_memset_advise(uintptr_t start, uintptr_t end, int advice);

/*
 * Interposed mremap, after the registry followed it (the policy's .remapped): new pages
 * (growth) and the source of MREMAP_DONTUNMAP are plain anonymous memory that reads zero,
 * not the deferred value.
 */
void lazy_memset_remapped(uintptr_t old, size_t old_len, uintptr_t new, size_t new_len,
			  int flags);

/* The "lazy_memset" group of the stats object: ',"lazy_memset":{...}', snprintf-like (the
 * policy's .stats_json). */
int lazy_memset_stats_json(char *buf, size_t size);

#endif

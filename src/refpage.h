/* refpage.h: reference pages (ucow_refpage_create) as the interposed calls see them: a
 * refpage fd mapped MAP_PRIVATE becomes private anonymous memory that reads as the pattern. */
#ifndef UCOW_REFPAGE_H
#define UCOW_REFPAGE_H

#include <stddef.h>
#include <stdint.h>

#include "policy.h"

extern const struct ucow_policy ucow_refpage_policy;

/*
 * Interposed mmap, for a call with an fd and without MAP_ANONYMOUS, before any other claim:
 * for a refpage fd, rewrites *@flags and *@fd into a private anonymous mapping and sets
 * *@data. Returns 1 when the result must go to refpage_manage(), 0 when the call is not
 * ours (or is a zero pattern, which plain anonymous memory already is), -errno when it
 * must fail (-EINVAL for MAP_SHARED, as for any mapping a refpage cannot give).
 */
int refpage_claim(int *flags, int *fd, uint64_t *data);

/*
 * Interposed mmap, after the kernel mapped [start, start+len) for a claimed call: managed
 * by userfaultfd, or filled eagerly when that cannot be. 0, or -errno after unmapping the
 * range (the call then fails: never a mapping with wrong bytes).
 */
int refpage_manage(uintptr_t start, size_t len, int prot, uint64_t data);

/*
 * Eagerly filled mappings get no fault when their pages go: the interposed calls tell them.
 * refpage_madvise() stands in for madvise on managed ranges (MADV_DONTNEED refills,
 * MADV_FREE keeps); refpage_grown() fills what mremap added to such a mapping.
 */
int refpage_madvise(void *addr, size_t len, int advice,
		    int (*next)(void *addr, size_t len, int advice));
void refpage_grown(uintptr_t start, uintptr_t end);

#endif

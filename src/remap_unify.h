/* remap_unify.h: one VMA again where ucow's partial registration split a mapping that an
 * mremap then had to find whole. */
#ifndef UCOW_REMAP_UNIFY_H
#define UCOW_REMAP_UNIFY_H

#include <stdint.h>

/*
 * After mremap failed with EFAULT over [start,end), which ucow manages in part: registers the
 * whole range when that is safe (private anonymous memory, no gap, one protection and one
 * name). 0 when the call is worth making again, else -errno (-EFAULT: the kernel's answer
 * stands).
 */
int remap_unify(uintptr_t start, uintptr_t end);
/*
 * Once the call was made again ([start,end) its result, or the old range if it failed): the
 * parts that hold no region leave the userfaultfd, so that their first touches stay the
 * kernel's own faults, not a round trip each.
 */
void remap_unify_undo(uintptr_t start, uintptr_t end);

#endif

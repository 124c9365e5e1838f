/* materialise.h: filling what ucow deferred for real, so that ranges can leave ucow — for the
 * program's own userfaultfd, and for children ucow cannot manage. */
#ifndef UCOW_MATERIALISE_H
#define UCOW_MATERIALISE_H

#include <stdbool.h>
#include <stdint.h>

/*
 * Every region of [start,end) whose policy deferred content is filled for real (@registered:
 * through the userfaultfd, else by writing its missing pages). Returns how many could not be
 * (each logged).
 */
int materialise_range(uintptr_t start, uintptr_t end, bool registered);
/* Whether some region of [start,end) holds content only ucow knows of. */
bool materialise_needed(uintptr_t start, uintptr_t end);
/*
 * Regions whose policy says a filled region is plain memory (lazy memset: nothing left to
 * defer once every page holds the value) leave ucow: a later fork has nothing to fill again.
 */
void materialise_release(uintptr_t start, uintptr_t end);

/*
 * The program registers [start,end) with a userfaultfd of its own (QEMU's postcopy): what ucow
 * deferred there is filled for real, then the range is handed back to the kernel, so that
 * the program's registration finds it free, as on a plain kernel. 0, or -EIO when some
 * content could not be filled (logged).
 */
int engine_step_aside(uintptr_t start, uintptr_t end);

/* Before a child ucow gets no call in (glibc's clone() without CLONE_VM): what ucow deferred
 * is filled for real, so that the child, which the kernel leaves unregistered, reads it. */
void engine_unmanaged_child_prepare(void);

#endif

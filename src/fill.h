/* fill.h: the fill API — how a policy answers a fault: UFFDIO_COPY, ZEROPAGE, WAKE and POISON,
 * with the kernel's verdicts (EEXIST, ENOENT, EAGAIN, ...) turned into what the thread needs. */
#ifndef UCOW_FILL_H
#define UCOW_FILL_H

#include <stdbool.h>
#include <stdint.h>
#include <stddef.h>

/*
 * Each fills [dst, dst+len) (page aligned, inside one region) and wakes the faulting threads.
 * Returns the bytes ucow filled (>= 0; pages someone else filled, or a range that is gone,
 * count as done but not filled): the threads may go on. -EAGAIN while the address space is
 * changing (the handler applies the pending events and asks the policy again); another -errno
 * (ENOMEM, ESRCH: the process is exiting, EFAULT, EINVAL) when it cannot be resolved.
 * From the handler thread, or a program thread (materialising: through uffd_ctl).
 */
long fill_copy(uintptr_t dst, const void *src, size_t len);
/* As fill_copy, but the threads waiting in the range are not woken (unless some of it was
 * filled by someone else): a policy filling a window in parts wakes once at the end. */
long fill_copy_quiet(uintptr_t dst, const void *src, size_t len);
long fill_zero(uintptr_t dst, size_t len);
/* The same without waking the threads waiting there: call fill_wake() after. */
long fill_zero_quiet(uintptr_t dst, size_t len);
/* Wakes the threads waiting in [dst, dst+len); 0 (also when the range is gone) or -errno. */
int fill_wake(uintptr_t dst, size_t len);
/* Poisons one page (SIGBUS on access); handler thread only. -EOPNOTSUPP without
 * UFFD_FEATURE_POISON. */
long fill_poison(uintptr_t dst);

/*
 * Called when the engine starts (program thread, once per process): maps the page of zeroes
 * and notes the features the userfaultfd granted. 0 or -ENOMEM.
 */
int fill_init(uint64_t features);
/* The handler thread's userfaultfd, in its own table: its fills need no verified copy. */
void fill_bind_handler(int uffd);

/*
 * Fills [dst, dst+len) with @chunk (@chunk_len bytes, page aligned) repeated, in one COPY
 * per chunk and one wake at the end, as fill_copy counts. With @near, a large fill is made on
 * the faulting thread's CPU (placement.h): for memory a program maps, fills and unmaps again
 * and again, whose pages come back through that CPU's free lists. Handler thread only.
 */
long fill_repeat(uintptr_t dst, size_t len, const void *chunk, size_t chunk_len, bool near);
/* As fill_repeat, and @before_wake(filled start, end, @arg) runs before the threads wake. */
long fill_repeat_then(uintptr_t dst, size_t len, const void *chunk, size_t chunk_len, bool near,
		      void (*before_wake)(uintptr_t start, uintptr_t end, void *arg), void *arg);

/* FILL_ZEROES_LEN bytes of zeroes in memory ucow never manages (a source for fill_copy and
 * fill_repeat; read-only and never touched but by the kernel's copies: no memory). */
#define FILL_ZEROES_LEN (64 * 1024UL)
extern const void *fill_zeroes;

#endif

/* ucow.h: the public API of libucow, the userland copy-on-write shim.
 * Programs that only want ucow's memory policies need none of it: preload libucow.so. */
#ifndef UCOW_H
#define UCOW_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The library's version, e.g. "0.1.0". */
const char *ucow_version(void);

/*
 * Writes this process's counters as one JSON object (the format UCOW_STATS writes at exit)
 * into @buf, like snprintf: returns the length it needs, excluding the NUL.
 */
long ucow_stats_json(char *buf, size_t size);

/*
 * Returns a close-on-exec file descriptor whose MAP_PRIVATE mappings, of any length, read as
 * @content (@size bytes, a power of two from 1 to the page size) repeated, until written:
 * the untouched pages cost no memory. MAP_SHARED fails with EINVAL. flags must be 0.
 * -1 with errno on failure: EINVAL, EFAULT (@content unreadable), EMFILE, ENOMEM, ENOSYS
 * (ucow disabled). See ucow_refpage_create(3).
 */
int ucow_refpage_create(const void *content, size_t size, unsigned long flags);

/*
 * Tells ucow that a device (or a peer the kernel does not know) reads and writes
 * [@addr, @addr+@len) behind the page table: the pages are made present, private and
 * writable first, ucow never defers, discards or re-maps them, and across fork the process
 * keeps them (the child gets a copy with the fork-time bytes). Not inherited, not nested:
 * ucow_unpin() releases every ucow_pin() over the pages it covers. 0, or -1 with errno:
 * EINVAL (also: not writable), ENOMEM (not mapped), EFAULT, EOPNOTSUPP, ENOSYS. See ucow_pin(3).
 */
int ucow_pin(void *addr, size_t len);
int ucow_unpin(void *addr, size_t len);

#ifdef __cplusplus
}
#endif

#endif

/* uffd_ctl.h: program threads' ioctls on ucow's userfaultfd, on a verified copy or by request. */
#ifndef UCOW_UFFD_CTL_H
#define UCOW_UFFD_CTL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "uffd.h"

/*
 * Handler thread, for each UFFD_EVENT_REMOVE: whether it is a program thread ringing the
 * doorbell (fdt_handler_enter registers it); if so the request is served here.
 */
bool uffd_ctl_doorbell(const struct uffd_msg *msg);

/* The userfaultfd ioctls a program thread makes, on a copy verified to be ucow's (or done
 * by the handler on request). On the handler thread, straight on its own descriptor. */
int uffd_ctl_register(uintptr_t start, size_t len, uint64_t mode, uint64_t *ioctls);
int uffd_ctl_unregister(uintptr_t start, size_t len);
int uffd_ctl_wake(uintptr_t start, size_t len);
int uffd_ctl_registered(uintptr_t addr);
/* uffd_events_read() on a program thread's own copy: -ENOTCONN where it has none. */
int uffd_ctl_events_read(void);
/* Fills, as uffd_copy() and uffd_zeropage(): the handler's own answers, or a program thread
 * filling what ucow deferred before a range leaves it (engine_step_aside, fork). */
long uffd_ctl_copy(uintptr_t dst, const void *src, size_t len, bool wake);
long uffd_ctl_zeropage(uintptr_t dst, size_t len, bool wake);

/*
 * Program thread, @fd valid in its table (an mmap in progress): the handler opens its own
 * description of the same file in its table (else a duplicate, @private_pos false).
 * Returns that number (meaningful only in the handler's table), or -errno.
 */
int fdt_adopt(int fd, int accmode, bool *private_pos);

/* Closes @fd of the handler's table (on the handler, or by request). */
void fdt_close(int fd);

/* The round trip of a request that does nothing, in ns (for measurements), or -errno. */
long fdt_ping(void);

/* fork, before fdt_fork_prepare() and fdt_fork_child(): the shared copy is closed in the
 * child only if it was verified ucow's at fork time; the request slot starts idle there. */
void uffd_ctl_fork_prepare(void);
void uffd_ctl_fork_child(void);

#endif

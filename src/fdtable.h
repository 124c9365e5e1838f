/* fdtable.h: ucow's descriptors out of the program's reach. The handler thread has a table
 * of its own; program threads reach the userfaultfd through uffd_ctl_*. */
#ifndef UCOW_FDTABLE_H
#define UCOW_FDTABLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "uffd.h"

/*
 * On the handler thread, first: takes a private table holding only @uffd and the sources'
 * descriptors (nothing of the program's), and registers the doorbell. 0 or -errno.
 */
int fdt_handler_enter(int uffd);

/* The handler thread stops serving (it exits): requests fail at once from now on. */
void fdt_handler_exit(void);
/*
 * Handler thread, for each UFFD_EVENT_REMOVE: whether it is a program thread ringing the
 * doorbell; if so the request is served here.
 */
bool fdt_doorbell(const struct uffd_msg *msg);

/* The userfaultfd ioctls a program thread makes, on a copy verified to be ucow's (or done
 * by the handler on request). On the handler thread, straight on its own descriptor. */
int uffd_ctl_register(uintptr_t start, size_t len, uint64_t mode, uint64_t *ioctls);
int uffd_ctl_unregister(uintptr_t start, size_t len);
int uffd_ctl_wake(uintptr_t start, size_t len);
int uffd_ctl_registered(uintptr_t addr);
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

/* A copy of a handler-table descriptor in the calling thread's table (close it with
 * close()), or -errno. The handler thread gets @fd itself back: do not close it then. */
int fdt_borrow(int fd);
void fdt_unborrow(int fd, int copy);

/* The round trip of a request that does nothing, in ns (for measurements), or -errno. */
long fdt_ping(void);

/* fork: the shared copy is closed in the child only if it was verified ucow's at fork
 * time; sources are carried over in the forking thread's table (source.h). */
void fdt_fork_prepare(void);
void fdt_fork_parent(void);
void fdt_fork_child(void);
/* In the child, first thing: its copies of the parent's sources (source_fork_fd). */
void fdt_fork_child_carry(void);

#endif

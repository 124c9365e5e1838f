/* handler.h: the handler thread — reads userfaultfd messages in batches, applies events in
 * kernel order and dispatches faults to the region's policy. */
#ifndef UCOW_HANDLER_H
#define UCOW_HANDLER_H

#include <stdbool.h>

/* Starts the thread on @uffd with every signal blocked; 0 or -errno. */
int handler_start(int uffd);

/*
 * Returns once every event the kernel has already handed to the handler is applied to
 * the registry. An interposed munmap/mremap/mmap(MAP_FIXED) returns only after the
 * kernel delivered its event, so calling this afterwards orders the registry with it.
 */
void handler_barrier(void);

bool handler_running(void);
/* Handler thread only: whether a message is waiting to be read. */
bool handler_pending(void);

/* In a fork child: the parent's thread does not exist here; forget it. */
void handler_fork_child(void);

#endif

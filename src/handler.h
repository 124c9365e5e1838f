/* handler.h: the handler thread — reads userfaultfd messages in batches, applies events in
 * kernel order and dispatches faults to the region's policy. */
#ifndef UCOW_HANDLER_H
#define UCOW_HANDLER_H

#include <stdbool.h>

/* Starts the thread on @uffd with every signal blocked; 0 or -errno. */
int handler_start(int uffd);

/*
 * Returns once every event the kernel began before the call is applied to the registry. An
 * interposed munmap/mremap/mmap returns only after the kernel delivered its own event; an
 * event of another thread's, begun before it (the kernel queues it only once it lets go of
 * the address space), is waited for too: a registry change made after this follows both in
 * the kernel's order. The wait for another thread's event is bounded (it may be stopped).
 */
void handler_barrier(void);

bool handler_running(void);
/* Handler thread only: whether a message is waiting to be read. */
bool handler_pending(void);

/* In a fork child: the parent's thread does not exist here; forget it. */
void handler_fork_child(void);

#endif

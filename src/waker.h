/* waker.h: UCOW_LOCAL_WAKE, a thread of ucow's that wakes a faulting thread from that thread's
 * own CPU while the handler serves a burst of its faults. Handler thread only. */
#ifndef UCOW_WAKER_H
#define UCOW_WAKER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* At handler start, with the handler's own descriptor for the userfaultfd. */
void waker_init(int uffd);
/* The thread whose fault at page @addr is served next (from the fault's message). */
void waker_fault(pid_t tid, uintptr_t addr);
/* Whether a wake of [@start, @start+@len) would go to the waker now. */
bool waker_ready(uintptr_t start, size_t len);
/*
 * Wakes the threads waiting in [@start, @start+@len) through the waker, when it spins on the
 * CPU of the thread whose fault is served and takes the wake in time. Returns false when the
 * caller must wake them itself.
 */
bool waker_wake(uintptr_t start, size_t len);
/* While the handler watches for faults: a wake handed off long ago and not seen made is
 * made by the handler. */
void waker_check(void);
/* A fault was answered: the waker starts (once), follows that thread's CPU, and spins. */
void waker_served(void);
/* The handler is about to sleep: so does the waker. */
void waker_rest(void);
/* The handler stops: the waker ends. */
void waker_stop(void);
/* In a fork child: the parent's waker is not there. */
void waker_fork_child(void);
/* Whether the waker spins (on a CPU that has nothing else to run) */
bool waker_spinning(void);
/* Whether the waker thread exists (it counts among the process's threads). */
bool waker_exists(void);

#endif

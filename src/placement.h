/* placement.h: the handler thread fills a large window on the CPU of the thread that
 * faulted, and leaves that CPU before waking it. Handler thread only. */
#ifndef UCOW_PLACEMENT_H
#define UCOW_PLACEMENT_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

/* At the start of the handler thread: its CPU mask is the one it goes back to. */
void placement_init(void);
/*
 * At handler start: every CPU a thread of the program may run on (the union of their masks),
 * rather than the mask of the thread that started the handler or of the main thread, either
 * of which the program may have pinned beside a busy SCHED_FIFO thread, where the handler
 * would wait for it while every faulting thread waits for the handler.
 */
void placement_adopt_process_mask(void);
/* The thread whose fault is served next (0: unknown, the handler stays where it is). */
void placement_fault(pid_t tid);
/*
 * Before filling @len bytes for that fault: moves onto its thread's CPU when @len is large
 * enough to pay for the move. Returns the CPU (pass it to the two calls below), or -1.
 */
int placement_near(size_t len);
/* Before the wake-up: off @cpu, so that the woken thread stays on it. */
void placement_leave(int cpu);
/* After the wake-up: the handler's own mask again. */
void placement_home(int cpu);

#endif

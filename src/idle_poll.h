/* idle_poll.h: UCOW_IDLE_POLL, idle CPUs that poll rather than halt while the handler serves a
 * burst of faults, so that a thread woken from its fault runs again at once. Handler thread. */
#ifndef UCOW_IDLE_POLL_H
#define UCOW_IDLE_POLL_H

/* At handler start, with its own descriptor table: opens the CPU latency request if asked
 * for (UCOW_IDLE_POLL=on); says once, on one line, why not if it cannot. */
void idle_poll_start(void);
/* A fault was answered: idle CPUs poll from now on (cheap when they already do). */
void idle_poll_hold(void);
/* The handler is about to sleep: idle CPUs may halt again. */
void idle_poll_release(void);
/* The handler stops: the request goes with its descriptor. */
void idle_poll_stop(void);

#endif

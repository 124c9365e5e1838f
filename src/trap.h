/* trap.h: the seccomp trap (UCOW_SECCOMP=on) that shows ucow the io_uring_register calls a
 * program makes around libc and liburing's exported functions. */
#ifndef UCOW_TRAP_H
#define UCOW_TRAP_H

#include <stdbool.h>

/* Installs the filter once, with UCOW_SECCOMP=on and UCOW_PINS=on: called when the first
 * managed region exists. Cheap when done or not wanted. */
void trap_arm(void);

/* At start-up: with UCOW_SECCOMP=on, a filter inherited across exec is served at once. */
void trap_init(void);

/* Whether ucow's SIGSYS handler is installed: a filter may trap this process's calls. */
bool trap_may_signal(void);

/* "off", "waiting" (no managed region yet), "armed", "refused" or "failed". */
const char *trap_state(void);

/* Non-zero while an interposed liburing function runs: its own system call, trapped, is
 * passed through without being learnt twice. */
extern __thread int trap_in_liburing;

#endif

/* engine.h: the process-wide userfaultfd engine — opened, with its handler thread, on the
 * first managed region — and how a policy hands it a range to manage. */
#ifndef UCOW_ENGINE_H
#define UCOW_ENGINE_H

#include <stddef.h>
#include <stdint.h>

#include "registration.h"

struct ucow_policy;

/* Opens the userfaultfd and starts the handler if not done yet; 0 or -errno (logged once).
 * -ESRCH in a child made by a raw fork or clone (its engine is the parent's). */
int engine_start(void);

/*
 * Manages [start, start+len) with @policy: records it, then registers it for missing
 * faults. @fd (or -1) is kept by ucow as a source for the file. On any failure the range stays
 * unmanaged and the program goes on; returns 0 or -errno.
 */
int engine_manage(uintptr_t start, size_t len, const struct ucow_policy *policy, int fd,
		  uint64_t offset, uint64_t data, int prot);

/* @fn runs after each region the engine manages (the seccomp trap arms itself there). */
void engine_when_managing(void (*fn)(void));

/* Fork: the start-up lock is held across fork; a child starts from scratch. */
void engine_fork_hold(void);
void engine_fork_release(void);
void engine_fork_child_reset(void);

#endif

/* pin_counters.h: the pins' counters, bumped by any pin file (and the seccomp trap), written
 * and reset by the pins' row of the policy table (pin_policy.c, which holds the array). */
#ifndef UCOW_PIN_COUNTERS_H
#define UCOW_PIN_COUNTERS_H

#include <stdatomic.h>

#include "stats.h"

enum pin_counter {
	PIN_LEARNT,		/* ranges added to the table */
	PIN_FORGOTTEN,		/* ranges dropped (unregistered, unpinned, closed) */
	PIN_KERNEL,		/* ucow_pin ranges made kernel pins (ucow's own ring) */
	PIN_FORK_COPIED,	/* pages ucow copied for fork children itself */
	PIN_FDINFO_CHECKS,	/* rings checked against /proc/self/fdinfo */
	PIN_FDINFO_MISMATCHES,	/* slots the kernel listed otherwise (corrected) */
	PIN_TRAPPED,		/* io_uring_register calls the seccomp trap saw */
	PIN__COUNTERS,
};

extern atomic_ulong pin_counters[PIN__COUNTERS];

static inline void pin_count(enum pin_counter id, unsigned long n)
{
	ucow_count(&pin_counters[id], n);
}

#endif

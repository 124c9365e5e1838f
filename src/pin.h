/* pin.h: the pins as the rest of ucow asks about them — whether pins are learnt, whether a
 * range may be pinned — and the hooks the pins' row of the policy table (pin_policy.c) is
 * made of.
 * Pinned ranges are ones a device may read and write behind the page table (io_uring fixed
 * buffers, ucow_pin): ucow never defers, discards, re-maps or write-protects them.
 *
 * This header includes no other pin_* header: everything may include it without a cycle. */
#ifndef UCOW_PIN_H
#define UCOW_PIN_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"

/* Whether pins are learnt at all (ucow enabled and UCOW_PINS=on). */
static inline bool pins_active(void)
{
	return atomic_load_explicit(&ucow_enabled, memory_order_relaxed) && ucow_cfg.pins;
}

/* Lock-free hint for the hot paths: true when some pinned range may intersect [start,end).
 * (pin_table.c) */
bool pin_overlaps(uintptr_t start, uintptr_t end);

/* After mprotect gave write access to [start,end): pinned pages are made exclusive again.
 * (pin_unshare.c; the row's protected operation) */
void pin_reassert(uintptr_t start, uintptr_t end);

/*
 * fork: ucow_pin ranges that are not kernel pins are copied for the child here (the kernel
 * copies its own pinned pages). prepare before the fork, parent after it; in the child,
 * child_map before the engine registers ranges again and child_fill after. (pin_fork.c; the
 * row's fork_prepare, fork_parent, fork_child_early and fork_child)
 */
void pin_fork_prepare(void);
void pin_fork_parent(void);
void pin_fork_child_map(void);
void pin_fork_child_fill(void);

/* The stats group, snprintf-like: ',"pins":{...}' (the leading comma included).
 * (pin_policy.c; the row's stats_json) */
int pin_stats_json(char *buf, size_t size);

#endif

/* stats.h: ucow's counters, cheap to bump from the fault path: the engine's, and the helpers
 * each policy counts its own with. stats_report.h writes them. */
#ifndef UCOW_STATS_H
#define UCOW_STATS_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

enum ucow_stat {
	UCOW_ST_REGIONS,
	UCOW_ST_REGISTER_FAILED,
	UCOW_ST_FAULTS,
	UCOW_ST_UNKNOWN_FAULTS,
	UCOW_ST_EVENTS_UNMAP,
	UCOW_ST_EVENTS_REMAP,
	UCOW_ST_EVENTS_REMOVE,
	UCOW_ST_EAGAIN,
	UCOW_ST_EVENTS_LATE,		/* barriers that stopped waiting for other threads' events */
	UCOW_ST_POISONED,
	UCOW_ST_FALLBACKS,
	UCOW_ST_STEPPED_ASIDE,		/* ranges given up to the program's own userfaultfd */
	UCOW_ST_WAKES_HANDED,		/* faulting threads woken by the waker, on their CPU */
	UCOW_ST_WAKES_MISSED,		/* wakes handed to the waker that it did not take in time */
	UCOW_ST__COUNT,
};

extern atomic_ulong ucow_stats[UCOW_ST__COUNT];

/* A policy's own counters: an array of atomic_ulong in its file, bumped from any thread. */
static inline void ucow_count(atomic_ulong *counter, unsigned long n)
{
	atomic_fetch_add_explicit(counter, n, memory_order_relaxed);
}

static inline unsigned long ucow_count_read(atomic_ulong *counter)
{
	return atomic_load_explicit(counter, memory_order_relaxed);
}

static inline void ucow_counts_reset(atomic_ulong *counters, size_t n)
{
	for (size_t i = 0; i < n; i++)
		atomic_store_explicit(&counters[i], 0, memory_order_relaxed);
}

static inline void ucow_stat_add(enum ucow_stat id, unsigned long n)
{
	ucow_count(&ucow_stats[id], n);
}

/* The engine's counters from zero (a fork child: its parent reports what came before). */
void ucow_stats_reset(void);

#endif

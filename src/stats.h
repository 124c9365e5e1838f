/* stats.h: ucow's counters, cheap to bump from the fault path, written as JSON at exit. */
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
	UCOW_ST_POISONED,
	UCOW_ST_FALLBACKS,
	UCOW_ST_SH_REGIONS,
	UCOW_ST_SH_FAULTS_READ,
	UCOW_ST_SH_FAULTS_WRITE,
	UCOW_ST_SH_ZERO_MAPPED,
	UCOW_ST_SH_FILLED_PRIVATE,
	UCOW_ST_SH_PAGECACHE_AVOIDED,
	UCOW_ST_SH_PAGECACHE_FILLED,
	UCOW_ST_SH_HOLE_PAGES_WRITTEN,	/* measured when a mapping goes: see shmem_holes_account */
	UCOW_ST_SH_HOLE_PAGES_ZERO,
	UCOW_ST_SH_PRIVATE_PAGES,
	UCOW_ST__COUNT,
};

extern atomic_ulong ucow_stats[UCOW_ST__COUNT];

static inline void ucow_stat_add(enum ucow_stat id, unsigned long n)
{
	atomic_fetch_add_explicit(&ucow_stats[id], n, memory_order_relaxed);
}

/* snprintf-like: the JSON object for this process, without a newline. */
int ucow_stats_format(char *buf, size_t size);
/* Writes the object to UCOW_STATS (a path, appended, or stderr) if it is set. */
void ucow_stats_write(void);
/* A fork child counts from zero: its parent reports what came before. */
void ucow_stats_reset(void);

#endif

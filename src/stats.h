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
	UCOW_ST_STEPPED_ASIDE,		/* ranges given up to the program's own userfaultfd */
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
	UCOW_ST_RP_FDS,			/* refpage: ucow_refpage_create() successes */
	UCOW_ST_RP_REGIONS,		/* mappings managed by userfaultfd */
	UCOW_ST_RP_REGIONS_ZERO,	/* zero patterns: plain anonymous memory */
	UCOW_ST_RP_REGIONS_EAGER,	/* mappings filled when mapped (no userfaultfd, populate) */
	UCOW_ST_RP_BYTES_EAGER,		/* bytes ucow wrote eagerly (mmap, refills, mremap) */
	UCOW_ST_RP_FAULTS_READ,
	UCOW_ST_RP_FAULTS_WRITE,
	UCOW_ST_RP_PAGES_FILLED,	/* pages filled with the pattern by faults (windows included) */
	UCOW_ST_PIN_LEARNT,		/* pins: ranges added to the table */
	UCOW_ST_PIN_FORGOTTEN,		/* ranges dropped (unregistered, unpinned, closed) */
	UCOW_ST_PIN_KERNEL,		/* ucow_pin ranges made kernel pins (ucow's own ring) */
	UCOW_ST_PIN_FORK_COPIED,	/* pages ucow copied for fork children itself */
	UCOW_ST_PIN_FDINFO_CHECKS,	/* rings checked against /proc/self/fdinfo */
	UCOW_ST_PIN_FDINFO_MISMATCHES,	/* slots the kernel listed otherwise (corrected) */
	UCOW_ST_PIN_TRAPPED,		/* io_uring_register calls the seccomp trap saw */
	UCOW_ST_LM_REGIONS,		/* lazy memset: its .regions_stat (its other counters: lazy_defer.h) */
	UCOW_ST__COUNT,
};

extern atomic_ulong ucow_stats[UCOW_ST__COUNT];

static inline void ucow_stat_add(enum ucow_stat id, unsigned long n)
{
	atomic_fetch_add_explicit(&ucow_stats[id], n, memory_order_relaxed);
}

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

/* snprintf-like: the JSON object for this process, without a newline. */
int ucow_stats_format(char *buf, size_t size);
/* Writes the object to UCOW_STATS (a path, appended, or stderr) if it is set. */
void ucow_stats_write(void);
/* A fork child counts from zero: its parent reports what came before. */
void ucow_stats_reset(void);

#endif

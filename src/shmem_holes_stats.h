/* shmem_holes_stats.h: the shmem-holes policy's counters, and the statistics rows of its
 * policy table (shmem_holes_stats.c). */
#ifndef UCOW_SHMEM_HOLES_STATS_H
#define UCOW_SHMEM_HOLES_STATS_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>

struct ucow_region;

/* This policy's counters (UCOW_STATS: the "shmem_holes" group). */
enum shmem_holes_counter {
	SH_REGIONS,
	SH_FAULTS_READ,		/* faults_counter: reads, then writes */
	SH_FAULTS_WRITE,
	SH_ZERO_MAPPED,
	SH_FILLED_PRIVATE,
	SH_PAGECACHE_AVOIDED,
	SH_PAGECACHE_FILLED,
	SH_HOLE_PAGES_WRITTEN,	/* measured when a mapping goes: see shmem_holes_account */
	SH_HOLE_PAGES_ZERO,
	SH_PRIVATE_PAGES,
	SH_FILLED_AHEAD,	/* private pages filled beyond the faulting page */
	SH_UNTOUCHED,		/* of those, measured never touched */
	SH_READ_CREDIT,		/* hole pages read, as far as faults tell (read_credit) */
	SH_READ_COUNTED,	/* of those, counted as avoided when a mapping went */
	SH__COUNT,
};
extern atomic_ulong shmem_holes_counts[SH__COUNT];

void shmem_holes_count(enum shmem_holes_counter id, unsigned long n);
/* The policy table's account, live_clear, stats_json and stats_reset (policy.h). */
void shmem_holes_account(const struct ucow_region *r, bool live);
void shmem_holes_live_clear(void);
int shmem_holes_stats_json(char *buf, size_t size);
void shmem_holes_stats_reset(void);

#endif

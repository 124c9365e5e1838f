/* shmem_holes_stats.c: the shmem-holes policy's counters (UCOW_STATS: the "shmem_holes" group),
 * and what a mapping holds as it goes, measured (shmem_measure.c). */
#include <stdio.h>

#include "config.h"
#include "shmem_holes_stats.h"
#include "shmem_measure.h"
#include "stats.h"
#include "sys.h"

atomic_ulong shmem_holes_counts[SH__COUNT];
/* What a live measure (ucow stat) found in the mappings still there: added, then cleared. */
static atomic_ulong shmem_holes_live[SH__COUNT];

void shmem_holes_count(enum shmem_holes_counter id, unsigned long n)
{
	ucow_count(&shmem_holes_counts[id], n);
}

/* A counter as the statistics show it: what is counted, and what a live measure adds. */
static unsigned long sh_read(enum shmem_holes_counter id)
{
	return ucow_count_read(&shmem_holes_counts[id]) + ucow_count_read(&shmem_holes_live[id]);
}

/*
 * What the mapping holds as it goes (munmap, exit), from the kernel's tables: the private
 * pages over holes that the program touched are the writes whose page-cache twin ucow
 * avoided (shmem_measure.c).
 */
void shmem_holes_account(const struct ucow_region *r, bool live)
{
	atomic_ulong *into = live ? shmem_holes_live : shmem_holes_counts;
	unsigned long ahead = sh_read(SH_FILLED_AHEAD), untouched = sh_read(SH_UNTOUCHED);
	struct shmem_measure m;
	unsigned long reads;

	shmem_measure(r, ahead > untouched ? ahead - untouched : 0, &m);
	ucow_count(&into[SH_PRIVATE_PAGES], m.private);
	ucow_count(&into[SH_HOLE_PAGES_WRITTEN], m.written);
	ucow_count(&into[SH_HOLE_PAGES_ZERO], m.zero);
	ucow_count(&into[SH_UNTOUCHED], m.untouched);
	/* The kernel fills a hole in the page cache on every write to it, and on every read:
	 * read pages that are still zero pages (a page read, then written, counts once). */
	reads = sh_read(SH_READ_CREDIT) - sh_read(SH_READ_COUNTED);
	if (reads > m.zero)
		reads = m.zero;
	ucow_count(&into[SH_READ_COUNTED], reads);
	ucow_count(&into[SH_PAGECACHE_AVOIDED], m.written + reads);
}

void shmem_holes_live_clear(void)
{
	ucow_counts_reset(shmem_holes_live, SH__COUNT);
}

int shmem_holes_stats_json(char *buf, size_t size)
{
	static const char *const modes[] = { "zero", "write", "off" };

	return snprintf(buf, size,
		",\"shmem_holes\":{\"mode\":\"%s\",\"regions\":%lu,\"faults_read\":%lu,"
		"\"faults_write\":%lu,\"pages_zero_mapped\":%lu,\"pages_filled_private\":%lu,"
		"\"pagecache_pages_filled\":%lu,\"hole_pages_written\":%lu,"
		"\"hole_pages_zero\":%lu,\"private_bytes\":%lu,\"untouched_bytes\":%lu,"
		"\"pagecache_pages_avoided\":%lu,\"bytes_saved\":%lu}",
		modes[ucow_cfg.shmem_holes], sh_read(SH_REGIONS), sh_read(SH_FAULTS_READ),
		sh_read(SH_FAULTS_WRITE), sh_read(SH_ZERO_MAPPED), sh_read(SH_FILLED_PRIVATE),
		sh_read(SH_PAGECACHE_FILLED), sh_read(SH_HOLE_PAGES_WRITTEN),
		sh_read(SH_HOLE_PAGES_ZERO), sh_read(SH_PRIVATE_PAGES) * UCOW_PAGE_SIZE,
		sh_read(SH_UNTOUCHED) * UCOW_PAGE_SIZE,
		sh_read(SH_PAGECACHE_AVOIDED), sh_read(SH_PAGECACHE_AVOIDED) * UCOW_PAGE_SIZE);
}

void shmem_holes_stats_reset(void)
{
	ucow_counts_reset(shmem_holes_counts, SH__COUNT);
}

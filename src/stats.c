/* stats.c: the engine's counters (each policy keeps its own: policy.h). */
#include "stats.h"

atomic_ulong ucow_stats[UCOW_ST__COUNT];

void ucow_stats_reset(void)
{
	ucow_counts_reset(ucow_stats, UCOW_ST__COUNT);
}

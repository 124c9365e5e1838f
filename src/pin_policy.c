/* pin_policy.c: the pins' row of the policy table — start-up, mprotect, fork and the stats
 * group; the pins' counters live here. */
#include <stdatomic.h>
#include <stdio.h>

#include "pin.h"
#include "pin_counters.h"
#include "pin_table.h"
#include "trap.h"

atomic_ulong pin_counters[PIN__COUNTERS];

int pin_stats_json(char *buf, size_t size)
{
	struct pin_summary ps;

	pin_summarise(&ps);
	return snprintf(buf, size,
		",\"pins\":{\"enabled\":%s,\"known\":%lu,\"bytes\":%lu,\"liburing\":%lu,"
		"\"raw\":%lu,\"api\":%lu,\"learnt\":%lu,\"forgotten\":%lu,\"kernel_pins\":%lu,"
		"\"fork_copied_pages\":%lu,\"fdinfo_checks\":%lu,\"fdinfo_mismatches\":%lu,"
		"\"trap\":\"%s\",\"trapped\":%lu}",
		pins_active() ? "true" : "false", ps.known, ps.bytes, ps.by_source[PIN_LIBURING],
		ps.by_source[PIN_RAW], ps.by_source[PIN_API],
		ucow_count_read(&pin_counters[PIN_LEARNT]),
		ucow_count_read(&pin_counters[PIN_FORGOTTEN]),
		ucow_count_read(&pin_counters[PIN_KERNEL]),
		ucow_count_read(&pin_counters[PIN_FORK_COPIED]),
		ucow_count_read(&pin_counters[PIN_FDINFO_CHECKS]),
		ucow_count_read(&pin_counters[PIN_FDINFO_MISMATCHES]), trap_state(),
		ucow_count_read(&pin_counters[PIN_TRAPPED]));
}

/* pin_policy.c: the pins' row of the policy table — start-up, mprotect, fork and the stats
 * group; the pins' counters live here. */
#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <sys/mman.h>

#include "engine.h"
#include "pin.h"
#include "pin_counters.h"
#include "pin_policy.h"
#include "pin_table.h"
#include "policy.h"
#include "sys.h"
#include "trap.h"

atomic_ulong pin_counters[PIN__COUNTERS];

/* A filter inherited across exec may trap this image's calls from the start; a new one is
 * armed once memory is managed (UCOW_SECCOMP=on). */
static void pins_init(void)
{
	trap_init();
	engine_when_managing(trap_arm);
}

/* Write access is back: pinned pages are made exclusive again before the program writes,
 * so that the write lands in the page the device holds. */
static void pins_protected(uintptr_t start, uintptr_t end, int prot)
{
	int saved_errno = errno;

	start = UCOW_PAGE_DOWN(start);
	end = UCOW_PAGE_UP(end);
	if ((prot & PROT_WRITE) && pin_overlaps(start, end))
		pin_reassert(start, end);
	errno = saved_errno;
}

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

static void pins_stats_reset(void)
{
	ucow_counts_reset(pin_counters, PIN__COUNTERS);
}

/* Pins take no mappings and resolve no faults: they make the other policies' pages stay. */
const struct ucow_policy ucow_pins_policy = {
	.name = "pins",
	.init = pins_init,
	.protected = pins_protected,
	.fork_prepare = pin_fork_prepare,
	.fork_parent = pin_fork_parent,
	.fork_child_early = pin_fork_child_map,
	.fork_child = pin_fork_child_fill,
	.stats_json = pin_stats_json,
	.stats_reset = pins_stats_reset,
};

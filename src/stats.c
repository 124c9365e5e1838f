/* stats.c: the per-process counters and their one JSON object at exit. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>

#include "config.h"
#include "engine.h"
#include "filter_probe.h"
#include "lazy_memset.h"
#include "log.h"
#include "pin.h"
#include "stats.h"
#include "sys.h"

atomic_ulong ucow_stats[UCOW_ST__COUNT];

static unsigned long st(enum ucow_stat id)
{
	return atomic_load_explicit(&ucow_stats[id], memory_order_relaxed);
}

static const char *uffd_mode_name(void)
{
	switch (engine_mode()) {
	case UCOW_ENGINE_UNUSED:
		return "unused";
	case UCOW_ENGINE_FULL:
		return "full";
	case UCOW_ENGINE_USER_ONLY:
		return "user-mode-only";
	default:
		return "none";
	}
}

int ucow_stats_format(char *buf, size_t size)
{
	static const char *const modes[] = { "zero", "write", "off" };
	char comm[17] = "", pins[512], lazy[512];

	if (filter_allows(UCOW_SYS_PRCTL))
		prctl(PR_GET_NAME, comm);
	pin_stats_json(pins, sizeof(pins));
	lazy_memset_stats_json(lazy, sizeof(lazy));
	return snprintf(buf, size,
		"{\"ucow\":\"%s\",\"pid\":%d,\"comm\":\"%s\",\"uffd\":\"%s\",\"managed\":%s,"
		"\"engine\":{\"regions\":%lu,\"register_failed\":%lu,\"faults\":%lu,"
		"\"unknown_faults\":%lu,\"events_unmap\":%lu,\"events_remap\":%lu,"
		"\"events_remove\":%lu,\"eagain\":%lu,\"poisoned\":%lu,\"fallbacks\":%lu,"
		"\"stepped_aside\":%lu},"
		"\"shmem_holes\":{\"mode\":\"%s\",\"regions\":%lu,\"faults_read\":%lu,"
		"\"faults_write\":%lu,\"pages_zero_mapped\":%lu,\"pages_filled_private\":%lu,"
		"\"pagecache_pages_filled\":%lu,\"hole_pages_written\":%lu,"
		"\"hole_pages_zero\":%lu,\"private_bytes\":%lu,"
		"\"pagecache_pages_avoided\":%lu,\"bytes_saved\":%lu},"
		"\"refpage\":{\"fds_created\":%lu,\"regions\":%lu,\"regions_zero\":%lu,"
		"\"regions_eager\":%lu,\"bytes_filled_eagerly\":%lu,\"faults_read\":%lu,"
		"\"faults_write\":%lu,\"pages_filled\":%lu}%s%s}",
		PACKAGE_VERSION, (int)getpid(), comm, uffd_mode_name(),
		st(UCOW_ST_REGIONS) ? "true" : "false",
		st(UCOW_ST_REGIONS), st(UCOW_ST_REGISTER_FAILED), st(UCOW_ST_FAULTS),
		st(UCOW_ST_UNKNOWN_FAULTS), st(UCOW_ST_EVENTS_UNMAP), st(UCOW_ST_EVENTS_REMAP),
		st(UCOW_ST_EVENTS_REMOVE), st(UCOW_ST_EAGAIN), st(UCOW_ST_POISONED),
		st(UCOW_ST_FALLBACKS), st(UCOW_ST_STEPPED_ASIDE),
		modes[ucow_cfg.shmem_holes], st(UCOW_ST_SH_REGIONS), st(UCOW_ST_SH_FAULTS_READ),
		st(UCOW_ST_SH_FAULTS_WRITE), st(UCOW_ST_SH_ZERO_MAPPED),
		st(UCOW_ST_SH_FILLED_PRIVATE), st(UCOW_ST_SH_PAGECACHE_FILLED),
		st(UCOW_ST_SH_HOLE_PAGES_WRITTEN), st(UCOW_ST_SH_HOLE_PAGES_ZERO),
		st(UCOW_ST_SH_PRIVATE_PAGES) * UCOW_PAGE_SIZE,
		st(UCOW_ST_SH_PAGECACHE_AVOIDED), st(UCOW_ST_SH_PAGECACHE_AVOIDED) * UCOW_PAGE_SIZE,
		st(UCOW_ST_RP_FDS), st(UCOW_ST_RP_REGIONS), st(UCOW_ST_RP_REGIONS_ZERO),
		st(UCOW_ST_RP_REGIONS_EAGER), st(UCOW_ST_RP_BYTES_EAGER),
		st(UCOW_ST_RP_FAULTS_READ), st(UCOW_ST_RP_FAULTS_WRITE),
		st(UCOW_ST_RP_PAGES_FILLED), pins, lazy);
}

void ucow_stats_write(void)
{
	char json[4096];
	int n, fd;

	if (!ucow_cfg.stats[0])
		return;
	n = ucow_stats_format(json, sizeof(json) - 1);
	if (n < 0 || n >= (int)sizeof(json) - 1)
		return;
	json[n++] = '\n';
	if (strcmp(ucow_cfg.stats, "stderr") == 0) {
		fd = STDERR_FILENO;
	} else {
		fd = open(ucow_cfg.stats, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
		if (fd < 0) {
			ucow_warn("stats", "cannot open UCOW_STATS=%s: %s", ucow_cfg.stats,
				  strerror(errno));
			return;
		}
	}
	/* One write with O_APPEND keeps the lines of several processes whole. */
	if (write(fd, json, n) != n)
		ucow_warn("stats", "short write to %s", ucow_cfg.stats);
	if (fd != STDERR_FILENO)
		close(fd);
}

void ucow_stats_reset(void)
{
	for (int i = 0; i < UCOW_ST__COUNT; i++)
		atomic_store_explicit(&ucow_stats[i], 0, memory_order_relaxed);
}

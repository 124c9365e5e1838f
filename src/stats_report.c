/* stats_report.c: the per-process statistics object (UCOW_STATS): the engine's counters and
 * every policy's group, written as one line of JSON at exit, or measured live on request. */
#include <errno.h>
#include <pthread.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdio.h>
#include <sched.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>

#include "config.h"
#include "filter_probe.h"
#include "handler.h"
#include "log.h"
#include "policy.h"
#include "region.h"
#include "procfs.h"
#include "source.h"
#include "stats_file.h"
#include "registration.h"
#include "sigguard.h"
#include "stats.h"
#include "stats_report.h"
#include "sys.h"

#define STATS_LINE_MAX 4096

static unsigned long engine_count(enum ucow_stat id)
{
	return ucow_count_read(&ucow_stats[id]);
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

int stats_format(char *buf, size_t size)
{
	char comm[17] = "";
	size_t len;
	int n;

	/* The handler thread has a name of its own: the process's is the main thread's. */
	if (ucow_in_handler) {
		if (procfs_read("/proc/self/comm", comm, sizeof(comm)) > 0)
			comm[strcspn(comm, "\n")] = '\0';
	} else if (filter_allows(UCOW_SYS_PRCTL)) {
		prctl(PR_GET_NAME, comm);
	}
	for (char *c = comm; *c; c++)
		if (*c == '"' || *c == '\\' || (unsigned char)*c < ' ')
			*c = '?';
	n = snprintf(buf, size,
		"{\"ucow\":\"%s\",\"pid\":%d,\"comm\":\"%s\",\"uffd\":\"%s\",\"managed\":%s,"
		"\"engine\":{\"regions\":%lu,\"register_failed\":%lu,\"faults\":%lu,"
		"\"unknown_faults\":%lu,\"events_unmap\":%lu,\"events_remap\":%lu,"
		"\"events_remove\":%lu,\"eagain\":%lu,\"events_late\":%lu,\"poisoned\":%lu,"
		"\"fallbacks\":%lu,\"stepped_aside\":%lu,\"wakes_handed\":%lu,"
		"\"wakes_missed\":%lu}",
		PACKAGE_VERSION, (int)getpid(), comm, uffd_mode_name(),
		engine_count(UCOW_ST_REGIONS) ? "true" : "false",
		engine_count(UCOW_ST_REGIONS), engine_count(UCOW_ST_REGISTER_FAILED),
		engine_count(UCOW_ST_FAULTS), engine_count(UCOW_ST_UNKNOWN_FAULTS),
		engine_count(UCOW_ST_EVENTS_UNMAP), engine_count(UCOW_ST_EVENTS_REMAP),
		engine_count(UCOW_ST_EVENTS_REMOVE), engine_count(UCOW_ST_EAGAIN),
		engine_count(UCOW_ST_EVENTS_LATE),
		engine_count(UCOW_ST_POISONED), engine_count(UCOW_ST_FALLBACKS),
		engine_count(UCOW_ST_STEPPED_ASIDE), engine_count(UCOW_ST_WAKES_HANDED),
		engine_count(UCOW_ST_WAKES_MISSED));
	if (n < 0 || (size_t)n >= size)
		return n;
	len = (size_t)n;
	for_each_policy(pp) {
		if (!(*pp)->stats_json)
			continue;
		n = (*pp)->stats_json(buf + len, size - len);
		if (n < 0 || (size_t)n >= size - len)
			return n < 0 ? n : (int)(len + (size_t)n);
		len += (size_t)n;
	}
	n = snprintf(buf + len, size - len, "}");
	return n < 0 ? n : (int)(len + (size_t)n);
}

void stats_write(void)
{
	char json[STATS_LINE_MAX];
	int n, fd;

	if (!ucow_cfg.stats[0])
		return;
	n = stats_format(json, sizeof(json) - 1);
	if (n < 0 || n >= (int)sizeof(json) - 1)
		return;
	if (stats_file_wanted()) {
		stats_file_put(json, (size_t)n, true);
		return;
	}
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

static void account_locked(uintptr_t start, uintptr_t end);

static struct {
	atomic_int owner;	/* the process whose counters these are */
	atomic_bool written;	/* its object is written: once per process */
	/* One measure at a time: a live one (handler) adds to the policies' live counters,
	 * which the exit's object must not see. */
	pthread_mutex_t measuring;
} stats_life = { .measuring = PTHREAD_MUTEX_INITIALIZER };

void stats_own(void)
{
	atomic_store(&stats_life.owner, (int)getpid());
	atomic_store(&stats_life.written, false);
	pthread_mutex_init(&stats_life.measuring, NULL);
}

/* Whether this process owns the counters (not a vfork child sharing its parent's memory). */
static bool stats_owner(void)
{
	return ucow_enabled && (int)getpid() == atomic_load(&stats_life.owner);
}

/*
 * The measuring lock, taken with the thread's signals blocked: a signal handler that calls
 * munmap or _exit on a thread that holds it would wait for itself.
 */
struct measure_guard {
	struct sigguard sig;
	bool guarded;
};

static void measure_lock(struct measure_guard *g)
{
	/* A filter that kills on it leaves ucow unmanaged: no managed memory to measure, and
	 * no signal mask to change. */
	g->guarded = filter_allows(UCOW_SYS_RT_SIGPROCMASK);
	if (g->guarded)
		sigguard_enter(&g->sig);
	pthread_mutex_lock(&stats_life.measuring);
}

static void measure_unlock(struct measure_guard *g)
{
	pthread_mutex_unlock(&stats_life.measuring);
	if (g->guarded)
		sigguard_leave(&g->sig);
}

void stats_at_exit(void)
{
	struct measure_guard g;

	if (!stats_owner() || atomic_exchange(&stats_life.written, true))
		return;
	/* The last fault's counters are bumped after its thread was woken. */
	handler_barrier();
	measure_lock(&g);
	account_locked(0, UINTPTR_MAX);
	stats_write();
	measure_unlock(&g);
}

void stats_before_exec(void)
{
	char json[STATS_LINE_MAX];
	int n;

	if (!stats_owner() || !stats_file_active())
		return;
	/* Measured as `ucow stat` measures (never twice at exit, should the exec fail), and
	 * not waited for: a thread measuring now leaves the last refresh in place. */
	n = stats_format_live(json, sizeof(json));
	if (n > 0 && (size_t)n < sizeof(json))
		stats_file_put(json, (size_t)n, true);
}

void stats_exec_failed(void)
{
	if (stats_owner())
		stats_file_unend();
}

void stats_file_start(bool fork_child)
{
	char json[STATS_LINE_MAX];
	int n;

	if (fork_child)
		stats_file_fork_child();
	else
		stats_file_open();
	if (!stats_file_active())
		return;
	n = stats_format(json, sizeof(json));
	if (n > 0 && (size_t)n < sizeof(json))
		stats_file_put(json, (size_t)n, false);
}

void stats_reset_all(void)
{
	stats_own();
	ucow_stats_reset();
	for_each_policy(pp)
		if ((*pp)->stats_reset)
			(*pp)->stats_reset();
}

static void account_one(const struct ucow_region *r, void *arg)
{
	if (r->policy->account)
		r->policy->account(r, arg != NULL);
}

static void account_locked(uintptr_t start, uintptr_t end)
{
	if (registry_may_overlap(&ucow_registry, start, end))
		registry_foreach(&ucow_registry, start, end, account_one, NULL);
}

void stats_account(uintptr_t start, uintptr_t end)
{
	/* Always: `ucow stat` may ask any managed process, and no measure is taken twice. */
	struct measure_guard g;

	if (!registry_may_overlap(&ucow_registry, start, end))
		return;
	measure_lock(&g);
	account_locked(start, end);
	measure_unlock(&g);
}

int stats_format_live(char *buf, size_t size)
{
	static int live = 1;
	int n;

	/* Never waited for: the thread measuring now (munmap, exit) may be stopped in a signal
	 * handler that waits for this thread (law 9), or be long at it; the caller asks again
	 * later. */
	if (pthread_mutex_trylock(&stats_life.measuring) != 0)
		return -EBUSY;
	if (registry_may_overlap(&ucow_registry, 0, UINTPTR_MAX))
		registry_foreach(&ucow_registry, 0, UINTPTR_MAX, account_one, &live);
	n = stats_format(buf, size);
	for_each_policy(pp)
		if ((*pp)->live_clear)
			(*pp)->live_clear();
	pthread_mutex_unlock(&stats_life.measuring);
	return n;
}

/* live.c: live statistics on request (`ucow stat`). The handler thread keeps a small shared
 * page that outsiders find in /proc/PID/maps, and a doorbell in its own descriptor table. */
#include <errno.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "config.h"
#include "fdtable.h"
#include "filter_probe.h"
#include "live.h"
#include "live_abi.h"
#include "log.h"
#include "region.h"
#include "stats_file.h"
#include "sys.h"

#ifndef MFD_CLOEXEC
#define MFD_CLOEXEC 0x0001U
#endif

/* stats_format_live (stats_report.h), set by init: the report depends on the handler. */
int (*live_format)(char *buf, size_t size);

static struct {
	struct ucow_live_header *page;	/* NULL: no live statistics */
	int bell;			/* the eventfd, in the handler's table */
	uint64_t next_refresh_ns;	/* of the stats file */
	uint64_t refresh_every_ns;	/* UCOW_STATS_REFRESH_MS, or longer after a long pass */
	bool refreshed_managing;	/* the last refresh saw managed memory */
	bool asked;			/* a request waits for an answer (the measure was busy) */
} live = { .bell = -1 };

#define RETRY_NS 10000000ULL		/* a busy measure is asked again this much later */
/* A pass over the managed memory (pagemap, the files' holes) holds the handler: at most one
 * twentieth of its time goes to refreshing the stats file. */
#define REFRESH_SHARE 20

/* A memfd mapped shared and closed at once: nothing of it stays in any descriptor table. */
static struct ucow_live_header *map_page(void)
{
	void *p;
	int fd;

	if (!filter_allows(UCOW_SYS_MEMFD_CREATE))
		return NULL;
	fd = (int)syscall(SYS_memfd_create, UCOW_LIVE_NAME, MFD_CLOEXEC);
	if (fd < 0)
		return NULL;
	if (ftruncate(fd, UCOW_LIVE_SIZE) < 0) {
		close(fd);
		return NULL;
	}
	p = sys_mmap(NULL, UCOW_LIVE_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	close(fd);
	return p == MAP_FAILED ? NULL : p;
}

int live_start(void)
{
	struct ucow_live_header *h;

	/* Without a table of its own the doorbell would be one of the program's descriptors,
	 * which it may close or reuse. */
	if (atomic_load(&handler_table.shared_table)) {
		ucow_info("live", "the handler has no descriptor table of its own: no live "
			  "statistics ('ucow stat') for this process");
		return -1;
	}
	if (!filter_allows(UCOW_SYS_EVENTFD2)) {
		ucow_info("live", "the seccomp filter forbids eventfd2: no live statistics "
			  "('ucow stat') for this process");
		return -1;
	}
	live.bell = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (live.bell < 0) {
		ucow_info("live", "no eventfd (%s): no live statistics ('ucow stat')",
			  strerror(errno));
		return -1;
	}
	h = map_page();
	if (!h) {
		ucow_info("live", "no stats page (memfd_create: %s): no live statistics "
			  "('ucow stat')", strerror(errno));
		close(live.bell);
		live.bell = -1;
		return -1;
	}
	h->version = UCOW_LIVE_VERSION;
	h->pid = (int32_t)getpid();
	h->tid = (int32_t)sys_gettid();
	h->eventfd = live.bell;
	/* Last: a reader that sees the magic sees the rest. */
	atomic_store_explicit((_Atomic uint64_t *)&h->magic, UCOW_LIVE_MAGIC, memory_order_release);
	live.page = h;
	live.refresh_every_ns = UCOW_STATS_REFRESH_MS * 1000000ULL;
	live.next_refresh_ns = sys_now_ns() + live.refresh_every_ns;
	return live.bell;
}

static void refresh_file(const char *json, int n, uint64_t took_ns)
{
	uint64_t every = UCOW_STATS_REFRESH_MS * 1000000ULL;

	stats_file_put(json, (size_t)n, false);
	live.refreshed_managing = registry_count(&ucow_registry) > 0;
	if (took_ns * REFRESH_SHARE > every)
		every = took_ns * REFRESH_SHARE;
	live.refresh_every_ns = every;
	live.next_refresh_ns = sys_now_ns() + every;
}

/* Measures and publishes the answer; false if the measure is busy (asked again later). */
static bool answer(void)
{
	char json[UCOW_LIVE_JSON_MAX];
	_Atomic uint32_t *answered;
	uint64_t start = sys_now_ns();
	int n;

	n = live_format ? live_format(json, sizeof(json)) : -ENOSYS;
	if (n == -EBUSY)
		return false;
	if (n < 0 || (size_t)n >= sizeof(json))
		n = 0;
	answered = (_Atomic uint32_t *)&live.page->answered;
	atomic_fetch_add_explicit(answered, 1, memory_order_acq_rel);	/* odd: writing */
	memcpy((char *)(live.page + 1), json, (size_t)n);
	live.page->len = (uint32_t)n;
	live.page->answered_ns = sys_now_ns();
	atomic_fetch_add_explicit(answered, 1, memory_order_release);
	if (n > 0 && stats_file_active())
		refresh_file(json, n, sys_now_ns() - start);
	return true;
}

void live_answer(void)
{
	uint64_t count;

	/* Several rings before one answer are one request. */
	if (read(live.bell, &count, sizeof(count)) != sizeof(count) || !live.page)
		return;
	live.asked = !answer();
}

int live_timeout(int timeout_ms)
{
	uint64_t now, ms;

	if (live.asked && (timeout_ms < 0 || timeout_ms > (int)(RETRY_NS / 1000000)))
		timeout_ms = (int)(RETRY_NS / 1000000);
	if (!stats_file_active() || !live.page ||
	    (!live.refreshed_managing && registry_count(&ucow_registry) == 0))
		return timeout_ms;
	now = sys_now_ns();
	ms = now >= live.next_refresh_ns ? 0 : (live.next_refresh_ns - now) / 1000000 + 1;
	return timeout_ms < 0 || (uint64_t)timeout_ms > ms ? (int)ms : timeout_ms;
}

void live_tick(void)
{
	char json[UCOW_STATS_SLOT_MAX];
	uint64_t start;
	int n;

	if (live.asked && live.page)
		live.asked = !answer();
	if (!stats_file_active() || !live.page || sys_now_ns() < live.next_refresh_ns)
		return;
	/* After the last region went, once more, for the figures measured as it went. */
	if (!live.refreshed_managing && registry_count(&ucow_registry) == 0) {
		live.next_refresh_ns = sys_now_ns() + live.refresh_every_ns;
		return;
	}
	start = sys_now_ns();
	n = live_format ? live_format(json, sizeof(json)) : -ENOSYS;
	if (n > 0 && (size_t)n < sizeof(json))
		refresh_file(json, n, sys_now_ns() - start);
	else
		live.next_refresh_ns = sys_now_ns() + RETRY_NS;	/* busy: soon again */
}

void live_stop(void)
{
	/* A reader must not take the thread id, or the descriptor, of a handler that is gone. */
	if (live.page)
		atomic_store_explicit((_Atomic uint64_t *)&live.page->magic, 0,
				      memory_order_release);
}

void live_doorbell_lost(void)
{
	live_stop();
	live.bell = -1;
}

void live_fork_child(void)
{
	if (live.page)
		sys_munmap(live.page, UCOW_LIVE_SIZE);
	live.page = NULL;
	live.bell = -1;		/* in the parent's handler table, not here */
	live.refreshed_managing = false;
	live.asked = false;
}

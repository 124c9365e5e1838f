/* engine_fork.c: the engine's part of fork. The parent freezes the registry while memory is
 * copied; the child gets its own userfaultfd and handler and registers every range again, or,
 * when it cannot be managed, gets every deferred page for real (law 7). */
#include <pthread.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "engine.h"
#include "engine_fork.h"
#include "fdtable.h"
#include "filter_probe.h"
#include "handler.h"
#include "log.h"
#include "materialise.h"
#include "policy.h"
#include "region.h"
#include "sigguard.h"
#include "source.h"
#include "stats.h"
#include "uffd.h"
#include "uffd_ctl.h"
#include "unmapped.h"

/* The forking thread's signal mask, from engine_fork_prepare() until fork returns. */
static __thread struct sigguard fork_guard;

/* Set by engine_fork_prepare() for the child: it runs unmanaged without trying, and with
 * child_filled, with nothing left to fill. */
static __thread bool child_unmanageable, child_filled;

/*
 * Whether a fork child could open a userfaultfd of its own: it has this process's
 * credentials, so asking now tells (a privilege drop since the engine started).
 */
static bool child_can_open_uffd(void)
{
	static struct {
		bool known, can;
		uid_t uid[3];
		gid_t gid[3];
	} last_answer;
	enum ucow_uffd_mode umode;
	uid_t uid[3];
	gid_t gid[3];
	char why[512];
	int fd;

	/* A filter the program added since the engine started may kill the call itself. */
	if (filter_probe() < 0)
		return false;
	/* The answer holds while the credentials do: a server forking per request after it
	 * dropped its privileges asks once. */
	getresuid(&uid[0], &uid[1], &uid[2]);
	getresgid(&gid[0], &gid[1], &gid[2]);
	if (last_answer.known && !memcmp(uid, last_answer.uid, sizeof(uid)) &&
	    !memcmp(gid, last_answer.gid, sizeof(gid)))
		return last_answer.can;
	fd = uffd_open(ucow_cfg.user_mode_only, &umode, why, sizeof(why));
	if (fd >= 0)
		close(fd);
	last_answer.can = fd >= 0;
	memcpy(last_answer.uid, uid, sizeof(uid));
	memcpy(last_answer.gid, gid, sizeof(gid));
	last_answer.known = true;
	return last_answer.can;
}

bool engine_fork_prepare(void)
{
	/*
	 * The start-up lock first, before the engine is looked at: an engine another thread
	 * started after that look would be half the child's (a handler state without its
	 * thread, regions the kernel no longer registers there). No signal mask yet: a process
	 * ucow does not serve may run under a filter that kills on rt_sigprocmask.
	 */
	engine_fork_hold();
	if (!engine_serving()) {
		/* Eagerly filled refpages are recorded without an engine: a child's exit walks them. */
		registry_freeze(&ucow_registry);
		return false;
	}
	/* Held across fork: a signal handler touching managed memory meanwhile would wait for
	 * the handler thread. */
	sigguard_enter(&fork_guard);
	/*
	 * Entries whose mapping went behind ucow's back (unmapped and mapped again by glibc's
	 * own calls, the event not applied yet) would be registered again in the child.
	 */
	unmapped_forget(0, UINTPTR_MAX, handler_barrier);
	/*
	 * A child that will not be able to open a userfaultfd cannot be managed, and the kernel
	 * drops its registrations: what ucow deferred is filled for real now, while this
	 * process's userfaultfd still can (law 7). A child that fails later (no thread) writes
	 * the missing pages itself.
	 */
	child_unmanageable = child_filled = false;
	if (registry_count(&ucow_registry) && !child_can_open_uffd()) {
		/* Said here, at info level; each child of a pre-forking server would say it. */
		child_unmanageable = true;
		child_filled = true;
		if (materialise_needed(0, UINTPTR_MAX)) {
			ucow_info("fork", "the child cannot open a userfaultfd (privileges dropped?): "
				  "deferred content is filled for real before the fork");
			child_filled = materialise_range(0, UINTPTR_MAX, true) == 0;
			materialise_release(0, UINTPTR_MAX);
		}
	}
	/* The registry is only frozen: the handler still serves faults (registry.h says why). */
	registry_freeze(&ucow_registry);
	uffd_ctl_fork_prepare();
	fdt_fork_prepare();
	return true;
}

void engine_fork_parent(bool serving)
{
	if (serving)
		fdt_fork_parent();
	registry_thaw(&ucow_registry);
	engine_fork_release();
	if (serving)
		sigguard_leave(&fork_guard);
}

/*
 * Regions whose source could not be carried into the child (no descriptor free in the forking
 * thread's table) are handed back to the kernel: right for shmem holes, the only policy with
 * a source, whose fallback is the kernel's own fill.
 */
static void drop_if_uncarried(const struct ucow_region *r, void *arg)
{
	size_t *dropped = arg;

	if (r->src && !source_usable(r->src)) {
		registry_remove(&ucow_registry, r->start, r->end);
		(*dropped)++;
	}
}

static void drop_uncarried(void)
{
	size_t dropped = 0;

	registry_walk(&ucow_registry, 0, UINTPTR_MAX, drop_if_uncarried, &dropped);
	if (dropped)
		ucow_info("fork", "%zu file mapping(s) could not keep their file in the child: "
			  "left to the kernel there", dropped);
}

/*
 * The child runs unmanaged: the kernel dropped its registrations, so every deferred page
 * is written now (this thread is the child's only one), then ucow forgets it all.
 */
static void fork_child_unmanaged(void)
{
	int failed = child_filled ? 0 : materialise_range(0, UINTPTR_MAX, false);

	registry_remove(&ucow_registry, 0, UINTPTR_MAX);
	if (failed)
		ucow_error("fork", "%d deferred range(s) could not be filled in the child", failed);
}

/* Registers every region again; a region that cannot be is filled for real and forgotten. */
static void register_one(const struct ucow_region *r, void *arg)
{
	int *failed = arg;

	if (registration_add(r->start, r->end) == 0) {
		ucow_stat_add(UCOW_ST_REGIONS, 1);
		return;
	}
	(*failed)++;
	if (r->policy->materialise)
		r->policy->materialise(r, false);
	registry_remove_birth(&ucow_registry, r->start, r->end, r->birth);
}

static int fork_child_register(void)
{
	int failed = 0;

	registry_walk(&ucow_registry, 0, UINTPTR_MAX, register_one, &failed);
	return failed;
}

void engine_fork_child(bool serving)
{
	int failed;

	registry_fork_child(&ucow_registry);
	engine_fork_child_reset();
	registration_fork_child();
	handler_fork_child();
	if (!serving)
		return;
	uffd_ctl_fork_child();
	fdt_fork_child();
	if (registry_count(&ucow_registry) == 0) {
		source_fork_child_done(false);
		goto out;
	}
	/* Ranges the program kept from the child (MADV_DONTFORK) are not there to register. */
	registry_walk(&ucow_registry, 0, UINTPTR_MAX, unmapped_forget_parts, NULL);
	if (child_unmanageable) {
		source_fork_child_done(false);
		registration_set_mode(UCOW_ENGINE_FAILED);
		fork_child_unmanaged();
		goto out;
	}
	if (engine_start() < 0) {
		source_fork_child_done(false);
		/* No userfaultfd or no handler thread (a pids limit): unmanaged from here. */
		fork_child_unmanaged();
		goto out;
	}
	/* The handler has the carried sources in its table now. */
	source_fork_child_done(true);
	drop_uncarried();
	failed = fork_child_register();
	if (failed)
		ucow_warn("fork", "%d managed range(s) could not be registered again in the child; "
			  "their deferred content was written", failed);
out:
	sigguard_leave(&fork_guard);
}

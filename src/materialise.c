/* materialise.c: filling what ucow deferred for real, so that ranges can leave ucow (the
 * program's own userfaultfd takes them; a child ucow cannot manage reads them). */
#include <errno.h>
#include <string.h>

#include "handler.h"
#include "log.h"
#include "materialise.h"
#include "policy.h"
#include "region.h"
#include "registration.h"
#include "stats.h"

struct materialising {
	bool registered;
	int failed;
};

static void materialise_one(const struct ucow_region *r, void *arg)
{
	struct materialising *m = arg;
	int ret;

	if (!r->policy->materialise)
		return;
	ret = r->policy->materialise(r, m->registered);
	if (ret < 0) {
		m->failed++;
		ucow_error(r->policy->name, "cannot fill %#lx-%#lx for real: %s",
			   (unsigned long)r->start, (unsigned long)r->end, strerror(-ret));
	}
}

int materialise_range(uintptr_t start, uintptr_t end, bool registered)
{
	struct materialising m = { .registered = registered };

	registry_walk(&ucow_registry, start, end, materialise_one, &m);
	return m.failed;
}

static bool has_deferred(const struct ucow_region *r, void *arg)
{
	return r->policy->materialise != NULL;
}

bool materialise_needed(uintptr_t start, uintptr_t end)
{
	return registry_any(&ucow_registry, start, end, has_deferred, NULL);
}

static void release_one(const struct ucow_region *r, void *arg)
{
	if (r->policy->plain_when_filled)
		engine_unmanage(r->start, r->end);
}

void materialise_release(uintptr_t start, uintptr_t end)
{
	registry_walk(&ucow_registry, start, end, release_one, NULL);
}

static void step_aside_one(const struct ucow_region *r, void *arg)
{
	engine_unmanage(r->start, r->end);
	if (r->policy->released)
		r->policy->released(r);
	ucow_stat_add(UCOW_ST_STEPPED_ASIDE, 1);
	ucow_debug(r->policy->name, "%#lx-%#lx handed to the program's own userfaultfd",
		   (unsigned long)r->start, (unsigned long)r->end);
}

int engine_step_aside(uintptr_t start, uintptr_t end)
{
	int failed;

	if (!registry_may_overlap(&ucow_registry, start, end))
		return 0;
	/* Unmaps made behind ucow's back must not leave entries to fill in someone's memory. */
	handler_barrier();
	failed = materialise_range(start, end, true);
	registry_walk(&ucow_registry, start, end, step_aside_one, NULL);
	return failed ? -EIO : 0;
}

void engine_unmanaged_child_prepare(void)
{
	if (!materialise_needed(0, UINTPTR_MAX))
		return;
	handler_barrier();
	if (materialise_range(0, UINTPTR_MAX, true) == 0)
		materialise_release(0, UINTPTR_MAX);
}

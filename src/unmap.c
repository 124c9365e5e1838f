/* unmap.c: the interposed munmap's protocol: managed pieces unregistered first, forgotten or
 * registered again once the kernel's answer is known (unmap.h says why). */
#include <pthread.h>
#include <signal.h>

#include "handler.h"
#include "log.h"
#include "policy.h"
#include "procfs.h"
#include "region.h"
#include "registration.h"
#include "sys.h"
#include "uffd_ctl.h"
#include "unmap.h"
#include "unmapped.h"
#include "waker.h"

/*
 * Whether this thread is the program's only one (besides ucow's): then nothing else
 * can touch a range it unmaps. /proc/self/stat's 20th field counts the threads.
 */
bool program_alone(void)
{
	long threads = procfs_stat_field("/proc/self/stat", 20);

	return threads >= 1 &&
	       threads <= 1 + (handler_running() ? 1 : 0) + (waker_exists() ? 1 : 0);
}

void unmap_begin(uintptr_t start, uintptr_t end, struct unmap_first *u)
{
	struct ucow_region v[UNMAP_FIRST_MAX];
	uintptr_t resume;
	size_t n;
	int alone = -1;		/* not asked yet */

	u->n = 0;
	u->rest = true;
	u->masked = false;
	if (engine_uffd() < 0)
		return;
	n = registry_collect(&ucow_registry, start, end, v, UNMAP_FIRST_MAX, &resume);
	u->rest = resume != 0;
	for (size_t i = 0; i < n; i++) {
		if (!v[i].policy->kernel_fallback) {
			if (alone < 0)
				alone = program_alone();
			if (!alone) {
				u->rest = true;
				continue;
			}
			if (!u->masked) {
				sigset_t all;

				/* A signal handler here could touch the range in between. */
				sigfillset(&all);
				pthread_sigmask(SIG_SETMASK, &all, &u->old);
				u->masked = true;
			}
		}
		u->v[u->n].start = v[i].start;
		u->v[u->n].end = v[i].end;
		u->v[u->n].birth = v[i].birth;
		u->n++;
		uffd_ctl_unregister(v[i].start, v[i].end - v[i].start);
	}
}

void unmap_end(uintptr_t start, uintptr_t end, const struct unmap_first *u, bool unmapped)
{
	for (size_t i = 0; i < u->n; i++) {
		uintptr_t s = u->v[i].start, e = u->v[i].end;

		/* By birth: once unmapped, another thread may have mapped and managed it anew. */
		if (unmapped) {
			registry_remove_birth(&ucow_registry, s, e, u->v[i].birth);
		} else if (registration_add(s, e) < 0) {
			registry_remove_birth(&ucow_registry, s, e, u->v[i].birth);
			ucow_error("unmap", "munmap of %#lx-%#lx failed after ucow let go of it, "
				   "and it cannot be registered again: the kernel fills its pages now",
				   (unsigned long)s, (unsigned long)e);
		}
	}
	if (u->masked)
		pthread_sigmask(SIG_SETMASK, &u->old, NULL);
	if (unmapped && u->rest) {
		handler_barrier();
		unmapped_forget(start, end, handler_barrier);
	}
}

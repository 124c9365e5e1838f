/* fork.c: fork and _Fork. ucow's part of fork runs in pthread_atfork handlers registered at
 * start-up, before the program registers its own: the program's prepare handlers run before
 * ucow locks its state, and its child handlers after the child is managed (its own
 * userfaultfd, every range registered again, a running handler, its copies of ucow_pin
 * ranges). _Fork runs no handlers, so its wrapper runs ucow's. vfork and posix_spawn share
 * the parent's memory until exec and pass through untouched. */
#include <dlfcn.h>
#include <errno.h>
#include <sched.h>
#include <stdarg.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "cancel.h"
#include "config.h"
#include "engine_fork.h"
#include "fdtable.h"
#include "fork.h"
#include "interpose.h"
#include "materialise.h"
#include "policy.h"
#include "region.h"
#include "registration.h"
#include "stats_report.h"

#define EXPORT __attribute__((visibility("default")))

/* Whether the engine served this thread's fork: prepare, parent and child must agree. */
static __thread bool fork_serving;

#define FOR_EACH_FORK_OP(op) \
	for_each_policy(pp) \
		if ((*pp)->op) \
			(*pp)->op()

/* Whether this thread's fork holds the mremap order (only with regions: nothing before the
 * first), and the signal mask it saved: restored in the parent and the child. */
static __thread bool fork_remap_held;
static __thread struct sigguard fork_remap_guard;

static void fork_prepare(void)
{
	if (!ucow_enabled)
		return;
	/* First, while nothing else is held: an mremap under way waits for the handler only. */
	fork_remap_held = registry_may_overlap(&ucow_registry, 0, UINTPTR_MAX);
	if (fork_remap_held)
		remap_order_hold(&fork_remap_guard);
	/* Pinned ranges only ucow knows of are copied for the child; the handler must still
	 * serve faults while they are read, so this comes before the registry is frozen. */
	FOR_EACH_FORK_OP(fork_prepare);
	/* Nothing may change the registry or start the engine while memory is copied. */
	fork_serving = engine_fork_prepare();
}

static void fork_parent(void)
{
	if (!ucow_enabled)
		return;
	engine_fork_parent(fork_serving);
	FOR_EACH_FORK_OP(fork_parent);
	if (fork_remap_held)
		remap_order_release(&fork_remap_guard);
}

static void fork_child(void)
{
	if (!ucow_enabled)
		return;
	stats_reset_all();
	stats_file_start(true);
	if (fork_serving)
		fdt_fork_child_carry();
	/* Memory a policy keeps for the child (pinned ranges copied) is mapped again before the
	 * engine registers it, and filled once its handler runs. */
	FOR_EACH_FORK_OP(fork_child_early);
	engine_fork_child(fork_serving);
	FOR_EACH_FORK_OP(fork_child);
	/* Anew even if not held here: a call of another thread's, begun when the registry
	 * was not empty, may hold it, and that thread is not in the child. */
	remap_order_fork_child();
	if (fork_remap_held)
		sigguard_leave(&fork_remap_guard);
}

/*
 * glibc's clone() with a new address space: no atfork handler runs, and the child runs the
 * program's function at once. It cannot be managed; it gets the fork-time bytes (law 7).
 */
EXPORT int clone(int (*fn)(void *), void *stack, int flags, void *arg, ...)
{
	UCOW_NO_CANCEL;
	void *ptid, *tls, *ctid;
	va_list ap;

	/* Read whatever the caller passed: glibc's clone takes them from the same registers. */
	va_start(ap, arg);
	ptid = va_arg(ap, void *);
	tls = va_arg(ap, void *);
	ctid = va_arg(ap, void *);
	va_end(ap);
	if (!ucow_next.clone)
		ucow_next.clone = dlsym(RTLD_NEXT, "clone");
	if (!ucow_next.clone) {
		errno = ENOSYS;
		return -1;
	}
	if (ucow_enabled && !(flags & CLONE_VM) && engine_serving())
		engine_unmanaged_child_prepare();
	return ucow_next.clone(fn, stack, flags, arg, ptid, tls, ctid);
}

void fork_init(void)
{
	pthread_atfork(fork_prepare, fork_parent, fork_child);
}

static pid_t raw_fork(void)
{
	return (pid_t)syscall(SYS_clone, SIGCHLD, 0, NULL, NULL, 0);
}

EXPORT pid_t _Fork(void)
{
	UCOW_NO_CANCEL;
	pid_t pid;

	if (!ucow_next._Fork)
		ucow_next._Fork = dlsym(RTLD_NEXT, "_Fork");
	fork_prepare();
	pid = ucow_next._Fork ? ucow_next._Fork() : raw_fork();
	if (pid == 0)
		fork_child();
	else
		fork_parent();
	return pid;
}

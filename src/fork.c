/* fork.c: fork and _Fork. The child has its own userfaultfd, every managed range registered
 * again, a running handler and its copies of ucow_pin ranges before fork() returns in it;
 * vfork and posix_spawn share the parent's memory until exec and pass through untouched. */
#include <dlfcn.h>
#include <signal.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "engine.h"
#include "interpose.h"
#include "pin.h"

#define EXPORT __attribute__((visibility("default")))

static bool engine_serving(void)
{
	enum ucow_engine_mode mode = engine_mode();

	return ucow_enabled && (mode == UCOW_ENGINE_FULL || mode == UCOW_ENGINE_USER_ONLY);
}

static pid_t raw_fork(void)
{
	return (pid_t)syscall(SYS_clone, SIGCHLD, 0, NULL, NULL, 0);
}

static pid_t managed_fork(pid_t (*next)(void))
{
	bool serving = engine_serving();
	pid_t pid;

	if (!next)
		next = raw_fork;
	if (!ucow_enabled)
		return next();
	/* Pinned ranges only ucow knows of are copied for the child; the handler must still
	 * serve faults while they are read, so this comes before the registry is locked. */
	pin_fork_prepare();
	/* Nothing may change the registry or start the engine while memory is copied. */
	if (serving)
		engine_fork_prepare();
	pid = next();
	if (pid == 0) {
		/* The copied ranges are mapped again before the engine registers them, and
		 * filled once its handler runs. */
		pin_fork_child_map();
		if (serving)
			engine_fork_child();
		pin_fork_child_fill();
	} else {
		if (serving)
			engine_fork_parent();
		pin_fork_parent();
	}
	return pid;
}

EXPORT pid_t fork(void)
{
	if (!ucow_next.fork)
		ucow_next.fork = dlsym(RTLD_NEXT, "fork");
	return managed_fork(ucow_next.fork);
}

EXPORT pid_t _Fork(void)
{
	if (!ucow_next._Fork)
		ucow_next._Fork = dlsym(RTLD_NEXT, "_Fork");
	return managed_fork(ucow_next._Fork);
}

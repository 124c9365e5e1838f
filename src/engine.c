/* engine.c: starting the engine — ucow's userfaultfd, opened and checked, and its handler
 * thread — on the first region a policy hands it. */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "engine.h"
#include "fill.h"
#include "filter_probe.h"
#include "handler.h"
#include "log.h"
#include "source.h"
#include "uffd.h"

/* This thread holds the start-up lock across a fork: a signal handler of its own that maps
 * memory then gets it unmanaged rather than waiting for the lock forever. */
static __thread bool start_held_for_fork;

static struct {
	pthread_mutex_t lock;		/* serialises start-up */
	void (*when_managing)(void);
} engine_start_state = {
	.lock = PTHREAD_MUTEX_INITIALIZER,
};

static void describe_missing(uint64_t missing, char *buf, size_t len)
{
	size_t n = 0;

	buf[0] = '\0';
	for (const struct ucow_uffd_feature *f = ucow_uffd_features; f->name && n < len; f++)
		if (missing & f->bit)
			n += snprintf(buf + n, len - n, "%s%s", n ? ", " : "", f->name);
}

static int open_uffd(enum ucow_engine_mode *mode, uint64_t *features)
{
	char why[512], missing[256];
	enum ucow_uffd_mode umode;
	uint64_t granted = 0;
	int fd, high, ret;

	fd = uffd_open(ucow_cfg.user_mode_only, &umode, why, sizeof(why));
	if (fd < 0) {
		ucow_warn("uffd", "%s; running unmanaged", why);
		return fd;
	}
	high = ucow_dup_high(fd);
	if (high >= 0) {
		close(fd);
		fd = high;
	}
	ret = uffd_api(fd, UCOW_UFFD_WANTED, NULL, &granted);
	if (ret == 0 && (granted & UCOW_UFFD_REQUIRED) != UCOW_UFFD_REQUIRED) {
		describe_missing(UCOW_UFFD_REQUIRED & ~granted, missing, sizeof(missing));
		ucow_warn("uffd", "this kernel lacks userfaultfd features ucow needs (%s); "
			  "running unmanaged (see 'ucow features')", missing);
		ret = -ENOTSUP;
	} else if (ret < 0) {
		ucow_warn("uffd", "UFFDIO_API failed: %s; running unmanaged", strerror(-ret));
	}
	if (ret < 0) {
		close(fd);
		return ret;
	}
	if (umode == UCOW_UFFD_USER_ONLY)
		ucow_info("uffd", "managing with a user-mode-only userfaultfd (UCOW_USER_MODE_ONLY=on): "
			  "syscalls that touch untouched managed pages fail with EFAULT");
	*features = granted;
	*mode = umode == UCOW_UFFD_USER_ONLY ? UCOW_ENGINE_USER_ONLY : UCOW_ENGINE_FULL;
	return fd;
}

static int start_locked(void)
{
	enum ucow_engine_mode mode;
	uint64_t features = 0;
	int fd, ret;

	if (filter_probe() < 0)		/* a seccomp filter would kill ucow's calls */
		return -EPERM;
	fd = open_uffd(&mode, &features);
	if (fd < 0)
		return fd;
	if (fill_init(features) < 0) {
		ucow_warn("engine", "cannot map a zero page: %s; running unmanaged",
			  strerror(ENOMEM));
		close(fd);
		return -ENOMEM;
	}
	ret = handler_start(fd);
	if (ret < 0) {
		ucow_warn("engine", "cannot start the handler thread: %s; running unmanaged",
			  strerror(-ret));
		/* The program may have closed it meanwhile and reused the number. */
		if (uffd_is_userfaultfd(fd))
			close(fd);
		return ret;
	}
	registration_started(fd, mode, features);
	ucow_debug("engine", "userfaultfd %d ready, features %#llx", fd,
		   (unsigned long long)features);
	return 0;
}

int engine_start(void)
{
	int ret = 0;

	if (engine_serving())
		/* A child made by a raw fork or clone: ucow had no call in it, its engine is the
		 * parent's. New memory there is left to the kernel, quietly. */
		return getpid() == engine_pid() ? 0 : -ESRCH;
	if (engine_mode() == UCOW_ENGINE_FAILED)
		return -ENOTSUP;
	if (start_held_for_fork)
		return -EBUSY;
	pthread_mutex_lock(&engine_start_state.lock);
	if (engine_mode() == UCOW_ENGINE_UNUSED) {
		ret = start_locked();
		if (ret < 0)
			registration_set_mode(UCOW_ENGINE_FAILED);
	} else if (engine_mode() == UCOW_ENGINE_FAILED) {
		ret = -ENOTSUP;
	}
	pthread_mutex_unlock(&engine_start_state.lock);
	return ret;
}

int engine_manage(uintptr_t start, size_t len, const struct ucow_policy *policy, int fd,
		  uint64_t offset, uint64_t data, int prot)
{
	int ret = engine_start();

	if (ret < 0)
		return ret;
	/* Events the kernel delivered for this address before the mmap returned come first. */
	handler_barrier();
	ret = registration_manage(start, len, policy, fd, offset, data, prot);
	if (ret == 0 && engine_start_state.when_managing)
		engine_start_state.when_managing();
	return ret;
}

void engine_when_managing(void (*fn)(void))
{
	engine_start_state.when_managing = fn;
}

void engine_fork_hold(void)
{
	pthread_mutex_lock(&engine_start_state.lock);
	start_held_for_fork = true;
}

void engine_fork_release(void)
{
	start_held_for_fork = false;
	pthread_mutex_unlock(&engine_start_state.lock);
}

void engine_fork_child_reset(void)
{
	start_held_for_fork = false;
	pthread_mutex_init(&engine_start_state.lock, NULL);
}

/* registration.c: ucow's userfaultfd as this process holds it, and the ranges registered with
 * it — registered before they are recorded as regions, and handed back to the kernel. */
#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"
#include "policy.h"
#include "region.h"
#include "registration.h"
#include "source.h"
#include "stats.h"
#include "sys.h"
#include "uffd.h"
#include "uffd_ctl.h"

static struct {
	atomic_int mode;		/* enum ucow_engine_mode */
	int uffd;			/* in the handler's own table: for the handler only */
	uint64_t features;
	pid_t pid;			/* the process the engine was started in */
	atomic_int recording;		/* registration_manage calls between register and record */
	atomic_uint_fast64_t births;	/* numbers the regions it makes (region.birth) */
} engine_state = {
	.uffd = -1,
};

enum ucow_engine_mode engine_mode(void)
{
	return atomic_load_explicit(&engine_state.mode, memory_order_acquire);
}

bool engine_serving(void)
{
	enum ucow_engine_mode mode = engine_mode();

	return mode == UCOW_ENGINE_FULL || mode == UCOW_ENGINE_USER_ONLY;
}

int engine_uffd(void)
{
	return engine_state.uffd;
}

uint64_t engine_features(void)
{
	return engine_state.features;
}

pid_t engine_pid(void)
{
	return engine_state.pid;
}

void registration_started(int uffd, enum ucow_engine_mode mode, uint64_t features)
{
	engine_state.uffd = uffd;
	engine_state.features = features;
	engine_state.pid = getpid();
	atomic_store_explicit(&engine_state.mode, mode, memory_order_release);
}

void registration_set_mode(enum ucow_engine_mode mode)
{
	atomic_store_explicit(&engine_state.mode, mode, memory_order_release);
}

void registration_fork_child(void)
{
	/* A thread of the parent between register and record is not here. */
	atomic_store(&engine_state.recording, 0);
	if (!engine_serving())
		return;
	/* The parent's userfaultfd serves the parent's address space, not ours. */
	engine_state.uffd = -1;
	registration_set_mode(UCOW_ENGINE_UNUSED);
}

bool engine_recording(void)
{
	return atomic_load(&engine_state.recording) > 0;
}

int registration_add(uintptr_t start, uintptr_t end)
{
	const uint64_t need = (1ULL << _UFFDIO_COPY) | (1ULL << _UFFDIO_ZEROPAGE) |
			      (1ULL << _UFFDIO_WAKE);
	uint64_t ioctls = 0;
	int ret;

	ret = uffd_ctl_register(start, end - start, UFFDIO_REGISTER_MODE_MISSING, &ioctls);
	if (ret == 0 && (ioctls & need) != need) {
		uffd_ctl_unregister(start, end - start);
		ret = -EOPNOTSUPP;
	}
	return ret;
}

/*
 * The source for the program's @fd: the one ucow holds for the same file already, else one
 * the handler opens in its own table while @fd is valid (an mmap in progress).
 */
static struct ucow_source *source_for_fd(int fd)
{
	struct ucow_source *s;
	bool private_pos;
	struct stat st;
	int flags, own;

	flags = fcntl(fd, F_GETFL);
	if (flags < 0 || fstat(fd, &st) < 0)
		return NULL;
	s = source_find(st.st_dev, st.st_ino, flags & O_ACCMODE);
	if (s)
		return s;
	own = fdt_adopt(fd, flags & O_ACCMODE, &private_pos);
	if (own < 0) {
		errno = -own;
		return NULL;
	}
	s = source_install(own, st.st_dev, st.st_ino, flags & O_ACCMODE, private_pos);
	if (!s) {
		/* A number in the handler's table: only the handler may close it. */
		fdt_close(own);
		errno = ENOMEM;
	}
	return s;
}

int registration_record(const struct ucow_region *r)
{
	int ret = registry_insert(&ucow_registry, r);

	if (ret == -EEXIST) {
		/* A range the kernel has unmapped but whose event is not applied yet. */
		registry_remove(&ucow_registry, r->start, r->end);
		ret = registry_insert(&ucow_registry, r);
	}
	return ret;
}

int registration_manage(uintptr_t start, size_t len, const struct ucow_policy *policy, int fd,
			uint64_t offset, uint64_t data, int prot)
{
	struct ucow_region r = {
		.start = start,
		.end = start + UCOW_PAGE_UP(len),
		.policy = policy,
		.offset = offset,
		.data = data,
		.prot = prot,
		.birth = atomic_fetch_add(&engine_state.births, 1) + 1,
	};
	int ret;

	if (fd >= 0) {
		r.src = source_for_fd(fd);
		if (!r.src) {
			ret = -errno;
			ucow_info(policy->name, "cannot keep a description of fd %d: %s; left to the kernel",
				  fd, strerror(-ret));
			return ret;
		}
	}
	/*
	 * Another thread's munmap of this address that the kernel has done but not yet queued
	 * (it queues after dropping mmap_lock) may still arrive later: the handler forgets
	 * only pieces whose range is not registered, so the range is registered before it is
	 * recorded (nothing faults in it before this mmap has returned).
	 */
	atomic_fetch_add(&engine_state.recording, 1);
	ret = registration_add(r.start, r.end);
	if (ret < 0) {
		atomic_fetch_sub(&engine_state.recording, 1);
		if (r.src)
			source_put(r.src);
		ucow_stat_add(UCOW_ST_REGISTER_FAILED, 1);
		ucow_info(policy->name, "cannot register %#lx-%#lx with userfaultfd: %s; left to the kernel",
			  (unsigned long)r.start, (unsigned long)r.end, strerror(-ret));
		return ret;
	}
	ret = registration_record(&r);
	atomic_fetch_sub(&engine_state.recording, 1);
	if (r.src)
		source_put(r.src);
	if (ret < 0) {
		uffd_ctl_unregister(r.start, r.end - r.start);
		ucow_info(policy->name, "cannot record %#lx-%#lx: %s; left to the kernel",
			  (unsigned long)r.start, (unsigned long)r.end, strerror(-ret));
		return ret;
	}
	ucow_stat_add(UCOW_ST_REGIONS, 1);
	if (policy->regions_counter)
		ucow_count(policy->regions_counter, 1);
	ucow_debug(policy->name, "managing %#lx-%#lx", (unsigned long)r.start,
		   (unsigned long)r.end);
	return 0;
}

void engine_unmanage(uintptr_t start, uintptr_t end)
{
	registry_remove(&ucow_registry, start, end);
	if (engine_state.uffd < 0)
		return;
	uffd_ctl_unregister(start, end - start);
	uffd_ctl_wake(start, end - start);
}

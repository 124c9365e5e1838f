/* uffd.c: opening a userfaultfd, probing its features, and thin helpers per ioctl. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "filter_probe.h"
#include "procfs.h"
#include "sys.h"
#include "uffd.h"

const struct ucow_uffd_feature ucow_uffd_features[] = {
	{ UFFD_FEATURE_MISSING_SHMEM, "MISSING_SHMEM", "shmem holes: missing faults on tmpfs/memfd" },
	{ UFFD_FEATURE_EVENT_UNMAP, "EVENT_UNMAP", "registry follows munmap in kernel order" },
	{ UFFD_FEATURE_EVENT_REMAP, "EVENT_REMAP", "registry follows mremap in kernel order" },
	{ UFFD_FEATURE_EVENT_REMOVE, "EVENT_REMOVE", "MADV_DONTNEED/REMOVE on managed memory" },
	{ UFFD_FEATURE_EVENT_FORK, "EVENT_FORK", "not used: the fork child registers itself" },
	{ UFFD_FEATURE_THREAD_ID, "THREAD_ID", "names the faulting thread in debug logs" },
	{ UFFD_FEATURE_POISON, "POISON", "a fault that cannot be resolved gets SIGBUS, not wrong bytes" },
	{ UFFD_FEATURE_PAGEFAULT_FLAG_WP, "WP", "not used yet" },
	{ UFFD_FEATURE_MINOR_SHMEM, "MINOR_SHMEM", "not used yet" },
	{ UFFD_FEATURE_EXACT_ADDRESS, "EXACT_ADDRESS", "not used" },
	{ UFFD_FEATURE_WP_UNPOPULATED, "WP_UNPOPULATED", "not used yet" },
	{ UFFD_FEATURE_WP_ASYNC, "WP_ASYNC", "not used yet" },
	{ UFFD_FEATURE_MOVE, "MOVE", "not used yet" },
	{ UFFD_FEATURE_SIGBUS, "SIGBUS", "not used: syscalls on missing pages would fail" },
	{ 0, NULL, NULL },
};

static int open_syscall(int flags)
{
	int fd = (int)syscall(SYS_userfaultfd, flags);

	return fd < 0 ? -errno : fd;
}

static int open_dev(int flags)
{
	int dev = open("/dev/userfaultfd", O_RDWR | O_CLOEXEC);
	int fd;

	if (dev < 0)
		return -errno;
	fd = ioctl(dev, USERFAULTFD_IOC_NEW, flags);
	fd = fd < 0 ? -errno : fd;
	close(dev);
	return fd;
}

/* Why an open failed, in words: what each way answered, and what that proves. */
static void explain(char *why, size_t whylen, int err_sys, int err_dev, bool allow_user_only)
{
	/* The sysctl exists exactly when the kernel was built with CONFIG_USERFAULTFD. */
	bool built = access("/proc/sys/vm/unprivileged_userfaultfd", F_OK) == 0;
	int filters, filtered = filter_mode(&filters) == 2;
	char sys[64], dev[64];

	snprintf(sys, sizeof(sys), "%s", err_sys ? strerror(err_sys) : "not tried: the filter kills on it");
	snprintf(dev, sizeof(dev), "%s", err_dev ? strerror(err_dev) : "not tried: the filter kills on it");
	if (err_sys == ENOSYS && !built && err_dev == ENOENT) {
		snprintf(why, whylen, "this kernel has no userfaultfd (CONFIG_USERFAULTFD)");
	} else if (err_sys == EMFILE || err_sys == ENFILE) {
		snprintf(why, whylen, "no descriptor is free for a userfaultfd (%s): the program uses "
			 "every one its limit allows (ulimit -n)", sys);
	} else if (filtered && (err_sys == ENOSYS || !err_sys)) {
		/* ENOSYS from a kernel that has the call: only a filter says that. */
		snprintf(why, whylen, "a seccomp filter refuses userfaultfd (userfaultfd: %s; "
			 "/dev/userfaultfd: %s): allow userfaultfd in the filter, or run without it",
			 sys, dev);
	} else {
		snprintf(why, whylen,
			 "userfaultfd is not permitted here (userfaultfd: %s; /dev/userfaultfd: %s): "
			 "run as root or with CAP_SYS_PTRACE, set sysctl vm.unprivileged_userfaultfd=1, "
			 "or give this user read-write access to /dev/userfaultfd%s%s",
			 sys, dev, filtered ? ", and check this process's seccomp filter" : "",
			 allow_user_only ? "" : "; UCOW_USER_MODE_ONLY=on manages anyway, at the "
			 "risk of EFAULT from syscalls that touch untouched pages");
	}
}

int uffd_open(bool allow_user_only, enum ucow_uffd_mode *mode, char *why, size_t whylen)
{
	const int flags = O_CLOEXEC | O_NONBLOCK;
	bool sys_ok = filter_allows(UCOW_SYS_USERFAULTFD);
	int fd, err_sys = 0, err_dev = 0;

	/* 0 below: not tried, the process's seccomp filter kills on it (filter_probe). */
	if (sys_ok) {
		fd = open_syscall(flags);
		if (fd >= 0)
			goto full;
		err_sys = -fd;
	}
	/*
	 * ENOSYS does not prove the kernel lacks userfaultfd: a seccomp filter says it too
	 * (systemd's SystemCallErrorNumber=, user-notify without a listener). /dev/userfaultfd
	 * is another way in, which such a filter may not cover.
	 */
	if (filter_allows(UCOW_SYS_DEV_USERFAULTFD)) {
		fd = open_dev(flags);
		if (fd >= 0)
			goto full;
		err_dev = -fd;
	}
	if (allow_user_only && sys_ok && err_sys != ENOSYS) {
		fd = open_syscall(flags | UFFD_USER_MODE_ONLY);
		if (fd >= 0) {
			*mode = UCOW_UFFD_USER_ONLY;
			return fd;
		}
	}
	explain(why, whylen, err_sys, err_dev, allow_user_only);
	*mode = UCOW_UFFD_NONE;
	return err_sys ? -err_sys : err_dev ? -err_dev : -EPERM;
full:
	*mode = UCOW_UFFD_FULL;
	return fd;
}

int uffd_api(int fd, uint64_t want, uint64_t *available, uint64_t *granted)
{
	struct uffdio_api api = { .api = UFFD_API, .features = 0 };
	uint64_t avail;
	int probe;

	/* A fault that cannot be resolved must not end in a call the filter kills on. */
	if (!filter_allows(UCOW_SYS_UFFDIO_POISON))
		want &= ~(uint64_t)UFFD_FEATURE_POISON;
	/* The features a kernel offers are learnt on a throwaway fd: UFFDIO_API is once per fd. */
	probe = filter_allows(UCOW_SYS_USERFAULTFD) ?
		(int)syscall(SYS_userfaultfd, O_CLOEXEC | UFFD_USER_MODE_ONLY) : -1;
	if (probe >= 0) {
		if (ioctl(probe, UFFDIO_API, &api) < 0)
			api.features = 0;
		close(probe);
	}
	avail = api.features;
	if (available)
		*available = avail;
	if (probe < 0)
		avail = want;	/* cannot tell in advance; ask and see */
	api = (struct uffdio_api){ .api = UFFD_API, .features = want & avail };
	if (ioctl(fd, UFFDIO_API, &api) < 0)
		return -errno;
	if (granted)
		*granted = want & avail;
	if (available && probe < 0)
		*available = api.features;
	return 0;
}

int uffd_probe(bool allow_user_only, enum ucow_uffd_mode *mode, uint64_t *features,
	       char *why, size_t whylen)
{
	int fd = uffd_open(allow_user_only, mode, why, whylen);
	struct uffdio_api api = { .api = UFFD_API, .features = 0 };
	int ret = 0;

	*features = 0;
	if (fd < 0) {
		/* Even without permission, a user-mode-only fd shows what the kernel offers. */
		int probe = filter_allows(UCOW_SYS_USERFAULTFD) ?
			    (int)syscall(SYS_userfaultfd, O_CLOEXEC | UFFD_USER_MODE_ONLY) : -1;

		if (probe >= 0) {
			if (ioctl(probe, UFFDIO_API, &api) == 0)
				*features = api.features;
			close(probe);
		}
		return fd;
	}
	if (ioctl(fd, UFFDIO_API, &api) < 0)
		ret = -errno;
	else
		*features = api.features;
	close(fd);
	return ret;
}

int uffd_register(int fd, uintptr_t start, size_t len, uint64_t mode, uint64_t *ioctls)
{
	struct uffdio_register reg = {
		.range = { .start = start, .len = len },
		.mode = mode,
	};

	if (ioctl(fd, UFFDIO_REGISTER, &reg) < 0)
		return -errno;
	if (ioctls)
		*ioctls = reg.ioctls;
	return 0;
}

int uffd_unregister(int fd, uintptr_t start, size_t len)
{
	struct uffdio_range range = { .start = start, .len = len };

	return ioctl(fd, UFFDIO_UNREGISTER, &range) < 0 ? -errno : 0;
}

long uffd_copy(int fd, uintptr_t dst, const void *src, size_t len, bool wake)
{
	struct uffdio_copy copy = {
		.dst = dst,
		.src = (uintptr_t)src,
		.len = len,
		.mode = wake ? 0 : UFFDIO_COPY_MODE_DONTWAKE,
	};

	if (ioctl(fd, UFFDIO_COPY, &copy) == 0)
		return (long)len;
	/* A partial copy reports the bytes done; the caller answers for the rest. */
	if (copy.copy > 0)
		return copy.copy;
	return copy.copy < 0 ? copy.copy : -errno;
}

long uffd_zeropage(int fd, uintptr_t dst, size_t len, bool wake)
{
	struct uffdio_zeropage zero = {
		.range = { .start = dst, .len = len },
		.mode = wake ? 0 : UFFDIO_ZEROPAGE_MODE_DONTWAKE,
	};

	if (ioctl(fd, UFFDIO_ZEROPAGE, &zero) == 0)
		return (long)len;
	if (zero.zeropage > 0)
		return zero.zeropage;
	return zero.zeropage < 0 ? zero.zeropage : -errno;
}

long uffd_poison(int fd, uintptr_t dst, size_t len)
{
	struct uffdio_poison poison = {
		.range = { .start = dst, .len = len },
		.mode = 0,
	};

	if (ioctl(fd, UFFDIO_POISON, &poison) == 0)
		return (long)len;
	if (poison.updated > 0)
		return poison.updated;
	return poison.updated < 0 ? poison.updated : -errno;
}

int uffd_registered(int fd, uintptr_t addr)
{
	/*
	 * A copy that asks for write protection where none was registered fails with EINVAL
	 * once the range is found registered, and with ENOENT when it is not; either way
	 * before anything is copied.
	 */
	struct uffdio_copy copy = {
		.dst = addr,
		.src = addr,
		.len = UCOW_PAGE_SIZE,
		.mode = UFFDIO_COPY_MODE_WP | UFFDIO_COPY_MODE_DONTWAKE,
	};

	if (ioctl(fd, UFFDIO_COPY, &copy) == 0)
		return 1;	/* not reached while ucow registers missing faults only */
	switch (errno) {
	case EINVAL:
	case EEXIST:
		return 1;
	case ENOENT:
		return 0;
	default:
		return -errno;
	}
}

int uffd_events_read(int fd)
{
	/*
	 * Clearing write protection where ucow never asked for any: the kernel looks at
	 * mmap_changing before anything else (EAGAIN), then finds no range registered for
	 * write protection (ENOENT). The page is ucow's own code, never registered.
	 */
	struct uffdio_writeprotect wp = {
		.range = { .start = (uintptr_t)uffd_events_read & UCOW_PAGE_MASK,
			   .len = UCOW_PAGE_SIZE },
		.mode = 0,
	};

	if (ioctl(fd, UFFDIO_WRITEPROTECT, &wp) == 0)
		return 1;
	switch (errno) {
	case EAGAIN:
		return 0;
	case ENOENT:
		return 1;
	default:
		return -errno;
	}
}

int uffd_wake(int fd, uintptr_t start, size_t len)
{
	struct uffdio_range range = { .start = start, .len = len };

	return ioctl(fd, UFFDIO_WAKE, &range) < 0 ? -errno : 0;
}

bool uffd_is_userfaultfd(int fd)
{
	return procfs_fd_is_anon(fd, "userfaultfd");
}

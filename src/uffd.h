/* uffd.h: the userfaultfd interface — opening, feature probing, and one helper per ioctl.
 * Newer kernel constants than the system headers know are in compat.h, probed at run time. */
#ifndef UCOW_UFFD_H
#define UCOW_UFFD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <linux/userfaultfd.h>

#include "compat.h"

enum ucow_uffd_mode {
	UCOW_UFFD_NONE = 0,
	UCOW_UFFD_FULL,		/* handles faults from kernel mode too */
	UCOW_UFFD_USER_ONLY,	/* kernel-mode accesses to missing pages fail with EFAULT */
};

/* The events every managed process needs, in kernel order, to keep its registry true. */
#define UCOW_UFFD_REQUIRED \
	(UFFD_FEATURE_EVENT_REMAP | UFFD_FEATURE_EVENT_REMOVE | UFFD_FEATURE_EVENT_UNMAP | \
	 UFFD_FEATURE_MISSING_SHMEM)
#define UCOW_UFFD_WANTED (UCOW_UFFD_REQUIRED | UFFD_FEATURE_THREAD_ID | UFFD_FEATURE_POISON)

struct ucow_uffd_feature {
	uint64_t bit;
	const char *name;
	const char *use;	/* what ucow uses it for */
};

/* Every feature ucow knows by name, NULL-terminated. */
extern const struct ucow_uffd_feature ucow_uffd_features[];

/*
 * Opens a userfaultfd (O_CLOEXEC | O_NONBLOCK): userfaultfd(2), then /dev/userfaultfd,
 * then, if @allow_user_only, userfaultfd(UFFD_USER_MODE_ONLY). Returns the fd and sets
 * @mode, or -errno and writes how to fix it into @why.
 */
int uffd_open(bool allow_user_only, enum ucow_uffd_mode *mode, char *why, size_t whylen);
/* Handshakes with @want ∩ available; @available and @granted may be NULL. */
int uffd_api(int fd, uint64_t want, uint64_t *available, uint64_t *granted);
/* What a fresh userfaultfd would offer, without keeping one. */
int uffd_probe(bool allow_user_only, enum ucow_uffd_mode *mode, uint64_t *features,
	       char *why, size_t whylen);

int uffd_register(int fd, uintptr_t start, size_t len, uint64_t mode, uint64_t *ioctls);
int uffd_unregister(int fd, uintptr_t start, size_t len);
/* Each returns the bytes filled (> 0) or -errno as the kernel gave it. */
long uffd_copy(int fd, uintptr_t dst, const void *src, size_t len, bool wake);
long uffd_zeropage(int fd, uintptr_t dst, size_t len, bool wake);
long uffd_poison(int fd, uintptr_t dst, size_t len);
int uffd_wake(int fd, uintptr_t start, size_t len);
/*
 * Whether the page at @addr lies in a range registered with @fd (for missing faults only,
 * as ucow registers): 1 yes, 0 no, -EAGAIN while the address space changes. Changes nothing.
 */
int uffd_registered(int fd, uintptr_t addr);
/*
 * Whether every event the kernel has begun for @fd's address space was read: 1 yes, 0 one is
 * still on its way (the kernel's mmap_changing), -errno. Changes nothing.
 */
int uffd_events_read(int fd);
/* Whether @fd in this thread's table is a userfaultfd at all (the program may have closed or
 * replaced ucow's number before ucow looked again). */
bool uffd_is_userfaultfd(int fd);

#endif

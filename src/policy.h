/* policy.h: what a memory policy gives the engine — a small table of functions over a
 * region. Adding a policy never touches the engine. */
#ifndef UCOW_POLICY_H
#define UCOW_POLICY_H

#include <stdbool.h>
#include <stdint.h>

#include "region.h"
#include "stats.h"

#define UCOW_FAULT_WRITE 0x1u

struct ucow_fault {
	uintptr_t addr;		/* page aligned */
	unsigned int flags;	/* UCOW_FAULT_* */
};

struct ucow_policy {
	const char *name;
	/*
	 * Resolves a missing-page fault in @r (a copy, holding a source reference). Returns
	 * 0 when the faulting thread may go on (the page was filled, or someone else filled
	 * it); -EAGAIN when the address space is changing (the engine applies pending
	 * events and asks again); another negative errno when it cannot be resolved.
	 */
	int (*fault)(const struct ucow_region *r, const struct ucow_fault *f);
	/*
	 * Whether handing the range back to the kernel is correct when a fault cannot be
	 * resolved (shmem holes: yes; patterns the kernel knows nothing of: no, poison).
	 */
	bool kernel_fallback;
	/* Counted when a region of this policy is registered. */
	enum ucow_stat regions_stat;
	/* Optional, with UCOW_STATS: measures what @r holds before it is unmapped. */
	void (*account)(const struct ucow_region *r);
	/* Optional: pages of [start,end) were discarded (MADV_DONTNEED, MADV_REMOVE). */
	void (*discard)(const struct ucow_region *r, uintptr_t start, uintptr_t end);
	/*
	 * Optional: gives every page of @r whose content ucow deferred that content for real,
	 * so that @r can leave ucow (the program registers it with its own userfaultfd; a fork
	 * child that cannot be managed). With @registered, through the userfaultfd while @r is
	 * still registered; otherwise @r is no longer registered (the kernel dropped it in a
	 * fork child) and its missing pages are written. NULL: the kernel's own fill is right.
	 * Program threads only; 0 or -errno.
	 */
	int (*materialise)(const struct ucow_region *r, bool registered);
	/* Once materialised, @r is plain memory and may leave ucow (nothing else is deferred). */
	bool plain_when_filled;
	/*
	 * Optional: @r was handed back to the kernel for good (after materialise): undoes what
	 * ucow mapped ahead of need, so that the pages the program never touched are missing
	 * again, as the kernel would have left them (the program's own userfaultfd must see
	 * their faults).
	 */
	void (*released)(const struct ucow_region *r);
};

extern const struct ucow_policy ucow_shmem_holes_policy;

/* Called by interposed mmap for an fd on tmpfs (the caller checked): a policy claims the
 * new mapping, or returns NULL. */
const struct ucow_policy *shmem_holes_claim(int prot, int flags, int fd, uint64_t *data);
/* Interposed madvise, after a successful call: MADV_HUGEPAGE and MADV_NOHUGEPAGE over
 * managed shmem mappings choose how their writes are filled. */
void shmem_holes_advise(uintptr_t start, uintptr_t end, int advice);

#endif

/* policy.h: everything a memory policy is — one row of ucow_policies[] (policies.c) holding
 * its operations; the code around the program's calls walks the table and names no policy. */
#ifndef UCOW_POLICY_H
#define UCOW_POLICY_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "region.h"
#include "stats.h"

#define UCOW_FAULT_WRITE 0x1u
/* Asked again after EAGAIN: a window would be undone by the next change as often as not (a
 * thread discarding it in a loop), so the page alone, which makes progress. */
#define UCOW_FAULT_AGAIN 0x2u

struct ucow_fault {
	uintptr_t addr;		/* page aligned */
	unsigned int flags;	/* UCOW_FAULT_* */
};

/* An mmap call as the program made it, offered to each policy in table order (claim). */
struct ucow_mmap_call {
	void *addr;
	size_t len;
	int prot;
	int flags;		/* a claim may rewrite flags and fd into what the kernel is given */
	int fd;
	off_t off;
	bool tmpfs;		/* fd is a file on tmpfs (a memfd, /dev/shm): asked once */
};

/*
 * Everything a policy is. Only name is required; every other operation is optional (NULL:
 * the policy has nothing to do there). interpose.c, fork.c, the stats writer and the handler
 * walk ucow_policies[] (policies.c) or call a region's policy: they name no policy.
 */
struct ucow_policy {
	const char *name;

	/* ---- start-up ---- */
	/* Once, from the constructor, after the knobs were read and found valid. */
	void (*init)(void);

	/* ---- new mappings (interposed mmap, program threads) ---- */
	/*
	 * Whether this policy takes @call: 1 (and *@data, the region's data), 0 not ours, or
	 * -errno: the mmap fails with that error. Asked in table order until one says 1; a
	 * policy may rewrite @call->flags/fd for the kernel even when it returns 0 (a zero
	 * refpage is plain anonymous memory).
	 */
	int (*claim)(struct ucow_mmap_call *call, uint64_t *data);
	/*
	 * The kernel mapped a claimed call at [start, start+call->len): the policy manages it
	 * (engine_manage, or anything else). 0, or -errno after unmapping it (the mmap fails).
	 */
	int (*manage)(uintptr_t start, const struct ucow_mmap_call *call, uint64_t data);

	/* ---- the handler thread ---- */
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
	/* Pages of [start,end) of @r were discarded (MADV_DONTNEED, MADV_REMOVE events). */
	void (*discard)(const struct ucow_region *r, uintptr_t start, uintptr_t end);

	/* ---- the program's other calls on memory (program threads) ---- */
	/*
	 * Interposed madvise of page-aligned [start,end), on any memory, before the real call:
	 * returns the advice the kernel is given (@advice, or one the policy needs instead).
	 */
	int (*advise_before)(uintptr_t start, uintptr_t end, int advice);
	/* ... and after it succeeded, with the program's advice. */
	void (*advise_after)(uintptr_t start, uintptr_t end, int advice);
	/* Interposed mremap, after it succeeded and the registry followed it. */
	void (*remapped)(uintptr_t old, size_t old_len, uintptr_t new, size_t new_len, int flags);
	/* Interposed mprotect of [start,end), after it succeeded. */
	void (*protected)(uintptr_t start, uintptr_t end, int prot);

	/* ---- fork (fork.c, around the engine's own part) ---- */
	void (*fork_prepare)(void);	/* before the engine freezes the registry */
	void (*fork_parent)(void);	/* after the engine let go */
	void (*fork_child_early)(void);	/* in the child, before the engine registers ranges */
	void (*fork_child)(void);	/* in the child, once it is managed */

	/* ---- leaving ucow ---- */
	/*
	 * Gives every page of @r whose content ucow deferred that content for real,
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
	 * What mremap adds beside a region (growth) or leaves behind it (the old range of
	 * MREMAP_DONTUNMAP) reads zeroes, as new anonymous memory does: the registry never
	 * extends the region there, not even for a moment (a fault meanwhile would get its
	 * content for good).
	 */
	bool remap_zero;
	/*
	 * Its regions are recorded without a userfaultfd registration (filled when mapped): no
	 * event follows them, so an interposed mremap moves them itself.
	 */
	bool eventless;
	/*
	 * @r was handed back to the kernel for good (after materialise): undoes what
	 * ucow mapped ahead of need, so that the pages the program never touched are missing
	 * again, as the kernel would have left them (the program's own userfaultfd must see
	 * their faults).
	 */
	void (*released)(const struct ucow_region *r);

	/* ---- statistics (UCOW_STATS) ---- */
	/* Bumped when a region of this policy is registered (one of its own counters). */
	atomic_ulong *regions_counter;
	/* Faults the handler hands it: [0] reads, [1] writes (two of its own counters). */
	atomic_ulong *faults_counter;
	/* Pages its pattern fault (pattern_fault) fills, windows included. */
	atomic_ulong *pages_filled;
	/*
	 * Measures what @r holds: before it is unmapped or at exit, into its counters; with
	 * @live (`ucow stat`, the stats file's refresh) into live counters of its own, which
	 * stats_json adds and live_clear empties, so that nothing is counted twice.
	 */
	void (*account)(const struct ucow_region *r, bool live);
	void (*live_clear)(void);
	/* This policy's group of the stats object, ',"name":{...}', snprintf-like. */
	int (*stats_json)(char *buf, size_t size);
	/* A fork child counts from zero: its parent reports what came before. */
	void (*stats_reset)(void);
};

/* Every policy, in the order mmap claims are asked; NULL-terminated (policies.c). */
extern const struct ucow_policy *const ucow_policies[];

/* for_each_policy(pp) { (*pp)->... }: @pp walks the table. */
#define for_each_policy(pp) for (const struct ucow_policy *const *pp = ucow_policies; *pp; pp++)

#endif

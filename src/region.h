/* region.h: the registry of managed address ranges, each with its policy, source and
 * protection; splits and merges as the program unmaps, remaps and protects. */
#ifndef UCOW_REGION_H
#define UCOW_REGION_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct ucow_policy;
struct ucow_source;

struct ucow_region {
	uintptr_t start;		/* page aligned */
	uintptr_t end;			/* page aligned, exclusive */
	const struct ucow_policy *policy;
	struct ucow_source *src;	/* a reference is held per region; NULL if none */
	uint64_t offset;		/* position of @start in @src (file offset) */
	uint64_t data;			/* the policy's own word (mode, pattern id, value...) */
	uint64_t birth;			/* the engine_manage call that made it: pieces of one
					 * mapping merge back, two mappings never do */
	int prot;
};

/* A change the handler thread made while a fork held the registry, applied after it. */
struct registry_op {
	enum { REGISTRY_OP_REMOVE, REGISTRY_OP_REMOVE_BIRTH, REGISTRY_OP_MOVE } op;
	uintptr_t start, end;		/* MOVE: from, to */
	size_t len;			/* MOVE */
	uint64_t birth;			/* REMOVE_BIRTH */
	bool keep_old;			/* MOVE */
};

#define REGISTRY_PENDING_MAX 64

struct ucow_registry {
	pthread_rwlock_t lock;
	/*
	 * A fork holds the lock (for reading, so the handler still looks regions up) from
	 * before glibc takes its own fork-time locks (malloc's arenas, stdio) until fork
	 * returns. A thread holding one of those may fault on managed memory meanwhile: the
	 * handler never waits for the fork, it queues its changes here.
	 */
	atomic_bool frozen;
	atomic_size_t npending;
	struct registry_op pending[REGISTRY_PENDING_MAX];
	struct ucow_region *v;		/* sorted by start, never overlapping */
	size_t n;
	size_t cap;
	atomic_size_t count;		/* == n, readable without the lock */
	atomic_uintptr_t lo, hi;	/* bounds of all regions, readable without the lock */
};

extern struct ucow_registry ucow_registry;

void registry_init(struct ucow_registry *reg);
/* Drops every region (releasing sources) and the storage. */
void registry_destroy(struct ucow_registry *reg);

/* Whether changes the handler made while a fork held the registry still wait to be applied
 * (they are, once the fork is over). */
static inline bool registry_queued(struct ucow_registry *reg)
{
	return atomic_load_explicit(&reg->npending, memory_order_acquire) != 0;
}

/* Where @addr of @r lies in its file. */
static inline off_t region_file_offset(const struct ucow_region *r, uintptr_t addr)
{
	return (off_t)(r->offset + (addr - r->start));
}

/* Lock-free hint: false means no region intersects [start, end). */
static inline bool registry_may_overlap(struct ucow_registry *reg, uintptr_t start, uintptr_t end)
{
	if (atomic_load_explicit(&reg->count, memory_order_acquire) == 0)
		return false;
	return start < atomic_load_explicit(&reg->hi, memory_order_relaxed) &&
	       end > atomic_load_explicit(&reg->lo, memory_order_relaxed);
}

/*
 * Each call below takes the lock itself. Ranges are page aligned by the caller.
 * registry_insert() takes a new reference on @r->src; -EEXIST if [start,end) overlaps a
 * region, -ENOMEM if storage cannot grow.
 */
int registry_insert(struct ucow_registry *reg, const struct ucow_region *r);
/* Removes [start,end) from every region it touches, splitting them; returns pages removed. */
size_t registry_remove(struct ucow_registry *reg, uintptr_t start, uintptr_t end);
/* The same, only for the parts of [start,end) that belong to regions of @birth. */
size_t registry_remove_birth(struct ucow_registry *reg, uintptr_t start, uintptr_t end,
			     uint64_t birth);
/* Sets the protection of [start,end) where it is managed, splitting regions. */
int registry_protect(struct ucow_registry *reg, uintptr_t start, uintptr_t end, int prot);
/*
 * Sets the policy word of the regions of @policy inside [start,end) to @data, splitting them
 * at the bounds, in one step: a lookup sees the old word or the new one, never a gap.
 * Returns the bytes changed, or -ENOMEM when the regions cannot be split.
 */
long registry_set_data(struct ucow_registry *reg, uintptr_t start, uintptr_t end,
		       const struct ucow_policy *policy, uint64_t data);
/*
 * Moves the managed parts of [from,from+len) to [to,to+len) (mremap). Anything managed at
 * the destination is dropped first. With @keep_old the source stays managed too.
 */
int registry_move(struct ucow_registry *reg, uintptr_t from, uintptr_t to, size_t len,
		  bool keep_old);
/* Copies the region containing @addr to @out (taking a source reference when @ref). */
bool registry_lookup(struct ucow_registry *reg, uintptr_t addr, struct ucow_region *out, bool ref);
bool registry_overlaps(struct ucow_registry *reg, uintptr_t start, uintptr_t end);
/* Calls @fn on a copy of every region intersecting [start,end), clipped to it, under the lock. */
void registry_foreach(struct ucow_registry *reg, uintptr_t start, uintptr_t end,
		      void (*fn)(const struct ucow_region *r, void *arg), void *arg);
/*
 * Copies (holding no source reference) up to @max regions intersecting [start,end), clipped
 * to it, into @out, for work that must run outside the lock; returns how many. *@resume is
 * the start of the first region left out, or 0 when none was.
 */
size_t registry_collect(struct ucow_registry *reg, uintptr_t start, uintptr_t end,
			struct ucow_region *out, size_t max, uintptr_t *resume);
size_t registry_count(struct ucow_registry *reg);
/*
 * Calls @fn on copies (holding no source reference) of the regions intersecting [start,end),
 * clipped to it, a batch at a time outside the lock: @fn may change the registry.
 */
void registry_walk(struct ucow_registry *reg, uintptr_t start, uintptr_t end,
		   void (*fn)(const struct ucow_region *r, void *arg), void *arg);

/*
 * fork: registry_freeze() before it (the caller blocks its signals), registry_thaw() after
 * it in the parent, registry_fork_child() in the child: both apply what the handler queued.
 */
void registry_freeze(struct ucow_registry *reg);
void registry_thaw(struct ucow_registry *reg);
void registry_fork_child(struct ucow_registry *reg);
/* Whether @fn says yes to (a copy of) some region intersecting [start,end), under the lock. */
bool registry_any(struct ucow_registry *reg, uintptr_t start, uintptr_t end,
		  bool (*fn)(const struct ucow_region *r, void *arg), void *arg);

#endif

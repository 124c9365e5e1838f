/* region.c: the registry of managed ranges, a sorted array in memory ucow maps for itself. */
#include <errno.h>
#include <sched.h>
#include <string.h>
#include <sys/mman.h>

#include "region.h"
#include "sigguard.h"
#include "source.h"
#include "sys.h"

struct ucow_registry ucow_registry = {
	.lock = PTHREAD_RWLOCK_INITIALIZER,
};

__thread unsigned int ucow_sigguard_depth;

static void write_lock(struct ucow_registry *reg, struct sigguard *g)
{
	sigguard_enter(g);
	pthread_rwlock_wrlock(&reg->lock);
}

static void read_lock(struct ucow_registry *reg, struct sigguard *g)
{
	sigguard_enter(g);
	pthread_rwlock_rdlock(&reg->lock);
}

static void unlock(struct ucow_registry *reg, struct sigguard *g)
{
	pthread_rwlock_unlock(&reg->lock);
	sigguard_leave(g);
}

static size_t remove_locked(struct ucow_registry *reg, uintptr_t start, uintptr_t end);
static size_t remove_birth_locked(struct ucow_registry *reg, uintptr_t start, uintptr_t end,
				  uint64_t birth);
static int move_locked(struct ucow_registry *reg, uintptr_t from, uintptr_t to, size_t len,
		       bool keep_old);
static void publish(struct ucow_registry *reg);

static void apply_op(struct ucow_registry *reg, const struct registry_op *op)
{
	switch (op->op) {
	case REGISTRY_OP_REMOVE:
		remove_locked(reg, op->start, op->end);
		break;
	case REGISTRY_OP_REMOVE_BIRTH:
		remove_birth_locked(reg, op->start, op->end, op->birth);
		break;
	case REGISTRY_OP_MOVE:
		move_locked(reg, op->start, op->end, op->len, op->keep_old);
		break;
	}
}

/* Applies the queued changes in order. Only the handler queues, and only while frozen;
 * one that it adds while this runs is applied too (the count is reset by exchange). */
static void registry_drain(struct ucow_registry *reg)
{
	struct sigguard g;
	size_t done = 0, n;

	if (!atomic_load(&reg->npending))
		return;
	write_lock(reg, &g);
	do {
		n = atomic_load_explicit(&reg->npending, memory_order_acquire);
		for (; done < n; done++)
			apply_op(reg, &reg->pending[done]);
	} while (!atomic_compare_exchange_strong(&reg->npending, &n, 0));
	publish(reg);
	unlock(reg, &g);
}

/*
 * On the handler while a fork holds the registry: @op is queued, not applied (it would wait
 * for the fork, which may wait for a thread that waits for the handler). Otherwise anything
 * queued is applied first, so that changes keep the handler's order.
 */
static bool deferred(struct ucow_registry *reg, const struct registry_op *op)
{
	size_t n;

	if (!ucow_in_handler)
		return false;
	if (!atomic_load(&reg->frozen)) {
		registry_drain(reg);
		return false;
	}
	while ((n = atomic_load(&reg->npending)) == REGISTRY_PENDING_MAX &&
	       atomic_load(&reg->frozen))
		sched_yield();
	if (n == REGISTRY_PENDING_MAX) {
		registry_drain(reg);
		return false;
	}
	reg->pending[n] = *op;
	atomic_store_explicit(&reg->npending, n + 1, memory_order_release);
	/* Thawed meanwhile: its drain may have missed this one. */
	if (!atomic_load(&reg->frozen))
		registry_drain(reg);
	return true;
}

void registry_freeze(struct ucow_registry *reg)
{
	/* Frozen first: from here the handler queues instead of waiting for the lock. */
	atomic_store(&reg->frozen, true);
	pthread_rwlock_rdlock(&reg->lock);
}

void registry_thaw(struct ucow_registry *reg)
{
	atomic_store(&reg->frozen, false);
	pthread_rwlock_unlock(&reg->lock);
	registry_drain(reg);
}

void registry_fork_child(struct ucow_registry *reg)
{
	pthread_rwlock_init(&reg->lock, NULL);
	atomic_store(&reg->frozen, false);
	registry_drain(reg);
}

void registry_init(struct ucow_registry *reg)
{
	memset(reg, 0, sizeof(*reg));
	pthread_rwlock_init(&reg->lock, NULL);
}

static void publish(struct ucow_registry *reg)
{
	if (reg->n) {
		atomic_store_explicit(&reg->lo, reg->v[0].start, memory_order_relaxed);
		atomic_store_explicit(&reg->hi, reg->v[reg->n - 1].end, memory_order_relaxed);
	}
	atomic_store_explicit(&reg->count, reg->n, memory_order_release);
}

/* Makes room for @extra more regions; the array lives in memory ucow never manages. */
static int reserve(struct ucow_registry *reg, size_t extra)
{
	size_t cap, bytes, old_bytes;
	void *p;

	if (reg->n + extra <= reg->cap)
		return 0;
	cap = reg->cap ? reg->cap * 2 : 64;
	while (cap < reg->n + extra)
		cap *= 2;
	bytes = UCOW_PAGE_UP(cap * sizeof(*reg->v));
	old_bytes = UCOW_PAGE_UP(reg->cap * sizeof(*reg->v));
	if (reg->v)
		p = sys_mremap(reg->v, old_bytes, bytes, MREMAP_MAYMOVE, NULL);
	else
		p = sys_mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		return -ENOMEM;
	reg->v = p;
	reg->cap = bytes / sizeof(*reg->v);
	return 0;
}

/* Index of the first region whose end is above @addr (n if none). */
static size_t first_after(const struct ucow_registry *reg, uintptr_t addr)
{
	size_t lo = 0, hi = reg->n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (reg->v[mid].end <= addr)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

static void hold(struct ucow_region *r)
{
	if (r->src)
		source_get(r->src);
}

static void release(struct ucow_region *r)
{
	if (r->src)
		source_put(r->src);
}

/* Splits the region strictly containing @addr in two; the caller reserved room. */
static void split_at(struct ucow_registry *reg, uintptr_t addr)
{
	size_t i = first_after(reg, addr);
	struct ucow_region *r;

	if (i == reg->n || reg->v[i].start >= addr)
		return;
	memmove(&reg->v[i + 1], &reg->v[i], (reg->n - i) * sizeof(*reg->v));
	reg->n++;
	r = &reg->v[i];
	r[1].start = addr;
	r[1].offset = r->offset + (addr - r->start);
	r->end = addr;
	hold(&r[1]);
}

static bool mergeable(const struct ucow_region *a, const struct ucow_region *b)
{
	return a->end == b->start && a->policy == b->policy && a->src == b->src &&
	       a->data == b->data && a->prot == b->prot && a->birth == b->birth &&
	       a->offset + (a->end - a->start) == b->offset;
}

/* Merges region @i with its right neighbour when they are one range in disguise. */
static void merge_right(struct ucow_registry *reg, size_t i)
{
	if (i + 1 >= reg->n || !mergeable(&reg->v[i], &reg->v[i + 1]))
		return;
	reg->v[i].end = reg->v[i + 1].end;
	release(&reg->v[i + 1]);
	memmove(&reg->v[i + 1], &reg->v[i + 2], (reg->n - i - 2) * sizeof(*reg->v));
	reg->n--;
}

static void merge_around(struct ucow_registry *reg, uintptr_t start, uintptr_t end)
{
	size_t i = first_after(reg, start);

	if (i > 0)
		i--;
	while (i < reg->n && reg->v[i].start <= end) {
		size_t before = reg->n;

		merge_right(reg, i);
		if (reg->n == before)
			i++;
	}
}

static int insert_locked(struct ucow_registry *reg, const struct ucow_region *r)
{
	size_t i = first_after(reg, r->start);

	if (r->start >= r->end)
		return -EINVAL;
	if (i < reg->n && reg->v[i].start < r->end)
		return -EEXIST;
	if (reserve(reg, 1) < 0)
		return -ENOMEM;
	memmove(&reg->v[i + 1], &reg->v[i], (reg->n - i) * sizeof(*reg->v));
	reg->v[i] = *r;
	hold(&reg->v[i]);
	reg->n++;
	merge_around(reg, r->start, r->end);
	return 0;
}

int registry_insert(struct ucow_registry *reg, const struct ucow_region *r)
{
	struct sigguard g;
	int ret;

	write_lock(reg, &g);
	ret = insert_locked(reg, r);
	publish(reg);
	unlock(reg, &g);
	return ret;
}

static size_t remove_locked(struct ucow_registry *reg, uintptr_t start, uintptr_t end)
{
	size_t i, j, pages = 0;

	if (reserve(reg, 2) == 0) {
		split_at(reg, start);
		split_at(reg, end);
	}
	/* Without room to split, whole regions touching the range go: faults there then
	 * take the engine's unknown-address path, which is correct for every policy's holes. */
	i = first_after(reg, start);
	for (j = i; j < reg->n && reg->v[j].start < end; j++) {
		pages += (reg->v[j].end - reg->v[j].start) / UCOW_PAGE_SIZE;
		release(&reg->v[j]);
	}
	memmove(&reg->v[i], &reg->v[j], (reg->n - j) * sizeof(*reg->v));
	reg->n -= j - i;
	return pages;
}

size_t registry_remove(struct ucow_registry *reg, uintptr_t start, uintptr_t end)
{
	struct registry_op op = { .op = REGISTRY_OP_REMOVE, .start = start, .end = end };
	struct sigguard g;
	size_t pages;

	if (!registry_may_overlap(reg, start, end) || deferred(reg, &op))
		return 0;
	write_lock(reg, &g);
	pages = remove_locked(reg, start, end);
	publish(reg);
	unlock(reg, &g);
	return pages;
}

static size_t remove_birth_locked(struct ucow_registry *reg, uintptr_t start, uintptr_t end,
				  uint64_t birth)
{
	size_t pages = 0;

	while (start < end) {
		size_t i = first_after(reg, start);
		uintptr_t lo, hi;

		while (i < reg->n && reg->v[i].start < end && reg->v[i].birth != birth)
			i++;
		if (i == reg->n || reg->v[i].start >= end)
			break;
		lo = reg->v[i].start > start ? reg->v[i].start : start;
		hi = reg->v[i].end < end ? reg->v[i].end : end;
		pages += remove_locked(reg, lo, hi);
		start = hi;
	}
	return pages;
}

size_t registry_remove_birth(struct ucow_registry *reg, uintptr_t start, uintptr_t end,
			     uint64_t birth)
{
	struct registry_op op = { .op = REGISTRY_OP_REMOVE_BIRTH, .start = start, .end = end,
				  .birth = birth };
	struct sigguard g;
	size_t pages;

	if (!registry_may_overlap(reg, start, end) || deferred(reg, &op))
		return 0;
	write_lock(reg, &g);
	pages = remove_birth_locked(reg, start, end, birth);
	publish(reg);
	unlock(reg, &g);
	return pages;
}

int registry_protect(struct ucow_registry *reg, uintptr_t start, uintptr_t end, int prot)
{
	struct sigguard g;
	int ret = 0;

	if (!registry_may_overlap(reg, start, end))
		return 0;
	write_lock(reg, &g);
	if (reserve(reg, 2) < 0) {
		ret = -ENOMEM;
		goto out;
	}
	split_at(reg, start);
	split_at(reg, end);
	for (size_t i = first_after(reg, start); i < reg->n && reg->v[i].start < end; i++)
		reg->v[i].prot = prot;
	merge_around(reg, start, end);
out:
	publish(reg);
	unlock(reg, &g);
	return ret;
}

long registry_set_data(struct ucow_registry *reg, uintptr_t start, uintptr_t end,
		       const struct ucow_policy *policy, uint64_t data)
{
	struct sigguard g;
	long bytes = 0;

	if (!registry_may_overlap(reg, start, end))
		return 0;
	write_lock(reg, &g);
	if (reserve(reg, 2) < 0) {
		bytes = -ENOMEM;
		goto out;
	}
	split_at(reg, start);
	split_at(reg, end);
	for (size_t i = first_after(reg, start); i < reg->n && reg->v[i].start < end; i++) {
		if (reg->v[i].policy != policy)
			continue;
		reg->v[i].data = data;
		bytes += (long)(reg->v[i].end - reg->v[i].start);
	}
	merge_around(reg, start, end);
out:
	publish(reg);
	unlock(reg, &g);
	return bytes;
}

static int move_locked(struct ucow_registry *reg, uintptr_t from, uintptr_t to, size_t len,
		       bool keep_old)
{
	static struct ucow_region few[32];	/* write lock held: no mapping made for a few */
	struct ucow_region *moved = few;
	size_t k = 0, i, bytes = 0;
	int ret = 0;

	if (reserve(reg, 2) < 0)
		return -ENOMEM;
	split_at(reg, from);
	split_at(reg, from + len);
	i = first_after(reg, from);
	while (i + k < reg->n && reg->v[i + k].start < from + len)
		k++;
	if (k == 0) {
		remove_locked(reg, to, to + len);
		return 0;
	}
	/* A map of its own only for many: one made now may land in a hole the program keeps. */
	bytes = k > sizeof(few) / sizeof(few[0]) ? UCOW_PAGE_UP(k * sizeof(*moved)) : 0;
	if (bytes && (moved = sys_mmap(NULL, bytes, PROT_READ | PROT_WRITE,
				       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0)) == MAP_FAILED)
		return -ENOMEM;
	memcpy(moved, &reg->v[i], k * sizeof(*moved));
	for (size_t m = 0; m < k; m++)
		hold(&moved[m]);	/* the moved copies' own references */
	if (!keep_old)
		remove_locked(reg, from, from + len);
	remove_locked(reg, to, to + len);
	for (size_t m = 0; m < k; m++) {
		moved[m].start = moved[m].start - from + to;
		moved[m].end = moved[m].end - from + to;
		if (insert_locked(reg, &moved[m]) < 0)
			ret = -ENOMEM;
		release(&moved[m]);
	}
	if (keep_old)	/* the kept source was split at from and from + len */
		merge_around(reg, from, from + len);
	if (bytes)
		sys_munmap(moved, bytes);
	return ret;
}

int registry_move(struct ucow_registry *reg, uintptr_t from, uintptr_t to, size_t len,
		  bool keep_old)
{
	struct registry_op op = { .op = REGISTRY_OP_MOVE, .start = from, .end = to, .len = len,
				  .keep_old = keep_old };
	struct sigguard g;
	int ret;

	/* mremap drops whatever was at the destination, even when nothing moves there. */
	if (!registry_may_overlap(reg, from, from + len) && !registry_may_overlap(reg, to, to + len))
		return 0;
	if (deferred(reg, &op))
		return 0;
	write_lock(reg, &g);
	ret = move_locked(reg, from, to, len, keep_old);
	publish(reg);
	unlock(reg, &g);
	return ret;
}

bool registry_lookup(struct ucow_registry *reg, uintptr_t addr, struct ucow_region *out, bool ref)
{
	struct sigguard g;
	bool found = false;
	size_t i;

	if (!registry_may_overlap(reg, addr, addr + 1))
		return false;
	read_lock(reg, &g);
	i = first_after(reg, addr);
	if (i < reg->n && reg->v[i].start <= addr) {
		*out = reg->v[i];
		if (ref)
			hold(out);
		found = true;
	}
	unlock(reg, &g);
	if (!found && ucow_in_handler && atomic_load(&reg->npending)) {
		/* A queued move may bring the region here: wait for the fork, then look again. */
		while (atomic_load(&reg->frozen))
			sched_yield();
		registry_drain(reg);
		return registry_lookup(reg, addr, out, ref);
	}
	return found;
}

bool registry_overlaps(struct ucow_registry *reg, uintptr_t start, uintptr_t end)
{
	struct sigguard g;
	bool found;
	size_t i;

	if (!registry_may_overlap(reg, start, end))
		return false;
	read_lock(reg, &g);
	i = first_after(reg, start);
	found = i < reg->n && reg->v[i].start < end;
	unlock(reg, &g);
	return found;
}

void registry_foreach(struct ucow_registry *reg, uintptr_t start, uintptr_t end,
		      void (*fn)(const struct ucow_region *r, void *arg), void *arg)
{
	struct sigguard g;
	read_lock(reg, &g);
	for (size_t i = first_after(reg, start); i < reg->n && reg->v[i].start < end; i++) {
		struct ucow_region r = reg->v[i];

		if (r.start < start) {
			r.offset += start - r.start;
			r.start = start;
		}
		if (r.end > end)
			r.end = end;
		fn(&r, arg);
	}
	unlock(reg, &g);
}

bool registry_any(struct ucow_registry *reg, uintptr_t start, uintptr_t end,
		  bool (*fn)(const struct ucow_region *r, void *arg), void *arg)
{
	struct sigguard g;
	bool yes = false;

	if (!registry_may_overlap(reg, start, end))
		return false;
	read_lock(reg, &g);
	for (size_t i = first_after(reg, start); i < reg->n && reg->v[i].start < end && !yes; i++)
		yes = fn(&reg->v[i], arg);
	unlock(reg, &g);
	return yes;
}

size_t registry_count(struct ucow_registry *reg)
{
	return atomic_load_explicit(&reg->count, memory_order_acquire);
}

void registry_destroy(struct ucow_registry *reg)
{
	struct sigguard g;
	write_lock(reg, &g);
	for (size_t i = 0; i < reg->n; i++)
		release(&reg->v[i]);
	if (reg->v)
		sys_munmap(reg->v, UCOW_PAGE_UP(reg->cap * sizeof(*reg->v)));
	reg->v = NULL;
	reg->n = reg->cap = 0;
	publish(reg);
	unlock(reg, &g);
}

struct collect {
	struct ucow_region *out;
	size_t n, max;
	uintptr_t resume;
};

static void collect_one(const struct ucow_region *r, void *arg)
{
	struct collect *c = arg;

	if (c->n < c->max)
		c->out[c->n++] = *r;
	else if (!c->resume)
		c->resume = r->start;
}

size_t registry_collect(struct ucow_registry *reg, uintptr_t start, uintptr_t end,
			struct ucow_region *out, size_t max, uintptr_t *resume)
{
	struct collect c = { .out = out, .max = max };

	registry_foreach(reg, start, end, collect_one, &c);
	*resume = c.resume;
	return c.n;
}

#define WALK_BATCH 32

void registry_walk(struct ucow_registry *reg, uintptr_t start, uintptr_t end,
		   void (*fn)(const struct ucow_region *r, void *arg), void *arg)
{
	while (start < end) {
		struct ucow_region v[WALK_BATCH];
		uintptr_t resume;
		size_t n = registry_collect(reg, start, end, v, WALK_BATCH, &resume);

		for (size_t i = 0; i < n; i++)
			fn(&v[i], arg);
		if (!resume)
			break;
		start = resume;
	}
}

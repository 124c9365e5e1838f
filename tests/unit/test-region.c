/* test-region.c: CUnit tests of the region registry (src/region.c) against a per-page
 * reference model, under thousands of random insert/remove/protect/move operations. */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "unit.h"

#include "policy.h"
#include "region.h"
#include "sys.h"

#define PAGE UCOW_PAGE_SIZE
#define NPAGES 384			/* the model's address space, in pages */
#define BASE ((uintptr_t)0x7f0000000000)	/* never touched: the registry only records it */
#define ADDR(p) (BASE + (uintptr_t)(p) * PAGE)

/* Dummy policies: the registry only compares their addresses. */
static const struct ucow_policy policies[3] = {
	{ .name = "a" }, { .name = "b" }, { .name = "c" },
};

static const int prots[] = { PROT_NONE, PROT_READ, PROT_READ | PROT_WRITE };

struct page_model {
	bool managed;
	const struct ucow_policy *policy;
	uint64_t offset;		/* of this page in the (fake) source */
	uint64_t data;
	int prot;
};

static struct page_model model[NPAGES];
static struct ucow_registry reg;
static uint64_t rng_state;
static char last_op[160];
static char why[512];		/* what the last failed check found */

static uint64_t rnd(void)
{
	/* xorshift64*: reproducible from the seed printed on failure. */
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return rng_state * UINT64_C(2685821657736338717);
}

static size_t rnd_below(size_t n)
{
	return (size_t)(rnd() % n);
}

/* A random range [*s, *e) of pages, mostly short, sometimes long, sometimes empty-ish. */
static void rnd_range(size_t *s, size_t *e)
{
	size_t len;

	switch (rnd_below(8)) {
	case 0:
		len = 1 + rnd_below(NPAGES / 2);
		break;
	case 1:
		len = 1;
		break;
	default:
		len = 1 + rnd_below(24);
	}
	*s = rnd_below(NPAGES);
	*e = *s + len > NPAGES ? NPAGES : *s + len;
}

static bool model_mergeable(const struct page_model *a, const struct page_model *b)
{
	return a->managed && b->managed && a->policy == b->policy && a->data == b->data &&
	       a->prot == b->prot && a->offset + PAGE == b->offset;
}

static bool region_mergeable(const struct ucow_region *a, const struct ucow_region *b)
{
	return a->end == b->start && a->policy == b->policy && a->src == b->src &&
	       a->data == b->data && a->prot == b->prot &&
	       a->offset + (a->end - a->start) == b->offset;
}

static bool fail(const char *fmt, unsigned long long a, unsigned long long b)
{
	int n = snprintf(why, sizeof(why), "after %s: ", last_op);

	snprintf(why + n, sizeof(why) - (size_t)n, fmt, a, b);
	return false;
}

/* Compares the registry with the model and checks the registry's own invariants. */
static bool check(void)
{
	size_t managed = 0, expect_regions = 0, pages = 0;

	for (size_t p = 0; p < NPAGES; p++) {
		struct ucow_region r;
		bool found = registry_lookup(&reg, ADDR(p), &r, false);
		const struct page_model *m = &model[p];

		if (found != m->managed)
			return fail("page %llu: registry says %llu", p, found);
		if (m->managed) {
			managed++;
			if (p == 0 || !model_mergeable(&model[p - 1], m))
				expect_regions++;
			if (r.policy != m->policy || r.prot != m->prot || r.data != m->data)
				return fail("page %llu: policy/prot/data differ (prot %llu)", p,
					    (unsigned long long)r.prot);
			if (r.offset + (ADDR(p) - r.start) != m->offset)
				return fail("page %llu: offset %llu", p,
					    r.offset + (ADDR(p) - r.start));
			if (r.start > ADDR(p) || r.end <= ADDR(p))
				return fail("page %llu: region %llx does not contain it", p, r.start);
		}
		/* The lock-free hint may say "maybe", never "no" when there is something. */
		if (m->managed && !registry_may_overlap(&reg, ADDR(p), ADDR(p) + PAGE))
			return fail("page %llu: may_overlap said no (%llu)", p, 0);
		if (registry_overlaps(&reg, ADDR(p), ADDR(p) + PAGE) != m->managed)
			return fail("page %llu: overlaps() says %llu", p, !m->managed);
	}
	if (reg.n != registry_count(&reg))
		return fail("count %llu but n %llu", registry_count(&reg), reg.n);
	for (size_t i = 0; i < reg.n; i++) {
		const struct ucow_region *r = &reg.v[i];

		if (r->start % PAGE || r->end % PAGE || r->start >= r->end)
			return fail("region %llu: bad bounds %llx", i, r->start);
		if (r->start < BASE || r->end > ADDR(NPAGES))
			return fail("region %llu: outside the address space at %llx", i, r->start);
		if (r->src != NULL)
			return fail("region %llu: src %llx", i, (uintptr_t)r->src);
		if (i > 0 && reg.v[i - 1].end > r->start)
			return fail("regions %llu and %llu overlap or are unsorted", i - 1, i);
		if (i > 0 && region_mergeable(&reg.v[i - 1], r))
			return fail("regions %llu and %llu should have been merged", i - 1, i);
		pages += (r->end - r->start) / PAGE;
	}
	if (pages != managed)
		return fail("registry covers %llu pages, model %llu", pages, managed);
	if (reg.n != expect_regions)
		return fail("%llu regions, the model has %llu maximal runs", reg.n, expect_regions);
	if (reg.n && (atomic_load(&reg.lo) != reg.v[0].start ||
		      atomic_load(&reg.hi) != reg.v[reg.n - 1].end))
		return fail("published bounds %llx..%llx are stale", atomic_load(&reg.lo),
			    atomic_load(&reg.hi));
	return true;
}

static bool range_managed(size_t s, size_t e)
{
	for (size_t p = s; p < e; p++)
		if (model[p].managed)
			return true;
	return false;
}

static bool op_insert(void)
{
	size_t s, e;
	struct ucow_region r = { 0 };
	int ret, want;

	rnd_range(&s, &e);
	r.start = ADDR(s);
	r.end = ADDR(e);
	r.policy = &policies[rnd_below(3)];
	r.data = rnd_below(2);
	r.prot = prots[rnd_below(3)];
	r.offset = rnd_below(1024) * PAGE;
	/* Often continue the left neighbour exactly, so that merges happen. */
	if (s > 0 && model[s - 1].managed && rnd_below(2)) {
		r.policy = model[s - 1].policy;
		r.data = model[s - 1].data;
		r.prot = model[s - 1].prot;
		r.offset = model[s - 1].offset + PAGE;
	} else if (e < NPAGES && model[e].managed && rnd_below(2)) {
		r.policy = model[e].policy;
		r.data = model[e].data;
		r.prot = model[e].prot;
		r.offset = model[e].offset - (e - s) * PAGE;
		if (model[e].offset < (e - s) * PAGE)
			r.offset = 0;
	}
	snprintf(last_op, sizeof(last_op), "insert [%zu,%zu) policy %s prot %d data %llu off %llu",
		 s, e, r.policy->name, r.prot, (unsigned long long)r.data,
		 (unsigned long long)(r.offset / PAGE));
	want = range_managed(s, e) ? -EEXIST : 0;
	ret = registry_insert(&reg, &r);
	if (ret != want)
		return fail("returned %lld, want %lld", (long long)ret, (long long)want);
	if (ret == 0)
		for (size_t p = s; p < e; p++)
			model[p] = (struct page_model){ true, r.policy, r.offset + (p - s) * PAGE,
							r.data, r.prot };
	return true;
}

static bool op_remove(void)
{
	size_t s, e, want = 0, got;

	rnd_range(&s, &e);
	snprintf(last_op, sizeof(last_op), "remove [%zu,%zu)", s, e);
	for (size_t p = s; p < e; p++) {
		want += model[p].managed;
		model[p].managed = false;
	}
	got = registry_remove(&reg, ADDR(s), ADDR(e));
	if (got != want)
		return fail("removed %llu pages, want %llu", got, want);
	return true;
}

static bool op_protect(void)
{
	size_t s, e;
	int prot = prots[rnd_below(3)], ret;

	rnd_range(&s, &e);
	snprintf(last_op, sizeof(last_op), "protect [%zu,%zu) %d", s, e, prot);
	for (size_t p = s; p < e; p++)
		if (model[p].managed)
			model[p].prot = prot;
	ret = registry_protect(&reg, ADDR(s), ADDR(e), prot);
	if (ret != 0)
		return fail("returned %lld (%llu)", (long long)ret, 0);
	return true;
}

static bool op_move(bool keep_old)
{
	static struct page_model moved[NPAGES];
	size_t from, to, len, e;
	int ret;

	rnd_range(&from, &e);
	len = e - from;
	to = rnd_below(NPAGES - len + 1);
	/* Sometimes move far, past the end of everything managed so far. */
	snprintf(last_op, sizeof(last_op), "move [%zu,%zu) to %zu%s", from, e, to,
		 keep_old ? " keep_old" : "");
	/* mremap semantics: the source's managed pages land at the destination, whatever
	 * was managed at the destination is gone, and the source goes unless kept. */
	memcpy(moved, &model[from], len * sizeof(*moved));
	if (!keep_old)
		for (size_t p = from; p < from + len; p++)
			model[p].managed = false;
	for (size_t p = 0; p < len; p++)
		model[to + p] = moved[p];
	ret = registry_move(&reg, ADDR(from), ADDR(to), len * PAGE, keep_old);
	if (ret != 0)
		return fail("returned %lld (%llu)", (long long)ret, 0);
	return true;
}

static void reset(uint64_t seed)
{
	registry_destroy(&reg);
	registry_init(&reg);
	memset(model, 0, sizeof(model));
	rng_state = seed ? seed : 1;
}

/* Runs @ops random operations from @seed; @mix chooses which kinds may happen. */
static void run_random(uint64_t seed, int ops, unsigned int mix)
{
	reset(seed);
	for (int i = 0; i < ops; i++) {
		unsigned int kind = (unsigned int)rnd_below(6);
		bool ok;

		if (!(mix & (1u << kind)))
			kind = 0;
		switch (kind) {
		case 0:
		case 1:
			ok = op_insert();
			break;
		case 2:
			ok = op_remove();
			break;
		case 3:
			ok = op_protect();
			break;
		case 4:
			ok = op_move(false);
			break;
		default:
			ok = op_move(true);
			break;
		}
		if (ok)
			ok = check();
		if (!ok) {
			char msg[700];

			snprintf(msg, sizeof(msg), "%s (seed %llu, operation %d)", why,
				 (unsigned long long)seed, i);
			CU_assertImplementation(CU_FALSE, __LINE__, msg, __FILE__, "", CU_FALSE);
			return;
		}
	}
	CU_PASS("random operations agree with the model");
}

/* UCOWTEST_SEED=N runs other sequences (a failure names the seed that found it). */
static uint64_t seed_base(void)
{
	const char *s = getenv("UCOWTEST_SEED");

	return s ? strtoull(s, NULL, 0) : 20240601;
}

#define MIX_INSERT (1u << 0 | 1u << 1)
#define MIX_REMOVE (1u << 2)
#define MIX_PROTECT (1u << 3)
#define MIX_MOVE (1u << 4)
#define MIX_MOVE_KEEP (1u << 5)

static void test_insert_remove(void)
{
	for (uint64_t s = 0; s < 4; s++)
		run_random(seed_base() + s, 3000, MIX_INSERT | MIX_REMOVE);
}

static void test_protect(void)
{
	for (uint64_t s = 0; s < 4; s++)
		run_random(seed_base() + 100 + s, 3000, MIX_INSERT | MIX_REMOVE | MIX_PROTECT);
}

static void test_move(void)
{
	for (uint64_t s = 0; s < 4; s++)
		run_random(seed_base() + 200 + s, 3000, MIX_INSERT | MIX_REMOVE | MIX_MOVE);
}

static void test_move_keep_old(void)
{
	for (uint64_t s = 0; s < 4; s++)
		run_random(seed_base() + 300 + s, 3000, MIX_INSERT | MIX_REMOVE | MIX_MOVE_KEEP);
}

static void test_everything(void)
{
	for (uint64_t s = 0; s < 8; s++)
		run_random(seed_base() + 400 + s, 4000, ~0u);
}

static void collect(const struct ucow_region *r, void *arg)
{
	struct ucow_region *out = arg;

	out[out[0].data++ + 1] = *r;
}

static void test_foreach_clips(void)
{
	struct ucow_region r = { .policy = &policies[0], .prot = PROT_READ, .offset = 10 * PAGE };
	struct ucow_region got[8] = { 0 };

	reset(1);
	r.start = ADDR(10);
	r.end = ADDR(20);
	CU_ASSERT_EQUAL(registry_insert(&reg, &r), 0);
	r.start = ADDR(30);
	r.end = ADDR(40);
	r.offset = 0;
	CU_ASSERT_EQUAL(registry_insert(&reg, &r), 0);
	registry_foreach(&reg, ADDR(15), ADDR(35), collect, got);
	CU_ASSERT_EQUAL(got[0].data, 2);
	CU_ASSERT_EQUAL(got[1].start, ADDR(15));
	CU_ASSERT_EQUAL(got[1].end, ADDR(20));
	CU_ASSERT_EQUAL(got[1].offset, 15 * PAGE);
	CU_ASSERT_EQUAL(got[2].start, ADDR(30));
	CU_ASSERT_EQUAL(got[2].end, ADDR(35));
	CU_ASSERT_EQUAL(got[2].offset, 0);
	/* Nothing outside. */
	memset(got, 0, sizeof(got));
	registry_foreach(&reg, ADDR(20), ADDR(30), collect, got);
	CU_ASSERT_EQUAL(got[0].data, 0);
}

/* Two mappings side by side never merge, and removing by birth leaves the other alone. */
static void test_births(void)
{
	struct ucow_region r = { .policy = &policies[0], .prot = PROT_READ, .birth = 1 };
	struct ucow_region got;

	reset(1);
	r.start = ADDR(10);
	r.end = ADDR(20);
	r.offset = 0;
	CU_ASSERT_EQUAL(registry_insert(&reg, &r), 0);
	r.start = ADDR(20);
	r.end = ADDR(30);
	r.offset = 10 * PAGE;
	r.birth = 2;
	CU_ASSERT_EQUAL(registry_insert(&reg, &r), 0);
	CU_ASSERT_EQUAL(registry_count(&reg), 2);
	CU_ASSERT_EQUAL(registry_remove_birth(&reg, ADDR(15), ADDR(25), 1), 5);
	CU_ASSERT_TRUE(registry_lookup(&reg, ADDR(12), &got, false));
	CU_ASSERT_EQUAL(got.end, ADDR(15));
	CU_ASSERT_FALSE(registry_lookup(&reg, ADDR(17), &got, false));
	CU_ASSERT_TRUE(registry_lookup(&reg, ADDR(22), &got, false));
	CU_ASSERT_EQUAL(got.start, ADDR(20));
	CU_ASSERT_EQUAL(got.birth, 2);
	CU_ASSERT_EQUAL(registry_remove_birth(&reg, ADDR(0), ADDR(40), 3), 0);
	CU_ASSERT_EQUAL(registry_count(&reg), 2);
}

static void test_edge_cases(void)
{
	struct ucow_region r = { .policy = &policies[1], .prot = PROT_READ | PROT_WRITE };

	reset(1);
	/* An empty range is refused. */
	r.start = r.end = ADDR(5);
	CU_ASSERT_EQUAL(registry_insert(&reg, &r), -EINVAL);
	CU_ASSERT_EQUAL(registry_count(&reg), 0);
	/* Operations on an empty registry are no-ops. */
	CU_ASSERT_EQUAL(registry_remove(&reg, ADDR(0), ADDR(NPAGES)), 0);
	CU_ASSERT_EQUAL(registry_protect(&reg, ADDR(0), ADDR(NPAGES), PROT_NONE), 0);
	CU_ASSERT_EQUAL(registry_move(&reg, ADDR(0), ADDR(10), 5 * PAGE, false), 0);
	CU_ASSERT_FALSE(registry_may_overlap(&reg, ADDR(0), ADDR(NPAGES)));
	/* Two touching inserts with contiguous offsets become one region. */
	r.start = ADDR(10);
	r.end = ADDR(20);
	r.offset = 0;
	CU_ASSERT_EQUAL(registry_insert(&reg, &r), 0);
	r.start = ADDR(20);
	r.end = ADDR(30);
	r.offset = 10 * PAGE;
	CU_ASSERT_EQUAL(registry_insert(&reg, &r), 0);
	CU_ASSERT_EQUAL(registry_count(&reg), 1);
	/* Touching but with a gap in the file: two regions. */
	r.start = ADDR(30);
	r.end = ADDR(31);
	r.offset = 99 * PAGE;
	CU_ASSERT_EQUAL(registry_insert(&reg, &r), 0);
	CU_ASSERT_EQUAL(registry_count(&reg), 2);
	/* Protect the middle then give it back: one region again (plus the gap one). */
	CU_ASSERT_EQUAL(registry_protect(&reg, ADDR(14), ADDR(16), PROT_READ), 0);
	CU_ASSERT_EQUAL(registry_count(&reg), 4);
	CU_ASSERT_EQUAL(registry_protect(&reg, ADDR(14), ADDR(16), PROT_READ | PROT_WRITE), 0);
	CU_ASSERT_EQUAL(registry_count(&reg), 2);
	/* Punch a hole: a split with offsets that still line up. */
	CU_ASSERT_EQUAL(registry_remove(&reg, ADDR(12), ADDR(13)), 1);
	CU_ASSERT_EQUAL(registry_count(&reg), 3);
	{
		struct ucow_region got;

		CU_ASSERT_TRUE(registry_lookup(&reg, ADDR(13), &got, false));
		CU_ASSERT_EQUAL(got.start, ADDR(13));
		CU_ASSERT_EQUAL(got.offset, 3 * PAGE);
		CU_ASSERT_FALSE(registry_lookup(&reg, ADDR(12), &got, false));
		CU_ASSERT_FALSE(registry_lookup(&reg, ADDR(12) + PAGE - 1, &got, false));
		CU_ASSERT_TRUE(registry_lookup(&reg, ADDR(30) - 1, &got, false));
		CU_ASSERT_FALSE(registry_lookup(&reg, ADDR(31), &got, false));
	}
	/* Growing far beyond the first storage block keeps everything. */
	reset(1);
	for (size_t i = 0; i < 5000; i++) {
		r.start = BASE + (2 * i) * PAGE;
		r.end = r.start + PAGE;
		r.offset = 0;
		CU_ASSERT_EQUAL_FATAL(registry_insert(&reg, &r), 0);
	}
	CU_ASSERT_EQUAL(registry_count(&reg), 5000);
	for (size_t i = 0; i < 5000; i++) {
		struct ucow_region got;

		if (!registry_lookup(&reg, BASE + 2 * i * PAGE, &got, false) ||
		    registry_lookup(&reg, BASE + (2 * i + 1) * PAGE, &got, false)) {
			CU_FAIL("lookup after growth");
			break;
		}
	}
	CU_ASSERT_EQUAL(registry_remove(&reg, BASE, BASE + 10000 * PAGE), 5000);
	CU_ASSERT_EQUAL(registry_count(&reg), 0);
	CU_ASSERT_FALSE(registry_may_overlap(&reg, BASE, BASE + 10000 * PAGE));
	reset(1);
}

int main(void)
{
	static const struct unit_test tests[] = {
		{ "edge cases", test_edge_cases },
		{ "foreach clips to the range", test_foreach_clips },
		{ "births keep mappings apart", test_births },
		{ "random insert/remove", test_insert_remove },
		{ "random insert/remove/protect", test_protect },
		{ "random insert/remove/move", test_move },
		{ "random insert/remove/move keep_old", test_move_keep_old },
		{ "random everything", test_everything },
	};

	registry_init(&reg);
	return UNIT_RUN("region", tests);
}

/* test-hole-runs.c: CUnit tests of the walk over a shmem file's runs of holes
 * (src/hole_runs.c): data pages, pages mapped privately and the end of file split the runs,
 * the same with mincore trusted (no swap) and with every run confirmed by SEEK_DATA. */
#define _GNU_SOURCE
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "unit.h"

#include "hole_runs.h"
#include "region.h"
#include "source.h"
#include "sys.h"

#define PAGE UCOW_PAGE_SIZE
#define PAGES 1200		/* more than one mincore batch */
#define SKIP 7			/* the mapping starts this many pages into the file */

static int fd = -1;
static unsigned char *map;		/* MAP_PRIVATE of file pages SKIP.. */
static char what[PAGES];		/* per file page: 'D' data, 'H' hole, 'W' hole written privately */
static struct ucow_source src;
static struct ucow_region region;

/* A layout with every kind of run: single pages, long runs, runs across batches. */
static void make_layout(unsigned int seed)
{
	unsigned char page[PAGE];

	srand(seed);
	for (size_t p = 0; p < PAGES;) {
		size_t n = 1 + (size_t)rand() % (rand() % 4 ? 6 : 600);
		char kind = rand() % 3 ? 'H' : 'D';

		for (; n-- && p < PAGES; p++)
			what[p] = kind;
	}
	CU_ASSERT_EQUAL_FATAL(ftruncate(fd, 0), 0);
	/* The file ends 100 bytes before its last page does. */
	CU_ASSERT_EQUAL_FATAL(ftruncate(fd, (off_t)(PAGES * PAGE - 100)), 0);
	memset(page, 0x5a, sizeof(page));
	for (size_t p = 0; p < PAGES; p++)
		if (what[p] == 'D')
			CU_ASSERT_EQUAL(pwrite(fd, page, 100, (off_t)(p * PAGE)), 100);
}

static void map_it(void)
{
	size_t len = (PAGES - SKIP) * PAGE;

	if (map)
		munmap(map, len);
	map = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, (off_t)(SKIP * PAGE));
	CU_ASSERT_NOT_EQUAL_FATAL(map, MAP_FAILED);
	src = (struct ucow_source){ .fd = fd, .private_pos = true };
	region = (struct ucow_region){ .start = (uintptr_t)map, .end = (uintptr_t)map + len,
				       .src = &src, .offset = SKIP * PAGE };
}

/* Writes every 5th hole of the mapping privately: mapped, so no longer a hole to fill. */
static void write_some_holes(void)
{
	int n = 0;

	for (size_t p = SKIP; p < PAGES; p++)
		if (what[p] == 'H' && n++ % 5 == 0) {
			map[(p - SKIP) * PAGE] = 1;
			what[p] = 'W';
		}
}

/* Whether the page at @at of the mapping is a hole to fill. */
static bool is_hole(uintptr_t at)
{
	return what[SKIP + (at - (uintptr_t)map) / PAGE] == 'H';
}

/*
 * The walk over [first, last) (pages of the mapping) gives exactly the runs of 'H', whole
 * but for splits where one mincore batch ends and the next begins.
 */
static void check_walk(size_t first, size_t last, bool confirm)
{
	uintptr_t lo = (uintptr_t)map + first * PAGE, hi = (uintptr_t)map + last * PAGE;
	uintptr_t s, e, expect = lo;
	unsigned int splits = 0;
	struct hole_walk w;

	CU_ASSERT_TRUE_FATAL(hole_walk_start(&w, &region, lo, hi));
	w.confirm = confirm;
	while (hole_walk_next(&w, &s, &e)) {
		CU_ASSERT_TRUE(s >= expect && s < e && e <= hi);
		if (s == expect && s != lo)
			splits++;
		for (uintptr_t at = expect; at < s; at += PAGE)
			CU_ASSERT_FALSE(is_hole(at));
		for (uintptr_t at = s; at < e; at += PAGE)
			CU_ASSERT_TRUE(is_hole(at));
		/* A run stops at the first page that is no hole: the page before it was one. */
		if (s > lo && s != expect)
			CU_ASSERT_FALSE(is_hole(s - PAGE));
		expect = e;
	}
	for (uintptr_t at = expect; at < hi; at += PAGE)
		CU_ASSERT_FALSE(is_hole(at));
	CU_ASSERT_TRUE(splits <= (last - first) / HOLE_WALK_BATCH);
}

static void test_layouts(void)
{
	for (unsigned int seed = 1; seed <= 20; seed++) {
		make_layout(seed);
		map_it();
		if (seed % 2)
			write_some_holes();
		for (int confirm = 0; confirm < 2; confirm++) {
			check_walk(0, PAGES - SKIP, confirm);
			check_walk(3, 40, confirm);
			check_walk(500, 1100, confirm);
			check_walk(PAGES - SKIP - 1, PAGES - SKIP, confirm);
		}
	}
}

static void test_eof(void)
{
	struct hole_walk w;
	uintptr_t s, e;

	make_layout(99);
	for (size_t p = PAGES - 10; p < PAGES; p++)
		what[p] = 'H';
	CU_ASSERT_EQUAL_FATAL(ftruncate(fd, (off_t)((PAGES - 5) * PAGE - 1)), 0);
	map_it();
	/* Nothing at or beyond the page past the end of file is a hole to fill. */
	CU_ASSERT_TRUE_FATAL(hole_walk_start(&w, &region, region.end - 20 * PAGE, region.end));
	while (hole_walk_next(&w, &s, &e))
		CU_ASSERT_TRUE(e <= (uintptr_t)map + (PAGES - 5 - SKIP) * PAGE);
	CU_ASSERT_EQUAL(hole_at_or_after(&region, region.end - PAGE), region.end - PAGE);
}

static void test_hole_at_or_after(void)
{
	make_layout(5);
	map_it();
	for (size_t p = 0; p + SKIP < PAGES; p += 3) {
		uintptr_t got = hole_at_or_after(&region, (uintptr_t)map + p * PAGE);
		size_t q = p;

		while (q + SKIP < PAGES && what[q + SKIP] == 'D')
			q++;
		if (q + SKIP < PAGES)
			CU_ASSERT_EQUAL(got, (uintptr_t)map + q * PAGE);
	}
}

int main(void)
{
	static const struct unit_test tests[] = {
		{ "runs of holes in random layouts", test_layouts },
		{ "the end of file", test_eof },
		{ "hole_at_or_after", test_hole_at_or_after },
	};

	fd = memfd_create("test-hole-runs", MFD_CLOEXEC);
	if (fd < 0)
		return 77;
	return UNIT_RUN("hole_runs", tests);
}

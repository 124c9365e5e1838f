/* test-window.c: CUnit tests of the adaptive fault-around window (src/window.c): one page
 * for scattered faults, the whole window once a stream is confirmed, strided streams, the
 * region's end, and what window_covered, window_forget and the stream table's size do. */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "unit.h"

#include "sys.h"
#include "window.h"

#define PAGE UCOW_PAGE_SIZE
#define MAX (2UL << 20)			/* UCOW_FAULT_AROUND's default */
#define MAX_PAGES (MAX / PAGE)
#define GiB (1UL << 30)
#define FAR (1UL << 50)			/* a region end nothing reaches */

/*
 * window.c keeps its streams between calls, and a stream only continues within one
 * mapping: each test runs in mappings (births) of its own and at addresses of its own,
 * so that nothing an earlier test left can continue into it.
 */
static uint64_t next_birth = 1000;

/* Where the window window_next() gives for a fault at @addr ends (regions start at 0). */
static uintptr_t next_end(uintptr_t addr, uintptr_t hi, size_t max)
{
	struct window w = window_next(addr, 0, hi, max);

	CU_ASSERT_TRUE(w.start <= addr && addr < w.end);
	return w.end;
}
static uintptr_t next_base = 16 * GiB;

static uintptr_t fresh_mapping(void)
{
	window_fault_region(next_birth++);
	next_base += 64 * GiB;
	return next_base;
}

/* Faults at @addr, @addr + a page, ... as a sequential toucher does; returns the end
 * next_end() gave for the last one. */
static uintptr_t touch_in_sequence(uintptr_t addr, int faults, uintptr_t hi)
{
	uintptr_t end = addr;

	for (int i = 0; i < faults; i++)
		end = next_end(end, hi, MAX);
	return end;
}

static void test_scattered_get_one_page(void)
{
	uintptr_t base = fresh_mapping();
	/* Descending and far apart: no fault lands where another's window ended. */
	for (int i = 0; i < 64; i++) {
		uintptr_t addr = base + (uintptr_t)(64 - i) * 37 * PAGE;

		CU_ASSERT_FALSE(window_continues(addr));
		CU_ASSERT_EQUAL(next_end(addr, FAR, MAX), addr + PAGE);
	}
}

static void test_sequential_grows_to_max(void)
{
	uintptr_t a = fresh_mapping();

	/* One fault on the next page is not enough (pairs happen by chance) ... */
	CU_ASSERT_FALSE(window_continues(a));
	CU_ASSERT_EQUAL(next_end(a, FAR, MAX), a + PAGE);
	CU_ASSERT_TRUE(window_continues(a + PAGE));
	CU_ASSERT_EQUAL(next_end(a + PAGE, FAR, MAX), a + 2 * PAGE);
	/* ... the second in a row gets the whole window at once, not a doubling one. */
	CU_ASSERT_TRUE(window_continues(a + 2 * PAGE));
	CU_ASSERT_EQUAL(next_end(a + 2 * PAGE, FAR, MAX), a + 2 * PAGE + MAX);
	/* The stream keeps it, window after window. */
	a += 2 * PAGE + MAX;
	for (int i = 0; i < 8; i++, a += MAX) {
		CU_ASSERT_TRUE(window_continues(a));
		CU_ASSERT_EQUAL(next_end(a, FAR, MAX), a + MAX);
	}
}

static void test_only_the_next_page_continues(void)
{
	uintptr_t a = fresh_mapping();
	uintptr_t end = touch_in_sequence(a, 3, FAR);

	CU_ASSERT_EQUAL(end, a + 2 * PAGE + MAX);
	/* Near the window's end, but not at it: scattered, one page. */
	CU_ASSERT_FALSE(window_continues(end + PAGE));
	CU_ASSERT_FALSE(window_continues(end - PAGE));
	CU_ASSERT_EQUAL(next_end(end + PAGE, FAR, MAX), end + 2 * PAGE);
	/* The stream is still there for its own next fault. */
	CU_ASSERT_TRUE(window_continues(end));
	CU_ASSERT_EQUAL(next_end(end, FAR, MAX), end + MAX);
}

static void test_max_of_a_page_or_less(void)
{
	uintptr_t a = fresh_mapping();

	/* UCOW_FAULT_AROUND of 0, a page or less: one page, always, even in sequence. */
	for (int i = 0; i < 6; i++) {
		CU_ASSERT_EQUAL(next_end(a, FAR, 0), a + PAGE);
		CU_ASSERT_EQUAL(next_end(a + PAGE, FAR, PAGE), a + 2 * PAGE);
		CU_ASSERT_EQUAL(next_end(a + 2 * PAGE, FAR, PAGE + 100), a + 3 * PAGE);
		a += 3 * PAGE;
	}
	/* A max that is no multiple of a page is rounded down. */
	a = fresh_mapping();
	CU_ASSERT_EQUAL(next_end(a, FAR, 5 * PAGE + 100), a + PAGE);
	CU_ASSERT_EQUAL(next_end(a + PAGE, FAR, 5 * PAGE + 100), a + 2 * PAGE);
	CU_ASSERT_EQUAL(next_end(a + 2 * PAGE, FAR, 5 * PAGE + 100), a + 7 * PAGE);
}

static void test_never_past_hi(void)
{
	uintptr_t a = fresh_mapping();
	uintptr_t hi = a + 2 * PAGE + 10 * PAGE;	/* the region ends mid-window */
	uintptr_t end = touch_in_sequence(a, 3, hi);

	CU_ASSERT_EQUAL(end, hi);
	/* And a one-page fault on the last page ends at hi too. */
	a = fresh_mapping();
	CU_ASSERT_EQUAL(next_end(a, a + PAGE, MAX), a + PAGE);
	/* A confirmed stream a page short of the end. */
	a = fresh_mapping();
	end = touch_in_sequence(a, 2, FAR);
	CU_ASSERT_EQUAL(next_end(end, end + PAGE, MAX), end + PAGE);
}

static void test_births_keep_mappings_apart(void)
{
	uintptr_t a = fresh_mapping();
	uintptr_t end = touch_in_sequence(a, 3, FAR);

	/* The same address in another mapping (re-mapped without an event): a new stream. */
	window_fault_region(next_birth++);
	CU_ASSERT_FALSE(window_continues(end));
	CU_ASSERT_EQUAL(next_end(end, FAR, MAX), end + PAGE);
}

static void test_covered_moves_the_stream(void)
{
	uintptr_t a = fresh_mapping();
	uintptr_t end, covered;

	/* A policy mapped more than it was asked (zero page over a run of holes) ... */
	end = next_end(a, FAR, MAX);
	covered = a + 40 * PAGE;
	window_covered(a, a, covered);
	/* ... so the stream's next fault comes at the end of what was mapped. */
	CU_ASSERT_FALSE(window_continues(end));
	CU_ASSERT_TRUE(window_continues(covered));
	CU_ASSERT_EQUAL(next_end(covered, FAR, MAX), covered + PAGE);
	CU_ASSERT_EQUAL(next_end(covered + PAGE, FAR, MAX), covered + PAGE + MAX);

	/* Covering less than the window asked changes nothing. */
	a = fresh_mapping();
	end = touch_in_sequence(a, 3, FAR);
	window_covered(end - MAX, end - MAX, end - PAGE);
	CU_ASSERT_TRUE(window_continues(end));
	CU_ASSERT_FALSE(window_continues(end - PAGE));

	/* Only the stream whose last fault was at @addr moves. */
	a = fresh_mapping();
	end = next_end(a, FAR, MAX);
	window_covered(a + PAGE, a + PAGE, a + 100 * PAGE);
	CU_ASSERT_TRUE(window_continues(end));
	CU_ASSERT_FALSE(window_continues(a + 100 * PAGE));

	/* Nor in another mapping. */
	a = fresh_mapping();
	end = next_end(a, FAR, MAX);
	window_fault_region(next_birth++);
	window_covered(a, a, a + 100 * PAGE);
	window_fault_region(next_birth - 2);
	CU_ASSERT_TRUE(window_continues(end));
	CU_ASSERT_FALSE(window_continues(a + 100 * PAGE));
}

static void test_forget(void)
{
	uintptr_t a = fresh_mapping();
	uintptr_t end = touch_in_sequence(a, 3, FAR);

	/* A range that ends before the stream's next fault: kept. */
	window_forget(a, end - PAGE);
	CU_ASSERT_TRUE(window_continues(end));
	/* One that starts where the stream continues: kept too. */
	window_forget(end, end + MAX);
	CU_ASSERT_TRUE(window_continues(end));
	/* Unmapped or discarded where its last window ended: forgotten, one page again. */
	window_forget(end - PAGE, end);
	CU_ASSERT_FALSE(window_continues(end));
	CU_ASSERT_EQUAL(next_end(end, FAR, MAX), end + PAGE);
	CU_ASSERT_EQUAL(next_end(end + PAGE, FAR, MAX), end + 2 * PAGE);
	CU_ASSERT_EQUAL(next_end(end + 2 * PAGE, FAR, MAX), end + 2 * PAGE + MAX);
}

static void test_stream_table_evicts_least_recent(void)
{
	enum { STREAMS = 4 };	/* window.c's table */
	uintptr_t s[STREAMS + 1], next[STREAMS + 1];
	uintptr_t base = fresh_mapping();

	for (int i = 0; i < STREAMS; i++) {
		s[i] = base + (uintptr_t)i * GiB;
		next[i] = next_end(s[i], FAR, MAX);
	}
	for (int i = 0; i < STREAMS; i++)
		CU_ASSERT_TRUE(window_continues(next[i]));
	/* The first stream continues: now the second is the least recently used. */
	next[0] = next_end(next[0], FAR, MAX);
	s[STREAMS] = base + STREAMS * GiB;
	next[STREAMS] = next_end(s[STREAMS], FAR, MAX);
	CU_ASSERT_TRUE(window_continues(next[0]));
	CU_ASSERT_FALSE(window_continues(next[1]));
	for (int i = 2; i <= STREAMS; i++)
		CU_ASSERT_TRUE(window_continues(next[i]));
	/* Four sequential streams at once all get their windows. */
	for (int round = 0; round < 3; round++)
		for (int i = 0; i < STREAMS; i++) {
			int k = i == 1 ? STREAMS : i;

			next[k] = next_end(next[k], FAR, MAX);
		}
	for (int i = 0; i <= STREAMS; i++)
		if (i != 1)
			CU_ASSERT_EQUAL(next_end(next[i], FAR, MAX), next[i] + MAX);
}

static void test_strided(void)
{
	const size_t stride = 100 * PAGE;
	uintptr_t a = fresh_mapping();
	long got = 0;

	/* The first two faults at a distance are a pair, the third confirms it ... */
	CU_ASSERT_EQUAL(window_strided(a, 0, FAR, MAX, &got), 1);
	CU_ASSERT_EQUAL(window_strided(a + stride, 0, FAR, MAX, &got), 1);
	CU_ASSERT_EQUAL(got, stride);
	got = 0;
	CU_ASSERT_EQUAL(window_strided(a + 2 * stride, 0, FAR, MAX, &got), 1);
	CU_ASSERT_EQUAL(got, stride);
	/* ... and the fourth gets a window's worth of pages at that stride. */
	got = 0;
	CU_ASSERT_EQUAL(window_strided(a + 3 * stride, 0, FAR, MAX, &got), MAX_PAGES);
	CU_ASSERT_EQUAL(got, stride);
	/* The stream's next fault is past all of them. */
	a += 3 * stride + MAX_PAGES * stride;
	CU_ASSERT_EQUAL(window_strided(a, 0, FAR, MAX, &got), MAX_PAGES);
	/* Not at the next stride: no stream. */
	CU_ASSERT_EQUAL(window_strided(a + MAX_PAGES * stride + PAGE, 0, FAR, MAX, &got), 1);
}

static void test_strided_never_past_hi(void)
{
	const size_t stride = 7 * PAGE;
	uintptr_t a = fresh_mapping();
	uintptr_t hi;
	long got = 0;

	for (int i = 0; i < 3; i++)
		window_strided(a + i * stride, 0, FAR, MAX, &got);
	a += 3 * stride;
	hi = a + 9 * stride + PAGE;	/* room for pages at a, a + stride, ... a + 9 strides */
	CU_ASSERT_EQUAL(window_strided(a, 0, hi, MAX, &got), 10);
	/* Exactly at a stride boundary: that page is past the end. */
	a += 10 * stride;
	CU_ASSERT_EQUAL(window_strided(a, 0, a + 4 * stride, MAX, &got), 4);
}

static void test_not_strided(void)
{
	uintptr_t a;
	long got = 12345;

	/* The next page is a sequential stream's business (window_next), not a stride. */
	a = fresh_mapping();
	CU_ASSERT_EQUAL(window_strided(a, 0, FAR, MAX, &got), 1);
	CU_ASSERT_EQUAL(window_strided(a + PAGE, 0, FAR, MAX, &got), 1);
	CU_ASSERT_EQUAL(got, 12345);
	/* Farther apart than 4 MiB is scattered. */
	a = fresh_mapping();
	for (int i = 0; i < 6; i++)
		CU_ASSERT_EQUAL(window_strided(a + i * (8UL << 20), 0, FAR, MAX, &got), 1);
	/* No window: never strided. */
	a = fresh_mapping();
	for (int i = 0; i < 6; i++)
		CU_ASSERT_EQUAL(window_strided(a + i * 10 * PAGE, 0, FAR, PAGE, &got), 1);
	CU_ASSERT_EQUAL(got, 12345);
	/* Another mapping's faults do not pair with these. */
	a = fresh_mapping();
	window_strided(a, 0, FAR, MAX, &got);
	window_strided(a + 10 * PAGE, 0, FAR, MAX, &got);
	window_fault_region(next_birth++);
	got = 12345;
	CU_ASSERT_EQUAL(window_strided(a + 20 * PAGE, 0, FAR, MAX, &got), 1);
	CU_ASSERT_EQUAL(got, 12345);
}

static void test_forget_strided(void)
{
	const size_t stride = 10 * PAGE;
	uintptr_t a = fresh_mapping();
	long got;

	for (int i = 0; i < 3; i++)
		window_strided(a + i * stride, 0, FAR, MAX, &got);
	/* The range holding the stream's expected next fault is gone. */
	window_forget(a + 2 * stride, a + 3 * stride);
	CU_ASSERT_EQUAL(window_strided(a + 3 * stride, 0, FAR, MAX, &got), 1);
}

static void test_descending_grows_to_max(void)
{
	uintptr_t a = fresh_mapping() + GiB;
	struct window w;

	/* A stream read from the end: the page below the last range continues it. */
	w = window_next(a, 0, FAR, MAX);
	CU_ASSERT_EQUAL(w.start, a);
	CU_ASSERT_EQUAL(window_heading(a - PAGE), -1);
	CU_ASSERT_EQUAL(window_heading(a + PAGE), 1);	/* one page: either way */
	w = window_next(a - PAGE, 0, FAR, MAX);
	CU_ASSERT_EQUAL(w.start, a - PAGE);
	CU_ASSERT_EQUAL(w.end, a);
	/* Now it goes down only. */
	CU_ASSERT_EQUAL(window_heading(a), 0);
	/* The second in a row gets the whole window below the fault. */
	w = window_next(a - 2 * PAGE, 0, FAR, MAX);
	CU_ASSERT_EQUAL(w.end, a - PAGE);
	CU_ASSERT_EQUAL(w.start, a - PAGE - MAX);
	for (int i = 0; i < 8; i++) {
		uintptr_t next = w.start - PAGE;

		CU_ASSERT_EQUAL(window_heading(next), -1);
		w = window_next(next, 0, FAR, MAX);
		CU_ASSERT_EQUAL(w.end, next + PAGE);
		CU_ASSERT_EQUAL(w.start, next + PAGE - MAX);
	}
}

static void test_descending_never_below_lo(void)
{
	uintptr_t a = fresh_mapping() + GiB;
	uintptr_t lo = a - 10 * PAGE;
	struct window w;

	window_next(a, lo, FAR, MAX);
	window_next(a - PAGE, lo, FAR, MAX);
	w = window_next(a - 2 * PAGE, lo, FAR, MAX);
	CU_ASSERT_EQUAL(w.start, lo);
	CU_ASSERT_EQUAL(w.end, a - PAGE);
	/* At the region's first page: that page. */
	w = window_next(lo, lo, FAR, MAX);
	CU_ASSERT_TRUE(w.start == lo && w.end == lo + PAGE);
}

static void test_covered_both_ways(void)
{
	uintptr_t a = fresh_mapping() + GiB;

	/* An aligned window mapped around the fault: the stream goes on from either end. */
	window_next(a, 0, FAR, MAX);
	window_covered(a, a - 5 * PAGE, a + 7 * PAGE);
	CU_ASSERT_EQUAL(window_heading(a + 7 * PAGE), 1);
	CU_ASSERT_EQUAL(window_heading(a - 6 * PAGE), -1);
	CU_ASSERT_EQUAL(window_heading(a + PAGE), 0);
	CU_ASSERT_EQUAL(window_heading(a - PAGE), 0);
}

static void test_strided_descending(void)
{
	const long stride = -64 * (long)PAGE;
	uintptr_t a = fresh_mapping() + GiB;
	uintptr_t lo = a - 1000 * PAGE;
	long got = 0;

	CU_ASSERT_EQUAL(window_strided(a, lo, FAR, MAX, &got), 1);
	CU_ASSERT_EQUAL(window_strided(a + stride, lo, FAR, MAX, &got), 1);
	CU_ASSERT_EQUAL(got, stride);
	CU_ASSERT_EQUAL(window_strided(a + 2 * stride, lo, FAR, MAX, &got), 1);
	/* Confirmed: every page at that stride down to the region's start (13 of them). */
	got = 0;
	CU_ASSERT_EQUAL(window_strided(a + 3 * stride, lo, FAR, MAX, &got), 13);
	CU_ASSERT_EQUAL(got, stride);
}

int main(void)
{
	static const struct unit_test tests[] = {
		{ "scattered faults get one page", test_scattered_get_one_page },
		{ "a sequential stream grows to the max", test_sequential_grows_to_max },
		{ "only the next page continues a stream", test_only_the_next_page_continues },
		{ "max of a page or less", test_max_of_a_page_or_less },
		{ "never past hi", test_never_past_hi },
		{ "births keep mappings apart", test_births_keep_mappings_apart },
		{ "window_covered moves the stream", test_covered_moves_the_stream },
		{ "window_forget", test_forget },
		{ "stream table evicts the least recent", test_stream_table_evicts_least_recent },
		{ "strided streams", test_strided },
		{ "strided never past hi", test_strided_never_past_hi },
		{ "not strided", test_not_strided },
		{ "window_forget of a strided stream", test_forget_strided },
		{ "a descending stream grows to the max", test_descending_grows_to_max },
		{ "descending never below lo", test_descending_never_below_lo },
		{ "window_covered continues both ways", test_covered_both_ways },
		{ "strided streams going down", test_strided_descending },
	};

	return UNIT_RUN("window", tests);
}

/* lazy_scan.c: what the page tables say about a range lazy memset looks at: the runs of
 * pages present or swapped out, and the first guard page. */
#include <errno.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/ioctl.h>

#include "compat.h"
#include "guards.h"
#include "lazy_defer.h"
#include "own_fd.h"
#include "pagemap.h"

/* PAGEMAP_SCAN: 0 untried or works, -1 missing (/proc/self/pagemap is read instead). */
static atomic_int pagemap_scan_missing;

/* The pagemap descriptor of this thread's lazy memset, in the program's table. */
static __thread const struct own_fd *scanning;

void lazy_scan_bind(const struct own_fd *pm)
{
	scanning = pm;
}

/* What was read through @pm is this process's pagemap (not a file the program put there). */
static bool read_ours(int pm)
{
	return !scanning || scanning->fd != pm || own_fd_still(scanning);
}

/* PAGEMAP_SCAN walks only the page tables that exist; /proc/self/pagemap is the fallback. */
int lazy_present_runs(int pm, uintptr_t start, uintptr_t end,
		      void (*fn)(uintptr_t s, uintptr_t e, void *arg), void *arg)
{
	struct page_region vec[64];
	uint64_t entries[PM_BATCH];
	uintptr_t run = 0;

	if (atomic_load_explicit(&pagemap_scan_missing, memory_order_relaxed) == 0) {
		struct pm_scan_arg a = {
			.size = sizeof(a),
			.start = start,
			.end = end,
			.vec = (uintptr_t)vec,
			.vec_len = sizeof(vec) / sizeof(vec[0]),
			.category_anyof_mask = PAGE_IS_PRESENT | PAGE_IS_SWAPPED,
			.return_mask = PAGE_IS_PRESENT | PAGE_IS_SWAPPED,
		};

		while (a.start < end) {
			long n = ioctl(pm, PAGEMAP_SCAN, &a);

			if (!read_ours(pm))
				return -EBADF;
			if (n < 0 && a.start != start)
				return -errno;
			if (n < 0)
				break;
			for (long i = 0; i < n; i++)
				fn(vec[i].start, vec[i].end, arg);
			if (a.walk_end <= a.start)
				return -EIO;
			a.start = a.walk_end;
		}
		if (a.start >= end)
			return 0;
		if (errno != ENOTTY && errno != EINVAL)
			return -errno;
		atomic_store(&pagemap_scan_missing, -1);
	}
	for (uintptr_t addr = start; addr < end;) {
		size_t n = (end - addr) / UCOW_PAGE_SIZE;
		ssize_t got;

		if (n > PM_BATCH)
			n = PM_BATCH;
		got = pagemap_read(pm, addr, entries, n);
		if (!read_ours(pm))
			return -EBADF;
		if (got <= 0)
			return got < 0 ? (int)got : -EIO;
		n = (size_t)got;
		for (size_t i = 0; i < n; i++, addr += UCOW_PAGE_SIZE) {
			bool here = entries[i] & (PM_PRESENT | PM_SWAPPED);

			if (here && !run)
				run = addr;
			if (!here && run) {
				fn(run, addr, arg);
				run = 0;
			}
		}
	}
	if (run)
		fn(run, end, arg);
	return 0;
}

uintptr_t lazy_first_guard(int pm, uintptr_t start, uintptr_t end)
{
	uintptr_t guard;

	if (atomic_load_explicit(&pagemap_scan_missing, memory_order_relaxed))
		return end;
	guard = guards_first_in(pm, start, end);
	/* Read from a file of the program's: nothing is known, the memset is written. */
	return read_ours(pm) ? guard : start;
}

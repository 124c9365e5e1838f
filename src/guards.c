/* guards.c: where the program's guard pages are, for the fills that must not overwrite them
 * (UFFDIO_COPY replaces a guard marker, Linux 6.18) and lazy memset, which stops at them. */
#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "compat.h"
#include "fdtable.h"
#include "guards.h"
#include "source.h"

static atomic_bool installed;		/* madvise(MADV_GUARD_INSTALL) was called */
static atomic_bool kernel_cannot_tell;	/* PAGEMAP_SCAN knows no PAGE_IS_GUARD */

void guards_installing(void)
{
	atomic_store(&installed, true);
}

bool guards_possible(void)
{
	return atomic_load_explicit(&installed, memory_order_relaxed);
}

/* The first run of guard pages in [start,end) through @pm: its start (@end if none), and its
 * end in *@run_end. */
static uintptr_t first_run(int pm, uintptr_t start, uintptr_t end, uintptr_t *run_end)
{
	struct page_region guard;
	struct pm_scan_arg a = {
		.size = sizeof(a),
		.start = start,
		.end = end,
		.vec = (uintptr_t)&guard,
		.vec_len = 1,
		.category_anyof_mask = PAGE_IS_GUARD,
		.return_mask = PAGE_IS_GUARD,
	};
	long n;

	*run_end = end;
	if (pm < 0 || start >= end || atomic_load_explicit(&kernel_cannot_tell, memory_order_relaxed))
		return end;
	n = ioctl(pm, PAGEMAP_SCAN, &a);
	if (n < 0 && (errno == EINVAL || errno == ENOTTY))
		atomic_store(&kernel_cannot_tell, true);
	if (n <= 0 || guard.start >= end)
		return end;
	*run_end = guard.end < end ? (uintptr_t)guard.end : end;
	return guard.start > start ? (uintptr_t)guard.start : start;
}

uintptr_t guards_first_in(int pm, uintptr_t start, uintptr_t end)
{
	uintptr_t run_end;

	return first_run(pm, start, end, &run_end);
}

/* A pagemap descriptor for the caller: the handler's own, or one opened now (-1 if none). */
static int pagemap_for_call(bool *opened)
{
	*opened = false;
	if (ucow_in_handler && handler_table.pagemap >= 0)
		return handler_table.pagemap;
	*opened = true;
	return open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
}

uintptr_t guards_next_run(uintptr_t start, uintptr_t end, uintptr_t *run_end)
{
	int saved_errno = errno, pm;
	uintptr_t guard;
	bool opened;

	pm = pagemap_for_call(&opened);
	guard = first_run(pm, start, end, run_end);
	if (opened && pm >= 0)
		close(pm);
	errno = saved_errno;
	return guard;
}

uintptr_t guards_first(uintptr_t start, uintptr_t end)
{
	uintptr_t run_end;

	return guards_possible() ? guards_next_run(start, end, &run_end) : end;
}

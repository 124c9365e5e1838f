/* pin_unshare.c: making pinned pages exclusive — every page present, private and writable
 * before a pin (rule 2), and again after mprotect gave write access back (rule 3). */
#include <errno.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <sys/mman.h>

#include "compat.h"
#include "pin.h"
#include "pin_table.h"
#include "pin_unshare.h"
#include "sys.h"

/* Whether this kernel knows MADV_POPULATE_WRITE (5.14): an empty range answers 0 if so. */
static bool populate_write_known(void)
{
	static atomic_int known = -1;
	int k = atomic_load_explicit(&known, memory_order_relaxed);

	if (k < 0) {
		k = sys_madvise((void *)UCOW_PAGE_SIZE, 0, MADV_POPULATE_WRITE) == 0;
		atomic_store_explicit(&known, k, memory_order_relaxed);
	}
	return k;
}

int pin_unshare(uintptr_t addr, size_t len)
{
	uintptr_t start = UCOW_PAGE_DOWN(addr), end = UCOW_PAGE_UP(addr + len);

	if (end <= start)
		return 0;
	if (sys_madvise((void *)start, end - start, MADV_POPULATE_WRITE) == 0)
		return 0;
	if (errno != EINVAL || populate_write_known())
		return -errno;
	/* A kernel before 5.14: a write that changes nothing faults every page in, private. */
	for (uintptr_t p = start; p < end; p += UCOW_PAGE_SIZE)
		__atomic_fetch_or((volatile unsigned char *)p, 0, __ATOMIC_RELAXED);
	return 0;
}

void pin_reassert(uintptr_t start, uintptr_t end)
{
	sigset_t old;

	if (!pins_active() || !pin_overlaps(start, end))
		return;
	pin_table_lock(&old);
	for (size_t i = 0; i < pin_table_size(); i++) {
		const struct pin *p = pin_table_entry(i);
		uintptr_t s = p->start > start ? p->start : start;
		uintptr_t e = p->end < end ? p->end : end;

		if (s < e && p->how != PIN_HOW_SHARED)
			sys_madvise((void *)s, e - s, MADV_POPULATE_WRITE);
	}
	pin_table_unlock(&old);
}

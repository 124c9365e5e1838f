/* pin_api.c: ucow_pin() and ucow_unpin() — a range unshared, then pinned through ucow's own
 * ring when the kernel allows it, else marked to be copied for fork children by ucow. */
#include <errno.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <string.h>

#include "cancel.h"
#include "config.h"
#include "log.h"
#include "pin_fork.h"
#include "pin_kernel.h"
#include "pin_table.h"
#include "pin_unshare.h"
#include "sys.h"
#include "ucow.h"

#define EXPORT __attribute__((visibility("default")))

/* Adds one ucow_pin range under the lock: a kernel pin if possible, else a fork-time copy. */
static int api_pin_locked(uintptr_t start, uintptr_t end)
{
	static bool told;	/* under the lock */
	struct pin p = { .start = start, .end = end, .ring = PIN_NO_RING, .source = PIN_API };
	int ret, err = 0;

	ret = pin_kernel_pin(start, end, &p.slot, &p.nslots);
	if (ret == 0) {
		p.how = PIN_HOW_KERNEL;
	} else {
		p.how = (unsigned char)pin_fork_how(start, end, &err);
		if (err)
			return -err;
		if (!told && p.how == PIN_HOW_COPY) {
			told = true;
			ucow_info("pin", "no kernel pin for ucow_pin ranges (io_uring: %s): ucow copies "
				  "them for fork children itself", strerror(-ret));
		}
	}
	pin_table_write_begin();
	if (!pin_table_add(&p)) {
		pin_table_write_end();
		if (p.how == PIN_HOW_KERNEL)
			pin_kernel_release(p.slot, p.nslots);
		return -ENOMEM;
	}
	pin_table_write_end();
	return 0;
}

static void api_unpin_entry_locked(size_t i)
{
	struct pin p = *pin_table_entry(i);

	pin_table_write_begin();
	pin_table_del(i);
	pin_table_write_end();
	if (p.how == PIN_HOW_KERNEL)
		pin_kernel_release(p.slot, p.nslots);
}

static int range_of(const void *addr, size_t len, uintptr_t *start, uintptr_t *end)
{
	uintptr_t a = (uintptr_t)addr;

	if (!atomic_load_explicit(&ucow_enabled, memory_order_relaxed))
		return -ENOSYS;
	if (!ucow_cfg.pins)
		return -EOPNOTSUPP;
	if (len == 0 || a + len < a || UCOW_PAGE_UP(a + len) < a)
		return -EINVAL;
	*start = UCOW_PAGE_DOWN(a);
	*end = UCOW_PAGE_UP(a + len);
	return 0;
}

EXPORT int ucow_pin(void *addr, size_t len)
{
	UCOW_NO_CANCEL;
	uintptr_t start, end;
	sigset_t old;
	int ret;

	ret = range_of(addr, len, &start, &end);
	if (ret == 0)
		ret = pin_unshare(start, end - start);	/* rule 2: before the pin, not after */
	if (ret == 0) {
		pin_table_lock(&old);
		ret = api_pin_locked(start, end);
		pin_table_unlock(&old);
	}
	if (ret < 0) {
		errno = -ret;
		return -1;
	}
	ucow_debug("pin", "ucow_pin %#lx-%#lx", (unsigned long)start, (unsigned long)end);
	return 0;
}

EXPORT int ucow_unpin(void *addr, size_t len)
{
	UCOW_NO_CANCEL;
	uintptr_t start, end, keep[2][2];
	sigset_t old;
	int ret = range_of(addr, len, &start, &end);

	if (ret < 0) {
		errno = -ret;
		return -1;
	}
	pin_table_lock(&old);
	for (size_t i = 0; i < pin_table_size();) {
		struct pin p = *pin_table_entry(i);
		int k = 0;

		if (p.source != PIN_API || p.start >= end || p.end <= start) {
			i++;
			continue;
		}
		/* The parts outside the range stay pinned: pinned again before the old pin
		 * goes, so that they are never unpinned in between. */
		if (p.start < start) {
			keep[k][0] = p.start;
			keep[k++][1] = start;
		}
		if (p.end > end) {
			keep[k][0] = end;
			keep[k++][1] = p.end;
		}
		for (int j = 0; j < k; j++)
			if (api_pin_locked(keep[j][0], keep[j][1]) < 0)
				ucow_warn("pin", "ucow_unpin: %#lx-%#lx could not stay pinned",
					  (unsigned long)keep[j][0], (unsigned long)keep[j][1]);
		api_unpin_entry_locked(i);	/* the entries added went to the end */
	}
	pin_table_unlock(&old);
	return 0;
}

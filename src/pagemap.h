/* pagemap.h: reading /proc/self/pagemap, the kernel's word on what backs each page of this
 * process (present, swapped, file or anonymous, mapped once or shared). */
#ifndef UCOW_PAGEMAP_H
#define UCOW_PAGEMAP_H

#include <stddef.h>
#include <stdint.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "sys.h"

#define PM_PRESENT (1ULL << 63)
#define PM_SWAPPED (1ULL << 62)
#define PM_FILE (1ULL << 61)
#define PM_EXCLUSIVE (1ULL << 56)
/* The system headers are older than the kernel: PAGEMAP_SCAN (6.7). */
#ifndef PAGEMAP_SCAN
struct page_region {
	uint64_t start;
	uint64_t end;
	uint64_t categories;
};
struct pm_scan_arg {
	uint64_t size;
	uint64_t flags;
	uint64_t start;
	uint64_t end;
	uint64_t walk_end;
	uint64_t vec;
	uint64_t vec_len;
	uint64_t max_pages;
	uint64_t category_inverted;
	uint64_t category_mask;
	uint64_t category_anyof_mask;
	uint64_t return_mask;
};
#define PAGEMAP_SCAN _IOWR('f', 16, struct pm_scan_arg)
#define PAGE_IS_PRESENT (1 << 3)
#define PAGE_IS_SWAPPED (1 << 4)
#define PAGE_IS_PFNZERO (1 << 5)
#endif

#define PM_BATCH 512		/* entries a caller reads at a time: 4 KiB of stack */

/*
 * Reads the entries of up to @n pages from @addr (page aligned) through @pm, an open
 * /proc/self/pagemap. Returns how many were read (> 0), 0 at the end of the address space,
 * or -errno.
 */
static inline ssize_t pagemap_read(int pm, uintptr_t addr, uint64_t *entries, size_t n)
{
	ssize_t got = pread(pm, entries, n * sizeof(entries[0]),
			    (off_t)(addr / UCOW_PAGE_SIZE * sizeof(entries[0])));

	return got < 0 ? -errno : got / (ssize_t)sizeof(entries[0]);
}

#endif

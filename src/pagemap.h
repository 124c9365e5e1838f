/* pagemap.h: reading /proc/self/pagemap, the kernel's word on what backs each page of this
 * process (present, swapped, file or anonymous, mapped once or shared). */
#ifndef UCOW_PAGEMAP_H
#define UCOW_PAGEMAP_H

#include <stddef.h>
#include <stdint.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "compat.h"
#include "sys.h"

#define PM_PRESENT (1ULL << 63)
#define PM_SWAPPED (1ULL << 62)
#define PM_FILE (1ULL << 61)
#define PM_EXCLUSIVE (1ULL << 56)
/* PAGEMAP_SCAN, where the system headers lack it: compat.h. */

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

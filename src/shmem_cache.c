/* shmem_cache.c: write mode's reads of holes: the page-cache page, allocated as the kernel's
 * own read fault would allocate it, and the faulting thread woken to map it itself. */
#include <errno.h>
#include <fcntl.h>
#include <sys/mman.h>

#include "fill.h"
#include "filter_probe.h"
#include "region.h"
#include "shmem_cache.h"
#include "source.h"
#include "sys.h"

/*
 * The page-cache page at @off, allocated as the kernel's own read fault allocates it: a read
 * fault through a shared read-only mapping of ucow's own, which needs no write access to the
 * file (the program's, and so ucow's, description is often O_RDONLY). Beyond the end of
 * file the populate fails (EFAULT) instead of raising SIGBUS here.
 */
static int read_into_cache(int fd, off_t off)
{
	void *p = sys_mmap(NULL, UCOW_PAGE_SIZE, PROT_READ, MAP_SHARED, fd, off);
	int ret = 0;

	if (p == MAP_FAILED)
		return -errno;
	if (sys_madvise(p, UCOW_PAGE_SIZE, MADV_POPULATE_READ) < 0)
		ret = -errno;
	sys_munmap(p, UCOW_PAGE_SIZE);
	return ret;
}

/*
 * A read of a hole in write mode: the page cache gets its page, as the kernel's own fault
 * would allocate it, and the woken thread maps it by itself. fallocate where ucow may write
 * (one call; KEEP_SIZE never overwrites data someone wrote meanwhile), else a read fault.
 */
int shmem_cache_fill(const struct ucow_region *r, uintptr_t addr)
{
	off_t off = region_file_offset(r, addr);
	int ret = -EBADF;

	if (r->src->writable && filter_allows(UCOW_SYS_FALLOCATE) &&
	    fallocate(r->src->fd, FALLOC_FL_KEEP_SIZE, off, UCOW_PAGE_SIZE) == 0)
		ret = 0;
	if (ret < 0)	/* read-only, or sealed against writes (EPERM) */
		ret = read_into_cache(r->src->fd, off);
	if (ret == -EFAULT)	/* beyond the end of file: the woken thread gets its SIGBUS */
		return fill_wake(addr, UCOW_PAGE_SIZE);
	if (ret < 0)
		return ret;
	ret = fill_wake(addr, UCOW_PAGE_SIZE);
	return ret < 0 ? ret : 1;
}

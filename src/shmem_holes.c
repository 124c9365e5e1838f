/* shmem_holes.c: MAP_PRIVATE mappings of shmem files (memfd, /dev/shm, tmpfs). A missing
 * fault there means a hole in the page cache; ucow fills it without filling the file. */
#include <errno.h>
#include <fcntl.h>
#include <linux/magic.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/vfs.h>

#include "config.h"
#include "engine.h"
#include "policy.h"
#include "source.h"
#include "stats.h"
#include "sys.h"

static bool is_shmem_file(int fd)
{
	struct statfs sfs;
	struct stat st;

	if (fstatfs(fd, &sfs) < 0 || sfs.f_type != TMPFS_MAGIC)
		return false;
	return fstat(fd, &st) == 0 && S_ISREG(st.st_mode);
}

const struct ucow_policy *shmem_holes_claim(int prot, int flags, int fd, uint64_t *data)
{
	if (ucow_cfg.shmem_holes == UCOW_SHMEM_OFF || fd < 0)
		return NULL;
	if ((flags & MAP_TYPE) != MAP_PRIVATE || !is_shmem_file(fd))
		return NULL;
	*data = (uint64_t)ucow_cfg.shmem_holes;
	return &ucow_shmem_holes_policy;
}

/* A write to a hole: one private page of zeroes, the file untouched. */
static int fill_private(uintptr_t addr)
{
	int ret = ucow_answer_copy(addr, ucow_zero_page, UCOW_PAGE_SIZE);

	if (ret == 0) {
		ucow_stat_add(UCOW_ST_SH_FILLED_PRIVATE, 1);
		ucow_stat_add(UCOW_ST_SH_PAGECACHE_AVOIDED, 1);
	}
	return ret;
}

/* A read of a hole in zero mode: the shared zero page, as hugetlbfs would. */
static int map_zero(uintptr_t addr)
{
	int ret = ucow_answer_zero(addr, UCOW_PAGE_SIZE);

	if (ret == 0) {
		ucow_stat_add(UCOW_ST_SH_ZERO_MAPPED, 1);
		ucow_stat_add(UCOW_ST_SH_PAGECACHE_AVOIDED, 1);
	}
	return ret;
}

/*
 * A read of a hole in write mode: the page cache gets its page, as the kernel's own fault
 * would allocate it, and the woken thread maps it by itself. KEEP_SIZE never overwrites
 * data someone wrote meanwhile.
 */
static int fill_page_cache(const struct ucow_region *r, uintptr_t addr)
{
	off_t off = (off_t)(r->offset + (addr - r->start));

	if (fallocate(r->src->fd, FALLOC_FL_KEEP_SIZE, off, UCOW_PAGE_SIZE) < 0)
		return -errno;
	ucow_stat_add(UCOW_ST_SH_PAGECACHE_FILLED, 1);
	return ucow_answer_wake(addr, UCOW_PAGE_SIZE);
}

static int shmem_holes_fault(const struct ucow_region *r, const struct ucow_fault *f)
{
	if (f->flags & UCOW_FAULT_WRITE) {
		ucow_stat_add(UCOW_ST_SH_FAULTS_WRITE, 1);
		return fill_private(f->addr);
	}
	ucow_stat_add(UCOW_ST_SH_FAULTS_READ, 1);
	if (r->data == UCOW_SHMEM_WRITE)
		return fill_page_cache(r, f->addr);
	return map_zero(f->addr);
}

const struct ucow_policy ucow_shmem_holes_policy = {
	.name = "shmem-holes",
	.fault = shmem_holes_fault,
	.kernel_fallback = true,
	.regions_stat = UCOW_ST_SH_REGIONS,
};

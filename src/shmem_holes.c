/* shmem_holes.c: MAP_PRIVATE mappings of shmem files (memfd, /dev/shm, tmpfs). A missing
 * fault there means a hole in the page cache; ucow fills it without filling the file. */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "compat.h"
#include "config.h"
#include "engine.h"
#include "fill.h"
#include "filter_probe.h"
#include "fdtable.h"
#include "log.h"
#include "pagemap.h"
#include "policy.h"
#include "shmem_holes.h"
#include "region.h"
#include "source.h"
#include "stats.h"
#include "sys.h"
#include "window.h"

/* This policy's counters (UCOW_STATS: the "shmem_holes" group). */
enum shmem_holes_counter {
	SH_REGIONS,
	SH_FAULTS_READ,		/* faults_counter: reads, then writes */
	SH_FAULTS_WRITE,
	SH_ZERO_MAPPED,
	SH_FILLED_PRIVATE,
	SH_PAGECACHE_AVOIDED,
	SH_PAGECACHE_FILLED,
	SH_HOLE_PAGES_WRITTEN,	/* measured when a mapping goes: see shmem_holes_account */
	SH_HOLE_PAGES_ZERO,
	SH_PRIVATE_PAGES,
	SH__COUNT,
};
static atomic_ulong shmem_holes_counts[SH__COUNT];
/* What a live measure (ucow stat) found in the mappings still there: added, then cleared. */
static atomic_ulong shmem_holes_live[SH__COUNT];

static void sh_count(enum shmem_holes_counter id, unsigned long n)
{
	ucow_count(&shmem_holes_counts[id], n);
}

/* A regular file (not a device node or a directory on the tmpfs the caller found). */
static bool is_regular(int fd)
{
	struct stat st;

	return fstat(fd, &st) == 0 && S_ISREG(st.st_mode);
}

/*
 * The region's policy word: the mode (enum ucow_shmem_mode), and whether the program asked
 * for huge pages there (MADV_HUGEPAGE). Then a write to a hole fills every hole of its
 * fault-around window with private pages at once, as an anonymous huge page would: memory
 * for the window, no more faults in it. Not for transparent huge pages set to always: that
 * setting is for anonymous memory, often a distribution's default, and would give every
 * scattered writer whole windows.
 */
#define SH_MODE_MASK 0xffULL
#define SH_HUGE (1ULL << 8)

static bool mode_is(const struct ucow_region *r, enum ucow_shmem_mode mode)
{
	return (r->data & SH_MODE_MASK) == (uint64_t)mode;
}

/* A MAP_PRIVATE mapping of a regular file on tmpfs. */
static int shmem_holes_claim(struct ucow_mmap_call *call, uint64_t *data)
{
	if (ucow_cfg.shmem_holes == UCOW_SHMEM_OFF || !call->tmpfs)
		return 0;
	if ((call->flags & MAP_TYPE) != MAP_PRIVATE || !is_regular(call->fd))
		return 0;
	*data = (uint64_t)ucow_cfg.shmem_holes;
	return 1;
}

static int shmem_holes_manage(uintptr_t start, const struct ucow_mmap_call *call, uint64_t data)
{
	/* A range that cannot be managed is the kernel's: the mmap succeeds all the same. */
	engine_manage(start, call->len, &ucow_shmem_holes_policy, call->fd, (uint64_t)call->off,
		      data, call->prot);
	return 0;
}

/* MADV_HUGEPAGE and MADV_NOHUGEPAGE choose how writes to holes are filled. */
static void shmem_holes_advise(uintptr_t start, uintptr_t end, int advice)
{
	uint64_t data = (uint64_t)ucow_cfg.shmem_holes;

	if (ucow_cfg.shmem_holes != UCOW_SHMEM_ZERO)
		return;
	if (advice == MADV_HUGEPAGE)
		data |= SH_HUGE;
	else if (advice != MADV_NOHUGEPAGE)
		return;
	if (registry_set_data(&ucow_registry, start, end, &ucow_shmem_holes_policy, data) < 0)
		ucow_info("shmem-holes", "cannot note the huge page advice on %#lx-%#lx: no memory",
			  (unsigned long)start, (unsigned long)end);
}

/* A write to a hole: one private page of zeroes, the file untouched. */
static int fill_private(uintptr_t addr)
{
	long filled = fill_copy(addr, fill_zeroes, UCOW_PAGE_SIZE);

	if (filled < 0)
		return (int)filled;
	if (filled) {
		sh_count(SH_FILLED_PRIVATE, 1);
	}
	return 0;
}

/*
 * The run of holes around @addr, within the fault-around window, the region and the end of
 * the file. Data pages are never inside it: the window stops at the nearest data on either
 * side (SEEK_DATA/SEEK_HOLE on ucow's own description, whose position is its own).
 */
static void hole_window(const struct ucow_region *r, uintptr_t addr, uintptr_t *start,
			uintptr_t *end)
{
	uint64_t win = ucow_cfg.fault_around & UCOW_PAGE_MASK;
	off_t fault, lo, hi, pos, eof;
	struct stat st;

	*start = addr;
	*end = addr + UCOW_PAGE_SIZE;
	if (win <= UCOW_PAGE_SIZE || !r->src->private_pos || fstat(r->src->fd, &st) < 0)
		return;
	fault = (off_t)(r->offset + (addr - r->start));
	lo = fault - (off_t)((addr - r->start) % win);
	hi = lo + (off_t)win;
	if (lo < (off_t)r->offset)
		lo = (off_t)r->offset;
	if (hi > (off_t)(r->offset + (r->end - r->start)))
		hi = (off_t)(r->offset + (r->end - r->start));
	/* Beyond the end of file the kernel's SIGBUS must stay. */
	eof = (off_t)UCOW_PAGE_UP(st.st_size);
	if (hi > eof)
		hi = eof;
	if (fault >= hi)
		return;
	for (pos = lo; pos < hi;) {
		off_t data = lseek(r->src->fd, pos, SEEK_DATA);
		off_t hole;

		if (data < 0 || data >= hi)
			break;
		if (data > fault) {
			hi = data & (off_t)UCOW_PAGE_MASK;
			break;
		}
		hole = lseek(r->src->fd, data, SEEK_HOLE);
		if (hole < 0)
			return;
		hole = (off_t)UCOW_PAGE_UP(hole);
		if (hole > fault)
			return;	/* data appeared under the fault: one page only */
		lo = pos = hole;
	}
	if (hi <= fault)	/* data inside the fault page itself: the window must hold it */
		return;
	*start = r->start + (uintptr_t)(lo - (off_t)r->offset);
	*end = r->start + (uintptr_t)(hi - (off_t)r->offset);
}

static int map_zero_range(uintptr_t start, uintptr_t end)
{
	long filled;

	if (start >= end)
		return 0;
	filled = fill_zero(start, end - start);
	if (filled < 0)
		return (int)filled;
	sh_count(SH_ZERO_MAPPED, (unsigned long)filled / UCOW_PAGE_SIZE);
	return 0;
}

/*
 * Zero mode: the shared zero page over the holes around the fault, as hugetlbfs gives a
 * read; a write gets its own page. Later writes in the window are the kernel's own
 * zero-page copy-on-write faults and never reach ucow. Returns the window's end, or -errno.
 */
static long map_zero_around(const struct ucow_region *r, const struct ucow_fault *f)
{
	uintptr_t start, end;
	int ret;

	hole_window(r, f->addr, &start, &end);
	if (!(f->flags & UCOW_FAULT_WRITE)) {
		ret = map_zero_range(start, end);
	} else {
		ret = map_zero_range(start, f->addr);
		if (ret == 0)
			ret = map_zero_range(f->addr + UCOW_PAGE_SIZE, end);
		if (ret == 0)
			ret = fill_private(f->addr);
	}
	return ret < 0 ? ret : (long)end;
}

/* The end of the run of holes that starts at @addr, at most @end: data and EOF stop it. */
static uintptr_t holes_ahead(const struct ucow_region *r, uintptr_t addr, uintptr_t end)
{
	off_t off = (off_t)(r->offset + (addr - r->start));
	off_t hi = off + (off_t)(end - addr), data;
	struct stat st;

	if (!r->src->private_pos || fstat(r->src->fd, &st) < 0)
		return addr + UCOW_PAGE_SIZE;
	if (hi > (off_t)UCOW_PAGE_UP(st.st_size))
		hi = (off_t)UCOW_PAGE_UP(st.st_size);
	data = lseek(r->src->fd, off, SEEK_DATA);
	if (data >= 0 && data < hi)
		hi = data & (off_t)UCOW_PAGE_MASK;
	if (hi <= off)
		return addr + UCOW_PAGE_SIZE;
	return addr + (uintptr_t)(hi - off);
}

/*
 * A write that continues a sequential stream: the holes ahead, up to the stream's window,
 * get private zero pages in one go, so the writes that follow never fault. At most one
 * window beyond the last page a stream writes is filled without being written.
 */
static long fill_private_ahead(const struct ucow_region *r, uintptr_t addr, uintptr_t end)
{
	long filled;

	end = holes_ahead(r, addr, end);
	/* Not on the writer's CPU: fresh memory for the most part (guest RAM) gains nothing
	 * there, and each move wakes an idle CPU (sequential writes: 0.48 -> 0.56 of the
	 * kernel's time, measured). Nor for MADV_HUGEPAGE windows. */
	filled = fill_repeat(addr, end - addr, fill_zeroes, FILL_ZEROES_LEN, false);
	if (filled < 0)
		return filled;
	sh_count(SH_FILLED_PRIVATE, (unsigned long)filled / UCOW_PAGE_SIZE);
	return (long)end;
}

/* Windows filled ahead, one after another, before the writer is measured again. */
#define BLIND_FILLS 16

/*
 * Whether every page of the window before @addr is now a private page of this process: a
 * writer that ran through a zero-page window writing every page earns windows filled ahead;
 * a strided or scattered one keeps the zero page, and memory equal to what it writes.
 */
static bool written_densely(const struct ucow_region *r, uintptr_t addr)
{
	uint64_t entries[PM_BATCH];
	size_t n = ucow_cfg.fault_around / UCOW_PAGE_SIZE;
	uintptr_t start;
	ssize_t got;
	int pm;

	if (n > PM_BATCH)
		n = PM_BATCH;
	if (n > (addr - r->start) / UCOW_PAGE_SIZE)
		n = (addr - r->start) / UCOW_PAGE_SIZE;
	if (n == 0)
		return false;
	start = addr - n * UCOW_PAGE_SIZE;
	pm = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
	if (pm < 0)
		return false;
	got = pagemap_read(pm, start, entries, n);
	close(pm);
	if (got != (ssize_t)n)
		return false;
	for (size_t i = 0; i < n; i++)
		if ((entries[i] & (PM_PRESENT | PM_FILE | PM_EXCLUSIVE)) != (PM_PRESENT | PM_EXCLUSIVE))
			return false;
	return true;
}

/*
 * Zero mode, a write continuing a sequential stream: fill ahead if the writer wrote every
 * page of the zero window it came through, and then for a few windows without looking
 * (pages filled ahead cannot tell written from not), after which it is measured again.
 * A writer that stops leaves at most one window filled and unwritten; one that turns
 * strided is caught at the next measured window. Handler thread only.
 */
static uintptr_t filled_up_to;	/* where the last window filled ahead ended */
static uint64_t filled_birth;	/* in which mapping (region.birth) */

static bool fill_ahead_earned(const struct ucow_region *r, uintptr_t addr)
{
	static unsigned int blind;
	bool resumes = addr == filled_up_to && r->birth == filled_birth;

	if (resumes && blind < BLIND_FILLS) {
		blind++;
		return true;
	}
	if (!resumes && written_densely(r, addr)) {
		blind = 1;
		return true;
	}
	blind = 0;
	filled_up_to = 0;
	return false;
}

/*
 * Zero mode where the program asked for huge pages: every hole of the window gets its own
 * private page, and the writes that follow there never fault (a zero-page copy-on-write
 * costs as much as the kernel's own write to a hole here, measured, and more with other
 * threads running: its TLB flush is an interrupt on each of their CPUs).
 */
static int fill_window_private(const struct ucow_region *r, const struct ucow_fault *f)
{
	uintptr_t start, end;
	long filled;

	hole_window(r, f->addr, &start, &end);
	filled = fill_repeat(start, end - start, fill_zeroes, FILL_ZEROES_LEN, false);
	if (filled < 0)
		return (int)filled;
	sh_count(SH_FILLED_PRIVATE, (unsigned long)filled / UCOW_PAGE_SIZE);
	return 0;
}

static int write_fault(const struct ucow_region *r, const struct ucow_fault *f)
{
	bool continues = window_continues(f->addr);
	uintptr_t end = window_next(f->addr, r->end, ucow_cfg.fault_around);
	size_t win = ucow_cfg.fault_around & UCOW_PAGE_MASK;
	long zero_end, filled;

	/*
	 * Write mode fills one page per write: a page filled ahead would hide what another
	 * process writes into the file there later, and write mode differs only in memory.
	 */
	if (!mode_is(r, UCOW_SHMEM_ZERO))
		return fill_private(f->addr);
	if ((r->data & SH_HUGE))
		return fill_window_private(r, f);
	/* The measured density stands in for the stream's usual run of confirming faults. */
	if (continues && win > UCOW_PAGE_SIZE && fill_ahead_earned(r, f->addr)) {
		end = win > r->end - f->addr ? r->end : f->addr + win;
		filled = fill_private_ahead(r, f->addr, end);
		if (filled < 0)
			return (int)filled;
		filled_up_to = (uintptr_t)filled;
		filled_birth = r->birth;
		window_covered(f->addr, filled_up_to);
		return 0;
	}
	zero_end = map_zero_around(r, f);
	if (zero_end < 0)
		return (int)zero_end;
	/* A sequential writer's next fault comes where the zero window ends. */
	window_covered(f->addr, (uintptr_t)zero_end);
	return 0;
}

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
static int fill_page_cache(const struct ucow_region *r, uintptr_t addr)
{
	off_t off = (off_t)(r->offset + (addr - r->start));
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
	sh_count(SH_PAGECACHE_FILLED, 1);
	return fill_wake(addr, UCOW_PAGE_SIZE);
}

static int shmem_holes_fault(const struct ucow_region *r, const struct ucow_fault *f)
{
	long ret;

	if (f->flags & UCOW_FAULT_WRITE)
		return write_fault(r, f);
	if (mode_is(r, UCOW_SHMEM_ZERO)) {
		/* A read of a hole costs the kernel a page-cache page; written holes are
		 * measured when the mapping goes (writes in the window never fault here). */
		sh_count(SH_PAGECACHE_AVOIDED, 1);
		ret = map_zero_around(r, f);
		return ret < 0 ? (int)ret : 0;
	}
	/* Write mode: a read must end with the page-cache page mapped, so no window. */
	return fill_page_cache(r, f->addr);
}

/* Whether the file has no data at @off, by ucow's own description (its own position). */
static bool is_hole(const struct ucow_region *r, int fd, off_t off, off_t *next_change)
{
	off_t data;

	if (!r->src->private_pos || fd < 0) {
		*next_change = off + (off_t)UCOW_PAGE_SIZE;
		return true;
	}
	data = lseek(fd, off, SEEK_DATA);
	if (data < 0 || data > off) {
		*next_change = data < 0 ? INT64_MAX : data;
		return true;
	}
	*next_change = lseek(fd, off, SEEK_HOLE);
	if (*next_change <= off)
		*next_change = off + (off_t)UCOW_PAGE_SIZE;
	return false;
}

/*
 * What the mapping holds as it goes (munmap, exit), from /proc/self/pagemap: private pages
 * over holes are the writes whose page-cache twin ucow avoided; zero pages over holes the
 * pages over holes were mapped by fault-around, read or not. Measured here rather than counted at faults, because most writes in a
 * fault-around window are the kernel's own zero-page copy-on-write faults.
 */
static void shmem_holes_account(const struct ucow_region *r, bool live)
{
	atomic_ulong *into = live ? shmem_holes_live : shmem_holes_counts;
	uint64_t entries[PM_BATCH];
	unsigned long written = 0, read = 0, private = 0;
	off_t change = 0;
	bool hole = false;
	int pm, fd;

	pm = fdt_pagemap_open();
	if (pm < 0)
		return;
	/* The source's descriptor is in the handler's table; a copy of it shares ucow's own
	 * description, whose position is ucow's. */
	fd = fdt_borrow(r->src->fd);
	for (uintptr_t addr = r->start; addr < r->end;) {
		size_t n = (r->end - addr) / UCOW_PAGE_SIZE;
		ssize_t got;

		if (n > PM_BATCH)
			n = PM_BATCH;
		got = pagemap_read(pm, addr, entries, n);
		if (got <= 0)
			break;
		n = (size_t)got;
		for (size_t i = 0; i < n; i++, addr += UCOW_PAGE_SIZE) {
			uint64_t e = entries[i];
			off_t off = (off_t)(r->offset + (addr - r->start));
			bool anon = (e & (PM_PRESENT | PM_SWAPPED)) && !(e & PM_FILE) &&
				    ((e & PM_EXCLUSIVE) || (e & PM_SWAPPED));
			bool zero = (e & PM_PRESENT) && !(e & (PM_FILE | PM_EXCLUSIVE));

			if (!anon && !zero)
				continue;
			if (off >= change)
				hole = is_hole(r, fd, off, &change);
			private += anon;
			written += anon && hole;
			read += zero && hole;
		}
	}
	fdt_pagemap_close(pm);
	fdt_unborrow(r->src->fd, fd);
	ucow_count(&into[SH_PRIVATE_PAGES], private);
	ucow_count(&into[SH_HOLE_PAGES_WRITTEN], written);
	ucow_count(&into[SH_HOLE_PAGES_ZERO], read);
	/* The kernel fills a hole in the page cache on every write to it. */
	ucow_count(&into[SH_PAGECACHE_AVOIDED], written);
}

/*
 * Zero pages ucow mapped over holes (fault-around) go, so that the program's own userfaultfd
 * sees those pages missing. Only zero-page entries are dropped (PAGEMAP_SCAN tells them
 * apart exactly); pages the program wrote are private copies and stay.
 */
static void shmem_holes_released(const struct ucow_region *r)
{
	struct page_region vec[64];
	struct pm_scan_arg a = {
		.size = sizeof(a),
		.start = r->start,
		.end = r->end,
		.vec = (uintptr_t)vec,
		.vec_len = sizeof(vec) / sizeof(vec[0]),
		.category_mask = PAGE_IS_PFNZERO,
		.return_mask = PAGE_IS_PFNZERO,
	};
	int pm = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);

	if (pm < 0) {
		ucow_warn("shmem-holes", "cannot read /proc/self/pagemap (%s): zero pages mapped "
			  "ahead in %#lx-%#lx stay", strerror(errno), (unsigned long)r->start,
			  (unsigned long)r->end);
		return;
	}
	while (a.start < r->end) {
		long n = ioctl(pm, PAGEMAP_SCAN, &a);

		if (n < 0) {
			ucow_warn("shmem-holes", "PAGEMAP_SCAN: %s: zero pages mapped ahead in "
				  "%#lx-%#lx stay", strerror(errno), (unsigned long)a.start,
				  (unsigned long)r->end);
			break;
		}
		for (long i = 0; i < n; i++)
			sys_madvise((void *)(uintptr_t)vec[i].start, vec[i].end - vec[i].start,
				    MADV_DONTNEED);
		if (a.walk_end <= a.start)
			break;
		a.start = a.walk_end;
	}
	close(pm);
}

static unsigned long sh_read(enum shmem_holes_counter id)
{
	return ucow_count_read(&shmem_holes_counts[id]) + ucow_count_read(&shmem_holes_live[id]);
}

static void shmem_holes_live_clear(void)
{
	ucow_counts_reset(shmem_holes_live, SH__COUNT);
}

static int shmem_holes_stats_json(char *buf, size_t size)
{
	static const char *const modes[] = { "zero", "write", "off" };

	return snprintf(buf, size,
		",\"shmem_holes\":{\"mode\":\"%s\",\"regions\":%lu,\"faults_read\":%lu,"
		"\"faults_write\":%lu,\"pages_zero_mapped\":%lu,\"pages_filled_private\":%lu,"
		"\"pagecache_pages_filled\":%lu,\"hole_pages_written\":%lu,"
		"\"hole_pages_zero\":%lu,\"private_bytes\":%lu,"
		"\"pagecache_pages_avoided\":%lu,\"bytes_saved\":%lu}",
		modes[ucow_cfg.shmem_holes], sh_read(SH_REGIONS), sh_read(SH_FAULTS_READ),
		sh_read(SH_FAULTS_WRITE), sh_read(SH_ZERO_MAPPED), sh_read(SH_FILLED_PRIVATE),
		sh_read(SH_PAGECACHE_FILLED), sh_read(SH_HOLE_PAGES_WRITTEN),
		sh_read(SH_HOLE_PAGES_ZERO), sh_read(SH_PRIVATE_PAGES) * UCOW_PAGE_SIZE,
		sh_read(SH_PAGECACHE_AVOIDED), sh_read(SH_PAGECACHE_AVOIDED) * UCOW_PAGE_SIZE);
}

static void shmem_holes_stats_reset(void)
{
	ucow_counts_reset(shmem_holes_counts, SH__COUNT);
}

const struct ucow_policy ucow_shmem_holes_policy = {
	.name = "shmem-holes",
	.claim = shmem_holes_claim,
	.manage = shmem_holes_manage,
	.fault = shmem_holes_fault,
	.kernel_fallback = true,
	.advise_after = shmem_holes_advise,
	.regions_counter = &shmem_holes_counts[SH_REGIONS],
	.faults_counter = &shmem_holes_counts[SH_FAULTS_READ],
	.stats_json = shmem_holes_stats_json,
	.stats_reset = shmem_holes_stats_reset,
	.account = shmem_holes_account,
	.live_clear = shmem_holes_live_clear,
	.released = shmem_holes_released,
};

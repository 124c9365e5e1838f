/* shmem_holes.c: MAP_PRIVATE mappings of shmem files (memfd, /dev/shm, tmpfs). A missing
 * fault there means a hole in the page cache; ucow fills it without filling the file. */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "compat.h"
#include "config.h"
#include "engine.h"
#include "fill.h"
#include "hole_runs.h"
#include "log.h"
#include "pagemap.h"
#include "policy.h"
#include "shmem_ahead.h"
#include "shmem_cache.h"
#include "shmem_holes.h"
#include "shmem_holes_stats.h"
#include "shmem_measure.h"
#include "region.h"
#include "source.h"
#include "sys.h"
#include "window.h"

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

/* The @win bytes that hold @addr, aligned in the region (a page if @win is no more). */
static struct window aligned_window(const struct ucow_region *r, uintptr_t addr, uint64_t win)
{
	struct window w = { addr, addr + UCOW_PAGE_SIZE };

	if (win <= UCOW_PAGE_SIZE)
		return w;
	w.start = addr - (addr - r->start) % win;
	w.end = r->end - w.start < win ? r->end : w.start + win;
	return w;
}

/* The first fault of a mapping gets this much mapped around it, and the later ones the whole
 * UCOW_FAULT_AROUND: a mapping made for one write or read (shared-memory messages, mapped,
 * touched and unmapped again) then costs no 2 MiB of zero pages to map and tear down (map,
 * write, unmap of 8 MiB: 200 -> 110 us, measured). */
#define FIRST_WINDOW (16 * UCOW_PAGE_SIZE)
#define MAPPINGS_SEEN 64

/* The zero window for a fault in @r: small at its mapping's first fault. Handler thread. */
static uint64_t zero_window(const struct ucow_region *r)
{
	static uint64_t seen[MAPPINGS_SEEN];	/* births of mappings that faulted, recent */
	static unsigned int next;
	uint64_t win = ucow_cfg.fault_around & UCOW_PAGE_MASK;

	for (unsigned int i = 0; i < MAPPINGS_SEEN; i++)
		if (seen[i] == r->birth)
			return win;
	seen[next++ % MAPPINGS_SEEN] = r->birth;
	return win < FIRST_WINDOW ? win : FIRST_WINDOW;
}

/*
 * The zero page over every run of holes in the window around the fault but the run that
 * holds the faulting page, which is left in *@fault_run (the page alone if none does).
 * *@holes counts the hole pages of the window: 0 if the walk found none missing, not even
 * the faulting page (another thread's fault mapped it since). Returns 0 or -errno; *@w is
 * the window.
 */
static int map_zero_but_fault(const struct ucow_region *r, const struct ucow_fault *f,
			      struct window *w, struct window *fault_run, unsigned long *holes)
{
	struct hole_walk walk;
	uintptr_t s, e;
	int ret = 0;

	*w = aligned_window(r, f->addr, (f->flags & UCOW_FAULT_AGAIN) ? 0 : zero_window(r));
	*fault_run = (struct window){ f->addr, f->addr + UCOW_PAGE_SIZE };
	/* A page alone needs no walk: a missing fault there is a hole. */
	if (w->end - w->start == UCOW_PAGE_SIZE || !hole_walk_start(&walk, r, w->start, w->end)) {
		*w = *fault_run;
		*holes = 1;
	} else
		while (ret == 0 && hole_walk_next(&walk, &s, &e)) {
			if (range_holds(s, e, f->addr))
				*fault_run = (struct window){ s, e };
			else
				ret = shmem_map_zero(s, e, true);
			*holes += (e - s) / UCOW_PAGE_SIZE;
		}
	return ret;
}

/*
 * Zero mode: the shared zero page over every run of holes in the window around the fault,
 * as hugetlbfs gives a read; the data pages between them are left to the kernel's own
 * fault. A write gets its own page first: the writer goes on while the window is mapped.
 * Later writes there are the kernel's zero-page copy-on-write faults. A read's run is mapped
 * last: the reader is counted before it wakes (it may unmap at once, and be measured). Data
 * appeared under the fault since (or the file cannot be walked): the page alone, as the
 * kernel's own fault would have had it a moment earlier. Returns 0 or -errno; *@w is the
 * window.
 */
static int map_zero_around(const struct ucow_region *r, const struct ucow_fault *f,
			   struct window *w, unsigned long *found)
{
	struct window run;
	unsigned long holes = 0;
	int ret;

	if (f->flags & UCOW_FAULT_WRITE) {
		ret = shmem_fill_private(f->addr);
		if (ret < 0)
			return ret;
		/* Answered: what fails from here leaves holes missing, to fault as any other. */
		if (map_zero_but_fault(r, f, w, &run, &holes) == 0 && run.end - run.start > UCOW_PAGE_SIZE)
			shmem_map_zero(run.start, run.end, true);	/* (the walk found the page a hole) */
		return 0;
	}
	ret = map_zero_but_fault(r, f, w, &run, &holes);
	if (found)
		*found = holes;
	if (ret < 0)
		return ret;
	/* None missing: a second reader of a window already counted for the first. */
	if (holes)
		shmem_holes_count(SH_READ_CREDIT,
				  shmem_measure_read(r, f->addr, w->start, w->end, holes));
	return shmem_map_zero(run.start, run.end, true);
}

/*
 * Zero mode where the program asked for huge pages: every hole of the window gets its own
 * private page, and the writes that follow there never fault (a zero-page copy-on-write
 * costs as much as the kernel's own write to a hole here, measured, and more with other
 * threads running: its TLB flush is an interrupt on each of their CPUs).
 */
static int fill_window_private(const struct ucow_region *r, const struct ucow_fault *f)
{
	struct window w = aligned_window(r, f->addr, ucow_cfg.fault_around & UCOW_PAGE_MASK);

	return shmem_fill_window(r, &w, f->addr);
}

static int write_fault(const struct ucow_region *r, const struct ucow_fault *f)
{
	int heading = window_heading(f->addr);
	size_t win = ucow_cfg.fault_around & UCOW_PAGE_MASK;
	struct window w;
	int ret;

	/*
	 * Write mode fills one page per write: a page filled ahead would hide what another
	 * process writes into the file there later, and write mode differs only in memory.
	 */
	if (!mode_is(r, UCOW_SHMEM_ZERO) || (f->flags & UCOW_FAULT_AGAIN))
		return shmem_fill_private(f->addr);
	if ((r->data & SH_HUGE))
		return fill_window_private(r, f);
	/* The writer caught up with the window being filled ahead of it: its page is filled,
	 * and the stream goes on past the window. Later, a fault there is a new one (a page
	 * discarded since). */
	if (shmem_ahead_overtaken(r, f->addr))
		return shmem_fill_private(f->addr);
	window_next(f->addr, r->start, r->end, ucow_cfg.fault_around);
	/* The measured density stands in for the stream's usual run of confirming faults. */
	if (heading && win > UCOW_PAGE_SIZE) {
		ret = shmem_ahead_write(r, f->addr, heading);
		if (ret)
			return ret < 0 ? ret : 0;
	}
	ret = map_zero_around(r, f, &w, NULL);
	if (ret < 0 || win <= UCOW_PAGE_SIZE)
		return ret;
	/* A sequential writer's next fault comes at the first hole past the zero window, or
	 * just below it. */
	window_covered(f->addr, w.start, hole_at_or_after(r, w.end));
	return 0;
}

/*
 * A reader going up through whole windows: once it is served, the zero page goes over the
 * holes of the next window too, so that it reads on while the handler maps ahead of it
 * (sequential reads, data every 4 pages: 0.25 -> 0.13 of the kernel's time, measured). That
 * window is woken once, whole: a reader woken run by run would catch up at every run. Its
 * first hole stays missing, so that the reader's fault there asks for the window after it
 * while it reads this one (without: every other window mapped while the reader waits), and
 * its holes count as read only then, before the reader wakes. Handler thread only.
 */
static struct window reading;		/* the window mapped ahead of a reader, */
static uint64_t reading_birth;		/* in which mapping, */
static unsigned long reading_holes;	/* and its holes mapped, until the reader comes */

static void read_ahead(const struct ucow_region *r, const struct ucow_fault *f,
		       const struct window *w)
{
	static struct window last;	/* the last window mapped for a read */
	size_t win = ucow_cfg.fault_around & UCOW_PAGE_MASK;
	bool stream = r->birth == reading_birth &&
		      (w->start == last.end || range_holds(reading.start, reading.end, f->addr));
	struct window next;
	uintptr_t s, e, trip = 0;
	unsigned long holes = 0;
	struct hole_walk walk;
	long n = 0;

	reading_birth = r->birth;
	last = *w;
	reading = (struct window){ 0, 0 };
	reading_holes = 0;
	if (!stream || w->end - w->start != win || w->end >= r->end)
		return;
	next = (struct window){ w->end, r->end - w->end < win ? r->end : w->end + win };
	if (hole_walk_start(&walk, r, next.start, next.end))
		while (n >= 0 && hole_walk_next(&walk, &s, &e)) {
			if (!trip) {
				trip = s;	/* mapped at the reader's fault */
				s += UCOW_PAGE_SIZE;
				holes++;
			}
			n = s < e ? fill_zero_quiet(s, e - s) : 0;
			if (n > 0) {
				shmem_holes_count(SH_ZERO_MAPPED, (unsigned long)n / UCOW_PAGE_SIZE);
				holes += (unsigned long)n / UCOW_PAGE_SIZE;
			}
		}
	/* After a failure too: a thread waiting on a page left missing faults again. Not
	 * one waiting on the first hole: it would only fault again there. */
	if (!trip) {
		fill_wake(next.start, next.end - next.start);
	} else {
		if (trip > next.start)
			fill_wake(next.start, trip - next.start);
		if (trip + UCOW_PAGE_SIZE < next.end)
			fill_wake(trip + UCOW_PAGE_SIZE, next.end - trip - UCOW_PAGE_SIZE);
	}
	reading = next;
	reading_holes = holes;
	last = next;
}

/*
 * Zero mode, a read. The first fault in the window mapped ahead of a reader (its first hole,
 * as a rule) counts that window as read, and needs its page alone.
 */
static int read_fault(const struct ucow_region *r, const struct ucow_fault *f)
{
	struct window w = reading;
	unsigned long found = 1;
	int ret;

	if (r->birth == reading_birth && range_holds(reading.start, reading.end, f->addr) &&
	    reading_holes) {
		shmem_holes_count(SH_READ_CREDIT, shmem_measure_read(r, reading.start, reading.start,
								     reading.end, reading_holes));
		reading_holes = 0;
		ret = shmem_map_zero(f->addr, f->addr + UCOW_PAGE_SIZE, true);
	} else {
		ret = map_zero_around(r, f, &w, &found);
	}
	/* Nothing was missing: another reader's fault, already served, counted and followed. */
	if (ret == 0 && found)
		read_ahead(r, f, &w);
	return ret;
}

static int shmem_holes_fault(const struct ucow_region *r, const struct ucow_fault *f)
{
	int ret;

	if (f->flags & UCOW_FAULT_WRITE)
		return write_fault(r, f);
	if (mode_is(r, UCOW_SHMEM_ZERO))
		return read_fault(r, f);
	/* Write mode: a read must end with the page-cache page mapped, so no window. */
	ret = shmem_cache_fill(r, f->addr);
	if (ret > 0)
		shmem_holes_count(SH_PAGECACHE_FILLED, 1);
	return ret < 0 ? ret : 0;
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

/* hole_runs.c: the runs of holes of a shmem file under a managed range. Data pages between
 * them are the kernel's to map; a window spans them, one ioctl per run. */
#include <errno.h>
#include <sys/mman.h>
#include <sys/sysinfo.h>
#include <sys/stat.h>
#include <unistd.h>

#include "filter_probe.h"
#include "hole_runs.h"
#include "region.h"
#include "source.h"
#include "sys.h"

static uintptr_t addr_of(const struct ucow_region *r, off_t off)
{
	return r->start + (uintptr_t)(off - (off_t)r->offset);
}

/* The end of file rounded up to a page: beyond it the kernel's SIGBUS must stay. */
static bool file_end(const struct ucow_region *r, off_t *eof)
{
	struct stat st;

	if (!r->src || !r->src->private_pos || fstat(r->src->fd, &st) < 0)
		return false;
	*eof = (off_t)UCOW_PAGE_UP(st.st_size);
	return true;
}

bool hole_walk_start(struct hole_walk *w, const struct ucow_region *r, uintptr_t start,
		     uintptr_t end)
{
	off_t eof;

	if (!file_end(r, &eof))
		return false;
	w->r = r;
	w->pos = region_file_offset(r, start);
	w->hi = region_file_offset(r, end);
	if (w->hi > eof)
		w->hi = eof;
	w->batch = -1;
	w->batch_pages = 0;
	w->confirm = false;
	return true;
}

/* Whether no swap device is on: a shmem page is then in the page cache or nowhere. */
static bool swap_off(void)
{
	struct sysinfo si;

	return filter_allows(UCOW_SYS_SYSINFO) && sysinfo(&si) == 0 && si.totalswap == 0;
}

/*
 * mincore's answer for the pages from w->pos on: a page that is mapped, or in the page cache,
 * is no hole, whatever else it is. One call tells a window's data pages apart, where a walk
 * with SEEK_DATA and SEEK_HOLE takes two calls per run of data.
 */
static bool ask_mincore(struct hole_walk *w)
{
	size_t n = (size_t)(w->hi - w->pos) / UCOW_PAGE_SIZE;

	if (n > HOLE_WALK_BATCH)
		n = HOLE_WALK_BATCH;
	if (n == 0)
		return false;
	/* Without swap on before the call and after it, no page could be swapped out
	 * during it (swapoff brings every page back before it ends). */
	w->exact = !w->confirm && swap_off();
	if (mincore((void *)addr_of(w->r, w->pos), n * UCOW_PAGE_SIZE, w->here) < 0)
		return false;
	w->exact = w->exact && swap_off();
	w->batch = w->pos;
	w->batch_pages = n;
	return true;
}

static bool in_batch(const struct hole_walk *w, off_t off)
{
	return w->batch >= 0 && off >= w->batch &&
	       off < w->batch + (off_t)(w->batch_pages * UCOW_PAGE_SIZE);
}

static bool resident(const struct hole_walk *w, off_t off)
{
	return w->here[(off - w->batch) / (off_t)UCOW_PAGE_SIZE] & 1;
}

/*
 * Where the next run of pages neither mapped nor cached begins (at or after w->pos) and
 * ends, within the batch: the candidates. False when the batch has none left.
 */
static bool next_candidate(struct hole_walk *w, off_t *lo, off_t *hi)
{
	off_t end = w->batch + (off_t)(w->batch_pages * UCOW_PAGE_SIZE);

	if (end > w->hi)
		end = w->hi;
	while (w->pos < end && resident(w, w->pos))
		w->pos += (off_t)UCOW_PAGE_SIZE;
	if (w->pos >= end)
		return false;
	*lo = w->pos;
	for (*hi = *lo; *hi < end && !resident(w, *hi); *hi += (off_t)UCOW_PAGE_SIZE)
		;
	return true;
}

/*
 * A page swapped out is neither mapped nor cached, and is data: with swap on, each candidate
 * run is confirmed with one SEEK_DATA. Returns the end of the holes that begin at @lo (@lo itself
 * if data is there), or -1 if the file cannot tell.
 */
static off_t holes_from(int fd, off_t lo, off_t hi)
{
	off_t data = lseek(fd, lo, SEEK_DATA);

	if (data < 0)
		return errno == ENXIO ? hi : -1;	/* ENXIO: no data up to the end of file */
	data = (off_t)UCOW_PAGE_DOWN(data);
	return data < hi ? data : hi;
}

bool hole_walk_next(struct hole_walk *w, uintptr_t *start, uintptr_t *end)
{
	int fd = w->r->src->fd;
	off_t lo, hi, holes;

	while (w->pos < w->hi) {
		if (!in_batch(w, w->pos) && !ask_mincore(w))
			break;
		if (!next_candidate(w, &lo, &hi))
			continue;	/* the next batch */
		holes = w->exact ? hi : holes_from(fd, lo, hi);
		if (holes < 0)
			break;		/* unknown: nothing more is taken for a hole */
		if (holes > lo) {
			*start = addr_of(w->r, lo);
			*end = addr_of(w->r, holes);
			w->pos = holes;
			return true;
		}
		/* Data at @lo (swapped out): past the page, and on. */
		w->pos = lo + (off_t)UCOW_PAGE_SIZE;
	}
	w->pos = w->hi;
	return false;
}

uintptr_t hole_at_or_after(const struct ucow_region *r, uintptr_t addr)
{
	off_t eof, hole;

	if (addr >= r->end || !file_end(r, &eof))
		return addr;
	hole = lseek(r->src->fd, region_file_offset(r, addr), SEEK_HOLE);
	if (hole < 0)
		return addr;
	hole = (off_t)UCOW_PAGE_UP(hole);
	if (hole > eof)
		hole = eof;
	if (hole > region_file_offset(r, r->end))
		return r->end;
	return hole < region_file_offset(r, addr) ? addr : addr_of(r, hole);
}

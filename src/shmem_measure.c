/* shmem_measure.c: what a MAP_PRIVATE shmem mapping holds as it goes (munmap, exit), measured
 * from /proc/self/pagemap and smaps: the figures behind "page cache avoided" (man 7 ucow). */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "compat.h"
#include "fdtable.h"
#include "hole_runs.h"
#include "pagemap.h"
#include "region.h"
#include "shmem_measure.h"
#include "source.h"
#include "sys.h"

/*
 * Pages ucow fills ahead of a writer (a window filled privately) cost the kernel nothing on
 * its own path, which fills only the pages a program touches. Their accessed bits are
 * cleared right after the fill, before the writer is woken: MADV_COLD clears the bit of each
 * private page mapped once, and the hardware sets it again on the first touch.
 */
void shmem_measure_filled_ahead(uintptr_t start, uintptr_t end)
{
	if (start < end)
		sys_madvise((void *)start, end - start, MADV_COLD);
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

/* One smaps field line ("Rss:   12 kB"): its value in kB into *@kb if its name is @name. */
static void smaps_field(const char *line, const char *name, unsigned long *kb)
{
	size_t n = strlen(name);

	if (strncmp(line, name, n) == 0 && line[n] == ':')
		*kb = strtoul(line + n + 1, NULL, 10);
}

struct smaps_walk {
	uintptr_t start, end;		/* the range measured */
	uintptr_t lo, hi;		/* the VMA being read */
	unsigned long rss, referenced;	/* its fields, kB */
	unsigned long old_kb;		/* the range's share of resident pages not accessed */
};

static void smaps_vma_done(struct smaps_walk *w)
{
	uintptr_t lo = w->lo > w->start ? w->lo : w->start;
	uintptr_t hi = w->hi < w->end ? w->hi : w->end;

	if (lo < hi && w->rss > w->referenced)	/* a VMA wider than the range: its share */
		w->old_kb += (unsigned long)((double)(w->rss - w->referenced) *
					     (double)(hi - lo) / (double)(w->hi - w->lo));
	w->lo = w->hi = 0;
	w->rss = w->referenced = 0;
}

static void smaps_line(struct smaps_walk *w, const char *line)
{
	char *end;
	uintptr_t lo = strtoul(line, &end, 16), hi;

	if (*end == '-' && end != line) {
		hi = strtoul(end + 1, &end, 16);
		if (*end == ' ') {
			smaps_vma_done(w);
			w->lo = lo;
			w->hi = hi;
			return;
		}
	}
	smaps_field(line, "Rss", &w->rss);
	smaps_field(line, "Referenced", &w->referenced);
}

/*
 * Resident pages of [start, end) whose accessed bit is clear (smaps: Rss - Referenced, per
 * VMA, a share of a VMA that reaches beyond the range): the pages ucow filled ahead that the
 * program never touched. No stdio: this runs in munmap too, where the heap may be managed.
 */
static unsigned long pages_not_accessed(uintptr_t start, uintptr_t end)
{
	struct smaps_walk w = { .start = start, .end = end };
	char buf[4096], line[256];
	size_t len = 0;
	ssize_t got;
	int fd = open("/proc/self/smaps", O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return 0;
	while ((got = read(fd, buf, sizeof(buf))) > 0 || (got < 0 && errno == EINTR)) {
		for (ssize_t i = 0; i < got; i++) {
			if (buf[i] != '\n') {
				if (len < sizeof(line) - 1)
					line[len++] = buf[i];
				continue;
			}
			line[len] = '\0';
			smaps_line(&w, line);
			len = 0;
		}
	}
	close(fd);
	smaps_vma_done(&w);
	return w.old_kb * 1024 / UCOW_PAGE_SIZE;
}

/*
 * Private pages over holes are the writes whose page-cache twin ucow avoided, less the pages
 * ucow filled ahead that were never touched; zero pages over holes were mapped by
 * fault-around, read or not. Measured rather than counted at faults, because most writes in
 * a fault-around window are the kernel's own zero-page copy-on-write faults.
 */
void shmem_measure(const struct ucow_region *r, unsigned long filled_ahead,
		   struct shmem_measure *m)
{
	uint64_t entries[PM_BATCH];
	off_t change = 0;
	bool hole = false;
	int pm, fd;

	memset(m, 0, sizeof(*m));
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
			off_t off = region_file_offset(r, addr);
			bool anon = (e & (PM_PRESENT | PM_SWAPPED)) && !(e & PM_FILE) &&
				    ((e & PM_EXCLUSIVE) || (e & PM_SWAPPED));
			bool zero = (e & PM_PRESENT) && !(e & (PM_FILE | PM_EXCLUSIVE));

			if (!anon && !zero)
				continue;
			if (off >= change)
				hole = is_hole(r, fd, off, &change);
			m->private += anon;
			m->written += anon && hole;
			m->zero += zero && hole;
		}
	}
	fdt_pagemap_close(pm);
	fdt_unborrow(r->src->fd, fd);
	if (m->written && filled_ahead) {
		m->untouched = pages_not_accessed(r->start, r->end);
		if (m->untouched > filled_ahead)
			m->untouched = filled_ahead;
		if (m->untouched > m->written)
			m->untouched = m->written;
		m->written -= m->untouched;
	}
}

/*
 * A read of a hole costs the kernel a page-cache page, and reads in a zero window never
 * reach ucow (nor does the kernel say which zero pages were read). A read fault counts its
 * page. One just past either end of the last read window (or past data only) says the
 * reader goes through windows in order: the holes of that window and of the new one count
 * whole (a reader that stops in it is over-counted by at most one window). Handler thread
 * only.
 */
unsigned long shmem_measure_read(const struct ucow_region *r, uintptr_t addr, uintptr_t start,
				 uintptr_t end, unsigned long holes)
{
	static uintptr_t last_start, last_end;
	static unsigned long last_holes;
	static uint64_t last_birth;
	static bool last_whole;
	unsigned long pages = 1;
	bool up = addr >= last_end && (addr == last_end || hole_at_or_after(r, last_end) >= addr);
	bool down = addr < last_start && (addr + UCOW_PAGE_SIZE == last_start ||
					  hole_at_or_after(r, addr + UCOW_PAGE_SIZE) >= last_start);
	bool stream = r->birth == last_birth && last_end > last_start && (up || down);

	if (stream) {
		if (!last_whole)
			pages += last_holes - 1;
		pages += holes - 1;
	}
	last_whole = stream;
	last_start = start;
	last_end = end;
	last_holes = holes;
	last_birth = r->birth;
	return pages;
}

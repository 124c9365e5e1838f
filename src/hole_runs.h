/* hole_runs.h: the runs of holes of a shmem file under a managed range, found with SEEK_DATA
 * and SEEK_HOLE on ucow's own description of it (its position is ucow's). */
#ifndef UCOW_HOLE_RUNS_H
#define UCOW_HOLE_RUNS_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

struct ucow_region;

#define HOLE_WALK_BATCH 512	/* pages mincore is asked about at a time */

struct hole_walk {
	const struct ucow_region *r;
	off_t pos;	/* file offsets: where the walk is, */
	off_t hi;	/* and where it stops (the range's end, or the end of file) */
	off_t batch;	/* where @here begins, -1 if it holds nothing */
	size_t batch_pages;
	bool exact;	/* no swap: what mincore says is neither mapped nor cached is a hole */
	bool confirm;	/* confirm every run with SEEK_DATA, swap or not (set by tests) */
	unsigned char here[HOLE_WALK_BATCH];	/* mincore's answer: present or cached */
};

/*
 * Starts a walk over the holes under [@start, @end) of @r, clipped to the end of file.
 * False if the file cannot be walked (no position of ucow's own, fstat fails): then nothing
 * is known to be a hole.
 */
bool hole_walk_start(struct hole_walk *w, const struct ucow_region *r, uintptr_t start,
		     uintptr_t end);
/* The next run of holes, as addresses in the region: false when none is left. */
bool hole_walk_next(struct hole_walk *w, uintptr_t *start, uintptr_t *end);
/*
 * The first hole at or after @addr, within the region and the end of file (where the
 * region or the file ends if none is). A writer that ran through the data pages up to it
 * faults there next.
 */
uintptr_t hole_at_or_after(const struct ucow_region *r, uintptr_t addr);

#endif

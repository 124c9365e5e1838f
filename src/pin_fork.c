/* pin_fork.c: pinned ranges at fork — ucow_pin ranges the kernel does not pin are kept from
 * the child (MADV_DONTFORK), which gets a fork-time copy mapped and filled by ucow. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "log.h"
#include "pin.h"
#include "pin_counters.h"
#include "pin_fork.h"
#include "pin_kernel.h"
#include "pin_table.h"
#include "procfs.h"
#include "region.h"
#include "source.h"
#include "sys.h"

/* One mapping of /proc/self/maps clipped to the range asked about, as the pins see it. */
struct pin_vma {
	uintptr_t start, end;
	int prot;
	bool shared;
	bool file;
};

struct pin_walk {
	uintptr_t start, end;
	bool (*fn)(const struct pin_vma *v, void *arg);
	void *arg;
};

static int clip_one(const struct procfs_vma *pv, void *arg)
{
	struct pin_walk *w = arg;
	struct pin_vma v;

	if (pv->end <= w->start)
		return 0;
	if (pv->start >= w->end)
		return 1;
	v.start = pv->start < w->start ? w->start : pv->start;
	v.end = pv->end > w->end ? w->end : pv->end;
	v.prot = pv->prot;
	v.shared = pv->shared;
	v.file = pv->inode != 0;
	return w->fn(&v, w->arg) ? 0 : 1;
}

/* Calls @fn on each mapping intersecting [start,end), clipped; stops when it returns false. */
static void maps_foreach(uintptr_t start, uintptr_t end,
			 bool (*fn)(const struct pin_vma *v, void *arg), void *arg)
{
	struct pin_walk w = { .start = start, .end = end, .fn = fn, .arg = arg };

	procfs_maps_walk(clip_one, &w);
}

/* ---- how a ucow_pin range stays with the parent ---------------------------------------- */

struct classify {
	bool all_shared;
	bool copyable;
};

/* Whether ucow can copy a mapping for a child: private anonymous memory, or a private file
 * mapping ucow manages (it holds the file). */
static bool copyable_vma(const struct pin_vma *v)
{
	struct ucow_region r;

	if (v->shared || !v->file)
		return true;
	for (uintptr_t a = v->start; a < v->end; a = r.end)
		if (!registry_lookup(&ucow_registry, a, &r, false) || !r.src)
			return false;
	return true;
}

static bool classify_one(const struct pin_vma *v, void *arg)
{
	struct classify *c = arg;

	c->all_shared &= v->shared;
	c->copyable &= copyable_vma(v);
	return true;
}

enum pin_how pin_fork_how(uintptr_t start, uintptr_t end, int *err)
{
	struct classify c = { .all_shared = true, .copyable = true };

	maps_foreach(start, end, classify_one, &c);
	if (c.all_shared)
		return PIN_HOW_SHARED;
	if (c.copyable)
		return PIN_HOW_COPY;
	*err = EOPNOTSUPP;
	return PIN_HOW_COPY;
}

/* ---- the copy ---------------------------------------------------------------------------- */

/* A piece of a PIN_HOW_COPY pin the child gets as a copy: mapped again, then filled. */
struct copy_piece {
	uintptr_t start, end;
	int prot;
	int fd;				/* -1: anonymous; else ucow's duplicate of the file */
	uint64_t offset;
	struct ucow_source *src;	/* the reference that keeps @fd open across the fork */
	size_t at;			/* position of the bytes in the snapshot */
};

#define PIECES_MAX 4096

/* The fork in progress, owned by the thread that holds the pin table for it. */
static struct {
	struct copy_piece *pieces;	/* in ucow's own pages, kept from fork to fork */
	size_t n;
	unsigned char *snapshot;
	size_t snapshot_len;
	sigset_t old;			/* the forking thread's mask, given back when done */
	bool warned;
} fork_copy;

/* Whether this thread holds the table for its fork: @fork_copy is then its own. Another
 * thread that forks meanwhile with an empty table must leave @fork_copy alone (its child
 * inherits this flag). */
static __thread bool fork_copy_mine __attribute__((tls_model("initial-exec")));

static bool add_piece(const struct pin_vma *v, void *arg)
{
	size_t *bytes = arg;
	struct ucow_region r;

	if (v->shared)
		return true;
	for (uintptr_t a = v->start; a < v->end && fork_copy.n < PIECES_MAX;) {
		struct copy_piece *c = &fork_copy.pieces[fork_copy.n];

		c->start = a;
		c->end = v->end;
		c->prot = v->prot;
		c->fd = -1;
		c->src = NULL;
		if (v->file) {
			if (!registry_lookup(&ucow_registry, a, &r, true) || !r.src) {
				if (!fork_copy.warned)
					ucow_warn("pin", "a ucow_pin range at %#lx is now a file "
						  "mapping ucow does not hold: the child shares its "
						  "pages copy-on-write", (unsigned long)a);
				fork_copy.warned = true;
				return true;
			}
			if (r.end < c->end)
				c->end = r.end;
			/* Its descriptor is the handler's; the child maps the copy it opened
			 * again through the parent's handler table (source_fork_fd). */
			c->src = r.src;
			c->offset = r.offset + (a - r.start);
		}
		c->at = *bytes;
		*bytes += c->end - c->start;
		a = c->end;
		fork_copy.n++;
	}
	return true;
}

/*
 * The child's bytes of one piece, into @dst. A piece the program made unreadable (PROT_NONE)
 * is read through /proc/self/mem, as a debugger reads it: changing its protection, even for
 * a moment, would let another thread touch what must fault.
 */
static bool snapshot_piece(unsigned char *dst, const struct copy_piece *c, int *mem)
{
	size_t len = c->end - c->start, done = 0;

	if (c->prot & PROT_READ) {
		memcpy(dst, (void *)c->start, len);
		return true;
	}
	if (*mem < 0)
		*mem = open("/proc/self/mem", O_RDONLY | O_CLOEXEC);
	while (*mem >= 0 && done < len) {
		ssize_t n = pread(*mem, dst + done, len - done, (off_t)(c->start + done));

		if (n <= 0 && !(n < 0 && errno == EINTR))
			return false;
		done += n > 0 ? (size_t)n : 0;
	}
	return done == len;
}

void pin_fork_prepare(void)
{
	size_t bytes = 0, n;
	int mem = -1;

	if (!pins_active() || pin_table_empty())
		return;
	pin_table_lock(&fork_copy.old);
	fork_copy_mine = true;
	fork_copy.n = 0;
	fork_copy.snapshot = NULL;
	n = pin_table_size();
	for (size_t i = 0; i < n; i++) {
		const struct pin *p = pin_table_entry(i);

		if (p->how != PIN_HOW_COPY)
			continue;
		if (!fork_copy.pieces) {
			void *m = sys_mmap(NULL, UCOW_PAGE_UP(PIECES_MAX * sizeof(*fork_copy.pieces)),
					   PROT_READ | PROT_WRITE,
					   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);

			if (m == MAP_FAILED)
				return;
			fork_copy.pieces = m;
		}
		maps_foreach(p->start, p->end, add_piece, &bytes);
	}
	if (!fork_copy.n)
		return;
	fork_copy.snapshot = sys_mmap(NULL, UCOW_PAGE_UP(bytes), PROT_READ | PROT_WRITE,
				      MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (fork_copy.snapshot == MAP_FAILED) {
		ucow_warn("pin", "no memory for the fork-time copy of %zu pinned bytes: the child "
			  "shares them copy-on-write", bytes);
		fork_copy.snapshot = NULL;
		goto drop;
	}
	fork_copy.snapshot_len = UCOW_PAGE_UP(bytes);
	/* The child's bytes are taken as fork() begins; the parent's pages are never
	 * write-protected, because the child does not share them at all. */
	for (size_t i = 0; i < fork_copy.n; i++) {
		struct copy_piece *c = &fork_copy.pieces[i];

		if (!snapshot_piece(fork_copy.snapshot + c->at, c, &mem)) {
			ucow_warn("pin", "cannot read %#lx-%#lx (not readable, no /proc/self/mem?): "
				  "the child shares it copy-on-write", (unsigned long)c->start,
				  (unsigned long)c->end);
			c->end = c->start;
		} else if (sys_madvise((void *)c->start, c->end - c->start, MADV_DONTFORK) < 0) {
			ucow_warn("pin", "MADV_DONTFORK %#lx-%#lx: %s: the child shares it copy-on-write",
				  (unsigned long)c->start, (unsigned long)c->end, strerror(errno));
			c->end = c->start;
		}
		pin_count(PIN_FORK_COPIED, (c->end - c->start) / UCOW_PAGE_SIZE);
	}
	if (mem >= 0)
		close(mem);
	return;
drop:
	for (size_t i = 0; i < fork_copy.n; i++)
		if (fork_copy.pieces[i].src)
			source_put(fork_copy.pieces[i].src);
	fork_copy.n = 0;
}

static void fork_done(void)
{
	for (size_t i = 0; i < fork_copy.n; i++)
		if (fork_copy.pieces[i].src)
			source_put(fork_copy.pieces[i].src);
	if (fork_copy.snapshot)
		sys_munmap(fork_copy.snapshot, fork_copy.snapshot_len);
	fork_copy.snapshot = NULL;
	fork_copy.n = 0;
}

void pin_fork_parent(void)
{
	if (!fork_copy_mine)
		return;
	for (size_t i = 0; i < fork_copy.n; i++) {
		struct copy_piece *c = &fork_copy.pieces[i];

		if (c->end > c->start)
			sys_madvise((void *)c->start, c->end - c->start, MADV_DOFORK);
	}
	fork_done();
	fork_copy_mine = false;
	pin_table_unlock(&fork_copy.old);
}

void pin_fork_child_map(void)
{
	pin_table_fork_child();
	/* Pins are not inherited, like mlock: the child's pages are its own copies. ucow's
	 * ring is the parent's as well; closing it here leaves the parent's pins alone. */
	pin_kernel_fork_child();
	/* A fork child counts from zero: its parent reports what came before. */
	ucow_counts_reset(pin_counters, PIN__COUNTERS);
	for (size_t i = 0; fork_copy_mine && i < fork_copy.n; i++) {
		struct copy_piece *c = &fork_copy.pieces[i];
		void *p;

		if (c->end <= c->start)
			continue;
		if (c->src)
			c->fd = source_fork_fd(c->src);
		if (c->src && c->fd < 0)
			p = MAP_FAILED, errno = EBADF;
		else if (c->fd >= 0)
			p = sys_mmap((void *)c->start, c->end - c->start, c->prot | PROT_WRITE,
				     MAP_PRIVATE | MAP_FIXED, c->fd, (long)c->offset);
		else
			p = sys_mmap((void *)c->start, c->end - c->start, c->prot | PROT_WRITE,
				     MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
		if (p == MAP_FAILED) {
			ucow_error("pin", "fork child: cannot map %#lx-%#lx again: %s",
				   (unsigned long)c->start, (unsigned long)c->end, strerror(errno));
			c->end = c->start;
		}
	}
}

void pin_fork_child_fill(void)
{
	for (size_t i = 0; fork_copy_mine && i < fork_copy.n; i++) {
		struct copy_piece *c = &fork_copy.pieces[i];

		if (c->end <= c->start)
			continue;
		/* Write faults on a managed file's holes reach the child's handler, which
		 * fills them privately: the file itself is never written. */
		memcpy((void *)c->start, fork_copy.snapshot + c->at, c->end - c->start);
	}
	/* Only once every piece is filled: overlapping pins give pieces that overlap. */
	for (size_t i = 0; fork_copy_mine && i < fork_copy.n; i++) {
		struct copy_piece *c = &fork_copy.pieces[i];

		if (c->end > c->start && !(c->prot & PROT_WRITE))
			sys_mprotect((void *)c->start, c->end - c->start, c->prot);
	}
	if (fork_copy_mine)
		fork_done();
	pin_table_clear();
	if (fork_copy_mine) {
		fork_copy_mine = false;
		pthread_sigmask(SIG_SETMASK, &fork_copy.old, NULL);
	}
}

/* mremap.c: each kind of memory moved, grown, shrunk, kept (DONTUNMAP), moved over another. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "kinds.h"

#ifndef MREMAP_DONTUNMAP
#define MREMAP_DONTUNMAP 4
#endif

#define PAGES (KSIZE / KPAGE)

/* A free address range of @size bytes (reserved with PROT_NONE, to be mapped over). */
static void *reserve(size_t size)
{
	void *p = mmap(NULL, size, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);

	return p == MAP_FAILED ? NULL : p;
}

static void failed_call(const struct kind *k, const char *what)
{
	fprintf(stderr, "mremap: %s %s: %s\n", k->name, what, strerror(errno));
	report(k->name, what, 1);
}

/* Page i of the moved range is page @arg->first + i of the original. */
struct shifted {
	const struct mem *m;
	size_t first;
};

static unsigned char want_shifted(const void *arg, size_t page)
{
	const struct shifted *s = arg;

	return mem_model(s->m, s->first + page);
}

static unsigned char want_zero(const void *arg, size_t page)
{
	(void)arg;
	(void)page;
	return 0;
}

static unsigned char want_discarded(const void *arg, size_t page)
{
	return mem_discarded(arg, page);
}

static unsigned char want_byte(const void *arg, size_t page)
{
	(void)page;
	return *(const unsigned char *)arg;
}

/* The whole mapping moved to a new address: the old one is gone, the new one has its bytes. */
static void move(const struct kind *k)
{
	struct mem m;
	void *to;
	unsigned char *q;

	if (setup(&m, k, KSIZE, "move") < 0)
		return;
	mem_touch(&m);
	to = reserve(KSIZE);
	q = to ? mremap(m.p, KSIZE, KSIZE, MREMAP_MAYMOVE | MREMAP_FIXED, to) : MAP_FAILED;
	if (q == MAP_FAILED) {
		failed_call(k, "move");
	} else {
		m.p = q;
		report(k->name, "move", check_model(&m, q, 0, PAGES, "moved"));
		fill(q, 'M', KPAGE);
		report(k->name, "move then write",
		       check_model(&m, q + KPAGE, 1, PAGES - 1, "after a write"));
	}
	mem_unmap(&m);
}

/* The middle half moved elsewhere: both ends stay, the moved part keeps its bytes. */
static void move_part(const struct kind *k)
{
	struct shifted s;
	struct mem m;
	void *to;
	unsigned char *q;
	size_t wrong;

	if (setup(&m, k, KSIZE, "move-middle") < 0)
		return;
	mem_touch(&m);
	to = reserve(KSIZE / 2);
	q = to ? mremap(m.p + KSIZE / 4, KSIZE / 2, KSIZE / 2, MREMAP_MAYMOVE | MREMAP_FIXED, to) :
		 MAP_FAILED;
	if (q == MAP_FAILED) {
		failed_call(k, "move-middle");
		mem_unmap(&m);
		return;
	}
	s = (struct shifted){ &m, PAGES / 4 };
	wrong = check_pages(q, 0, PAGES / 2, want_shifted, &s, "moved middle");
	wrong += check_model(&m, m.p, 0, PAGES / 4, "head");
	wrong += check_model(&m, m.p + 3 * KSIZE / 4, 3 * PAGES / 4, PAGES / 4, "tail");
	report(k->name, "move the middle half", wrong);
	munmap(q, KSIZE / 2);
	munmap(m.p, KSIZE / 4);
	munmap(m.p + 3 * KSIZE / 4, KSIZE / 4);
	m.p = MAP_FAILED;
	mem_unmap(&m);
}

/* Grown to twice its size (moving if it must): the new pages read what the kernel gives
 * (the file beyond, zero for anonymous memory), the old ones keep their bytes. */
static void grow(const struct kind *k)
{
	struct mem m;
	unsigned char *q;

	if (setup(&m, k, KSIZE, "grow") < 0)
		return;
	mem_touch(&m);
	q = mremap(m.p, KSIZE, 2 * KSIZE, MREMAP_MAYMOVE);
	if (q == MAP_FAILED) {
		failed_call(k, "grow");
		mem_unmap(&m);
		return;
	}
	m.p = q;
	report(k->name, "grow: old pages", check_model(&m, q, 0, PAGES, "old part"));
	report(k->name, "grow: new pages", check_model(&m, q + KSIZE, PAGES, PAGES, "new part"));
	fill(q + KSIZE, 'G', KPAGE);
	report(k->name, "grow: write a new page then read the rest",
	       check_model(&m, q + KSIZE + KPAGE, PAGES + 1, PAGES - 1, "after a write"));
	m.size = 2 * KSIZE;
	mem_unmap(&m);
}

/* Shrunk to half, then the tail re-grown in place: it reads afresh (the kernel drops what
 * was there: written pages are gone). */
static void shrink(const struct kind *k)
{
	struct mem m;
	unsigned char *q;

	if (setup(&m, k, KSIZE, "shrink") < 0)
		return;
	mem_touch(&m);
	q = mremap(m.p, KSIZE, KSIZE / 2, 0);
	if (q != m.p) {
		failed_call(k, "shrink");
		mem_unmap(&m);
		return;
	}
	report(k->name, "shrink", check_model(&m, q, 0, PAGES / 2, "kept half"));
	q = mremap(m.p, KSIZE / 2, KSIZE, 0);
	if (q == MAP_FAILED) {
		/* Something else took the address range: nothing the kernel promises. */
		report_skip(k->name, "shrink then grow in place", "the range was taken");
		munmap(m.p, KSIZE / 2);
		m.p = MAP_FAILED;
	} else {
		size_t wrong = check_model(&m, q, 0, PAGES / 2, "kept half");

		/* The re-grown tail: the file (its private copies dropped), or zero. */
		wrong += check_pages(q + KSIZE / 2, PAGES / 2, PAGES / 2,
				     (k->flags & KIND_ANON) ? want_zero : want_discarded, &m,
				     "re-grown tail");
		report(k->name, "shrink then grow in place", wrong);
	}
	mem_unmap(&m);
}

/* MREMAP_DONTUNMAP: the pages move, the old range stays mapped and empty: it reads the file
 * again, or zero for anonymous memory (never the lazy value: the memset was done). */
static void dontunmap(const struct kind *k)
{
	struct mem m;
	unsigned char *q;
	size_t wrong;

	if (setup(&m, k, KSIZE, "dontunmap") < 0)
		return;
	mem_touch(&m);
	q = mremap(m.p, KSIZE, KSIZE, MREMAP_MAYMOVE | MREMAP_DONTUNMAP, NULL);
	if (q == MAP_FAILED && errno == EINVAL) {
		report_skip(k->name, "dontunmap", "MREMAP_DONTUNMAP refused by the kernel");
		mem_unmap(&m);
		return;
	}
	if (q == MAP_FAILED) {
		failed_call(k, "dontunmap");
		mem_unmap(&m);
		return;
	}
	report(k->name, "dontunmap: moved pages", check_model(&m, q, 0, PAGES, "new range"));
	wrong = check_pages(m.p, 0, PAGES, want_discarded, &m, "old range");
	report(k->name, "dontunmap: old range reads as discarded", wrong);
	fill(m.p, 'O', KPAGE);
	report(k->name, "dontunmap: old range written, new range unchanged",
	       check_model(&m, q, 0, PAGES, "new range after a write to the old"));
	munmap(q, KSIZE);
	mem_unmap(&m);
}

/* Moved with MREMAP_FIXED over another mapping; and another mapping moved over it. */
static void fixed_over(const struct kind *k)
{
	const unsigned char other = 'B';
	struct mem m, n;
	unsigned char *b, *q;

	if (setup(&m, k, KSIZE, "fixed-over") < 0)
		return;
	mem_touch(&m);
	b = mmap(NULL, KSIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (b == MAP_FAILED) {
		failed_call(k, "fixed-over: mmap");
		mem_unmap(&m);
		return;
	}
	fill(b, other, KSIZE);
	q = mremap(m.p, KSIZE, KSIZE, MREMAP_MAYMOVE | MREMAP_FIXED, b);
	if (q != b) {
		failed_call(k, "fixed-over");
		mem_unmap(&m);
		munmap(b, KSIZE);
		return;
	}
	m.p = q;
	report(k->name, "moved over another mapping", check_model(&m, q, 0, PAGES, "moved over"));

	/* Another mapping of written anonymous memory moved over a fresh one of this kind. */
	if (setup(&n, k, KSIZE, "fixed-over") == 0) {
		b = mmap(NULL, KSIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (b != MAP_FAILED)
			fill(b, other, KSIZE);
		q = b == MAP_FAILED ? MAP_FAILED :
			mremap(b, KSIZE, KSIZE, MREMAP_MAYMOVE | MREMAP_FIXED, n.p);
		if (q != n.p) {
			failed_call(k, "another mapping moved over it");
		} else {
			report(k->name, "another mapping moved over it",
			       check_pages(q, 0, PAGES, want_byte, &other, "replaced"));
		}
		mem_unmap(&n);
	}
	mem_unmap(&m);
}

/* Moved, then forked: the child has the moved bytes at the new address. */
static void move_fork(const struct kind *k)
{
	struct mem m;
	void *to;
	unsigned char *q;
	pid_t pid;

	if (setup(&m, k, KSIZE, "move-fork") < 0)
		return;
	mem_touch(&m);
	to = reserve(KSIZE);
	q = to ? mremap(m.p, KSIZE, KSIZE, MREMAP_MAYMOVE | MREMAP_FIXED, to) : MAP_FAILED;
	if (q == MAP_FAILED) {
		failed_call(k, "move then fork");
		mem_unmap(&m);
		return;
	}
	m.p = q;
	pid = fork();
	if (pid == 0) {
		size_t wrong = check_model(&m, q, 0, PAGES, "child of a moved mapping");

		fill(q + 2 * KPAGE, 'c', KPAGE);
		_exit(wrong ? 1 : 0);
	}
	report(k->name, "move then fork: the child has the bytes",
	       child_status(pid) != 0);
	report(k->name, "move then fork: the parent keeps them",
	       check_model(&m, q, 0, PAGES, "parent of a moved mapping"));
	mem_unmap(&m);
}

/* Grown in place into a range freed for it: the same bytes as a grow that moves. */
static void grow_in_place(const struct kind *k)
{
	struct mem m;
	unsigned char *room, *q;

	room = reserve(2 * KSIZE);
	if (!room) {
		failed_call(k, "grow in place: reserve");
		return;
	}
	if (setup_at(&m, k, KSIZE, room, 1, "grow-in-place") < 0) {
		munmap(room, 2 * KSIZE);
		return;
	}
	munmap(room + KSIZE, KSIZE);
	mem_touch(&m);
	q = mremap(m.p, KSIZE, 2 * KSIZE, 0);
	if (q != m.p) {
		failed_call(k, "grow in place");
		mem_unmap(&m);
		return;
	}
	report(k->name, "grow in place: old pages", check_model(&m, q, 0, PAGES, "old part"));
	report(k->name, "grow in place: new pages",
	       check_model(&m, q + KSIZE, PAGES, PAGES, "new part"));
	m.size = 2 * KSIZE;
	mem_unmap(&m);
}

static void run(const struct kind *k)
{
	move(k);
	move_part(k);
	grow(k);
	shrink(k);
	dontunmap(k);
	fixed_over(k);
	move_fork(k);
	grow_in_place(k);
}

int main(int argc, char **argv)
{
	return kinds_main(argc, argv, "mremap", run);
}

/* dontneed.c: what each kind of memory reads after MADV_DONTNEED, MADV_REMOVE, MADV_FREE. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>

#include "kinds.h"

#ifndef MADV_FREE
#define MADV_FREE 8
#endif

#define PAGES (KSIZE / KPAGE)

/* The model after pages [@from, @to) were discarded. */
struct discard {
	const struct mem *m;
	size_t from, to;
};

static unsigned char want_after(const void *arg, size_t page)
{
	const struct discard *d = arg;

	if (page >= d->from && page < d->to)
		return mem_discarded(d->m, page);
	return mem_model(d->m, page);
}

static void dontneed_untouched(const struct kind *k)
{
	struct discard d;
	struct mem m;

	if (setup(&m, k, KSIZE, "dontneed-untouched") < 0)
		return;
	d = (struct discard){ &m, 0, PAGES };
	if (madvise(m.p, KSIZE, MADV_DONTNEED) < 0) {
		fprintf(stderr, "dontneed: %s: MADV_DONTNEED: %s\n", k->name, strerror(errno));
		report(k->name, "MADV_DONTNEED of untouched memory", 1);
	} else {
		report(k->name, "MADV_DONTNEED of untouched memory",
		       check_pages(m.p, 0, PAGES, want_after, &d, "untouched, discarded"));
	}
	mem_unmap(&m);
}

/* Written, read and untouched pages; the middle half discarded; then written again. */
static void dontneed_touched(const struct kind *k)
{
	struct discard d;
	struct mem m;
	size_t wrong;

	if (setup(&m, k, KSIZE, "dontneed-touched") < 0)
		return;
	mem_touch(&m);
	d = (struct discard){ &m, PAGES / 4, 3 * PAGES / 4 };
	if (madvise(m.p + KSIZE / 4, KSIZE / 2, MADV_DONTNEED) < 0) {
		fprintf(stderr, "dontneed: %s: MADV_DONTNEED: %s\n", k->name, strerror(errno));
		report(k->name, "MADV_DONTNEED of the middle half", 1);
		mem_unmap(&m);
		return;
	}
	report(k->name, "MADV_DONTNEED of the middle half",
	       check_pages(m.p, 0, PAGES, want_after, &d, "middle discarded"));
	/* Written again after the discard: the write stays, the rest is unchanged. */
	fill(m.p + KSIZE / 2, 'Z', KPAGE);
	wrong = check_pages(m.p, 0, PAGES / 2, want_after, &d, "written again");
	wrong += check_pages(m.p + KSIZE / 2 + KPAGE, PAGES / 2 + 1, PAGES / 2 - 1, want_after, &d,
			     "written again");
	if (m.p[KSIZE / 2] != 'Z' || m.p[KSIZE / 2 + KPAGE - 1] != 'Z')
		wrong++;
	report(k->name, "written again after MADV_DONTNEED", wrong);
	/* And discarded a second time. */
	d = (struct discard){ &m, 0, PAGES };
	if (madvise(m.p, KSIZE, MADV_DONTNEED) < 0)
		report(k->name, "MADV_DONTNEED twice", 1);
	else
		report(k->name, "MADV_DONTNEED twice",
		       check_pages(m.p, 0, PAGES, want_after, &d, "discarded twice"));
	mem_unmap(&m);
}

/* One page at a time: a written one, a read one, untouched ones, each alone. */
static void dontneed_pages(const struct kind *k)
{
	static const size_t pages[] = { 4, 6, 7, 5, 8 };
	struct discard d;
	struct mem m;
	size_t wrong = 0;

	if (setup(&m, k, KSIZE, "dontneed-pages") < 0)
		return;
	mem_touch(&m);
	for (size_t i = 0; i < sizeof(pages) / sizeof(pages[0]); i++) {
		d = (struct discard){ &m, pages[i], pages[i] + 1 };
		if (madvise(m.p + pages[i] * KPAGE, KPAGE, MADV_DONTNEED) < 0)
			wrong++;
		/* Everything else as before (the earlier pages are discarded too). */
		wrong += check_pages(m.p + pages[i] * KPAGE, pages[i], 1, want_after, &d,
				     "one page discarded");
		wrong += check_model(&m, m.p + 9 * KPAGE, 9, PAGES - 9, "the rest");
	}
	d = (struct discard){ &m, 4, 9 };
	wrong += check_pages(m.p, 0, PAGES, want_after, &d, "pages discarded one by one");
	report(k->name, "MADV_DONTNEED page by page", wrong);
	mem_unmap(&m);
}

/* MADV_REMOVE is for shared mappings: on these private ones the kernel refuses it
 * (EACCES for a file, EINVAL for anonymous memory) and the bytes stay. */
static void remove_private(const struct kind *k)
{
	struct mem m;
	int ret, err;
	char what[96];

	if (setup(&m, k, KSIZE, "remove") < 0)
		return;
	mem_touch(&m);
	ret = madvise(m.p, KSIZE, MADV_REMOVE);
	err = errno;
	/* The refpage kind is a file plainly but anonymous memory under ucow (see ucow(7)): its
	 * error is not compared. */
	if (!strcmp(k->name, "refpage")) {
		snprintf(what, sizeof(what), "MADV_REMOVE %s", ret ? "fails" : "succeeds");
		fprintf(stderr, "dontneed: refpage: MADV_REMOVE: %s\n", ret ? strerrorname_np(err) : "0");
	}
	else
		snprintf(what, sizeof(what), "MADV_REMOVE %s", ret ? strerrorname_np(err) : "succeeds");
	report(k->name, what, ret == 0 || check_model(&m, m.p, 0, PAGES, "after MADV_REMOVE"));
	mem_unmap(&m);
}

/* MADV_FREE: anonymous memory only (EINVAL for a file mapping). A freed page reads either
 * what it held or, once the kernel took it, as discarded: page by page, never a mix. */
static void free_pages(const struct kind *k)
{
	struct mem m;
	size_t wrong = 0;
	int ret, err;
	char what[96];

	if (setup(&m, k, KSIZE, "free") < 0)
		return;
	mem_touch(&m);
	ret = madvise(m.p, KSIZE, MADV_FREE);
	err = errno;
	for (size_t pg = 0; pg < PAGES; pg++) {
		const volatile unsigned char *q = m.p + pg * KPAGE;
		unsigned char w = q[0] == mem_discarded(&m, pg) ? mem_discarded(&m, pg) :
								     mem_model(&m, pg);

		for (size_t b = 0; b < KPAGE; b++) {
			if (q[b] == w)
				continue;
			if (!wrong)
				fprintf(stderr, "dontneed: %s: after MADV_FREE page %zu byte %zu is 0x%02x, want 0x%02x\n",
					k->name, pg, b, q[b], w);
			wrong++;
		}
	}
	if (!strcmp(k->name, "refpage")) {
		snprintf(what, sizeof(what), "MADV_FREE");
		fprintf(stderr, "dontneed: refpage: MADV_FREE: %s\n", ret ? strerrorname_np(err) : "0");
	}
	else
		snprintf(what, sizeof(what), "MADV_FREE %s", ret ? strerrorname_np(err) : "succeeds");
	report(k->name, what, wrong);
	/* Written after MADV_FREE: the page is the program's again, kept. */
	fill(m.p + 5 * KPAGE, 'F', KPAGE);
	wrong = m.p[5 * KPAGE] != 'F' || m.p[6 * KPAGE - 1] != 'F';
	report(k->name, "written after MADV_FREE", wrong);
	mem_unmap(&m);
}

static void run(const struct kind *k)
{
	dontneed_untouched(k);
	dontneed_touched(k);
	dontneed_pages(k);
	remove_private(k);
	free_pages(k);
}

int main(int argc, char **argv)
{
	return kinds_main(argc, argv, "dontneed", run);
}

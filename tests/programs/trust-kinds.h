/* trust-kinds.h: the kinds of memory the trust-* test programs run over, each with the bytes
 * the kernel gives it. Plain C: knows nothing of ucow, except that "refpage" uses
 * ucow_refpage_create when the process has it (pattern-source.h), else a memfd holding
 * the same bytes.
 *   memfd    a memfd mapped MAP_PRIVATE, all holes (ucow's shmem holes policy): reads 0
 *   data     a memfd mapped MAP_PRIVATE with data pages among holes: every 4th page from
 *            page 1 holds data_byte(page), the rest read 0
 *   refpage  a refpage of 0xA5 (or a memfd full of 0xA5) mapped MAP_PRIVATE
 *   lazy     private anonymous memory memset to 0x5A (ucow's lazy memset, when on)
 *   anon     private anonymous memory never written: reads 0 (the control)
 * Programs using it are built with -fno-builtin-memset so that memset is a call. */
#ifndef TRUST_KINDS_H
#define TRUST_KINDS_H

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "pattern-source.h"

#define TK_PAGE 4096UL
#define TK_REFBYTE 0xA5
#define TK_LAZYBYTE 0x5A

enum tk_kind { TK_MEMFD, TK_DATA, TK_REFPAGE, TK_LAZY, TK_ANON };

static const char *const tk_names[] = { "memfd", "data", "refpage", "lazy", "anon" };

static inline int tk_parse(const char *s)
{
	for (int i = 0; i < (int)(sizeof(tk_names) / sizeof(tk_names[0])); i++)
		if (strcmp(s, tk_names[i]) == 0)
			return i;
	fprintf(stderr, "unknown memory kind '%s' (memfd, data, refpage, lazy, anon)\n", s);
	exit(2);
}

static inline unsigned char tk_data_byte(size_t page)
{
	return (unsigned char)((page * 7 + 3) | 0x80);
}

static inline int tk_is_data(size_t page)
{
	return page % 4 == 1;
}

/* The byte the kernel gives at page @page of a fresh mapping of @kind. */
static inline unsigned char tk_expect(int kind, size_t page)
{
	switch (kind) {
	case TK_DATA: return tk_is_data(page) ? tk_data_byte(page) : 0;
	case TK_REFPAGE: return TK_REFBYTE;
	case TK_LAZY: return TK_LAZYBYTE;
	default: return 0;
	}
}

static void *(*volatile tk_memset)(void *, int, size_t) = memset;

/* An fd for the file kinds (memfd, data, refpage) of @size bytes; -1 for the others. */
static inline int tk_fd(int kind, size_t size)
{
	unsigned char page[TK_PAGE];
	int fd = -1;

	if (kind == TK_REFPAGE)
		return pattern_source(TK_REFBYTE, size / TK_PAGE, "trust-refpage");
	if (kind != TK_MEMFD && kind != TK_DATA)
		return -1;
	fd = memfd_create("trust-kinds", MFD_CLOEXEC);
	if (fd < 0 || ftruncate(fd, (off_t)size) < 0)
		return -1;
	for (size_t p = 0; kind == TK_DATA && p < size / TK_PAGE; p++) {
		if (!tk_is_data(p))
			continue;
		tk_memset(page, tk_data_byte(p), sizeof(page));
		if (pwrite(fd, page, sizeof(page), (off_t)(p * TK_PAGE)) != (ssize_t)sizeof(page))
			return -1;
	}
	return fd;
}

/* Maps @size bytes of @kind from @fd (tk_fd's, or -1) at @hint (MAP_FIXED when
 * @fixed); memsets the lazy kind. MAP_FAILED on error. */
static inline unsigned char *tk_map_at(int kind, int fd, size_t size, void *hint, int fixed)
{
	int flags = MAP_PRIVATE | (fixed ? MAP_FIXED : 0);
	unsigned char *p;

	if (fd >= 0)
		p = mmap(hint, size, PROT_READ | PROT_WRITE, flags, fd, 0);
	else
		p = mmap(hint, size, PROT_READ | PROT_WRITE, flags | MAP_ANONYMOUS, -1, 0);
	if (p != MAP_FAILED && kind == TK_LAZY)
		tk_memset(p, TK_LAZYBYTE, size);
	return p;
}

static inline unsigned char *tk_map(int kind, int fd, size_t size)
{
	return tk_map_at(kind, fd, size, NULL, 0);
}

/* Wrong bytes in pages [from, to) of a mapping of @kind (every byte is checked); the first
 * wrong one is reported on stderr under @what. */
static inline size_t tk_check(int kind, const unsigned char *p, size_t from, size_t to,
			      const char *what)
{
	size_t wrong = 0;

	for (size_t pg = from; pg < to; pg++) {
		unsigned char want = tk_expect(kind, pg);
		const unsigned char *q = p + pg * TK_PAGE;

		for (size_t i = 0; i < TK_PAGE; i++) {
			if (q[i] == want)
				continue;
			if (!wrong)
				fprintf(stderr, "%s: %s: page %zu byte %zu is 0x%02x, want 0x%02x\n",
					what, tk_names[kind], pg, i, q[i], want);
			wrong++;
		}
	}
	return wrong;
}

#endif

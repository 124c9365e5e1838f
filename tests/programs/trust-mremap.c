/* trust-mremap.c: mremap calls whose flags lack MREMAP_FIXED but whose fifth argument the
 * kernel still checks (MREMAP_DONTUNMAP, a misaligned new_address: EINVAL on 6.x), on
 * private memory of each kind (trust-kinds.h); prints what each call returned. Knows
 * nothing of ucow (test program).
 *
 * usage: trust-mremap
 * Prints one line per case; exit 0, 1 on a wrong byte, 2 on a setup error. */
#include "trust-kinds.h"

#ifndef MREMAP_DONTUNMAP
#define MREMAP_DONTUNMAP 4
#endif

#define SIZE (2UL << 20)

int main(void)
{
	static const int kinds[] = { TK_ANON, TK_MEMFD, TK_DATA, TK_REFPAGE, TK_LAZY };
	static const struct { int flags; unsigned long hint; const char *name; } cases[] = {
		{ MREMAP_MAYMOVE | MREMAP_DONTUNMAP, 0x40000001UL, "MAYMOVE|DONTUNMAP, new_address 0x40000001" },
		{ MREMAP_MAYMOVE | MREMAP_DONTUNMAP, 0x40000800UL, "MAYMOVE|DONTUNMAP, new_address 0x40000800" },
		{ MREMAP_DONTUNMAP, 0, "DONTUNMAP without MAYMOVE" },
	};
	size_t wrong = 0;

	for (size_t k = 0; k < sizeof(kinds) / sizeof(kinds[0]); k++) {
		for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
			int kind = kinds[k], fd = tk_fd(kind, SIZE);
			unsigned char *p = tk_map(kind, fd, SIZE), *r;

			if (p == MAP_FAILED)
				return 2;
			wrong += tk_check(kind, p, 0, 1, "before");
			r = mremap(p, SIZE, SIZE, cases[c].flags, (void *)cases[c].hint);
			printf("mremap %s %s: %s\n", tk_names[kind], cases[c].name,
			       r == MAP_FAILED ? strerror(errno) : "succeeded");
			if (r != MAP_FAILED && r != p) {
				wrong += tk_check(kind, r, 0, SIZE / TK_PAGE, "moved");
				munmap(r, SIZE);
			} else {
				wrong += tk_check(kind, p, 0, SIZE / TK_PAGE, "after");
			}
			munmap(p, SIZE);
			if (fd >= 0)
				close(fd);
		}
	}
	printf("mremap: %zu wrong bytes\n", wrong);
	return wrong ? 1 : 0;
}

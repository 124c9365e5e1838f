/* trust-lazysplit.c: mremap of a whole anonymous mapping after memsets and discards that
 * cover only part of it. The kernel keeps such a mapping one VMA, so the calls succeed; a
 * mapping the program itself split (mprotect) makes the kernel answer EFAULT, and so must
 * ucow. After each call every page is checked: the value where memset wrote it, zero where
 * the mapping was discarded or grown. Knows nothing of ucow (test program).
 *
 * usage: trust-lazysplit
 * Prints one line per case; exit 0, 1 on a wrong byte or a different answer, 2 on a setup
 * error. */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>

#define MIB (1UL << 20)
#define LEN (4 * MIB)
#define VALUE 0x5a

static void *(*volatile do_memset)(void *, int, size_t) = memset;

enum prep { WHOLE, FROM_16, DISCARD_MIDDLE, GROWN_BEFORE, PROTECT_MIDDLE };

static const struct {
	const char *name;
	enum prep prep;
	int want_errno;		/* what the kernel answers */
} cases[] = {
	{ "memset whole, grow", WHOLE, 0 },
	{ "memset from byte 16, grow", FROM_16, 0 },
	{ "memset whole, discard the 2nd MiB, grow", DISCARD_MIDDLE, 0 },
	{ "memset, grow, grow again", GROWN_BEFORE, 0 },
	{ "memset whole, mprotect the 2nd MiB, grow", PROTECT_MIDDLE, EFAULT },
};

/* What page @pg of the mapping reads after @prep (and a growth beyond @len: zero). */
static int expect(enum prep prep, size_t pg, size_t len)
{
	size_t at = pg * 4096;

	if (at >= len)
		return 0;
	if (prep == DISCARD_MIDDLE && at >= MIB && at < 2 * MIB)
		return 0;
	return VALUE;
}

static int check(const char *name, enum prep prep, const unsigned char *p, size_t len,
		 size_t valid)
{
	for (size_t pg = 0; pg < len / 4096; pg++) {
		size_t at = pg * 4096 + (pg ? 0 : 16);
		int want = expect(prep, pg, valid);

		if (p[at] != want) {
			printf("%s: page %zu reads %#x, want %#x\n", name, pg, p[at], want);
			return 1;
		}
	}
	return 0;
}

static int run(size_t c)
{
	enum prep prep = cases[c].prep;
	size_t len = LEN, valid = LEN;
	unsigned char *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
				-1, 0), *q;
	int bad = 0;

	if (p == MAP_FAILED)
		return 2;
	do_memset(p + (prep == FROM_16 ? 16 : 0), VALUE, len - (prep == FROM_16 ? 16 : 0));
	if (prep == DISCARD_MIDDLE)
		madvise(p + MIB, MIB, MADV_DONTNEED);
	if (prep == PROTECT_MIDDLE)
		mprotect(p + MIB, MIB, PROT_READ);
	if (prep == GROWN_BEFORE) {
		q = mremap(p, len, 2 * len, MREMAP_MAYMOVE);
		if (q == MAP_FAILED) {
			printf("%s: the first mremap failed: %s\n", cases[c].name, strerror(errno));
			munmap(p, len);
			return 1;
		}
		p = q;
		len *= 2;
	}
	q = mremap(p, len, 2 * len, MREMAP_MAYMOVE);
	if (q == MAP_FAILED) {
		printf("%s: %s\n", cases[c].name, strerror(errno));
		bad = errno != cases[c].want_errno;
		q = p;
	} else {
		printf("%s: moved\n", cases[c].name);
		bad = cases[c].want_errno != 0;
		len *= 2;
	}
	bad |= check(cases[c].name, prep, q, len, valid);
	munmap(q, len);
	return bad;
}

int main(void)
{
	int bad = 0;

	for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); c++)
		bad |= run(c);
	printf("lazysplit: %s\n", bad ? "wrong" : "ok");
	return bad;
}

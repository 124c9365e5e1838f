/* refpage-check.c: checks reference pages as a program sees them — the bytes of MAP_PRIVATE
 * mappings of ucow_refpage_create() fds through writes, madvise, mremap, mprotect, munmap,
 * MAP_FIXED, fork, exec, threads and system calls, and the errors for bad arguments.
 *
 * A test of the API itself: built by make, it finds the function with
 * dlsym(RTLD_DEFAULT) (run it with libucow.so preloaded); built with -DREFPAGE_LINKED
 * (tests/integration/refpage.sh does, with pkg-config ucow) it includes <ucow.h> and links
 * -lucow.
 *
 * usage: refpage-check [-l] [CASE...]     run the cases (default: all); "mem:" lines last
 *        refpage-check --disabled         ucow_refpage_create must fail with ENOSYS
 *        refpage-check --inherited FD PAGES SIZE [CLOSED_FD]
 *                                         map an inherited refpage fd: PAGES pages of the
 *                                         pattern of SIZE; CLOSED_FD must not be open
 *        refpage-check --inherited-plain FD SIZE
 *                                         the same in an image without ucow: the kernel
 *                                         maps the one-page file (a second page: SIGBUS)
 * Prints "ok CASE" or "FAIL CASE: why" per case; exit status 0 when all passed, 1 if not,
 * 77 when the function cannot be found.
 */
#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#ifdef REFPAGE_LINKED
#include <ucow.h>
#define refpage_create ucow_refpage_create
#else
static int (*refpage_create)(const void *content, size_t size, unsigned long flags);
#endif

#define PAGE 4096UL
#define MARK 0x5a

static const char *self;
static const char *current;
static int failures;

static void fail(const char *fmt, ...)
{
	va_list ap;

	printf("FAIL %s: ", current);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	fflush(stdout);
	failures++;
}

/* A pattern of @size bytes that no two sizes share and that is never all one byte. */
static void make_pattern(unsigned char *buf, size_t size)
{
	for (size_t i = 0; i < size; i++)
		buf[i] = (unsigned char)(0xa5 ^ (i * 37 + size * 11));
}

struct refpage {
	int fd;
	size_t size;
	unsigned char pat[PAGE];
};

static bool refpage_new(struct refpage *rp, size_t size)
{
	rp->size = size;
	make_pattern(rp->pat, size);
	rp->fd = refpage_create(rp->pat, size, 0);
	if (rp->fd < 0) {
		fail("ucow_refpage_create(size %zu): %s", size, strerror(errno));
		return false;
	}
	return true;
}

static unsigned char *map_rp(const struct refpage *rp, size_t len, int prot, int flags)
{
	unsigned char *p = mmap(NULL, len, prot, MAP_PRIVATE | flags, rp->fd, 0);

	if (p == MAP_FAILED) {
		fail("mmap(%zu bytes): %s", len, strerror(errno));
		return NULL;
	}
	return p;
}

/*
 * Whether [p+from, p+to) reads as the pattern (mapping offset 0 at @p), a page's first
 * byte being @mark instead where @marked says so. Reports the first difference.
 */
static bool check(const struct refpage *rp, const unsigned char *p, size_t from, size_t to,
		  const char *what)
{
	for (size_t i = from; i < to; i++) {
		unsigned char want = rp ? rp->pat[i % rp->size] : 0;

		if (p[i] != want) {
			fail("%s: byte %zu (page %zu) is %#x, want %#x", what, i, i / PAGE, p[i],
			     want);
			return false;
		}
	}
	return true;
}

static void check_byte(const unsigned char *p, size_t i, unsigned char want, const char *what)
{
	if (p[i] != want)
		fail("%s: byte %zu is %#x, want %#x", what, i, p[i], want);
}

static sigjmp_buf jump;

static void on_signal(int sig)
{
	siglongjmp(jump, sig);
}

/* The signal an access raises (0: none). */
static int access_signal(volatile unsigned char *addr, bool write)
{
	struct sigaction sa = { .sa_handler = on_signal }, old_segv, old_bus;
	int sig;

	sigaction(SIGSEGV, &sa, &old_segv);
	sigaction(SIGBUS, &sa, &old_bus);
	sig = sigsetjmp(jump, 1);
	if (sig == 0) {
		if (write)
			*addr = MARK;
		else
			(void)*addr;
	}
	sigaction(SIGSEGV, &old_segv, NULL);
	sigaction(SIGBUS, &old_bus, NULL);
	return sig;
}

/* ---- cases ------------------------------------------------------------------------------- */

static void case_args(void)
{
	static const struct {
		const char *what;
		size_t size;
		unsigned long flags;
		bool null;
		int err;
	} bad[] = {
		{ "size 0", 0, 0, false, EINVAL },
		{ "size 3", 3, 0, false, EINVAL },
		{ "size 24", 24, 0, false, EINVAL },
		{ "size 8192", 8192, 0, false, EINVAL },
		{ "size 4097", 4097, 0, false, EINVAL },
		{ "flags 1", 16, 1, false, EINVAL },
		{ "flags ~0", 16, ~0UL, false, EINVAL },
		{ "content NULL", 16, 0, true, EFAULT },
	};
	static unsigned char content[8192];
	unsigned char *none;
	struct stat st;
	int fd, fdflags;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		errno = 0;
		fd = refpage_create(bad[i].null ? NULL : content, bad[i].size, bad[i].flags);
		if (fd >= 0 || errno != bad[i].err) {
			fail("%s: returned %d, errno %s; want -1, %s", bad[i].what, fd,
			     strerror(errno), strerror(bad[i].err));
			if (fd >= 0)
				close(fd);
		}
	}
	/* Unreadable content: EFAULT, not a crash. */
	none = mmap(NULL, PAGE, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	errno = 0;
	fd = refpage_create(none, 64, 0);
	if (fd >= 0 || errno != EFAULT)
		fail("PROT_NONE content: returned %d, errno %s; want EFAULT", fd, strerror(errno));
	munmap(none, PAGE);

	fd = refpage_create(content, 1, 0);
	if (fd < 0) {
		fail("size 1: %s", strerror(errno));
		return;
	}
	fdflags = fcntl(fd, F_GETFD);
	if (fdflags < 0 || !(fdflags & FD_CLOEXEC))
		fail("the fd is not close-on-exec");
	if (fstat(fd, &st) < 0 || (size_t)st.st_size != PAGE)
		fail("fstat: size %lld, want one page", (long long)st.st_size);
	close(fd);
}

/* Patterns of many sizes over an odd length, read out of order, then written in places. */
static void case_sizes(void)
{
	static const size_t sizes[] = { 1, 2, 4, 8, 16, 64, 512, 2048, 4096 };
	const size_t len = 33 * PAGE + 100;

	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		struct refpage rp;
		unsigned char *p;
		char what[64];

		if (!refpage_new(&rp, sizes[i]))
			continue;
		p = map_rp(&rp, len, PROT_READ | PROT_WRITE, 0);
		close(rp.fd);	/* the mapping outlives the fd */
		if (!p)
			continue;
		snprintf(what, sizeof(what), "size %zu", sizes[i]);
		/* The middle first, then the rest: faults in no particular order. */
		check(&rp, p, 17 * PAGE, 18 * PAGE, what);
		check(&rp, p, 0, 34 * PAGE, what);
		p[5 * PAGE + 7] = MARK;
		p[33 * PAGE + 99] = MARK;
		check(&rp, p, 5 * PAGE, 5 * PAGE + 7, what);
		check_byte(p, 5 * PAGE + 7, MARK, what);
		check(&rp, p, 5 * PAGE + 8, 6 * PAGE, what);
		check_byte(p, 33 * PAGE + 99, MARK, what);
		munmap(p, len);
	}
}

static void case_zero(void)
{
	unsigned char zero[16] = { 0 };
	unsigned char *p;
	int fd = refpage_create(zero, sizeof(zero), 0);

	if (fd < 0) {
		fail("zero pattern: %s", strerror(errno));
		return;
	}
	p = mmap(NULL, 64 * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
	close(fd);
	if (p == MAP_FAILED) {
		fail("mmap: %s", strerror(errno));
		return;
	}
	check(NULL, p, 0, 64 * PAGE, "zero pattern");
	p[PAGE] = MARK;
	check_byte(p, PAGE, MARK, "zero pattern written");
	munmap(p, 64 * PAGE);
}

static void case_flags(void)
{
	static const struct {
		const char *what;
		int flags;
		off_t off;
		int err;	/* 0: must work */
	} calls[] = {
		{ "MAP_SHARED", MAP_SHARED, 0, EINVAL },
		{ "MAP_SHARED_VALIDATE", MAP_SHARED_VALIDATE, 0, EINVAL },
		{ "MAP_PRIVATE|MAP_HUGETLB", MAP_PRIVATE | MAP_HUGETLB, 0, EINVAL },
		{ "offset 100", MAP_PRIVATE, 100, EINVAL },
		{ "offset 1 page", MAP_PRIVATE, PAGE, 0 },
		{ "offset 1 GiB", MAP_PRIVATE, 1L << 30, 0 },
		{ "MAP_NORESERVE", MAP_PRIVATE | MAP_NORESERVE, 0, 0 },
		{ "MAP_POPULATE", MAP_PRIVATE | MAP_POPULATE, 0, 0 },
		{ "MAP_LOCKED", MAP_PRIVATE | MAP_LOCKED, 0, 0 },
	};
	struct refpage rp;

	if (!refpage_new(&rp, 16))
		return;
	for (size_t i = 0; i < sizeof(calls) / sizeof(calls[0]); i++) {
		unsigned char *p;

		errno = 0;
		p = mmap(NULL, 8 * PAGE, PROT_READ | PROT_WRITE, calls[i].flags, rp.fd,
			 calls[i].off);
		if (calls[i].err) {
			if (p != MAP_FAILED || errno != calls[i].err)
				fail("%s: %p, errno %s; want MAP_FAILED, %s", calls[i].what,
				     (void *)p, strerror(errno), strerror(calls[i].err));
			if (p != MAP_FAILED)
				munmap(p, 8 * PAGE);
			continue;
		}
		if (p == MAP_FAILED) {
			/* MAP_LOCKED may meet RLIMIT_MEMLOCK; the kernel says so with EAGAIN. */
			if (errno != EAGAIN)
				fail("%s: %s", calls[i].what, strerror(errno));
			continue;
		}
		check(&rp, p, 0, 8 * PAGE, calls[i].what);
		munmap(p, 8 * PAGE);
	}
	/* Another description of the same file (a dup, a reopen through /proc) is the same. */
	{
		char path[64];
		int fds[2];
		unsigned char *p;

		snprintf(path, sizeof(path), "/proc/self/fd/%d", rp.fd);
		fds[0] = dup(rp.fd);
		fds[1] = open(path, O_RDONLY | O_CLOEXEC);
		for (int i = 0; i < 2; i++) {
			if (fds[i] < 0)
				continue;
			const char *what = i ? "reopened fd" : "dup";

			p = mmap(NULL, 4 * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE, fds[i], 0);
			if (p == MAP_FAILED) {
				fail("%s: %s", what, strerror(errno));
			} else {
				check(&rp, p, 0, 4 * PAGE, what);
				munmap(p, 4 * PAGE);
			}
			close(fds[i]);
		}
	}
	close(rp.fd);
}

static void case_dontneed(void)
{
	const size_t pages = 32;
	struct refpage rp;
	unsigned char *p;

	if (!refpage_new(&rp, 2) || !(p = map_rp(&rp, pages * PAGE, PROT_READ | PROT_WRITE, 0)))
		return;
	close(rp.fd);
	for (size_t i = 0; i < pages; i++)
		p[i * PAGE] = MARK;
	if (madvise(p + 8 * PAGE, 16 * PAGE, MADV_DONTNEED) < 0)
		fail("MADV_DONTNEED: %s", strerror(errno));
	for (size_t i = 0; i < pages; i++) {
		if (i >= 8 && i < 24)
			check(&rp, p, i * PAGE, (i + 1) * PAGE, "discarded page");
		else
			check_byte(p, i * PAGE, MARK, "kept page");
	}
	/* Again, after the pages were read back: discarded pages that were present. */
	if (madvise(p, pages * PAGE, MADV_DONTNEED) < 0)
		fail("MADV_DONTNEED (all): %s", strerror(errno));
	check(&rp, p, 0, pages * PAGE, "all discarded");
	/* MADV_FREE: a page keeps what was written or reads the pattern, never zeroes. */
	for (size_t i = 0; i < pages; i++)
		p[i * PAGE] = MARK;
	if (madvise(p, pages * PAGE, MADV_FREE) < 0 && errno != EINVAL)
		fail("MADV_FREE: %s", strerror(errno));
	for (size_t i = 0; i < pages; i++)
		if (p[i * PAGE] != MARK)
			check(&rp, p, i * PAGE, (i + 1) * PAGE, "after MADV_FREE");
	munmap(p, pages * PAGE);
}

/* MADV_COLLAPSE over 2 MiB of a mapping with pages never touched: the same answer as over a
 * mapping filled when made (MAP_POPULATE), and the pattern after it. */
static int collapse_errno(const struct refpage *rp, int flags)
{
	const size_t huge = 2UL << 20;
	unsigned char *p = map_rp(rp, 2 * huge, PROT_READ | PROT_WRITE, flags), *a;
	int err = 0;

	if (!p)
		return -1;
	a = (unsigned char *)(((uintptr_t)p + huge - 1) & ~(huge - 1));
	a[3 * PAGE] = MARK;
	if (madvise(a, huge, 25 /* MADV_COLLAPSE */) < 0)
		err = errno;
	check_byte(a, 3 * PAGE, MARK, "written page after MADV_COLLAPSE");
	check(rp, p, 0, (size_t)(a - p) + 3 * PAGE, "after MADV_COLLAPSE");
	check(rp, p, (size_t)(a - p) + 4 * PAGE, 2 * huge, "after MADV_COLLAPSE");
	munmap(p, 2 * huge);
	return err;
}

static void case_collapse(void)
{
	struct refpage rp;
	int lazy, eager;

	if (!refpage_new(&rp, 16))
		return;
	lazy = collapse_errno(&rp, 0);
	eager = collapse_errno(&rp, MAP_POPULATE);
	if (lazy != eager)
		fail("MADV_COLLAPSE: %s, but %s where the mapping was populated",
		     lazy ? strerror(lazy) : "done", eager ? strerror(eager) : "done");
	close(rp.fd);
}

static void case_mremap(void)
{
	struct refpage rp;
	unsigned char *p, *q;

	if (!refpage_new(&rp, 16) || !(p = map_rp(&rp, 8 * PAGE, PROT_READ | PROT_WRITE, 0)))
		return;
	p[0] = MARK;
	p[7 * PAGE] = MARK;
	/* Grown where it may move. */
	q = mremap(p, 8 * PAGE, 40 * PAGE, MREMAP_MAYMOVE);
	if (q == MAP_FAILED) {
		fail("mremap grow: %s", strerror(errno));
		munmap(p, 8 * PAGE);
		close(rp.fd);
		return;
	}
	check_byte(q, 0, MARK, "mremap kept");
	check_byte(q, 7 * PAGE, MARK, "mremap kept");
	check(&rp, q, 1, 7 * PAGE, "mremap old part");
	check(&rp, q, 7 * PAGE + 1, 40 * PAGE, "mremap new part");
	/* Shrunk, then grown in place into room made for it. */
	q = mremap(q, 40 * PAGE, 4 * PAGE, 0);
	if (q == MAP_FAILED) {
		fail("mremap shrink: %s", strerror(errno));
		close(rp.fd);
		return;
	}
	p = mmap(NULL, 64 * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE, rp.fd, 0);
	if (p == MAP_FAILED) {
		fail("mmap: %s", strerror(errno));
	} else {
		p[PAGE] = MARK;
		munmap(p + 16 * PAGE, 48 * PAGE);
		if (mremap(p, 16 * PAGE, 48 * PAGE, 0) != p) {
			fail("mremap grow in place: %s", strerror(errno));
			munmap(p, 16 * PAGE);
		} else {
			check(&rp, p, 0, PAGE, "grown in place");
			check_byte(p, PAGE, MARK, "grown in place");
			check(&rp, p, PAGE + 1, 48 * PAGE, "grown in place");
			munmap(p, 48 * PAGE);
		}
	}
	check_byte(q, 0, MARK, "after shrink");
	check(&rp, q, 1, 4 * PAGE, "after shrink");
	munmap(q, 4 * PAGE);
	close(rp.fd);
}

static void case_mprotect(void)
{
	struct refpage rp;
	unsigned char *p;

	if (!refpage_new(&rp, 4))
		return;
	/* Mapped read-only from the start. */
	p = map_rp(&rp, 16 * PAGE, PROT_READ, 0);
	if (p) {
		check(&rp, p, 0, 16 * PAGE, "PROT_READ mapping");
		if (access_signal(p + PAGE, true) != SIGSEGV)
			fail("a write to a PROT_READ mapping did not raise SIGSEGV");
		munmap(p, 16 * PAGE);
	}
	/* Mapped PROT_NONE, then opened up. */
	p = map_rp(&rp, 16 * PAGE, PROT_NONE, 0);
	if (p) {
		if (access_signal(p, false) != SIGSEGV)
			fail("a read of a PROT_NONE mapping did not raise SIGSEGV");
		if (mprotect(p, 16 * PAGE, PROT_READ | PROT_WRITE) < 0)
			fail("mprotect RW: %s", strerror(errno));
		check(&rp, p, 0, 16 * PAGE, "PROT_NONE then RW");
		munmap(p, 16 * PAGE);
	}
	/* Parts protected differently, then restored. */
	p = map_rp(&rp, 16 * PAGE, PROT_READ | PROT_WRITE, 0);
	if (!p) {
		close(rp.fd);
		return;
	}
	p[2 * PAGE] = MARK;
	if (mprotect(p + 4 * PAGE, 4 * PAGE, PROT_READ) < 0 ||
	    mprotect(p + 10 * PAGE, 2 * PAGE, PROT_NONE) < 0)
		fail("mprotect: %s", strerror(errno));
	check(&rp, p, 4 * PAGE, 8 * PAGE, "PROT_READ part");
	if (access_signal(p + 5 * PAGE, true) != SIGSEGV)
		fail("a write to the PROT_READ part did not raise SIGSEGV");
	if (access_signal(p + 10 * PAGE, false) != SIGSEGV)
		fail("a read of the PROT_NONE part did not raise SIGSEGV");
	if (mprotect(p, 16 * PAGE, PROT_READ | PROT_WRITE) < 0)
		fail("mprotect back: %s", strerror(errno));
	check_byte(p, 2 * PAGE, MARK, "kept across mprotect");
	check(&rp, p, 2 * PAGE + 1, 16 * PAGE, "after mprotect");
	p[11 * PAGE] = MARK;
	check_byte(p, 11 * PAGE, MARK, "written after mprotect");
	munmap(p, 16 * PAGE);
	close(rp.fd);
}

static void case_munmap(void)
{
	struct refpage rp;
	unsigned char *p, *q;

	if (!refpage_new(&rp, 8) || !(p = map_rp(&rp, 16 * PAGE, PROT_READ | PROT_WRITE, 0)))
		return;
	p[2 * PAGE] = MARK;
	if (munmap(p + 4 * PAGE, 4 * PAGE) < 0)
		fail("munmap part: %s", strerror(errno));
	if (access_signal(p + 5 * PAGE, false) != SIGSEGV)
		fail("the unmapped part is still mapped");
	check(&rp, p, 0, 2 * PAGE, "before the hole");
	check_byte(p, 2 * PAGE, MARK, "before the hole");
	check(&rp, p, 2 * PAGE + 1, 4 * PAGE, "before the hole");
	check(&rp, p, 8 * PAGE, 16 * PAGE, "after the hole");
	/* New anonymous memory in the hole is anonymous memory: zeroes. */
	q = mmap(p + 4 * PAGE, 4 * PAGE, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
	if (q == MAP_FAILED)
		fail("anonymous mmap in the hole: %s", strerror(errno));
	else
		check(NULL, q, 0, 4 * PAGE, "anonymous memory in the hole");
	/* The end, then the start. */
	munmap(p + 12 * PAGE, 4 * PAGE);
	munmap(p, 2 * PAGE);
	check_byte(p, 2 * PAGE, MARK, "trimmed");
	check(&rp, p, 8 * PAGE, 12 * PAGE, "trimmed");
	munmap(p, 12 * PAGE);
	close(rp.fd);
}

static void case_fixed(void)
{
	struct refpage a, b;
	unsigned char *p, *q;

	if (!refpage_new(&a, 16) || !refpage_new(&b, 4096))
		return;
	p = map_rp(&a, 16 * PAGE, PROT_READ | PROT_WRITE, 0);
	if (!p)
		return;
	p[0] = MARK;
	/* Anonymous memory over a part reads zero there. */
	q = mmap(p + 4 * PAGE, 4 * PAGE, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
	if (q != p + 4 * PAGE)
		fail("MAP_FIXED anonymous: %s", strerror(errno));
	check(NULL, p, 4 * PAGE, 8 * PAGE, "anonymous over a refpage");
	/* Another refpage over another part reads its own pattern. */
	q = mmap(p + 10 * PAGE, 2 * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_FIXED, b.fd, 0);
	if (q != p + 10 * PAGE)
		fail("MAP_FIXED refpage: %s", strerror(errno));
	check(&b, q, 0, 2 * PAGE, "refpage over a refpage");
	check_byte(p, 0, MARK, "untouched by MAP_FIXED");
	check(&a, p, 1, 4 * PAGE, "untouched by MAP_FIXED");
	check(&a, p, 8 * PAGE, 10 * PAGE, "untouched by MAP_FIXED");
	check(&a, p, 12 * PAGE, 16 * PAGE, "untouched by MAP_FIXED");
	munmap(p, 16 * PAGE);
	/* A refpage over part of ordinary memory that holds data. */
	p = mmap(NULL, 8 * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p != MAP_FAILED) {
		memset(p, MARK, 8 * PAGE);
		q = mmap(p + 2 * PAGE, 3 * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_FIXED,
			 a.fd, 0);
		if (q != p + 2 * PAGE)
			fail("MAP_FIXED refpage over data: %s", strerror(errno));
		check(&a, p, 2 * PAGE, 5 * PAGE, "refpage over data");
		check_byte(p, 2 * PAGE - 1, MARK, "data beside");
		check_byte(p, 5 * PAGE, MARK, "data beside");
		munmap(p, 8 * PAGE);
	}
	close(a.fd);
	close(b.fd);
}

static void case_fork(void)
{
	const size_t pages = 64;
	struct refpage rp;
	unsigned char *p;
	int status;
	pid_t pid;

	if (!refpage_new(&rp, 16) || !(p = map_rp(&rp, pages * PAGE, PROT_READ | PROT_WRITE, 0)))
		return;
	for (size_t i = 0; i < 4; i++)
		p[i * PAGE] = MARK;
	fflush(stdout);
	pid = fork();
	if (pid < 0) {
		fail("fork: %s", strerror(errno));
		return;
	}
	if (pid == 0) {
		current = "fork (child)";
		failures = 0;
		for (size_t i = 0; i < 4; i++)
			check_byte(p, i * PAGE, MARK, "written before fork");
		check(&rp, p, 4 * PAGE, pages * PAGE, "untouched before fork");
		p[10 * PAGE] = MARK;
		madvise(p, PAGE, MADV_DONTNEED);
		check(&rp, p, 0, PAGE, "discarded in the child");
		fflush(stdout);
		_exit(failures ? 1 : 0);
	}
	if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status) || WEXITSTATUS(status))
		fail("the child's checks failed (status %#x)", status);
	check_byte(p, 0, MARK, "parent after fork");
	check(&rp, p, 10 * PAGE, 11 * PAGE, "parent: the child's write is its own");
	check(&rp, p, 4 * PAGE, pages * PAGE, "parent after fork");
	munmap(p, pages * PAGE);
	close(rp.fd);
}

static void case_exec(void)
{
	struct refpage rp;
	char fdarg[16], closedarg[16], sizearg[16];
	int status, inherited;
	pid_t pid;

	if (!refpage_new(&rp, 16))
		return;
	inherited = dup(rp.fd);	/* dup clears close-on-exec */
	snprintf(fdarg, sizeof(fdarg), "%d", inherited);
	snprintf(closedarg, sizeof(closedarg), "%d", rp.fd);
	snprintf(sizearg, sizeof(sizearg), "%zu", rp.size);
	fflush(stdout);
	pid = fork();
	if (pid == 0) {
		execl(self, self, "--inherited", fdarg, "48", sizearg, closedarg, (char *)NULL);
		_exit(127);
	}
	if (pid < 0 || waitpid(pid, &status, 0) != pid || !WIFEXITED(status) || WEXITSTATUS(status))
		fail("the exec'd program's checks failed (status %#x)", status);
#ifndef REFPAGE_LINKED
	/* An image without ucow sees the one-page file it is: the pattern, then SIGBUS. */
	fflush(stdout);
	pid = fork();
	if (pid == 0) {
		unsetenv("LD_PRELOAD");
		execl(self, self, "--inherited-plain", fdarg, sizearg, (char *)NULL);
		_exit(127);
	}
	if (pid < 0 || waitpid(pid, &status, 0) != pid || !WIFEXITED(status) || WEXITSTATUS(status))
		fail("the exec'd program without ucow failed (status %#x)", status);
#endif
	close(inherited);
	close(rp.fd);
}

struct thread_arg {
	const struct refpage *rp;
	unsigned char *p;
	size_t first, pages;
	int bad;
};

static void *thread_main(void *arg)
{
	struct thread_arg *t = arg;

	for (size_t i = t->first; i < t->first + t->pages; i++) {
		unsigned char *page = t->p + i * PAGE;

		if (i % 3 == 0)
			page[i % PAGE] = MARK;
		for (size_t b = 0; b < PAGE; b++) {
			unsigned char want = (i % 3 == 0 && b == i % PAGE) ? MARK :
					     t->rp->pat[b % t->rp->size];

			t->bad += page[b] != want;
		}
	}
	return NULL;
}

/* Threads faulting on neighbouring pages of one mapping at once. */
static void case_threads(void)
{
	enum { THREADS = 4, PAGES = 256 };
	struct thread_arg args[THREADS];
	pthread_t tids[THREADS];
	struct refpage rp;
	unsigned char *p;

	if (!refpage_new(&rp, 64) ||
	    !(p = map_rp(&rp, THREADS * PAGES * PAGE, PROT_READ | PROT_WRITE, 0)))
		return;
	for (int t = 0; t < THREADS; t++) {
		args[t] = (struct thread_arg){ &rp, p, (size_t)t * PAGES, PAGES, 0 };
		pthread_create(&tids[t], NULL, thread_main, &args[t]);
	}
	for (int t = 0; t < THREADS; t++) {
		pthread_join(tids[t], NULL);
		if (args[t].bad)
			fail("thread %d saw %d wrong bytes", t, args[t].bad);
	}
	munmap(p, THREADS * PAGES * PAGE);
	close(rp.fd);
}

/* The kernel reads and writes untouched pages for system calls. */
static void case_syscalls(void)
{
	struct refpage rp;
	unsigned char *p, buf[2 * PAGE];
	int pipefd[2];

	if (!refpage_new(&rp, 32) || !(p = map_rp(&rp, 16 * PAGE, PROT_READ | PROT_WRITE, 0)))
		return;
	if (pipe(pipefd) < 0) {
		fail("pipe: %s", strerror(errno));
		return;
	}
	/* write(2) from untouched pages. */
	if (write(pipefd[1], p + 3 * PAGE + 5, 2 * PAGE) != (ssize_t)(2 * PAGE) ||
	    read(pipefd[0], buf, 2 * PAGE) != (ssize_t)(2 * PAGE))
		fail("write from untouched pages: %s", strerror(errno));
	else
		for (size_t i = 0; i < 2 * PAGE; i++)
			if (buf[i] != rp.pat[(3 * PAGE + 5 + i) % rp.size]) {
				fail("write(2) from untouched pages: byte %zu is %#x", i, buf[i]);
				break;
			}
	/* read(2) into untouched pages: the rest of the page keeps the pattern. */
	memset(buf, MARK, 100);
	if (write(pipefd[1], buf, 100) != 100 || read(pipefd[0], p + 8 * PAGE + 50, 100) != 100)
		fail("read into untouched pages: %s", strerror(errno));
	check(&rp, p, 8 * PAGE, 8 * PAGE + 50, "around read(2)");
	for (size_t i = 50; i < 150; i++)
		check_byte(p, 8 * PAGE + i, MARK, "read(2) into untouched page");
	check(&rp, p, 8 * PAGE + 150, 9 * PAGE, "around read(2)");
	close(pipefd[0]);
	close(pipefd[1]);
	munmap(p, 16 * PAGE);
	close(rp.fd);
}

static size_t resident_pages(void *p, size_t len)
{
	size_t n = 0, pages = len / PAGE;
	unsigned char *vec = malloc(pages);

	if (!vec || mincore(p, len, vec) < 0) {
		free(vec);
		return (size_t)-1;
	}
	for (size_t i = 0; i < pages; i++)
		n += vec[i] & 1;
	free(vec);
	return n;
}

static size_t sparse_resident = (size_t)-1, seq_resident = (size_t)-1;

/* One page read in a large mapping: how much is resident says whether it was lazy. */
static void case_sparse(void)
{
	const size_t len = 64UL << 20;
	struct refpage rp;
	unsigned char *p;

	if (!refpage_new(&rp, 1) || !(p = map_rp(&rp, len, PROT_READ | PROT_WRITE, 0)))
		return;
	check(&rp, p, len / 2, len / 2 + PAGE, "one page of 64 MiB");
	sparse_resident = resident_pages(p, len);
	munmap(p, len);
	close(rp.fd);
}

/* The "Cpus_allowed_list:" value in a status file. */
static bool read_cpus_allowed(const char *path, char *out, size_t len)
{
	char line[256];
	bool found = false;
	FILE *f = fopen(path, "r");

	while (f && !found && fgets(line, sizeof(line), f))
		if (!strncmp(line, "Cpus_allowed_list:", 18)) {
			snprintf(out, len, "%s", line + 18 + strspn(line + 18, " \t"));
			found = true;
		}
	if (f)
		fclose(f);
	return found;
}

/* The id of a thread of this process named @name, or 0. */
static int thread_named(const char *name)
{
	char path[300], comm[64];
	struct dirent *d;
	int tid = 0;
	DIR *dir = opendir("/proc/self/task");

	while (dir && !tid && (d = readdir(dir))) {
		FILE *f;

		if (d->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "/proc/self/task/%s/comm", d->d_name);
		f = fopen(path, "r");
		if (!f)
			continue;
		if (fgets(comm, sizeof(comm), f) && !strncmp(comm, name, strlen(name)))
			tid = atoi(d->d_name);
		fclose(f);
	}
	if (dir)
		closedir(dir);
	return tid;
}

/* The CPUs of this thread (@name NULL) or of the thread named @name; false if none. */
static bool cpus_allowed(const char *name, char *out, size_t len)
{
	char path[64];
	int tid;

	if (!name)
		return read_cpus_allowed("/proc/thread-self/status", out, len);
	tid = thread_named(name);
	if (!tid)
		return false;
	snprintf(path, sizeof(path), "/proc/self/task/%d/status", tid);
	return read_cpus_allowed(path, out, len);
}

/* A thread named @name, if any, takes back this thread's CPU mask within a second. */
static void check_mask_back(const char *name)
{
	char mine[256], its[256] = "";

	if (!cpus_allowed(NULL, mine, sizeof(mine)))
		return;
	for (int i = 0; i < 1000; i++) {
		if (!cpus_allowed(name, its, sizeof(its)) || !strcmp(its, mine))
			return;
		usleep(1000);
	}
	fail("%s keeps CPUs %.*s (this thread: %.*s)", name, (int)strcspn(its, "\n"), its,
	     (int)strcspn(mine, "\n"), mine);
}

/* A long sequential read, where the window grows: ucow fills its windows on this thread's
 * CPU, and its handler thread ends with the CPU mask it had. */
static void case_sequential(void)
{
	const size_t len = 16UL << 20;
	struct refpage rp;
	unsigned char *p;

	if (!refpage_new(&rp, 8) || !(p = map_rp(&rp, len, PROT_READ | PROT_WRITE, 0)))
		return;
	check(&rp, p, 0, len, "sequential read");
	check_mask_back("ucow-handler");
	seq_resident = resident_pages(p, len);
	munmap(p, len);
	close(rp.fd);
}

/* ---- unmapping while another thread reads ------------------------------------------- */

#define RACE_PAGES 64
#define RACE_ROUNDS 400

static struct refpage race_rp;
static unsigned char *_Atomic race_map;
static atomic_int race_round, race_done;
static atomic_long race_wrong, race_segv;
static __thread sigjmp_buf race_jump;

static void race_on_segv(int sig)
{
	(void)sig;
	siglongjmp(race_jump, 1);
}

/* Each read of an untouched page gives the pattern, or SIGSEGV once it is unmapped. */
static void *race_reader(void *arg)
{
	(void)arg;
	for (volatile int r = 1;; r++) {
		unsigned char *p;

		while (atomic_load(&race_round) < r && atomic_load(&race_round) >= 0)
			;
		if (atomic_load(&race_round) < 0)
			return NULL;
		p = atomic_load(&race_map);
		if (!sigsetjmp(race_jump, 1)) {
			for (size_t k = 0; k < RACE_PAGES; k++) {
				size_t i = k * PAGE + 7;

				if (*(volatile unsigned char *)(p + i) != race_rp.pat[i % race_rp.size]) {
					atomic_fetch_add(&race_wrong, 1);
					break;
				}
			}
		} else {
			atomic_fetch_add(&race_segv, 1);
		}
		atomic_store(&race_done, r);
	}
}

/*
 * One thread unmaps while another reads untouched pages: ucow must not hand the pages to
 * the kernel (zeroes) before the unmap, which it did when munmap unregistered them first.
 */
static void case_unmap_race(void)
{
	struct sigaction sa = { .sa_handler = race_on_segv, .sa_flags = SA_NODEFER }, old;
	pthread_t t;

	if (!refpage_new(&race_rp, 16))
		return;
	sigaction(SIGSEGV, &sa, &old);
	atomic_store(&race_round, 0);
	atomic_store(&race_done, 0);
	pthread_create(&t, NULL, race_reader, NULL);
	for (int r = 1; r <= RACE_ROUNDS; r++) {
		unsigned char *p = map_rp(&race_rp, RACE_PAGES * PAGE, PROT_READ, 0);
		struct timespec ts = { 0, (r * 7919 % 200) * 1000 };

		if (!p)
			break;
		atomic_store(&race_map, p);
		atomic_store(&race_round, r);
		nanosleep(&ts, NULL);
		munmap(p, RACE_PAGES * PAGE);
		while (atomic_load(&race_done) < r)
			;
	}
	atomic_store(&race_round, -1);
	pthread_join(t, NULL);
	sigaction(SIGSEGV, &old, NULL);
	if (race_wrong)
		fail("%ld of %d rounds read a byte that is not the pattern while the mapping "
		     "was being unmapped (%ld ended in SIGSEGV)", race_wrong, RACE_ROUNDS,
		     race_segv);
	close(race_rp.fd);
}

/* A new mapping where one was just unmapped starts with no window: one touch, one page. */
static void case_fresh_window(void)
{
	const size_t len = 8UL << 20;
	struct refpage rp;
	unsigned char *p, *q;
	long first;

	if (!refpage_new(&rp, 4) || !(p = map_rp(&rp, len, PROT_READ, 0)))
		return;
	for (size_t k = 0; k < 10; k++)
		(void)*(volatile unsigned char *)(p + k * PAGE);
	first = (long)resident_pages(p, len);
	munmap(p, len);
	if (first >= (long)(len / PAGE)) {	/* filled when made (no userfaultfd) */
		close(rp.fd);
		return;
	}
	q = mmap(p, len, PROT_READ, MAP_PRIVATE | MAP_FIXED_NOREPLACE, rp.fd, 0);
	if (q == MAP_FAILED) {
		close(rp.fd);
		return;	/* taken meanwhile: nothing to check */
	}
	(void)*(volatile unsigned char *)(q + (size_t)first * PAGE);
	if (resident_pages(q, len) > 1)
		fail("one touch at page %ld of a new mapping filled %ld pages", first,
		     (long)resident_pages(q, len));
	munmap(q, len);
	close(rp.fd);
}

/* A CPU mask set on ucow's handler thread (by the program, by taskset -a) stays. */
static void case_handler_mask(void)
{
	const size_t len = 16UL << 20;
	char before[256], after[256];
	struct refpage rp;
	unsigned char *p;
	cpu_set_t mine, one, other;
	int tid, a = -1, b = -1;

	/* Two CPUs this thread may use: the handler gets the first, this thread the second. */
	if (sched_getaffinity(0, sizeof(mine), &mine) < 0)
		return;
	for (int c = 0; c < CPU_SETSIZE && b < 0; c++)
		if (CPU_ISSET(c, &mine))
			*(a < 0 ? &a : &b) = c;
	if (b < 0 || !refpage_new(&rp, 8))
		return;	/* one CPU: ucow never moves its handler */
	if (!(p = map_rp(&rp, len, PROT_READ, 0))) {
		close(rp.fd);
		return;
	}
	(void)*(volatile unsigned char *)p;	/* the handler runs from here on */
	tid = thread_named("ucow-handler");
	CPU_ZERO(&one);
	CPU_SET(a, &one);
	CPU_ZERO(&other);
	CPU_SET(b, &other);
	if (tid > 0 && sched_setaffinity(tid, sizeof(one), &one) == 0 &&
	    sched_setaffinity(0, sizeof(other), &other) == 0 &&
	    cpus_allowed("ucow-handler", before, sizeof(before))) {
		check(&rp, p, 0, len, "sequential read");
		usleep(10000);
		if (cpus_allowed("ucow-handler", after, sizeof(after)) && strcmp(before, after))
			fail("the handler's CPUs were %.*s, now %.*s", (int)strcspn(before, "\n"),
			     before, (int)strcspn(after, "\n"), after);
	}
	if (tid > 0)
		sched_setaffinity(tid, sizeof(mine), &mine);
	sched_setaffinity(0, sizeof(mine), &mine);
	munmap(p, len);
	close(rp.fd);
}

static const struct {
	const char *name;
	void (*fn)(void);
} cases[] = {
	{ "args", case_args },
	{ "sizes", case_sizes },
	{ "zero", case_zero },
	{ "flags", case_flags },
	{ "dontneed", case_dontneed },
	{ "collapse", case_collapse },
	{ "mremap", case_mremap },
	{ "mprotect", case_mprotect },
	{ "munmap", case_munmap },
	{ "fixed", case_fixed },
	{ "fork", case_fork },
	{ "exec", case_exec },
	{ "threads", case_threads },
	{ "syscalls", case_syscalls },
	{ "sparse", case_sparse },
	{ "sequential", case_sequential },
	{ "unmap-race", case_unmap_race },
	{ "fresh-window", case_fresh_window },
	{ "handler-mask", case_handler_mask },
};

/* ---- the other modes --------------------------------------------------------------------- */

/* In an exec'd image: the inherited fd maps as a refpage, the close-on-exec one is gone. */
static int run_inherited(int argc, char **argv)
{
	bool plain = strcmp(argv[1], "--inherited-plain") == 0;
	int fd = atoi(argv[2]), pages = plain ? 1 : atoi(argv[3]);
	struct refpage rp = { .fd = fd, .size = strtoul(argv[plain ? 3 : 4], NULL, 0) };
	size_t len = (size_t)(pages + plain) * PAGE;
	unsigned char *p;

	current = "exec (inherited fd)";
	make_pattern(rp.pat, rp.size);
	if (!plain && argc > 5 && fcntl(atoi(argv[5]), F_GETFD) >= 0)
		fail("the close-on-exec refpage fd %s was inherited", argv[5]);
	p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
	if (p == MAP_FAILED) {
		fail("mmap of inherited fd %d: %s", fd, strerror(errno));
		return 1;
	}
	check(&rp, p, 0, (size_t)pages * PAGE, "inherited refpage");
	if (plain && access_signal(p + PAGE, false) != SIGBUS)
		fail("without ucow, the page past the one-page file did not raise SIGBUS");
	p[0] = MARK;
	check_byte(p, 0, MARK, "inherited refpage written");
	if (!failures)
		printf("ok %s%s\n", current, plain ? " without ucow" : "");
	return failures ? 1 : 0;
}

int main(int argc, char **argv)
{
	int ran = 0;

	self = argv[0];
	setvbuf(stdout, NULL, _IOLBF, 0);
	if ((argc >= 5 && strcmp(argv[1], "--inherited") == 0) ||
	    (argc == 4 && strcmp(argv[1], "--inherited-plain") == 0))
		return run_inherited(argc, argv);
	if (argc == 2 && strcmp(argv[1], "-l") == 0) {
		for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
			printf("%s\n", cases[i].name);
		return 0;
	}
#ifndef REFPAGE_LINKED
	refpage_create = (int (*)(const void *, size_t, unsigned long))dlsym(RTLD_DEFAULT,
									  "ucow_refpage_create");
	if (!refpage_create) {
		printf("ucow_refpage_create not found: run with libucow.so preloaded\n");
		return 77;
	}
#endif
	if (argc == 2 && strcmp(argv[1], "--disabled") == 0) {
		unsigned char c = 1;
		int fd = refpage_create(&c, 1, 0);

		current = "disabled";
		if (fd >= 0 || errno != ENOSYS)
			fail("returned %d, errno %s; want -1, ENOSYS", fd, strerror(errno));
		else
			printf("ok disabled\n");
		return failures ? 1 : 0;
	}
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		bool wanted = argc == 1;
		int before = failures;

		for (int a = 1; a < argc; a++)
			wanted |= strcmp(argv[a], cases[i].name) == 0;
		if (!wanted)
			continue;
		current = cases[i].name;
		cases[i].fn();
		if (failures == before)
			printf("ok %s\n", cases[i].name);
		ran++;
	}
	if (!ran) {
		fprintf(stderr, "refpage-check: no such case (see -l)\n");
		return 2;
	}
	printf("%d cases, %d failed\n", ran, failures);
	printf("mem: sparse_resident_pages=%zd sequential_resident_pages=%zd\n",
	       (ssize_t)sparse_resident, (ssize_t)seq_resident);
	return failures ? 1 : 0;
}

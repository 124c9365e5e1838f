/* lazy-memset.c: large memsets over private anonymous memory, then everything a program may do
 * to that memory; each case checks the bytes it must see. Knows nothing of ucow (test program):
 * run plain and under lazy memset, the output must be the same.
 *
 * usage: lazy-memset [-s SIZE] [-m mmap|malloc|brk] [CASE...]   (default: every case)
 * Prints "CASE/SOURCE: ok" or "CASE/SOURCE: FAILED ..." per case; "mem:" lines are
 * measurements. Exit: 0 all ok, 1 a check failed, 2 setup.
 */
#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

#include "size-arg.h"

#define PAGE 4096UL
#define A 0xa5
#define B 0x3c
#define C 0xe1

enum source { SRC_MMAP, SRC_MALLOC, SRC_BRK };
static const char *const source_names[] = { "mmap", "malloc", "brk" };

static enum source src;
static size_t size = 8 << 20;
static const char *cur;		/* the case running */
static int failures;

static void die(const char *what)
{
	fprintf(stderr, "lazy-memset: %s: %s\n", what, strerror(errno));
	exit(2);
}

static bool fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static bool fail(const char *fmt, ...)
{
	va_list ap;

	printf("%s/%s: FAILED: ", cur, source_names[src]);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	fflush(stdout);
	failures++;
	return false;
}

/* [off, off+len) of @p holds @want everywhere. */
static bool expect(const unsigned char *p, size_t off, size_t len, unsigned char want,
		   const char *what)
{
	for (size_t i = off; i < off + len; i++)
		if (p[i] != want)
			return fail("%s: byte %zu (page %zu) is %#x, want %#x", what, i, i / PAGE,
				    p[i], want);
	return true;
}

/* ---- where the memory comes from ----------------------------------------------------------- */

static unsigned char *get(size_t n)
{
	void *p;

	if (src == SRC_MMAP) {
		p = mmap(NULL, n, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (p == MAP_FAILED)
			die("mmap");
		return p;
	}
	p = malloc(n);
	if (!p)
		die("malloc");
	return p;
}

static void put(unsigned char *p, size_t n)
{
	if (src == SRC_MMAP)
		munmap(p, n);
	else
		free(p);
}

/* The page-aligned part of [p, p+n). */
static unsigned char *page_in(unsigned char *p)
{
	return (unsigned char *)(((uintptr_t)p + PAGE - 1) & ~(PAGE - 1));
}

/* ---- the cases ------------------------------------------------------------------------------ */

static void case_read(void)
{
	unsigned char *p = get(size);

	memset(p + 1, A, size - 2);	/* partial pages at both ends */
	expect(p, 1, size - 2, A, "after memset");
	put(p, size);
}

static void case_write(void)
{
	unsigned char *p = get(size);

	memset(p, A, size);
	for (size_t i = 0; i < size; i += 7 * PAGE + 13)
		p[i] = B;
	for (size_t i = 0; i < size; i++) {
		unsigned char want = (i % (7 * PAGE + 13)) == 0 ? B : A;

		if (p[i] != want) {
			fail("byte %zu is %#x, want %#x", i, p[i], want);
			break;
		}
	}
	put(p, size);
}

static int temp_file(void)
{
	char path[] = "/tmp/lazy-memset.XXXXXX";
	int fd = mkstemp(path);

	if (fd < 0)
		die("mkstemp");
	unlink(path);
	return fd;
}

/* write(2) reads the untouched pages in the kernel. */
static void case_syscall_write(void)
{
	static unsigned char buf[64 << 10];
	unsigned char *p = get(size);
	int fd = temp_file();

	memset(p, A, size);
	if (write(fd, p, size) != (ssize_t)size)
		die("write");
	for (size_t off = 0; off < size; off += sizeof(buf)) {
		size_t n = size - off < sizeof(buf) ? size - off : sizeof(buf);

		if (pread(fd, buf, n, (off_t)off) != (ssize_t)n)
			die("pread");
		if (!expect(buf, 0, n, A, "file written from the memset range"))
			break;
	}
	close(fd);
	put(p, size);
}

/* read(2) fills untouched pages in the kernel. */
static void case_syscall_read(void)
{
	unsigned char *p = get(size), *data;
	size_t at = size / 4 + 123, n = size / 2;
	int fd = temp_file();

	data = mmap(NULL, n, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (data == MAP_FAILED)
		die("mmap");
	for (size_t i = 0; i < n; i++)
		data[i] = (unsigned char)(i % 251);
	if (write(fd, data, n) != (ssize_t)n)
		die("write");
	memset(p, A, size);
	if (pread(fd, p + at, n, 0) != (ssize_t)n)
		die("pread");
	expect(p, 0, at, A, "before the read");
	if (memcmp(p + at, data, n) != 0)
		fail("read(2) data differs");
	expect(p, at + n, size - at - n, A, "after the read");
	munmap(data, n);
	close(fd);
	put(p, size);
}

/* send reads deferred pages, recv fills deferred pages. */
static void case_send_recv(void)
{
	unsigned char *p = get(size), *q = get(size);
	size_t chunk = 32 << 10;
	int sv[2];

	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) < 0)
		die("socketpair");
	memset(p, A, size);
	memset(q, B, size);
	for (size_t off = 0; off < size; off += chunk) {
		size_t got = 0;

		if (send(sv[0], p + off, chunk, 0) != (ssize_t)chunk)
			die("send");
		while (got < chunk) {
			ssize_t r = recv(sv[1], q + off + got, chunk - got, 0);

			if (r <= 0)
				die("recv");
			got += (size_t)r;
		}
	}
	expect(q, 0, size, A, "received");
	expect(p, 0, size, A, "sent");
	close(sv[0]);
	close(sv[1]);
	put(p, size);
	put(q, size);
}

/* Another process reads the untouched pages: process_vm_readv, or /proc/PID/mem (@proc). */
static void read_from_child(bool proc)
{
	static unsigned char buf[64 << 10];
	unsigned char *p = get(size);
	pid_t parent = getpid(), pid;
	int status;

	memset(p, A, size);
	p[5 * PAGE] = B;
	fflush(stdout);
	pid = fork();
	if (pid < 0)
		die("fork");
	if (pid == 0) {
		char path[64];
		int fd = -1;

		snprintf(path, sizeof(path), "/proc/%d/mem", (int)parent);
		if (proc && (fd = open(path, O_RDONLY)) < 0)
			_exit(3);
		for (size_t off = 0; off < size; off += sizeof(buf)) {
			struct iovec local = { buf, sizeof(buf) }, remote = { p + off, sizeof(buf) };
			ssize_t n = proc ? pread(fd, buf, sizeof(buf), (off_t)(uintptr_t)(p + off))
					 : process_vm_readv(parent, &local, 1, &remote, 1, 0);

			if (n != (ssize_t)sizeof(buf)) {
				printf("%s/%s: read at page %zu: %s\n", cur, source_names[src],
				       off / PAGE, n < 0 ? strerror(errno) : "short");
				fflush(stdout);
				_exit(4);
			}
			for (size_t i = 0; i < sizeof(buf); i++)
				if (buf[i] != (off + i == 5 * PAGE ? B : A))
					_exit(5);
		}
		_exit(0);
	}
	if (waitpid(pid, &status, 0) < 0)
		die("waitpid");
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
		fail("the reading child exited with %d", WIFEXITED(status) ? WEXITSTATUS(status) : -1);
	put(p, size);
}

static void case_vm_readv(void)
{
	read_from_child(false);
}

static void case_proc_mem(void)
{
	read_from_child(true);
}

/* MADV_DONTNEED: the pages read zero again, touched or not. */
static void case_dontneed(void)
{
	unsigned char *p = get(size), *m = page_in(p + size / 4);
	size_t len = size / 2 & ~(PAGE - 1);

	memset(p, A, size);
	m[0] = B;
	m[len / 2] = B;
	if (madvise(m, len, MADV_DONTNEED) < 0)
		die("madvise");
	expect(p, 0, (size_t)(m - p), A, "before the discarded range");
	expect(m, 0, len, 0, "discarded");
	expect(m + len, 0, (size_t)(p + size - m - len), A, "after the discarded range");
	m[PAGE] = C;	/* a discarded page is ordinary memory again */
	expect(m, PAGE, 1, C, "written after the discard");
	put(p, size);
}

/* MADV_FREE: each page reads the old bytes or zero; a write after it sticks. */
static void case_free(void)
{
	unsigned char *p = get(size), *m = page_in(p + size / 4);
	size_t len = size / 2 & ~(PAGE - 1);

	memset(p, A, size);
	m[3 * PAGE] = B;
	if (madvise(m, len, MADV_FREE) < 0)
		die("madvise");
	for (size_t pg = 0; pg < len / PAGE; pg++) {
		unsigned char first = m[pg * PAGE];

		if (first != 0 && first != A && first != B) {
			fail("page %zu of the freed range reads %#x", pg, first);
			break;
		}
		if (first == A || first == 0)
			if (!expect(m, pg * PAGE + 1, PAGE - 1, first, "a freed page"))
				break;
	}
	m[PAGE] = C;
	expect(m, PAGE, 1, C, "written after MADV_FREE");
	expect(p, 0, (size_t)(m - p), A, "before the freed range");
	put(p, size);
}

static void case_mremap_move(void)
{
	unsigned char *p = get(size), *target, *q;

	target = mmap(NULL, size, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (target == MAP_FAILED)
		die("mmap");
	memset(p, A, size);
	p[PAGE] = B;
	q = mremap(p, size, size, MREMAP_MAYMOVE | MREMAP_FIXED, target);
	if (q == MAP_FAILED)
		die("mremap");
	expect(q, 0, PAGE, A, "moved");
	expect(q, PAGE, 1, B, "moved, touched");
	expect(q, PAGE + 1, size - PAGE - 1, A, "moved");
	munmap(q, size);
}

static void case_mremap_grow(void)
{
	unsigned char *p = get(size), *q;

	memset(p, A, size);
	p[0] = B;
	q = mremap(p, size, 2 * size, MREMAP_MAYMOVE);
	if (q == MAP_FAILED)
		die("mremap");
	expect(q, 0, 1, B, "grown, touched");
	expect(q, 1, size - 1, A, "grown, old part");
	expect(q, size, size, 0, "grown, new part");
	q = mremap(q, 2 * size, size / 2, 0);
	if (q == MAP_FAILED)
		die("mremap");
	expect(q, 1, size / 2 - 1, A, "shrunk");
	munmap(q, size / 2);
}

static void case_munmap_partial(void)
{
	unsigned char *p = get(size), *hole = p + size / 4;

	memset(p, A, size);
	if (munmap(hole, size / 4) < 0)
		die("munmap");
	expect(p, 0, size / 4, A, "before the hole");
	expect(p, size / 2, size / 2, A, "after the hole");
	if (mmap(hole, size / 4, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED,
		 -1, 0) == MAP_FAILED)
		die("mmap");
	expect(hole, 0, size / 4, 0, "mapped again in the hole");
	munmap(p, size);
}

static void case_mprotect(void)
{
	unsigned char *p = get(size), *m = page_in(p + PAGE);
	size_t len = size / 2 & ~(PAGE - 1);

	memset(p, A, size);
	if (mprotect(m, len, PROT_READ) < 0)
		die("mprotect");
	expect(m, 0, len, A, "read-only");
	if (mprotect(m, len, PROT_READ | PROT_WRITE) < 0)
		die("mprotect");
	m[len - 1] = B;
	expect(m, len - 1, 1, B, "writable again");
	expect(p, 0, (size_t)(m - p), A, "before the protected range");
	expect(m, 0, len - 1, A, "after mprotect");
	expect(m + len, 0, (size_t)(p + size - m - len), A, "after the protected range");
	put(p, size);
}

/* fork: the child and a grandchild see the bytes of fork time; nobody sees the others'. */
static void case_fork(void)
{
	unsigned char *p = get(size);
	pid_t pid;
	int status;

	memset(p, A, size);
	p[0] = B;
	fflush(stdout);
	pid = fork();
	if (pid < 0)
		die("fork");
	if (pid == 0) {
		pid_t g;

		failures = 0;
		expect(p, 0, 1, B, "child, touched");
		expect(p, 1, size - 1, A, "child");
		p[PAGE] = C;
		fflush(stdout);
		g = fork();
		if (g == 0) {
			expect(p, PAGE, 1, C, "grandchild, child's write");
			expect(p, PAGE + 1, size - PAGE - 1, A, "grandchild");
			p[2 * PAGE] = C;
			fflush(stdout);
			_exit(failures ? 1 : 0);
		}
		if (g < 0 || waitpid(g, &status, 0) < 0 || !WIFEXITED(status) ||
		    WEXITSTATUS(status) != 0)
			fail("grandchild failed");
		expect(p, 2 * PAGE, 1, A, "child after the grandchild wrote");
		fflush(stdout);
		_exit(failures ? 1 : 0);
	}
	if (waitpid(pid, &status, 0) < 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0)
		fail("child failed");
	expect(p, 1, size - 1, A, "parent after the children wrote");
	put(p, size);
}

/* A second memset with another value over a partly touched range. */
static void case_second_memset(void)
{
	unsigned char *p = get(size);
	size_t from = size / 4 + 100, len = size / 2;

	memset(p, A, size);
	p[size / 8] = B;
	p[3 * size / 8] = B;
	memset(p + from, C, len);
	expect(p, 0, size / 8, A, "first value");
	expect(p, size / 8, 1, B, "touched, outside the second memset");
	expect(p, size / 8 + 1, from - size / 8 - 1, A, "first value");
	expect(p, from, len, C, "second value");
	expect(p, from + len, size - from - len, A, "first value after");
	put(p, size);
}

static void case_overlap(void)
{
	unsigned char *p = get(size);

	memset(p, A, 3 * size / 4);
	memset(p + size / 4, B, 3 * size / 4);
	memset(p + size / 8, 0, size / 4);
	expect(p, 0, size / 8, A, "first");
	expect(p, size / 8, size / 4, 0, "zeroed");
	expect(p, 3 * size / 8, 5 * size / 8, B, "second");
	put(p, size);
}

static void case_zero(void)
{
	unsigned char *p = get(size);

	memset(p, A, size);
	p[PAGE] = B;
	memset(p, 0, size);
	expect(p, 0, size, 0, "zeroed");
	memset(p, A, size);
	bzero(p + PAGE, size - 2 * PAGE);
	expect(p, 0, PAGE, A, "bzero head");
	expect(p, PAGE, size - 2 * PAGE, 0, "bzero");
	expect(p, size - PAGE, PAGE, A, "bzero tail");
	put(p, size);
}

static void case_realloc(void)
{
	unsigned char *p, *q;

	if (src == SRC_MMAP)
		return;
	p = malloc(size);
	if (!p)
		die("malloc");
	memset(p, A, size);
	p[1] = B;
	q = realloc(p, 2 * size);
	if (!q)
		die("realloc");
	expect(q, 0, 1, A, "grown");
	expect(q, 1, 1, B, "grown, touched");
	expect(q, 2, size - 2, A, "grown");
	memset(q + size, C, size);
	expect(q, size, size, C, "grown part");
	p = realloc(q, size / 2);
	if (!p)
		die("realloc");
	expect(p, 2, size / 2 - 2, A, "shrunk");
	free(p);
}

static void case_calloc(void)
{
	unsigned char *p, *q;

	if (src == SRC_MMAP)
		return;
	for (int i = 0; i < 3; i++) {
		p = malloc(size);
		if (!p)
			die("malloc");
		memset(p, A, size);
		p[size / 2] = B;
		free(p);
		q = calloc(1, size - (size_t)i * PAGE);
		if (!q)
			die("calloc");
		if (!expect(q, 0, size - (size_t)i * PAGE, 0, "calloc"))
			break;
		free(q);
	}
}

static void case_reuse(void)
{
	unsigned char *p;

	for (int i = 0; i < 4; i++) {
		unsigned char v = (unsigned char)(A + i);

		p = get(size);
		memset(p, v, size);
		p[i * PAGE] = B;
		expect(p, 0, i * PAGE, v, "reused");
		expect(p, i * PAGE + 1, size - i * PAGE - 1, v, "reused");
		put(p, size);
	}
}

struct racer {
	unsigned char *p;
	unsigned char v;
	int rounds;
};

static void *race(void *arg)
{
	struct racer *r = arg;

	for (int i = 0; i < r->rounds; i++) {
		if (r->v)
			memset(r->p, r->v, size);
		else
			for (size_t off = (size_t)i * 97; off < size; off += PAGE)
				r->p[off] = B;	/* a writer that races with the memsets */
	}
	return NULL;
}

/* Threads memset the same range with A and C while one writes B here and there. */
static void case_threads(void)
{
	unsigned char *p = get(size);
	struct racer r[3] = { { p, A, 3 }, { p, C, 3 }, { p, 0, 3 } };
	pthread_t t[3];

	for (int i = 0; i < 3; i++)
		pthread_create(&t[i], NULL, race, &r[i]);
	for (int i = 0; i < 3; i++)
		pthread_join(t[i], NULL);
	for (size_t i = 0; i < size; i++)
		if (p[i] != A && p[i] != B && p[i] != C) {
			fail("byte %zu is %#x after racing memsets", i, p[i]);
			break;
		}
	memset(p, A, size);
	expect(p, 0, size, A, "after the race");
	put(p, size);
}

static unsigned char *sig_buf;
static volatile sig_atomic_t sig_count;

static void on_alarm(int sig)
{
	memset(sig_buf, (unsigned char)(C + sig_count), size);
	sig_count++;
}

/* A memset in a signal handler, interrupting memsets of the main program. */
static void case_signal(void)
{
	struct itimerval it = { { 0, 500 }, { 0, 500 } }, off = { { 0, 0 }, { 0, 0 } };
	unsigned char *p = get(size);
	struct sigaction sa = { .sa_handler = on_alarm };

	sig_buf = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (sig_buf == MAP_FAILED)
		die("mmap");
	sigemptyset(&sa.sa_mask);
	sigaction(SIGALRM, &sa, NULL);
	setitimer(ITIMER_REAL, &it, NULL);
	for (int i = 0; i < 40 || sig_count == 0; i++) {
		memset(p, (unsigned char)(A + i), size);
		if (p[size - 1] != (unsigned char)(A + i) || p[size / 3] != (unsigned char)(A + i)) {
			fail("round %d reads %#x", i, p[size / 3]);
			break;
		}
	}
	setitimer(ITIMER_REAL, &off, NULL);
	signal(SIGALRM, SIG_DFL);
	if (sig_buf[0] != (unsigned char)(C + sig_count - 1))
		fail("the signal handler's buffer reads %#x after %d signals", sig_buf[0],
		     (int)sig_count);
	expect(sig_buf, 0, size, sig_buf[0], "the signal handler's memset");
	munmap(sig_buf, size);
	put(p, size);
}

/* AnonHugePages of the mapping holding @p, from /proc/self/smaps. */
static long huge_kb(const void *p)
{
	char line[256];
	unsigned long lo, hi;
	bool ours = false;
	long kb = -1;
	FILE *f = fopen("/proc/self/smaps", "r");

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, "%lx-%lx ", &lo, &hi) == 2 && strchr(line, '-') < strchr(line, ' '))
			ours = (uintptr_t)p >= lo && (uintptr_t)p < hi;
		else if (ours && sscanf(line, "AnonHugePages: %ld kB", &kb) == 1)
			break;
	}
	fclose(f);
	return kb;
}

/* MADV_HUGEPAGE: the memset region keeps the kernel's huge pages. */
static void case_hugepage(void)
{
	size_t len = 8 << 20;
	unsigned char *raw, *p;
	long kb;

	if (src != SRC_MMAP)
		return;
	raw = mmap(NULL, len + (2 << 20), PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
		   -1, 0);
	if (raw == MAP_FAILED)
		die("mmap");
	p = (unsigned char *)(((uintptr_t)raw + (2 << 20) - 1) & ~((uintptr_t)(2 << 20) - 1));
	madvise(p, len, MADV_HUGEPAGE);
	memset(p, A, len);
	kb = huge_kb(p);
	printf("mem: %s/%s anon_huge_kb=%ld\n", cur, source_names[src], kb);
	printf("%s/%s: huge pages %s\n", cur, source_names[src], kb > 0 ? "yes" : "no");
	expect(p, 0, len, A, "huge");
	munmap(raw, len + (2 << 20));
}

/* Advice after the memset: MADV_WIPEONFORK gives the child zeroes, MADV_DONTFORK nothing,
 * MADV_HUGEPAGE keeps the bytes; the parent keeps its value everywhere. */
static void case_advice_after(void)
{
	unsigned char *p = get(size), *w = p, *d = p + size / 4, *h = p + size / 2;
	size_t q = size / 4;
	pid_t pid;
	int status;

	if (src != SRC_MMAP)
		return;
	memset(p, A, size);
	if (madvise(w, q, MADV_WIPEONFORK) < 0 || madvise(d, q, MADV_DONTFORK) < 0 ||
	    madvise(h, q, MADV_HUGEPAGE) < 0)
		die("madvise");
	fflush(stdout);
	pid = fork();
	if (pid == 0) {
		failures = 0;
		expect(w, 0, q, 0, "child, MADV_WIPEONFORK");
		expect(h, 0, 2 * q, A, "child, MADV_HUGEPAGE and after");
		fflush(stdout);
		_exit(failures ? 1 : 0);
	}
	if (pid < 0 || waitpid(pid, &status, 0) < 0 || !WIFEXITED(status) ||
	    WEXITSTATUS(status) != 0)
		fail("child failed");
	expect(p, 0, size, A, "parent");
	put(p, size);
}

/* Memory that is not private anonymous is written as the kernel would. */
static void case_not_anonymous(void)
{
	unsigned char *s, *f, *check;
	int fd = temp_file();

	if (src != SRC_MMAP)
		return;
	if (ftruncate(fd, (off_t)size) < 0)
		die("ftruncate");
	s = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	f = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	check = mmap(NULL, size, PROT_READ, MAP_SHARED, fd, 0);
	if (s == MAP_FAILED || f == MAP_FAILED || check == MAP_FAILED)
		die("mmap");
	memset(s, A, size);
	memset(f, B, size);
	expect(s, 0, size, A, "shared anonymous");
	expect(check, 0, size, B, "shared file, another mapping");
	munmap(s, size);
	munmap(f, size);
	munmap(check, size);
	close(fd);
}

/* Resident kB of the mapping holding @p (smaps Rss), or -1. */
static long rss_kb(const void *p)
{
	char line[256];
	unsigned long lo, hi;
	bool ours = false;
	long kb = -1;
	FILE *f = fopen("/proc/self/smaps", "r");

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, "%lx-%lx ", &lo, &hi) == 2 && strchr(line, '-') < strchr(line, ' '))
			ours = (uintptr_t)p >= lo && (uintptr_t)p < hi;
		else if (ours && sscanf(line, "Rss: %ld kB", &kb) == 1)
			break;
	}
	fclose(f);
	return kb;
}

/*
 * As remap-fork, but the new mapping is advised (MADV_HUGEPAGE, after which deferred pages
 * are filled) instead of forked: it was never touched and must stay so, as the kernel keeps it
 * (the old mapping's unmap event must have been applied, not left in doubt).
 */
static void case_remap_advise(void)
{
	size_t n = size / 4 & ~(PAGE - 1);

	if (src != SRC_MMAP)
		return;
	for (int i = 0; i < 50; i++) {
		unsigned char *p = mmap(NULL, n, PROT_READ | PROT_WRITE,
					MAP_PRIVATE | MAP_ANONYMOUS, -1, 0), *q;
		long kb;

		if (p == MAP_FAILED)
			die("mmap");
		memset(p, A, n);
		syscall(SYS_munmap, p, n);
		q = (unsigned char *)syscall(SYS_mmap, p, n, PROT_READ | PROT_WRITE,
					     MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
		if (q == MAP_FAILED)
			continue;
		if (q != p) {
			munmap(q, n);
			continue;
		}
		if (madvise(q, n, MADV_HUGEPAGE) < 0)
			die("madvise");
		kb = rss_kb(q);
		if (kb != 0) {
			fail("round %d: %ld kB resident in a new mapping never touched", i, kb);
			munmap(q, n);
			break;
		}
		if (!expect(q, 0, n, 0, "a new mapping at the old address")) {
			munmap(q, n);
			break;
		}
		munmap(q, n);
	}
}

/*
 * Unmapped and mapped again with raw system calls (as a libc-internal munmap and mmap would
 * be): the new mapping is fresh memory, zero in this process and in a fork child. Many times,
 * because the unmap notice reaches ucow's handler a little after the call returns.
 */
static void case_remap_fork(void)
{
	size_t n = size / 4 & ~(PAGE - 1);

	if (src != SRC_MMAP)
		return;
	for (int i = 0; i < 100; i++) {
		unsigned char *p = mmap(NULL, n, PROT_READ | PROT_WRITE,
					MAP_PRIVATE | MAP_ANONYMOUS, -1, 0), *q;
		pid_t pid;
		int status;

		if (p == MAP_FAILED)
			die("mmap");
		memset(p, A, n);
		syscall(SYS_munmap, p, n);
		q = (unsigned char *)syscall(SYS_mmap, p, n, PROT_READ | PROT_WRITE,
					     MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
		if (q == MAP_FAILED)
			continue;
		if (q != p) {
			munmap(q, n);
			continue;
		}
		fflush(stdout);
		pid = fork();
		if (pid == 0)
			_exit(q[n / 2] != 0 || q[PAGE] != 0);
		if (pid < 0 || waitpid(pid, &status, 0) < 0 || !WIFEXITED(status) ||
		    WEXITSTATUS(status) != 0) {
			fail("round %d: a fork child reads old bytes in a new mapping", i);
			munmap(q, n);
			break;
		}
		if (!expect(q, 0, n, 0, "a new mapping at the old address")) {
			munmap(q, n);
			break;
		}
		munmap(q, n);
	}
}

struct test {
	const char *name;
	void (*fn)(void);
};

static const struct test tests[] = {
	{ "read", case_read },
	{ "write", case_write },
	{ "syscall-write", case_syscall_write },
	{ "syscall-read", case_syscall_read },
	{ "send-recv", case_send_recv },
	{ "vm-readv", case_vm_readv },
	{ "proc-mem", case_proc_mem },
	{ "dontneed", case_dontneed },
	{ "free", case_free },
	{ "mremap-move", case_mremap_move },
	{ "mremap-grow", case_mremap_grow },
	{ "munmap-partial", case_munmap_partial },
	{ "mprotect", case_mprotect },
	{ "fork", case_fork },
	{ "second-memset", case_second_memset },
	{ "overlap", case_overlap },
	{ "zero", case_zero },
	{ "realloc", case_realloc },
	{ "calloc", case_calloc },
	{ "reuse", case_reuse },
	{ "threads", case_threads },
	{ "signal", case_signal },
	{ "hugepage", case_hugepage },
	{ "not-anonymous", case_not_anonymous },
	{ "advice-after", case_advice_after },
	{ "remap-fork", case_remap_fork },
	{ "remap-advise", case_remap_advise },
};

/* Cases that need a mapping of their own: with malloc they would unmap its chunk. */
static bool needs_mmap(const struct test *t)
{
	return t->fn == case_mremap_move || t->fn == case_mremap_grow ||
	       t->fn == case_munmap_partial;
}

static void run(const struct test *t)
{
	int before = failures;

	if (needs_mmap(t) && src != SRC_MMAP)
		return;
	if (src == SRC_MMAP && (t->fn == case_realloc || t->fn == case_calloc))
		return;
	if (t->fn == case_hugepage || t->fn == case_not_anonymous || t->fn == case_remap_fork ||
	    t->fn == case_advice_after) {
		if (src != SRC_MMAP)
			return;
	}
	cur = t->name;
	t->fn();
	if (failures == before && t->fn != case_hugepage)
		printf("%s/%s: ok\n", t->name, source_names[src]);
	fflush(stdout);
}

int main(int argc, char **argv)
{
	int opt, ran = 0;

	while ((opt = getopt(argc, argv, "s:m:")) != -1) {
		switch (opt) {
		case 's':
			size = parse_size(optarg) & ~(PAGE - 1);
			break;
		case 'm':
			for (int i = 0; i < 3; i++)
				if (strcmp(optarg, source_names[i]) == 0)
					src = (enum source)i;
			break;
		default:
			fprintf(stderr, "usage: lazy-memset [-s SIZE] [-m mmap|malloc|brk] [CASE...]\n");
			return 2;
		}
	}
	if (size < 16 * PAGE)
		size = 16 * PAGE;
	/* malloc: every block its own mapping; brk: every block from the heap. */
	if (src == SRC_MALLOC)
		mallopt(M_MMAP_THRESHOLD, 64 << 10);
	else if (src == SRC_BRK)
		mallopt(M_MMAP_THRESHOLD, 32 << 20);
	for (size_t i = 0; i < sizeof(tests) / sizeof(tests[0]); i++) {
		bool wanted = optind == argc;

		for (int a = optind; a < argc; a++)
			wanted |= strcmp(argv[a], tests[i].name) == 0;
		if (wanted) {
			run(&tests[i]);
			ran++;
		}
	}
	if (!ran) {
		fprintf(stderr, "lazy-memset: no such case\n");
		return 2;
	}
	return failures ? 1 : 0;
}

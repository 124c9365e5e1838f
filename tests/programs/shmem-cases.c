/* shmem-cases.c: MAP_PRIVATE mappings of a tmpfs file with data pages among holes, taken
 * through the calls and events that change them, printing what each page holds after
 * every step; knows nothing of ucow (test program). Run it with and without ucow and
 * compare: every line must be the kernel's, except the lines of case "external" that the
 * zero mode is documented to change (tests/integration/shmem-cases.sh).
 *
 * usage: shmem-cases [-k memfd|shm|dir:PATH] CASE
 * Cases: closed-fd fixed-reserve fixed-over-managed two-maps mremap-grow mremap-move
 *        partial-munmap fork threads eof truncate punch growth external
 *
 * A page is printed as two characters: what it holds — '.' zeroes, 'D' the file's first
 * data, 'E' data written into the file later by another process, '?' anything else, 'B' the
 * access raised SIGBUS, 'S' SIGSEGV — then which word this program wrote into it: '0' none,
 * '1'..'4' a numbered write, '?' something else ('-' after B or S). Runs are "N*XX".
 * Lines starting "mem:" report memory and differ with ucow. Besides the comparison, the
 * program checks the kernel's promises it relies on and exits 1 when one fails.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "shmem-file.h"

#define PAGE 4096UL
#define MAXP 2048		/* file pages this program tracks */
#define P(n) ((size_t)(n) * PAGE)

static const char *kind = "memfd";
static int fd = -1;
static unsigned short valid[3][MAXP];	/* bytes of page p written as data of generation g */
static int failures;

static void die(const char *what)
{
	fprintf(stderr, "shmem-cases: %s: %s\n", what, strerror(errno));
	exit(2);
}

/* A promise of the kernel this program relies on did not hold (with or without ucow). */
static void fail(const char *fmt, const char *a, const char *b)
{
	fprintf(stderr, "shmem-cases: ");
	fprintf(stderr, fmt, a, b);
	fputc('\n', stderr);
	failures++;
}

/* ---- file contents ---- */

static unsigned char data_byte(int gen, size_t p, size_t i)
{
	return (unsigned char)((p * 31 + i * 7 + (size_t)gen * 101) | 1);
}

static size_t written_at(size_t p)
{
	return (p % (PAGE / 8)) * 8;
}

static uint64_t word_of(size_t p, int tag)
{
	return 0x9e3779b97f4a7c15ULL * (p + 1) ^ ((uint64_t)tag << 56);
}

/* Writes generation @gen data into file pages [p, p+n) through @f (the first @len bytes of
 * each page; 0: all). */
static void put_data(int f, size_t p, size_t n, int gen, size_t len)
{
	unsigned char buf[PAGE];

	if (!len)
		len = PAGE;
	for (; n; n--, p++) {
		for (size_t i = 0; i < PAGE; i++)
			buf[i] = data_byte(gen, p, i);
		if (pwrite(f, buf, len, (off_t)P(p)) != (ssize_t)len)
			die("pwrite");
		valid[gen][p] = (unsigned short)len;
	}
}

/* A new file of @pages pages, data of generation 1 on every @every-th page (0: none). */
static void make_file(size_t pages, size_t every)
{
	fd = shmem_file_open("shmem-cases", kind);
	if (fd < 0)
		exit(2);
	if (ftruncate(fd, (off_t)P(pages)) < 0)
		die("ftruncate");
	for (size_t p = 0; every && p < pages; p += every)
		put_data(fd, p, 1, 1, 0);
}

/* ---- another process that changes the file (forked before anything is mapped) ---- */

enum { H_PWRITE, H_TRUNCATE, H_PUNCH, H_BLOCKS, H_QUIT };

struct request {
	int op;
	long a, b;
};

static int to_helper = -1, from_helper = -1;
static pid_t helper_pid;

static long helper_do(const struct request *rq)
{
	switch (rq->op) {
	case H_PWRITE:
		put_data(fd, (size_t)rq->a, (size_t)rq->b, 2, 0);
		return 0;
	case H_TRUNCATE:
		return ftruncate(fd, rq->a) < 0 ? -errno : 0;
	case H_PUNCH:
		return fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, rq->a, rq->b) < 0
		       ? -errno : 0;
	case H_BLOCKS:
		return shmem_file_blocks(fd);
	}
	return -EINVAL;
}

static void start_helper(void)
{
	int req[2], resp[2];

	if (pipe(req) < 0 || pipe(resp) < 0)
		die("pipe");
	fflush(stdout);
	helper_pid = fork();
	if (helper_pid < 0)
		die("fork (helper)");
	if (helper_pid == 0) {
		struct request rq;

		close(req[1]);
		close(resp[0]);
		while (read(req[0], &rq, sizeof(rq)) == (ssize_t)sizeof(rq) && rq.op != H_QUIT) {
			long r = helper_do(&rq);

			if (write(resp[1], &r, sizeof(r)) != (ssize_t)sizeof(r))
				_exit(2);
		}
		_exit(0);
	}
	close(req[0]);
	close(resp[1]);
	to_helper = req[1];
	from_helper = resp[0];
}

static long helper(int op, long a, long b)
{
	struct request rq = { .op = op, .a = a, .b = b };
	long r;

	if (write(to_helper, &rq, sizeof(rq)) != (ssize_t)sizeof(rq) ||
	    read(from_helper, &r, sizeof(r)) != (ssize_t)sizeof(r))
		die("talking to the helper process");
	if (op == H_PWRITE)	/* our own record of what the file holds */
		for (long p = a; p < a + b; p++)
			valid[2][p] = PAGE;
	return r;
}

static void stop_helper(void)
{
	struct request rq = { .op = H_QUIT };
	int status;

	if (helper_pid <= 0)
		return;
	if (write(to_helper, &rq, sizeof(rq)) != (ssize_t)sizeof(rq))
		die("talking to the helper process");
	waitpid(helper_pid, &status, 0);
	helper_pid = 0;
}

/* The file's size on tmpfs, as another process sees it. */
static void print_blocks(const char *label)
{
	printf("mem: %s st_blocks=%ld\n", label, helper(H_BLOCKS, 0, 0));
}

/* ---- looking at pages ---- */

static sigjmp_buf probe_jump;
static volatile sig_atomic_t probing;

static void on_fault(int sig)
{
	if (!probing) {
		signal(sig, SIG_DFL);
		raise(sig);
		return;
	}
	siglongjmp(probe_jump, sig);
}

/* Reads (or writes @val at) @addr: 0, or 'B' / 'S' if that raised SIGBUS / SIGSEGV. */
static int touch(volatile unsigned char *addr, bool write, unsigned char val)
{
	int sig = sigsetjmp(probe_jump, 1);

	if (sig) {
		probing = 0;
		return sig == SIGBUS ? 'B' : 'S';
	}
	probing = 1;
	if (write)
		*addr = val;
	else
		(void)*addr;
	probing = 0;
	return 0;
}

static bool same_except_word(const unsigned char *a, size_t p, int gen, size_t skip)
{
	for (size_t i = 0; i < PAGE; i++) {
		unsigned char want = gen && i < valid[gen][p] ? data_byte(gen, p, i) : 0;

		if ((i < skip || i >= skip + 8) && a[i] != want)
			return false;
	}
	return true;
}

/* What the page at @a holds, @p being its page in the file (for anonymous memory, any
 * number above the file's pages). */
static void classify(const unsigned char *a, size_t p, char out[3])
{
	static const char base_of[] = ".DE";
	size_t s = written_at(p);
	int sig = touch((volatile unsigned char *)a, false, 0), gen;
	uint64_t got, want;

	out[2] = '\0';
	if (sig) {
		out[0] = (char)sig;
		out[1] = '-';
		return;
	}
	for (gen = 0; gen < 3; gen++)
		if ((gen == 0 || (p < MAXP && valid[gen][p])) && same_except_word(a, p, gen, s))
			break;
	if (gen == 3) {
		out[0] = out[1] = '?';
		return;
	}
	out[0] = base_of[gen];
	memcpy(&got, a + s, 8);
	want = 0;
	for (int b = 7; b >= 0; b--)
		want = want << 8 | (gen && s + b < valid[gen][p] ? data_byte(gen, p, s + b) : 0);
	out[1] = '?';
	if (got == want)
		out[1] = '0';
	for (int t = 1; t <= 4; t++)
		if (got == word_of(p, t))
			out[1] = (char)('0' + t);
}

/* The classes of @n pages from @a (file page @p onwards), run-length coded, into @buf. */
static char *describe(const unsigned char *a, size_t n, size_t p, char *buf, size_t len)
{
	char prev[3] = "", cur[3];
	size_t run = 0, used = 0;

	buf[0] = '\0';
	for (size_t k = 0; k <= n; k++) {
		if (k < n)
			classify(a + P(k), p + k, cur);
		if (k < n && run && strcmp(cur, prev) == 0) {
			run++;
			continue;
		}
		if (run > 1 && used < len)
			used += (size_t)snprintf(buf + used, len - used, "%s%zu*%s", used ? " " : "",
						 run, prev);
		else if (run && used < len)
			used += (size_t)snprintf(buf + used, len - used, "%s%s", used ? " " : "", prev);
		if (k < n) {
			memcpy(prev, cur, 3);
			run = 1;
		}
	}
	return buf;
}

static void dump(const char *label, const unsigned char *a, size_t n, size_t p)
{
	char buf[8192];

	printf("%s: %s\n", label, describe(a, n, p, buf, sizeof(buf)));
}

/* The class of one page must be @want (a promise of the kernel's). */
static void expect(const char *what, const unsigned char *a, size_t p, const char *want)
{
	char got[3];

	classify(a, p, got);
	if (strcmp(got, want) != 0) {
		char msg[128];

		snprintf(msg, sizeof(msg), "%s (file page %zu)", what, p);
		fail("%s: page holds %s", msg, got);
		fprintf(stderr, "    want %s\n", want);
	}
}

static void write_word(unsigned char *a, size_t p, int tag)
{
	uint64_t w = word_of(p, tag);

	memcpy(a + written_at(p), &w, 8);
}

/* Writes tag @tag into pages k of [from, to) with k % every == rem (file page @p0 + k). */
static void write_some(unsigned char *a, size_t p0, size_t from, size_t to, size_t every,
		       size_t rem, int tag)
{
	for (size_t k = from; k < to; k++)
		if (k % every == rem)
			write_word(a + P(k), p0 + k, tag);
}

static unsigned long read_some(const unsigned char *a, size_t from, size_t to, size_t every,
			       size_t rem)
{
	unsigned long sum = 0;

	for (size_t k = from; k < to; k++)
		if (k % every == rem)
			sum += ((const volatile unsigned char *)a)[P(k) + 100];
	return sum;
}

/* How the page table maps @a: 'F' a file (page-cache) page, 'A' a private page, 'Z' the
 * shared zero page, '-' nothing. */
static char pagemap_class(const void *a)
{
	uint64_t e;
	int pm = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
	ssize_t got;

	if (pm < 0)
		die("/proc/self/pagemap");
	got = pread(pm, &e, sizeof(e), (off_t)((uintptr_t)a / PAGE * sizeof(e)));
	close(pm);
	if (got != (ssize_t)sizeof(e))
		die("reading /proc/self/pagemap");
	if (!(e >> 63 & 1))
		return '-';
	if (e >> 61 & 1)
		return 'F';
	return (e >> 56 & 1) ? 'A' : 'Z';
}

static unsigned char *map_file(void *at, size_t pages, size_t first, int extra_flags)
{
	unsigned char *m = mmap(at, P(pages), PROT_READ | PROT_WRITE, MAP_PRIVATE | extra_flags,
				fd, (off_t)P(first));

	if (m == MAP_FAILED)
		die("mmap");
	return m;
}

static unsigned char *reserve(size_t pages)
{
	unsigned char *m = mmap(NULL, P(pages), PROT_NONE,
				MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);

	if (m == MAP_FAILED)
		die("mmap (reservation)");
	return m;
}

/* ---- the cases ---- */

/* The program closes its descriptor right after mmap: the mapping keeps the file. */
static void case_closed_fd(void)
{
	unsigned char *m;

	make_file(64, 4);
	start_helper();
	print_blocks("before");
	m = map_file(NULL, 64, 0, 0);
	close(fd);
	fd = -1;
	write_some(m, 0, 0, 64, 3, 1, 1);
	read_some(m, 0, 64, 5, 0);
	dump("after writes", m, 64, 0);
	expect("a written hole", m + P(1), 1, ".1");
	expect("a written data page", m + P(4), 4, "D1");
	expect("an untouched data page", m + P(8), 8, "D0");
	print_blocks("after writes");
	munmap(m, P(64));
}

/* QEMU's way: reserve address space, then map the file over part of it, MAP_FIXED; then
 * map another part of the file over the whole first mapping. */
static void case_fixed_reserve(void)
{
	unsigned char *r, *m;

	make_file(96, 4);
	start_helper();
	r = reserve(80);
	m = map_file(r + P(8), 64, 0, MAP_FIXED);
	dump("reservation before", r, 8, 1000);
	dump("file part", m, 64, 0);
	dump("reservation after", r + P(72), 8, 1000);
	write_some(m, 0, 0, 64, 3, 2, 1);
	dump("file part, written", m, 64, 0);
	expect("written hole", m + P(2), 2, ".1");
	m = map_file(r + P(8), 64, 32, MAP_FIXED);	/* replaces it: file pages 32..95 */
	dump("file from page 32 over it", m, 64, 32);
	expect("new mapping, data page", m, 32, "D0");
	write_some(m, 32, 0, 64, 5, 1, 2);
	dump("written again", m, 64, 32);
	dump("edges", r, 8, 1000);
	dump("edges", r + P(72), 8, 1000);
	munmap(r, P(80));
}

/* MAP_FIXED over part of a managed mapping: the middle shows other file pages, then a
 * piece becomes anonymous memory. */
static void case_fixed_over_managed(void)
{
	unsigned char *m;

	make_file(96, 4);
	start_helper();
	m = map_file(NULL, 64, 0, 0);
	write_some(m, 0, 0, 64, 3, 1, 1);
	read_some(m, 0, 64, 3, 2);
	map_file(m + P(16), 16, 41, MAP_FIXED);	/* file pages 41..56 at pages 16..31 */
	dump("head", m, 16, 0);
	dump("middle (file from 41)", m + P(16), 16, 41);
	dump("tail", m + P(32), 32, 32);
	expect("middle, untouched data page", m + P(19), 44, "D0");
	write_some(m + P(16), 41, 0, 16, 2, 0, 2);
	write_some(m, 0, 0, 16, 3, 0, 3);
	write_some(m, 0, 32, 64, 3, 0, 3);
	dump("after writes", m, 16, 0);
	dump("middle after writes", m + P(16), 16, 41);
	dump("tail after writes", m + P(32), 32, 32);
	if (mmap(m + P(48), P(4), PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED,
		 -1, 0) == MAP_FAILED)
		die("mmap (anonymous, fixed)");
	dump("anonymous piece", m + P(48), 4, 1000);
	write_word(m + P(49), 1001, 4);
	dump("anonymous piece written", m + P(48), 4, 1000);
	dump("tail before it", m + P(44), 4, 44);
	dump("tail after it", m + P(52), 4, 52);
	munmap(m, P(64));
}

/* Two private mappings of one file never see each other's writes. */
static void case_two_maps(void)
{
	unsigned char *a, *b;

	make_file(32, 4);
	start_helper();
	a = map_file(NULL, 32, 0, 0);
	b = map_file(NULL, 32, 0, 0);
	read_some(b, 0, 32, 2, 0);
	write_some(a, 0, 0, 32, 2, 0, 1);
	dump("a", a, 32, 0);
	dump("b", b, 32, 0);
	write_some(b, 0, 0, 32, 3, 0, 2);
	dump("a after b wrote", a, 32, 0);
	dump("b after b wrote", b, 32, 0);
	expect("a, not b's write", a + P(3), 3, ".0");
	munmap(a, P(32));
	munmap(b, P(32));
}

/* mremap in place to more pages: the new part reads the file there (holes, data), and
 * beyond the end of the file SIGBUS, until the file grows. */
static void case_mremap_grow(void)
{
	unsigned char *r, *m, *n;

	make_file(96, 4);
	start_helper();
	r = reserve(160);
	m = map_file(r, 32, 0, MAP_FIXED);
	munmap(r + P(32), P(32));	/* room to grow in place */
	write_some(m, 0, 0, 32, 3, 1, 1);
	read_some(m, 0, 32, 3, 2);
	dump("32 pages", m, 32, 0);
	n = mremap(m, P(32), P(64), 0);
	if (n != m)
		die("mremap (grow in place)");
	dump("grown to 64", m, 64, 0);
	write_some(m, 0, 32, 64, 2, 1, 2);
	dump("new part written", m + P(32), 32, 32);
	munmap(r + P(64), P(64));
	n = mremap(m, P(64), P(128), 0);
	if (n != m)
		die("mremap (grow past the end of the file)");
	dump("grown to 128 (file has 96)", m + P(64), 64, 64);
	expect("past the end of the file", m + P(100), 100, "B-");
	helper(H_TRUNCATE, (long)P(112), 0);
	dump("file grown to 112", m + P(64), 64, 64);
	write_some(m, 0, 64, 112, 4, 2, 3);
	dump("written there", m + P(64), 64, 64);
	/* Not in place: a neighbour in the way, MREMAP_MAYMOVE. */
	if (mmap(m + P(128), PAGE, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0) ==
	    MAP_FAILED)
		die("mmap (neighbour)");
	n = mremap(m, P(128), P(136), MREMAP_MAYMOVE);
	if (n == MAP_FAILED)
		die("mremap (grow, moving)");
	printf("moved: %s\n", n != m ? "yes" : "no");
	dump("moved and grown", n, 136, 0);
	write_some(n, 0, 0, 112, 7, 3, 4);
	dump("written after the move", n, 136, 0);
	munmap(n, P(136));
	munmap(r + P(128), P(32));
}

/* mremap to another address, shrinking, and MREMAP_DONTUNMAP. */
static void case_mremap_move(void)
{
	unsigned char *m, *to, *n;

	make_file(64, 4);
	start_helper();
	m = map_file(NULL, 48, 0, 0);
	write_some(m, 0, 0, 48, 3, 1, 1);
	read_some(m, 0, 48, 3, 2);
	to = reserve(48);
	n = mremap(m, P(48), P(48), MREMAP_MAYMOVE | MREMAP_FIXED, to);
	if (n != to)
		die("mremap (move)");
	dump("moved", n, 48, 0);
	dump("old place", m, 4, 0);
	write_some(n, 0, 0, 48, 3, 0, 2);
	dump("written after the move", n, 48, 0);
	if (mremap(n, P(48), P(24), 0) != n)
		die("mremap (shrink)");
	dump("shrunk to 24", n, 32, 0);
	m = mremap(n, P(24), P(24), MREMAP_MAYMOVE | MREMAP_DONTUNMAP);
	if (m == MAP_FAILED) {
		printf("dontunmap: %s\n", strerror(errno));
	} else {
		dump("dontunmap, new place", m, 24, 0);
		dump("dontunmap, old place (the file again)", n, 24, 0);
		write_some(n, 0, 0, 24, 4, 3, 3);
		write_some(m, 0, 0, 24, 4, 2, 4);
		dump("dontunmap, both written: new", m, 24, 0);
		dump("dontunmap, both written: old", n, 24, 0);
		munmap(m, P(24));
	}
	munmap(n, P(24));
}

/* Pieces unmapped from the middle and the head: the rest keeps its bytes and its faults. */
static void case_partial_munmap(void)
{
	unsigned char *m;

	make_file(64, 4);
	start_helper();
	m = map_file(NULL, 64, 0, 0);
	write_some(m, 0, 0, 64, 3, 1, 1);
	read_some(m, 0, 64, 5, 2);
	munmap(m + P(16), P(8));
	munmap(m + P(40), P(1));
	dump("holes in the mapping", m, 64, 0);
	write_some(m, 0, 0, 16, 2, 0, 2);
	write_some(m, 0, 24, 40, 2, 0, 2);
	write_some(m, 0, 41, 64, 2, 0, 2);
	dump("written after", m, 64, 0);
	munmap(m, P(8));
	dump("head gone", m, 64, 0);
	munmap(m, P(64));
}

/* fork after partial writes: each side keeps its own later writes. */
static void case_fork(void)
{
	unsigned char *m;
	char at_fork[8192], now[8192];
	int go[2], done[2], status;
	pid_t pid;
	char c;

	make_file(64, 4);
	start_helper();
	m = map_file(NULL, 64, 0, 0);
	write_some(m, 0, 0, 64, 3, 1, 1);
	read_some(m, 0, 64, 5, 0);
	describe(m, 64, 0, at_fork, sizeof(at_fork));
	printf("parent at fork: %s\n", at_fork);
	if (pipe(go) < 0 || pipe(done) < 0)
		die("pipe");
	fflush(stdout);
	pid = fork();
	if (pid < 0)
		die("fork");
	if (pid == 0) {
		if (read(go[0], &c, 1) != 1)	/* the parent has written meanwhile */
			_exit(2);
		describe(m, 64, 0, now, sizeof(now));
		printf("child after the parent wrote: %s\n", now);
		if (strcmp(now, at_fork) != 0)
			fail("%s: %s", "the child does not see its fork-time bytes", now);
		write_some(m, 0, 0, 64, 7, 2, 3);
		dump("child after its own writes", m, 64, 0);
		fflush(stdout);
		if (write(done[1], "x", 1) != 1)
			_exit(2);
		_exit(failures ? 1 : 5);
	}
	write_some(m, 0, 0, 64, 4, 3, 2);
	if (write(go[1], "x", 1) != 1 || read(done[0], &c, 1) != 1)
		die("talking to the child");
	dump("parent after the child wrote", m, 64, 0);
	expect("parent, the child's write must not show", m + P(2), 2, ".0");
	if (waitpid(pid, &status, 0) != pid)
		die("waitpid");
	printf("child exit status: %d\n", WIFEXITED(status) ? WEXITSTATUS(status) : 128);
	munmap(m, P(64));
}

/* Threads fault on neighbouring pages at once: thread t writes pages p % 4 == t, the odd
 * ones read each page just before writing it. */
#define THREADS 4
#define THREAD_PAGES 512
static unsigned char *tmap;
static pthread_barrier_t tbarrier;

static void *thread_main(void *arg)
{
	size_t t = (size_t)(uintptr_t)arg;
	unsigned long sum = 0;

	pthread_barrier_wait(&tbarrier);
	for (size_t p = t; p < THREAD_PAGES; p += THREADS) {
		if (t & 1)
			sum += ((volatile unsigned char *)tmap)[P(p) + 5];
		write_word(tmap + P(p), p, (int)t + 1);
	}
	return (void *)sum;
}

static void case_threads(void)
{
	char first[8192], now[8192];
	pthread_t th[THREADS];
	int rounds = 20;

	make_file(THREAD_PAGES, 4);
	put_data(fd, 200, 40, 1, 0);	/* a longer run of data too */
	start_helper();
	if (pthread_barrier_init(&tbarrier, NULL, THREADS))
		die("pthread_barrier_init");
	for (int r = 0; r < rounds; r++) {
		tmap = map_file(NULL, THREAD_PAGES, 0, 0);
		for (size_t t = 0; t < THREADS; t++)
			if ((errno = pthread_create(&th[t], NULL, thread_main, (void *)(uintptr_t)t)))
				die("pthread_create");
		for (size_t t = 0; t < THREADS; t++)
			pthread_join(th[t], NULL);
		describe(tmap, THREAD_PAGES, 0, r ? now : first, sizeof(now));
		if (r && strcmp(now, first) != 0) {
			printf("round %d differs: %s\n", r, now);
			failures++;
		}
		for (size_t p = 0; p < THREAD_PAGES; p++) {
			char got[3], want[3] = { p % 4 == 0 || (p >= 200 && p < 240) ? 'D' : '.',
						 (char)('1' + p % THREADS), 0 };

			classify(tmap + P(p), p, got);
			if (strcmp(got, want) != 0 && failures++ < 5)
				fprintf(stderr, "shmem-cases: round %d page %zu holds %s, want %s\n",
					r, p, got, want);
		}
		munmap(tmap, P(THREAD_PAGES));
	}
	printf("threads, %d rounds: %s\n", rounds, failures ? "FAILED" : "every page as written");
}

/* The end of the file inside a page, and pages past it. */
static void case_eof(void)
{
	unsigned char *m;
	int r;

	make_file(11, 4);
	if (ftruncate(fd, (off_t)(P(10) + 100)) < 0)
		die("ftruncate");
	put_data(fd, 10, 1, 1, 100);
	start_helper();
	m = map_file(NULL, 16, 0, 0);
	dump("read", m, 16, 0);
	write_some(m, 0, 0, 11, 3, 0, 1);
	dump("written", m, 16, 0);
	r = touch(m + P(10) + 3000, true, 0x5a);
	printf("write past the end inside the last page: %s, reads %#x\n", r ? "fault" : "ok",
	       r ? 0 : m[P(10) + 3000]);
	r = touch(m + P(12), true, 0x5a);
	printf("write two pages past the end: %c\n", r ? r : '0');
	expect("past the end", m + P(11), 11, "B-");
	munmap(m, P(16));
}

/* ftruncate shrinks the file under the mapping: SIGBUS past the new end, private copies
 * there gone; grown again, those pages read zero. */
static void case_truncate(void)
{
	unsigned char *m;
	int r;

	make_file(32, 4);
	start_helper();
	m = map_file(NULL, 32, 0, 0);
	write_some(m, 0, 0, 32, 4, 1, 1);
	write_some(m, 0, 0, 32, 8, 4, 1);
	read_some(m, 0, 32, 4, 2);
	dump("before", m, 32, 0);
	if (ftruncate(fd, (off_t)P(16)) < 0)
		die("ftruncate (shrink)");
	print_blocks("shrunk");
	dump("shrunk to 16 pages", m, 32, 0);
	r = touch(m + P(20), true, 1);
	printf("write past the new end: %c\n", r ? r : '0');
	expect("a private copy past the new end", m + P(17), 17, "B-");
	if (ftruncate(fd, (off_t)P(32)) < 0)
		die("ftruncate (grow)");
	dump("grown back to 32", m, 32, 0);
	expect("a private copy past the old end", m + P(17), 17, ".0");
	write_some(m, 0, 16, 32, 2, 1, 2);
	dump("written there", m + P(16), 16, 16);
	munmap(m, P(32));
}

/* Holes punched (by another process) into data pages that are mapped: the page-cache
 * pages go, private copies stay. */
static void case_punch(void)
{
	unsigned char *m;

	make_file(32, 0);
	put_data(fd, 0, 24, 1, 0);
	start_helper();
	m = map_file(NULL, 32, 0, 0);
	read_some(m, 0, 32, 1, 0);
	write_some(m, 0, 0, 32, 4, 1, 1);
	dump("before", m, 32, 0);
	print_blocks("before");
	if (helper(H_PUNCH, (long)P(4), (long)P(8)) < 0)
		die("fallocate (punch)");
	print_blocks("punched");
	dump("punched 4..11", m, 32, 0);
	expect("a private copy of a punched page", m + P(5), 5, "D1");
	expect("a punched page", m + P(6), 6, ".0");
	write_some(m, 0, 0, 32, 2, 0, 2);
	dump("written after", m, 32, 0);
	munmap(m, P(32));
}

/* The file grows under a mapping that reaches past its end: by ftruncate, then by another
 * process writing past the end. */
static void case_growth(void)
{
	unsigned char *m;

	make_file(8, 4);
	start_helper();
	m = map_file(NULL, 24, 0, 0);
	read_some(m, 0, 8, 1, 0);
	dump("file of 8 pages", m, 24, 0);
	helper(H_TRUNCATE, (long)P(16), 0);
	dump("grown to 16", m, 24, 0);
	helper(H_PWRITE, 18, 2);
	dump("written at 18 and 19 by another process", m, 24, 0);
	write_some(m, 0, 0, 20, 2, 1, 1);
	dump("written", m, 24, 0);
	expect("past the end", m + P(20), 20, "B-");
	munmap(m, P(24));
}

/*
 * Another process (and another, shared mapping) writes into holes the mapping has read,
 * has not touched, or has written next to. With the kernel, every such page shows the new
 * data where the mapping holds no private copy. ucow's zero mode does not show it where the
 * zero page was mapped (around a fault, up to UCOW_FAULT_AROUND): the documented
 * difference; the lines are labelled for tests/integration/shmem-cases.sh.
 */
static void case_external(void)
{
	unsigned char *m, *shared;

	make_file(1536, 0);	/* 6 MiB: holes, data only at both ends */
	put_data(fd, 0, 4, 1, 0);
	put_data(fd, 1532, 4, 1, 0);
	start_helper();
	m = map_file(NULL, 1536, 0, 0);
	dump("read-hole before", m + P(100), 1, 100);
	printf("read-hole pagemap: %c\n", pagemap_class(m + P(100)));
	write_some(m, 0, 600, 608, 1, 0, 1);
	helper(H_PWRITE, 100, 2);	/* the page read, and its neighbour */
	helper(H_PWRITE, 1200, 1);	/* far from any fault */
	helper(H_PWRITE, 608, 3);	/* right after the pages written */
	helper(H_PWRITE, 700, 1);	/* further on, same 2 MiB */
	dump("read-hole", m + P(100), 1, 100);
	dump("neighbour", m + P(101), 1, 101);
	dump("far", m + P(1200), 1, 1200);
	dump("written", m + P(600), 8, 600);
	dump("after-written", m + P(608), 3, 608);
	dump("ahead-of-written", m + P(700), 1, 700);
	/* A shared mapping of the same file in this process writes a hole this mapping read. */
	shared = mmap(NULL, P(1536), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (shared == MAP_FAILED)
		die("mmap (shared)");
	read_some(m, 1300, 1301, 1, 0);
	memcpy(shared + P(1300), "shared!", 8);
	memcpy(shared + P(1302), "shared!", 8);
	printf("shared-read: %.7s\n", m + P(1300));
	printf("shared-untouched: %.7s\n", m + P(1302));
	dump("data", m, 4, 0);
	munmap(shared, P(1536));
	munmap(m, P(1536));
}

static const struct {
	const char *name;
	void (*run)(void);
} cases[] = {
	{ "closed-fd", case_closed_fd },
	{ "fixed-reserve", case_fixed_reserve },
	{ "fixed-over-managed", case_fixed_over_managed },
	{ "two-maps", case_two_maps },
	{ "mremap-grow", case_mremap_grow },
	{ "mremap-move", case_mremap_move },
	{ "partial-munmap", case_partial_munmap },
	{ "fork", case_fork },
	{ "threads", case_threads },
	{ "eof", case_eof },
	{ "truncate", case_truncate },
	{ "punch", case_punch },
	{ "growth", case_growth },
	{ "external", case_external },
};

int main(int argc, char **argv)
{
	struct sigaction sa = { .sa_handler = on_fault };
	int opt;

	while ((opt = getopt(argc, argv, "k:")) != -1) {
		if (opt != 'k')
			goto usage;
		kind = optarg;
	}
	if (optind != argc - 1)
		goto usage;
	setvbuf(stdout, NULL, _IOLBF, 0);
	sigaction(SIGBUS, &sa, NULL);
	sigaction(SIGSEGV, &sa, NULL);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		if (strcmp(argv[optind], cases[i].name) != 0)
			continue;
		printf("case %s\n", cases[i].name);
		cases[i].run();
		stop_helper();
		printf("%s\n", failures ? "FAILED" : "done");
		return failures ? 1 : 0;
	}
usage:
	fprintf(stderr, "usage: shmem-cases [-k memfd|shm|dir:PATH] CASE\ncases:");
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		fprintf(stderr, " %s", cases[i].name);
	fputc('\n', stderr);
	return 2;
}

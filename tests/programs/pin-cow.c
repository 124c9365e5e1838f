/* pin-cow.c: pinned memory through fork, mprotect and vmsplice, the scenarios of the kernel's
 * COW selftests, on one kind of memory. Knows nothing of ucow (test program) except that it
 * looks up ucow_refpage_create and ucow_pin with dlsym, and does without them (an eagerly
 * filled mapping, an io_uring pin) when they are not there.
 *
 * usage: pin-cow KIND SCENARIO [ARGS]
 *   KIND: anon | memfd (MAP_PRIVATE, holes and one data page) | refpage | memset (anonymous
 *         memory memset to 0x5a as a whole)
 *   SCENARIO:
 *     fork           io_uring fixed buffer, fork: READ_FIXED seen by the parent only, the
 *                    child's writes not seen by the parent, the parent's by WRITE_FIXED
 *     mprotect       fixed buffer, mprotect(R), mprotect(RW), write: WRITE_FIXED sees it
 *     mprotect-fork  the same with a fork between the two mprotects
 *     vmsplice       the child vmsplices two pages into a pipe and unmaps them, the parent
 *                    writes them: the pipe yields the fork-time bytes
 *     pin            ucow_pin (or an io_uring pin), fork, parent writes: the parent's pages
 *                    keep their frames (pagemap, as root), the child has fork-time bytes
 *     nopin          the same as pin without any pin: the control (as root, the parent's
 *                    frames change: what a device holding the old ones would miss)
 *     api            ucow_pin's errors and unpinning part of a pin (needs ucow: else 77)
 *     raw            fixed buffer registered with a raw io_uring_register system call,
 *                    kept until exit
 *     sigblock       fixed buffer registered through liburing with every signal blocked
 *                    (a worker thread's usual mask), then READ_FIXED into it
 *     exec PROG ARGS a registered buffer, then execv(PROG, ARGS)
 * Prints one line per check ("name: yes|no"), "mem: ..." lines that may differ between
 * runs. Exit: 0 all checks as expected, 1 a check failed, 2 setup, 77 io_uring unavailable.
 */
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <liburing.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

#define PAGE 4096UL
#define SIZE (2UL << 20)	/* above lazy memset's default minimum (1M) */
#define DATA_PAGE 2		/* memfd: the page that has file data */
#define UNTOUCHED_PAGE 3	/* never touched before the scenario */

static const char pattern[16] = "pin-cow pattern";
static const char *kind;
static unsigned char *buf;
static int memfd = -1;		/* memfd kind: the file, kept to measure its blocks */
static struct io_uring ring;
static int failures;

static void die(const char *what)
{
	fprintf(stderr, "pin-cow: %s: %s\n", what, strerror(errno));
	exit(2);
}

static void check(const char *what, bool got, bool want)
{
	printf("%s: %s\n", what, got ? "yes" : "no");
	if (got != want) {
		fprintf(stderr, "pin-cow %s: '%s' is %s, want %s\n", kind, what,
			got ? "yes" : "no", want ? "yes" : "no");
		failures++;
	}
}

/* What byte @off of the buffer held when the kind was set up (before the program wrote). */
static unsigned char initial(size_t off)
{
	if (!strcmp(kind, "memfd"))
		return off / PAGE == DATA_PAGE ? 'd' : 0;
	if (!strcmp(kind, "refpage"))
		return (unsigned char)pattern[off % sizeof(pattern)];
	if (!strcmp(kind, "memset"))
		return 0x5a;
	return 0;
}

/* The bytes after setup: page 0 written with 'w', the rest as the kind made it. */
static unsigned char model(size_t off)
{
	return off < PAGE ? 'w' : initial(off);
}

static bool holds(const unsigned char *p, size_t off, size_t len, unsigned char (*want)(size_t))
{
	for (size_t i = 0; i < len; i++)
		if (p[i] != want(off + i))
			return false;
	return true;
}

static bool all(const unsigned char *p, size_t len, unsigned char c)
{
	for (size_t i = 0; i < len; i++)
		if (p[i] != c)
			return false;
	return true;
}

/* Maps SIZE bytes of @kind; page 0 written, page 1 read, the others untouched. */
static void setup_kind(void)
{
	volatile unsigned char sink;

	if (!strcmp(kind, "anon") || !strcmp(kind, "memset")) {
		buf = mmap(NULL, SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (buf == MAP_FAILED)
			die("mmap");
		if (!strcmp(kind, "memset"))
			memset(buf, 0x5a, SIZE);
	} else if (!strcmp(kind, "memfd")) {
		unsigned char data[PAGE];
		int fd = memfd_create("pin-cow", MFD_CLOEXEC);

		if (fd < 0 || ftruncate(fd, SIZE) < 0)
			die("memfd");
		memset(data, 'd', PAGE);
		if (pwrite(fd, data, PAGE, DATA_PAGE * PAGE) != PAGE)
			die("pwrite");
		buf = mmap(NULL, SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
		if (buf == MAP_FAILED)
			die("mmap memfd");
		memfd = fd;
	} else if (!strcmp(kind, "refpage")) {
		int (*create)(const void *, size_t, unsigned long) =
			(int (*)(const void *, size_t, unsigned long))dlsym(RTLD_DEFAULT,
									   "ucow_refpage_create");
		int fd = create ? create(pattern, sizeof(pattern), 0) : -1;

		if (fd >= 0) {
			buf = mmap(NULL, SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
			close(fd);
		} else {
			/* What the kernel alone can give: the same bytes, filled now. */
			buf = mmap(NULL, SIZE, PROT_READ | PROT_WRITE,
				   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
			for (size_t off = 0; buf != MAP_FAILED && off < SIZE; off += sizeof(pattern))
				memcpy(buf + off, pattern, sizeof(pattern));
		}
		if (buf == MAP_FAILED)
			die("mmap refpage");
		printf("mem: refpage=%s\n", fd >= 0 ? "ucow" : "eager");
	} else {
		fprintf(stderr, "pin-cow: unknown kind '%s'\n", kind);
		exit(2);
	}
	memset(buf, 'w', PAGE);
	sink = buf[PAGE];
	(void)sink;
}

static void ring_setup(void)
{
	int ret = io_uring_queue_init(8, &ring, 0);

	if (ret < 0) {
		printf("io_uring is not available here: %s\n", strerror(-ret));
		exit(77);
	}
}

static void register_buffer(void)
{
	struct iovec iov = { buf, SIZE };
	int ret = io_uring_register_buffers(&ring, &iov, 1);

	if (ret == -ENOMEM || ret == -EPERM) {
		printf("cannot register a %lu-byte fixed buffer here: %s\n", SIZE, strerror(-ret));
		exit(77);
	}
	if (ret < 0) {
		errno = -ret;
		die("io_uring_register_buffers");
	}
}

/* One READ_FIXED (@write false) or WRITE_FIXED of the whole buffer at @fd offset 0. */
static bool fixed_io(int fd, bool write)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(&ring);
	struct io_uring_cqe *cqe;
	int res;

	if (write)
		io_uring_prep_write_fixed(sqe, fd, buf, SIZE, 0, 0);
	else
		io_uring_prep_read_fixed(sqe, fd, buf, SIZE, 0, 0);
	if (io_uring_submit(&ring) != 1 || io_uring_wait_cqe(&ring, &cqe) < 0)
		die("io_uring submit");
	res = cqe->res;
	io_uring_cqe_seen(&ring, cqe);
	if (res != (int)SIZE)
		fprintf(stderr, "pin-cow: fixed %s: %d\n", write ? "write" : "read", res);
	return res == (int)SIZE;
}

static int file_of(unsigned char c)
{
	static unsigned char page[PAGE];
	int fd = memfd_create("pin-cow-io", MFD_CLOEXEC);

	if (fd < 0 || ftruncate(fd, SIZE) < 0)
		die("memfd io");
	memset(page, c, PAGE);
	for (size_t off = 0; c && off < SIZE; off += PAGE)
		if (pwrite(fd, page, PAGE, (off_t)off) != PAGE)
			die("pwrite io");
	return fd;
}

static bool file_holds(int fd, unsigned char c)
{
	static unsigned char page[PAGE];

	for (size_t off = 0; off < SIZE; off += PAGE)
		if (pread(fd, page, PAGE, (off_t)off) != PAGE || !all(page, PAGE, c))
			return false;
	return true;
}

static void send_byte(int fd, char c)
{
	if (write(fd, &c, 1) != 1)
		die("pipe write");
}

static char recv_byte(int fd)
{
	char c = 0;

	if (read(fd, &c, 1) != 1)
		die("pipe read");
	return c;
}

static int wait_child(pid_t pid)
{
	int status;

	if (waitpid(pid, &status, 0) != pid)
		die("waitpid");
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

static int scenario_fork(void)
{
	int to_child[2], to_parent[2], in = file_of('R'), out = file_of(0);
	char child_saw;
	pid_t pid;

	ring_setup();
	register_buffer();
	if (pipe(to_child) < 0 || pipe(to_parent) < 0)
		die("pipe");
	pid = fork();
	if (pid < 0)
		die("fork");
	if (pid == 0) {
		recv_byte(to_child[0]);	/* the parent's READ_FIXED is done */
		child_saw = holds(buf, 0, SIZE, model) ? 'f' : 'x';
		memset(buf, 'C', SIZE);
		send_byte(to_parent[1], child_saw);
		_exit(0);
	}
	check("READ_FIXED after fork seen by the parent", fixed_io(in, false) && all(buf, SIZE, 'R'),
	      true);
	send_byte(to_child[1], 'r');
	child_saw = recv_byte(to_parent[0]);
	check("child sees its fork-time bytes (not READ_FIXED's)", child_saw == 'f', true);
	check("child's writes seen by the parent", !all(buf, SIZE, 'R'), false);
	memset(buf, 'P', SIZE);
	check("WRITE_FIXED sees the parent's later writes", fixed_io(out, true) &&
	      file_holds(out, 'P'), true);
	check("child exited 0", wait_child(pid) == 0, true);
	return failures ? 1 : 0;
}

/* The frame of each page (0 when /proc/self/pagemap hides it: not root). */
static void frames(uint64_t *pfn, size_t n)
{
	int fd = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);

	if (fd < 0 || pread(fd, pfn, n * 8, (off_t)((uintptr_t)buf / PAGE * 8)) != (ssize_t)(n * 8))
		die("pagemap");
	close(fd);
	for (size_t i = 0; i < n; i++)
		pfn[i] &= (1ULL << 55) - 1;
}

/* Whether every page still has the frame it had in @before; @want says what is expected. */
static void check_frames(const char *what, const uint64_t *before, size_t n, bool want)
{
	uint64_t *now = calloc(n, 8);
	bool same = true;

	frames(now, n);
	if (!before[0]) {
		printf("%s: unknown (frames need root)\n", what);
		free(now);
		return;
	}
	for (size_t i = 0; i < n; i++)
		same &= now[i] == before[i];
	check(what, same, want);
	free(now);
}

static int scenario_mprotect(bool with_fork)
{
	size_t n = SIZE / PAGE;
	uint64_t *pfn = calloc(n, 8);
	int out = file_of(0), to_child[2];
	pid_t pid = -1;

	ring_setup();
	register_buffer();
	frames(pfn, n);
	if (mprotect(buf, SIZE, PROT_READ) < 0)
		die("mprotect R");
	if (with_fork) {
		if (pipe(to_child) < 0)
			die("pipe");
		pid = fork();
		if (pid < 0)
			die("fork");
		if (pid == 0) {
			recv_byte(to_child[0]);
			_exit(holds(buf, 0, SIZE, model) ? 0 : 1);
		}
	}
	if (mprotect(buf, SIZE, PROT_READ | PROT_WRITE) < 0)
		die("mprotect RW");
	memset(buf, 'W', SIZE);
	check("WRITE_FIXED sees the write after mprotect(R), mprotect(RW)",
	      fixed_io(out, true) && file_holds(out, 'W'), true);
	check_frames("parent's pages keep their frames", pfn, n, true);
	if (with_fork) {
		send_byte(to_child[1], 'w');
		check("child has fork-time bytes", wait_child(pid) == 0, true);
	}
	free(pfn);
	return failures ? 1 : 0;
}

static int scenario_vmsplice(void)
{
	unsigned char got[2 * PAGE], want[2 * PAGE];
	int to_parent[2], spliced[2];
	pid_t pid;

	/* Page 0 written before the fork, and a page never touched. */
	for (size_t i = 0; i < PAGE; i++) {
		want[i] = model(i);
		want[PAGE + i] = model(UNTOUCHED_PAGE * PAGE + i);
	}
	if (pipe(to_parent) < 0 || pipe(spliced) < 0)
		die("pipe");
	pid = fork();
	if (pid < 0)
		die("fork");
	if (pid == 0) {
		struct iovec iov[2] = {
			{ buf, PAGE },
			{ buf + UNTOUCHED_PAGE * PAGE, PAGE },
		};

		if (vmsplice(spliced[1], iov, 2, 0) != 2 * PAGE)
			_exit(3);
		munmap(buf, SIZE);
		send_byte(to_parent[1], 's');
		_exit(0);
	}
	if (recv_byte(to_parent[0]) != 's')
		die("the child's vmsplice");
	memset(buf, 'N', PAGE);
	memset(buf + UNTOUCHED_PAGE * PAGE, 'N', PAGE);
	for (size_t done = 0; done < sizeof(got);) {
		ssize_t n = read(spliced[0], got + done, sizeof(got) - done);

		if (n <= 0)
			die("read pipe");
		done += (size_t)n;
	}
	check("pipe yields the fork-time bytes", !memcmp(got, want, sizeof(got)), true);
	check("pipe yields the parent's later writes", all(got, PAGE, 'N'), false);
	check("child exited 0", wait_child(pid) == 0, true);
	return failures ? 1 : 0;
}

/* The memfd kind's file blocks (st_blocks), -1 for other kinds. */
static long file_blocks(void)
{
	struct stat st;

	if (memfd < 0)
		return -1;
	if (fstat(memfd, &st) < 0)
		die("fstat");
	return (long)st.st_blocks;
}

static int scenario_pin(bool pinned)
{
	int (*pin)(void *, size_t) = (int (*)(void *, size_t))dlsym(RTLD_DEFAULT, "ucow_pin");
	int (*unpin)(void *, size_t) = (int (*)(void *, size_t))dlsym(RTLD_DEFAULT, "ucow_unpin");
	size_t n = SIZE / PAGE;
	uint64_t *pfn = calloc(n, 8);
	int to_child[2];
	long blocks;
	pid_t pid;

	if (!pinned) {
		pin = unpin = NULL;
		/* Every page present and private, as a pin would leave it, but no pin. */
		for (size_t off = 0; off < SIZE; off += PAGE)
			buf[off] = model(off);
	} else if (pin) {
		if (pin(buf, SIZE) < 0)
			die("ucow_pin");
		printf("mem: pin=ucow_pin\n");
	} else {
		ring_setup();
		register_buffer();	/* the kernel's own pin */
		printf("mem: pin=io_uring\n");
	}
	frames(pfn, n);
	blocks = file_blocks();
	if (pipe(to_child) < 0)
		die("pipe");
	pid = fork();
	if (pid < 0)
		die("fork");
	if (pid == 0) {
		recv_byte(to_child[0]);	/* the parent has written */
		_exit(holds(buf, 0, SIZE, model) ? 0 : 1);
	}
	memset(buf, 'P', SIZE);
	/* Without a pin, the kernel gives the writing parent new pages and leaves the old
	 * ones to the child: a device holding the old ones would write to the child. */
	check_frames("parent's pages keep their frames", pfn, n, pinned);
	send_byte(to_child[1], 'w');
	check("child has fork-time bytes", wait_child(pid) == 0, true);
	check("parent has its own writes", all(buf, SIZE, 'P'), true);
	/* The child's copy is private memory: the file is not written for it. */
	printf("mem: file_blocks_pinned=%ld file_blocks_after_fork=%ld\n", blocks, file_blocks());
	if (unpin && unpin(buf, SIZE) < 0)
		die("ucow_unpin");
	free(pfn);
	return failures ? 1 : 0;
}

/* ucow_pin's contract beyond the scenarios: errors, unpinning a middle part. */
static int scenario_api(void)
{
	int (*pin)(void *, size_t) = (int (*)(void *, size_t))dlsym(RTLD_DEFAULT, "ucow_pin");
	int (*unpin)(void *, size_t) = (int (*)(void *, size_t))dlsym(RTLD_DEFAULT, "ucow_unpin");
	unsigned char *hole;
	int to_child[2];
	pid_t pid;

	if (!pin || !unpin) {
		printf("ucow_pin is not in this process (run under ucow)\n");
		return 77;
	}
	hole = mmap(NULL, PAGE, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (hole == MAP_FAILED || munmap(hole, PAGE) < 0)
		die("mmap");
	check("ucow_pin(len 0) fails with EINVAL", pin(buf, 0) < 0 && errno == EINVAL, true);
	check("ucow_pin(unmapped) fails with ENOMEM", pin(hole, PAGE) < 0 && errno == ENOMEM, true);
	check("ucow_pin of a buffer, twice, succeeds", pin(buf, SIZE) == 0 && pin(buf, SIZE) == 0,
	      true);
	/* The middle goes; the rest stays pinned: after a fork, the parent's writes there stay
	 * its own and the child keeps its fork-time bytes everywhere. */
	check("ucow_unpin of the middle succeeds", unpin(buf + PAGE * 4, PAGE * 8) == 0, true);
	/* A pinned page the program made unreadable goes through fork as well. */
	if (mprotect(buf + PAGE * 2, PAGE, PROT_NONE) < 0)
		die("mprotect");
	if (pipe(to_child) < 0)
		die("pipe");
	pid = fork();
	if (pid < 0)
		die("fork");
	if (pid == 0) {
		recv_byte(to_child[0]);
		if (mprotect(buf + PAGE * 2, PAGE, PROT_READ) < 0)
			_exit(2);
		_exit(holds(buf, 0, SIZE, model) ? 0 : 1);
	}
	if (mprotect(buf + PAGE * 2, PAGE, PROT_READ | PROT_WRITE) < 0)
		die("mprotect");
	memset(buf, 'P', SIZE);
	send_byte(to_child[1], 'w');
	check("child has fork-time bytes", wait_child(pid) == 0, true);
	check("ucow_unpin of the whole buffer succeeds", unpin(buf, SIZE) == 0, true);
	check("ucow_unpin of unpinned memory succeeds", unpin(buf, SIZE) == 0, true);
	return failures ? 1 : 0;
}

static int scenario_raw(void)
{
	struct iovec iov = { buf, SIZE };
	int in = file_of('R');
	long ret;

	ring_setup();
	ret = syscall(SYS_io_uring_register, ring.ring_fd, IORING_REGISTER_BUFFERS, &iov, 1);
	if (ret < 0)
		die("io_uring_register");
	check("READ_FIXED into a raw-registered buffer", fixed_io(in, false) &&
	      all(buf, SIZE, 'R'), true);
	return failures ? 1 : 0;	/* the ring and its buffer stay until exit */
}

static int scenario_sigblock(void)
{
	int in = file_of('B');
	sigset_t every;

	sigfillset(&every);
	sigprocmask(SIG_BLOCK, &every, NULL);
	ring_setup();
	register_buffer();
	check("READ_FIXED with every signal blocked", fixed_io(in, false) && all(buf, SIZE, 'B'),
	      true);
	return failures ? 1 : 0;
}

static int scenario_exec(char **argv)
{
	ring_setup();
	register_buffer();
	fflush(stdout);
	execv(argv[0], argv);
	die(argv[0]);
	return 2;
}

int main(int argc, char **argv)
{
	if (argc < 3) {
		fprintf(stderr, "usage: pin-cow KIND SCENARIO [ARGS]\n");
		return 2;
	}
	kind = argv[1];
	setvbuf(stdout, NULL, _IOLBF, 0);
	setup_kind();
	if (!strcmp(argv[2], "fork"))
		return scenario_fork();
	if (!strcmp(argv[2], "mprotect"))
		return scenario_mprotect(false);
	if (!strcmp(argv[2], "mprotect-fork"))
		return scenario_mprotect(true);
	if (!strcmp(argv[2], "vmsplice"))
		return scenario_vmsplice();
	if (!strcmp(argv[2], "pin"))
		return scenario_pin(true);
	if (!strcmp(argv[2], "nopin"))
		return scenario_pin(false);
	if (!strcmp(argv[2], "api"))
		return scenario_api();
	if (!strcmp(argv[2], "raw"))
		return scenario_raw();
	if (!strcmp(argv[2], "sigblock"))
		return scenario_sigblock();
	if (!strcmp(argv[2], "exec") && argc > 3)
		return scenario_exec(argv + 3);
	fprintf(stderr, "pin-cow: unknown scenario '%s'\n", argv[2]);
	return 2;
}

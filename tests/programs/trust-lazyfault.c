/* trust-lazyfault.c: a memset that faults with a signal the program catches, on private
 * anonymous memory it never touched (what lazy memset defers): a guard page in the middle
 * (MADV_GUARD_INSTALL), or memory registered with its own userfaultfd in SIGBUS mode, whose
 * handler fills each page. Knows nothing of ucow (test program).
 *
 * usage: trust-lazyfault guard|sigbus|sigbus-raw|sigbus-zero
 *   guard        memset 0x77 over 8 MiB with a guard page at 4 MiB: SIGSEGV there, caught
 *   sigbus       its own userfaultfd, UFFD_FEATURE_SIGBUS, registered through ioctl(3); the
 *                SIGBUS handler fills a page of 0x33 (UFFDIO_COPY); then memset 0x77
 *   sigbus-raw   the same, registered with syscall(SYS_ioctl, ...)
 *   sigbus-zero  the same as sigbus, then memset 0: every page must read 0 afterwards
 * Prints what it saw, one line; exit 0, 1 on a wrong byte, 2 on a setup error, 77 when the
 * kernel or the permissions lack the feature. */
#include <errno.h>
#include <fcntl.h>
#include <linux/userfaultfd.h>
#include <setjmp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#ifndef MADV_GUARD_INSTALL
#define MADV_GUARD_INSTALL 102
#endif

#define PAGE 4096UL
#define SIZE (8UL << 20)
#define FILL 0x33
#define VALUE 0x77

static void *(*volatile do_memset)(void *, int, size_t) = memset;
static sigjmp_buf back;
static int uffd;
static unsigned long signals;
static unsigned char fill_page[PAGE] __attribute__((aligned(4096)));

static void on_segv(int sig)
{
	(void)sig;
	siglongjmp(back, 1);
}

/* Fills the faulting page, as a program serving its own faults in SIGBUS mode does. */
static void on_bus(int sig, siginfo_t *si, void *ctx)
{
	struct uffdio_copy copy = { .dst = (uintptr_t)si->si_addr & ~(PAGE - 1),
				    .src = (uintptr_t)fill_page, .len = PAGE };

	(void)sig;
	(void)ctx;
	if (ioctl(uffd, UFFDIO_COPY, &copy) < 0 && errno != EEXIST)
		_exit(2);
	signals++;
}

static int guard(unsigned char *m)
{
	if (madvise(m + SIZE / 2, PAGE, MADV_GUARD_INSTALL) < 0) {
		printf("no guard pages here (%s)\n", strerror(errno));
		return 77;
	}
	signal(SIGSEGV, on_segv);
	if (sigsetjmp(back, 1) == 0) {
		do_memset(m, VALUE, SIZE);
		printf("memset went through the guard page\n");
		return 1;
	}
	/* Stopped at the guard page: all before it written, nothing after it. */
	for (size_t off = 0; off < SIZE / 2; off += PAGE)
		if (m[off] != VALUE || m[off + PAGE - 1] != VALUE)
			return printf("byte %#zx reads %#x before the guard\n", off, m[off]), 1;
	for (size_t off = SIZE / 2 + PAGE; off < SIZE; off += PAGE)
		if (m[off] != 0)
			return printf("byte %#zx reads %#x after the guard\n", off, m[off]), 1;
	printf("SIGSEGV at the guard page, the bytes before it written, none after\n");
	return 0;
}

static int own_uffd(unsigned char *m, int raw, int value)
{
	struct uffdio_api api = { .api = UFFD_API, .features = UFFD_FEATURE_SIGBUS };
	struct uffdio_register reg = { .range = { (uintptr_t)m, SIZE },
				       .mode = UFFDIO_REGISTER_MODE_MISSING };
	struct sigaction sa;
	int ret;

	uffd = (int)syscall(SYS_userfaultfd, O_CLOEXEC | O_NONBLOCK);
	if (uffd < 0 || ioctl(uffd, UFFDIO_API, &api) < 0) {
		printf("no userfaultfd with SIGBUS here (%s)\n", strerror(errno));
		return 77;
	}
	ret = raw ? (int)syscall(SYS_ioctl, uffd, UFFDIO_REGISTER, &reg) :
		    ioctl(uffd, UFFDIO_REGISTER, &reg);
	if (ret < 0) {
		perror("trust-lazyfault: UFFDIO_REGISTER");
		return 2;
	}
	memset(fill_page, FILL, sizeof(fill_page));
	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = on_bus;
	sa.sa_flags = SA_SIGINFO;
	sigaction(SIGBUS, &sa, NULL);
	do_memset(m, value, SIZE);
	for (size_t off = 0; off < SIZE; off += PAGE)
		if (m[off] != value || m[off + PAGE - 1] != value)
			return printf("byte %#zx reads %#x, not %#x\n", off, m[off], value), 1;
	printf("memset %#x through its own SIGBUS userfaultfd: every byte right, %s\n", value,
	       signals ? "the handler ran" : "the handler never ran");
	return 0;
}

int main(int argc, char **argv)
{
	unsigned char *m;

	if (argc != 2) {
		fprintf(stderr, "usage: trust-lazyfault guard|sigbus|sigbus-raw|sigbus-zero\n");
		return 2;
	}
	m = mmap(NULL, SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (m == MAP_FAILED) {
		perror("trust-lazyfault: mmap");
		return 2;
	}
	setvbuf(stdout, NULL, _IONBF, 0);
	if (strcmp(argv[1], "guard") == 0)
		return guard(m);
	if (strcmp(argv[1], "sigbus") == 0)
		return own_uffd(m, 0, VALUE);
	if (strcmp(argv[1], "sigbus-raw") == 0)
		return own_uffd(m, 1, VALUE);
	if (strcmp(argv[1], "sigbus-zero") == 0)
		return own_uffd(m, 0, 0);
	fprintf(stderr, "trust-lazyfault: unknown case %s\n", argv[1]);
	return 2;
}

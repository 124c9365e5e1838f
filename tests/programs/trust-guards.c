/* trust-guards.c: guard pages (MADV_GUARD_INSTALL, Linux 6.13) in memory of a kind
 * (trust-kinds.h), then what fills whole ranges around them: sweeps reading and writing
 * every page, huge-page and no-fork advice, fork. Every guard must fault (SIGSEGV, caught)
 * every time, and every other page hold the kind's bytes. Knows nothing of ucow (test program).
 *
 * usage: trust-guards KIND read|write|hugepage|dontfork|fork|remove|pidfd|emfile
 *   remove: the guards are removed again, and the bytes of their pages printed
 *   pidfd: the guards are installed with process_madvise(2) on this process, then a read sweep
 *   emfile: with every descriptor in use, MADV_DONTFORK over the whole mapping
 * Prints one line; exit 0, 1 on a wrong byte or a lost guard, 2 on a setup error, 77 when the
 * kernel has no guard pages. */
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>

#include "trust-kinds.h"

#ifndef MADV_GUARD_INSTALL
#define MADV_GUARD_INSTALL 102
#define MADV_GUARD_REMOVE 103
#endif

#define PAGES 2048UL	/* 8 MiB: whole fault-around windows and more */

static const size_t guards[] = { 3, 511, 512, 700, 1024, 1025, 2047 };
#define NGUARDS (sizeof(guards) / sizeof(guards[0]))

static sigjmp_buf back;

static void on_segv(int sig)
{
	(void)sig;
	siglongjmp(back, 1);
}

/* Whether touching @p faults. */
static int faults(volatile unsigned char *p, int write)
{
	if (sigsetjmp(back, 1))
		return 1;
	if (write)
		*p = *p;
	else
		(void)*p;
	return 0;
}

static int is_guard(size_t page)
{
	for (size_t i = 0; i < NGUARDS; i++)
		if (guards[i] == page)
			return 1;
	return 0;
}

/* Guards that still fault, and pages (not guards) that fault or hold a wrong byte. */
static void survey(int kind, unsigned char *m, size_t *held, size_t *wrong)
{
	*held = *wrong = 0;
	for (size_t pg = 0; pg < PAGES; pg++) {
		if (is_guard(pg)) {
			*held += faults(m + pg * TK_PAGE, 0);
			continue;
		}
		if (faults(m + pg * TK_PAGE, 0) || tk_check(kind, m, pg, pg + 1, "trust-guards"))
			(*wrong)++;
	}
}

int main(int argc, char **argv)
{
	size_t held, wrong, swept = 0;
	int kind, fd, write = 0;
	const char *what;
	unsigned char *m;

	if (argc != 3) {
		fprintf(stderr, "usage: trust-guards KIND read|write|hugepage|dontfork|fork|remove|pidfd|emfile\n");
		return 2;
	}
	kind = tk_parse(argv[1]);
	what = argv[2];
	fd = tk_fd(kind, PAGES * TK_PAGE);
	m = tk_map(kind, fd, PAGES * TK_PAGE);
	if (m == MAP_FAILED) {
		perror("trust-guards: map");
		return 2;
	}
	for (size_t i = 0; i < NGUARDS; i++) {
		struct iovec one = { m + guards[i] * TK_PAGE, TK_PAGE };
		int pidfd = strcmp(what, "pidfd") ? -1 : (int)syscall(SYS_pidfd_open, getpid(), 0);

		if (pidfd >= 0 ? process_madvise(pidfd, &one, 1, MADV_GUARD_INSTALL, 0) ==
				 (ssize_t)TK_PAGE :
				 madvise(one.iov_base, TK_PAGE, MADV_GUARD_INSTALL) == 0) {
			if (pidfd >= 0)
				close(pidfd);
			continue;
		}
		printf("no guard pages here (%s)\n", strerror(errno));
		return 77;
	}
	signal(SIGSEGV, on_segv);
	if (strcmp(what, "emfile") == 0) {
		while (open("/dev/null", O_RDONLY) >= 0)
			;
		if (madvise(m, PAGES * TK_PAGE, MADV_DONTFORK) < 0)
			printf("madvise: %s\n", strerror(errno));
	} else if (strcmp(what, "read") == 0 || strcmp(what, "write") == 0 ||
		   strcmp(what, "pidfd") == 0) {
		write = what[0] == 'w';
		for (size_t pg = 0; pg < PAGES; pg++)
			swept += faults(m + pg * TK_PAGE, write);
	} else if (strcmp(what, "hugepage") == 0 || strcmp(what, "dontfork") == 0) {
		if (madvise(m, PAGES * TK_PAGE, what[0] == 'h' ? MADV_HUGEPAGE : MADV_DONTFORK) < 0)
			printf("madvise: %s\n", strerror(errno));
	} else if (strcmp(what, "remove") == 0) {
		printf("after removal, the guard pages read:");
		for (size_t i = 0; i < NGUARDS; i++) {
			unsigned char *g = m + guards[i] * TK_PAGE;

			if (madvise(g, TK_PAGE, MADV_GUARD_REMOVE) < 0)
				return printf(" madvise: %s\n", strerror(errno)), 2;
			printf(" %#x", faults(g, 0) ? 0xfff : g[0] | g[TK_PAGE - 1]);
		}
		printf("\n");
		return 0;
	} else if (strcmp(what, "fork") == 0) {
		pid_t child = fork();
		int status;

		if (child == 0) {
			survey(kind, m, &held, &wrong);
			printf("child: %zu of %zu guards hold, %zu wrong pages; ", held, NGUARDS,
			       wrong);
			fflush(stdout);
			_exit(held == NGUARDS && wrong == 0 ? 0 : 1);
		}
		if (child < 0 || waitpid(child, &status, 0) != child || !WIFEXITED(status) ||
		    WEXITSTATUS(status) != 0)
			return printf("the child failed\n"), 1;
	} else {
		fprintf(stderr, "trust-guards: unknown case %s\n", what);
		return 2;
	}
	survey(kind, m, &held, &wrong);
	printf("%s %s: %zu guards faulted in the sweep; %zu of %zu hold, %zu wrong pages\n",
	       tk_names[kind], what, swept, held, NGUARDS, wrong);
	return held == NGUARDS && wrong == 0 ? 0 : 1;
}

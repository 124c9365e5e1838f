/* mprotect.c: each kind of memory made PROT_NONE or read-only and back: faults and bytes. */
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "kinds.h"

#define PAGES (KSIZE / KPAGE)
#define RW (PROT_READ | PROT_WRITE)

static sigjmp_buf jump;
static volatile sig_atomic_t caught_code;
static void *volatile caught_addr;

static void on_segv(int sig, siginfo_t *si, void *uc)
{
	(void)sig;
	(void)uc;
	caught_code = si->si_code;
	caught_addr = si->si_addr;
	siglongjmp(jump, 1);
}

/* Reads (@write 0) or writes @p once: 0 when it worked, 1 after a SIGSEGV with SEGV_ACCERR
 * at @p, -1 after any other SIGSEGV. */
static int touch(unsigned char *p, int write)
{
	volatile unsigned char *v = p;

	caught_code = 0;
	caught_addr = NULL;
	if (sigsetjmp(jump, 1) == 0) {
		if (write)
			*v = 'X';
		else
			(void)*v;
		return 0;
	}
	if (caught_code != SEGV_ACCERR || caught_addr != p) {
		fprintf(stderr, "mprotect: SIGSEGV code %d at %p, want SEGV_ACCERR at %p\n",
			(int)caught_code, caught_addr, (void *)p);
		return -1;
	}
	return 1;
}

static size_t protect(struct mem *m, size_t from, size_t pages, int prot)
{
	if (mprotect(m->p + from * KPAGE, pages * KPAGE, prot) == 0)
		return 0;
	fprintf(stderr, "mprotect: %s: mprotect(%d): %s\n", m->kind->name, prot, strerror(errno));
	return 1;
}

/* PROT_NONE over untouched or touched memory: any access faults; back to read-write, the
 * bytes are those of before. */
static void none(const struct kind *k, int touched)
{
	const char *what = touched ? "none-touched" : "none-untouched";
	size_t wrong = 0;
	struct mem m;

	if (setup(&m, k, KSIZE, what) < 0)
		return;
	if (touched)
		mem_touch(&m);
	wrong += protect(&m, 0, PAGES, PROT_NONE);
	wrong += touch(m.p + 3 * KPAGE, 0) != 1;	/* untouched */
	wrong += touch(m.p + 4 * KPAGE + 5, 1) != 1;	/* written if touched */
	wrong += protect(&m, 0, PAGES, RW);
	wrong += check_model(&m, m.p, 0, PAGES, what);
	report(k->name, touched ? "PROT_NONE and back, touched before" :
				  "PROT_NONE and back, untouched before", wrong);
	mem_unmap(&m);
}

/* Read-only: reads give the bytes, writes fault and change nothing; writable again, writes
 * land where they should. */
static void readonly(const struct kind *k, int touched)
{
	const char *what = touched ? "readonly-touched" : "readonly-untouched";
	size_t wrong = 0;
	struct mem m;

	if (setup(&m, k, KSIZE, what) < 0)
		return;
	if (touched)
		mem_touch(&m);
	wrong += protect(&m, 0, PAGES, PROT_READ);
	wrong += touch(m.p + 7 * KPAGE + 9, 1) != 1;	/* untouched */
	wrong += touch(m.p + 8 * KPAGE, 1) != 1;	/* written if touched */
	wrong += touch(m.p + 10 * KPAGE, 1) != 1;	/* read if touched */
	wrong += check_model(&m, m.p, 0, PAGES, "read-only");
	wrong += touch(m.p + 11 * KPAGE, 1) != 1;	/* untouched, read just now */
	wrong += protect(&m, 0, PAGES, RW);
	fill(m.p + 12 * KPAGE, 'W', KPAGE);
	wrong += m.p[12 * KPAGE] != 'W' || m.p[13 * KPAGE - 1] != 'W';
	wrong += check_model(&m, m.p, 0, 12, "writable again");
	wrong += check_model(&m, m.p + 13 * KPAGE, 13, PAGES - 13, "writable again");
	report(k->name, touched ? "read-only: reads, faulting writes, writable again (touched)" :
				  "read-only: reads, faulting writes, writable again (untouched)",
	       wrong);
	mem_unmap(&m);
}

/* The middle half PROT_NONE, the ends accessed meanwhile. */
static void middle(const struct kind *k)
{
	size_t wrong = 0;
	struct mem m;

	if (setup(&m, k, KSIZE, "middle") < 0)
		return;
	mem_touch(&m);
	wrong += protect(&m, PAGES / 4, PAGES / 2, PROT_NONE);
	wrong += check_model(&m, m.p, 0, PAGES / 4, "head");
	wrong += check_model(&m, m.p + 3 * KSIZE / 4, 3 * PAGES / 4, PAGES / 4, "tail");
	wrong += touch(m.p + KSIZE / 2 + KPAGE + 1, 0) != 1;
	wrong += touch(m.p + KSIZE / 4, 1) != 1;
	wrong += touch(m.p + KSIZE / 4 - 1, 0) != 0;
	wrong += protect(&m, PAGES / 4, PAGES / 2, RW);
	wrong += check_model(&m, m.p, 0, PAGES, "all back");
	report(k->name, "middle half PROT_NONE and back", wrong);
	mem_unmap(&m);
}

/*
 * Read-only or PROT_NONE across fork. Read-only: the child reads the bytes, then writes its
 * own; the parent, writable again, writes. PROT_NONE: a read faults on each side, and once
 * accessible again each finds the bytes.
 */
static void protected_fork(const struct kind *k, int prot)
{
	const bool none = prot == PROT_NONE;
	size_t wrong = 0;
	struct mem m;
	pid_t pid;

	if (setup(&m, k, KSIZE, none ? "none-fork" : "readonly-fork") < 0)
		return;
	mem_touch(&m);
	wrong += protect(&m, 0, PAGES, prot);
	pid = fork();
	if (pid == 0) {
		size_t w = none ? touch(m.p + 5 * KPAGE, 0) != 1
				: check_model(&m, m.p, 0, PAGES, "child, read-only");

		w += protect(&m, 0, PAGES, RW);
		if (none)
			w += check_model(&m, m.p, 0, PAGES, "child, accessible again");
		else
			fill(m.p + KPAGE, 'C', KPAGE);
		_exit(w ? 1 : 0);
	}
	if (none) {
		if (child_status(pid) != 0)
			wrong++;
		wrong += protect(&m, 0, PAGES, RW);
		wrong += check_model(&m, m.p, 0, PAGES, "parent, accessible again");
		report(k->name, "PROT_NONE through fork, then accessible again", wrong);
	} else {
		wrong += protect(&m, 0, PAGES, RW);
		fill(m.p + 3 * KPAGE, 'P', KPAGE);
		if (child_status(pid) != 0)
			wrong++;
		wrong += check_model(&m, m.p, 0, 3, "parent after fork");
		wrong += check_model(&m, m.p + 4 * KPAGE, 4, PAGES - 4, "parent after fork");
		report(k->name, "read-only through fork, then written", wrong);
	}
	mem_unmap(&m);
}

static void run(const struct kind *k)
{
	none(k, 0);
	none(k, 1);
	readonly(k, 0);
	readonly(k, 1);
	middle(k);
	protected_fork(k, PROT_READ);
	protected_fork(k, PROT_NONE);
}

int main(int argc, char **argv)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = on_segv;
	sa.sa_flags = SA_SIGINFO | SA_NODEFER;
	sigaction(SIGSEGV, &sa, NULL);
	return kinds_main(argc, argv, "mprotect", run);
}

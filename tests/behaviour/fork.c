/* fork.c: parent and child read and write each kind of memory after fork, each its own. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "kinds.h"

#define PAGES (KSIZE / KPAGE)

static void send_byte(int fd)
{
	char c = 'g';

	if (write(fd, &c, 1) != 1)
		_exit(3);
}

static void recv_byte(int fd)
{
	char c;

	if (read(fd, &c, 1) != 1)
		_exit(3);
}

static unsigned char all_c(const void *arg, size_t page)
{
	(void)page;
	return *(const unsigned char *)arg;
}

/* The child reads its fork-time bytes; its writes are its own; the parent's stay. */
static void child_writes(const struct kind *k)
{
	const unsigned char c = 'C';
	struct mem m;
	pid_t pid;

	if (setup(&m, k, KSIZE, "child-writes") < 0)
		return;
	mem_touch(&m);
	pid = fork();
	if (pid == 0) {
		size_t wrong = check_model(&m, m.p, 0, PAGES, "child reads");

		fill(m.p, c, KSIZE);
		wrong += check_pages(m.p, 0, PAGES, all_c, &c, "child's own writes");
		_exit(wrong ? 1 : 0);
	}
	report(k->name, "child sees fork-time bytes and its own writes", child_status(pid) != 0);
	report(k->name, "child's writes invisible to the parent",
	       check_model(&m, m.p, 0, PAGES, "parent after child wrote"));
	mem_unmap(&m);
}

/* The child memsets (one call: ucow may defer it) what it inherited; the parent, after. */
static void child_memsets(const struct kind *k)
{
	const unsigned char c = 0x77, p = 0x33;
	struct mem m;
	pid_t pid;

	if (setup(&m, k, KSIZE, "child-memsets") < 0)
		return;
	mem_touch(&m);
	pid = fork();
	if (pid == 0) {
		big_memset(m.p, c, KSIZE);
		_exit(check_pages(m.p, 0, PAGES, all_c, &c, "child after its memset") ? 1 : 0);
	}
	report(k->name, "child's memset: the child reads it", child_status(pid) != 0);
	report(k->name, "child's memset: the parent keeps its bytes",
	       check_model(&m, m.p, 0, PAGES, "parent after the child's memset"));
	pid = fork();
	if (pid == 0)
		_exit(check_model(&m, m.p, 0, PAGES, "child before the parent's memset") ? 1 : 0);
	big_memset(m.p, p, KSIZE);
	report(k->name, "parent's memset after fork: the child keeps fork-time bytes",
	       child_status(pid) != 0);
	report(k->name, "parent's memset after fork: the parent reads it",
	       check_pages(m.p, 0, PAGES, all_c, &p, "parent after its memset"));
	mem_unmap(&m);
}

/* The parent writes after fork: the child still sees the fork-time bytes. */
static void parent_writes(const struct kind *k)
{
	const unsigned char c = 'P';
	int go[2], done[2];
	struct mem m;
	pid_t pid;

	if (setup(&m, k, KSIZE, "parent-writes") < 0)
		return;
	mem_touch(&m);
	if (pipe(go) < 0 || pipe(done) < 0) {
		report(k->name, "parent-writes: pipe", 1);
		return;
	}
	pid = fork();
	if (pid == 0) {
		/* Read half of it before the parent writes, the rest after. */
		size_t wrong = check_model(&m, m.p, 0, PAGES / 2, "child reads before");

		send_byte(done[1]);
		recv_byte(go[0]);
		wrong += check_model(&m, m.p, 0, PAGES, "child reads after the parent wrote");
		_exit(wrong ? 1 : 0);
	}
	recv_byte(done[0]);
	fill(m.p, c, KSIZE);
	report(k->name, "parent's own writes after fork",
	       check_pages(m.p, 0, PAGES, all_c, &c, "parent's own writes"));
	send_byte(go[1]);
	report(k->name, "parent's writes invisible to the child", child_status(pid) != 0);
	close(go[0]);
	close(go[1]);
	close(done[0]);
	close(done[1]);
	mem_unmap(&m);
}

/* The child discards (MADV_DONTNEED) its copy: it reads as discarded, the parent keeps its
 * bytes; the parent discards after the child exits: the same for it. */
static unsigned char want_discarded(const void *arg, size_t page)
{
	return mem_discarded(arg, page);
}

static void child_discards(const struct kind *k)
{
	struct mem m;
	pid_t pid;

	if (setup(&m, k, KSIZE, "child-discards") < 0)
		return;
	mem_touch(&m);
	pid = fork();
	if (pid == 0) {
		if (madvise(m.p, KSIZE, MADV_DONTNEED) < 0)
			_exit(2);
		_exit(check_pages(m.p, 0, PAGES, want_discarded, &m, "child after DONTNEED") ?
		      1 : 0);
	}
	report(k->name, "child's MADV_DONTNEED: the child reads as discarded", child_status(pid) != 0);
	report(k->name, "child's MADV_DONTNEED: the parent keeps its bytes",
	       check_model(&m, m.p, 0, PAGES, "parent after the child's DONTNEED"));
	if (madvise(m.p, KSIZE, MADV_DONTNEED) < 0)
		report(k->name, "parent's MADV_DONTNEED after fork", 1);
	else
		report(k->name, "parent's MADV_DONTNEED after fork",
		       check_pages(m.p, 0, PAGES, want_discarded, &m, "parent after DONTNEED"));
	mem_unmap(&m);
}

/* A grandchild, forked by a child that wrote half: the child's bytes at its fork. */
static unsigned char child_model(const void *arg, size_t page)
{
	return page < PAGES / 2 ? 'C' : mem_model(arg, page);
}

static void grandchild(const struct kind *k)
{
	struct mem m;
	pid_t pid;

	if (setup(&m, k, KSIZE, "grandchild") < 0)
		return;
	mem_touch(&m);
	pid = fork();
	if (pid == 0) {
		pid_t g;
		int rc;

		fill(m.p, 'C', KSIZE / 2);
		g = fork();
		if (g == 0) {
			size_t wrong = check_pages(m.p, 0, PAGES, child_model, &m, "grandchild");

			fill(m.p, 'G', KSIZE);
			_exit(wrong ? 1 : 0);
		}
		rc = child_status(g);
		if (check_pages(m.p, 0, PAGES, child_model, &m, "child after grandchild"))
			rc = 1;
		_exit(rc ? 1 : 0);
	}
	report(k->name, "grandchild sees its parent's bytes, child not the grandchild's",
	       child_status(pid) != 0);
	report(k->name, "grandchild's and child's writes invisible to the parent",
	       check_model(&m, m.p, 0, PAGES, "parent after the grandchild"));
	mem_unmap(&m);
}

/* Fork from a multi-threaded parent while its threads make first touches of the memory:
 * reader threads over every page, a writer thread on byte 0 of every 4th page from 3. */
struct racer {
	struct mem *m;
	int writer;
	volatile int *stop;
};

static void *race(void *arg)
{
	struct racer *r = arg;
	volatile unsigned char *p = r->m->p;
	size_t pg = r->writer ? 3 : 1;

	while (!*r->stop) {
		if (r->writer)
			p[pg * KPAGE] = 'T';
		else
			(void)p[pg * KPAGE + 7];
		pg += r->writer ? 4 : 5;
		if (pg >= PAGES)
			pg = r->writer ? 3 : pg % 5 + 1;
	}
	return NULL;
}

/* Fork-time bytes with the writer's byte 0 of pages 3 mod 4 either way. */
static size_t check_raced(const struct mem *m, const char *what)
{
	size_t wrong = 0;

	for (size_t pg = 0; pg < PAGES; pg++) {
		const volatile unsigned char *q = m->p + pg * KPAGE;
		unsigned char w = mem_model(m, pg);

		for (size_t b = 0; b < KPAGE; b++) {
			if (q[b] == w || (pg % 4 == 3 && b == 0 && q[b] == 'T'))
				continue;
			if (!wrong)
				fprintf(stderr, "%s: %s: %s: page %zu byte %zu is 0x%02x, want 0x%02x\n",
					behaviour, m->kind->name, what, pg, b, q[b], w);
			wrong++;
		}
	}
	return wrong;
}

static void threaded(const struct kind *k)
{
	pthread_t t[3];
	struct racer r[3];
	volatile int stop = 0;
	size_t failed = 0, wrong = 0;
	struct mem m;
	int n = 0;

	if (setup(&m, k, KSIZE, "threaded-parent") < 0)
		return;
	mem_touch(&m);
	for (int i = 0; i < 3; i++) {
		r[i] = (struct racer){ &m, i == 2, &stop };
		if (pthread_create(&t[i], NULL, race, &r[i]) == 0)
			n++;
	}
	for (int i = 0; i < 3 && n == 3; i++) {
		pid_t pid = fork();

		if (pid == 0)
			_exit(check_raced(&m, "child of a threaded parent") ? 1 : 0);
		if (child_status(pid) != 0)
			failed++;
	}
	stop = 1;
	for (int i = 0; i < n; i++)
		pthread_join(t[i], NULL);
	if (n != 3) {
		report(k->name, "threaded parent: pthread_create", 1);
	} else {
		report(k->name, "children of a threaded parent see fork-time bytes", failed);
		wrong = check_raced(&m, "threaded parent after fork");
		report(k->name, "threaded parent keeps its bytes", wrong);
	}
	mem_unmap(&m);
}

static void run(const struct kind *k)
{
	child_writes(k);
	parent_writes(k);
	grandchild(k);
	child_discards(k);
	child_memsets(k);
	threaded(k);
}

int main(int argc, char **argv)
{
	return kinds_main(argc, argv, "fork", run);
}

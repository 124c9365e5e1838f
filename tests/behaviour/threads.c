/* threads.c: threads racing first touches of the same pages of each kind of memory. */
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>

#include "kinds.h"

#define PAGES (KSIZE / KPAGE)
#define THREADS 4

struct toucher {
	const struct mem *m;
	const int *go;	/* set once every thread runs: then all start together */
	int id;
	int mode;	/* 0: read only, 1: write byte id of every page, 2: write own pages */
	size_t wrong;
};

/* The bytes nobody writes: what the kernel gives. Offsets 0..THREADS-1 of a page may have
 * a thread's byte (mode 1); in mode 2 page p belongs to thread p % THREADS. */
static void *touch(void *arg)
{
	struct toucher *t = arg;
	const struct mem *m = t->m;
	volatile unsigned char *p = m->p;

	while (!__atomic_load_n(t->go, __ATOMIC_ACQUIRE))
		sched_yield();
	for (size_t i = 0; i < PAGES; i++) {
		/* Everyone starts at page 0: the first touches of each page race. */
		size_t pg = t->mode == 2 ? (i + (size_t)t->id) % PAGES : i;
		volatile unsigned char *q = p + pg * KPAGE;
		unsigned char want = mem_expect(m, pg);

		if (t->mode == 1)
			q[t->id] = (unsigned char)('a' + t->id);
		else if (t->mode == 2 && pg % THREADS == (size_t)t->id)
			q[KPAGE / 2] = (unsigned char)('a' + t->id);
		for (size_t b = THREADS; b < KPAGE; b += 61) {
			if (t->mode == 2 && b == KPAGE / 2)
				continue;
			if (q[b] != want) {
				if (!t->wrong)
					fprintf(stderr, "threads: %s: thread %d saw page %zu byte %zu 0x%02x, want 0x%02x\n",
						m->kind->name, t->id, pg, b, q[b], want);
				t->wrong++;
			}
		}
	}
	return NULL;
}

static unsigned char want_after(const struct mem *m, int mode, size_t pg, size_t b)
{
	if (mode == 1 && b < THREADS)
		return (unsigned char)('a' + b);
	if (mode == 2 && b == KPAGE / 2)
		return (unsigned char)('a' + pg % THREADS);
	return mem_expect(m, pg);
}

static void race(const struct kind *k, int mode, const char *what)
{
	struct toucher t[THREADS];
	int go = 0;
	pthread_t th[THREADS];
	struct mem m;
	size_t wrong = 0;
	int n = 0;

	if (setup(&m, k, KSIZE, what) < 0)
		return;
	for (int i = 0; i < THREADS; i++) {
		t[i] = (struct toucher){ &m, &go, i, mode, 0 };
		if (pthread_create(&th[i], NULL, touch, &t[i]) != 0)
			break;
		n++;
	}
	if (n != THREADS) {
		fprintf(stderr, "threads: pthread_create failed\n");
		wrong++;
	}
	__atomic_store_n(&go, 1, __ATOMIC_RELEASE);
	for (int i = 0; i < n; i++) {
		pthread_join(th[i], NULL);
		wrong += t[i].wrong;
	}
	/* Afterwards, every byte of every page. */
	for (size_t pg = 0; pg < PAGES; pg++) {
		for (size_t b = 0; b < KPAGE; b++) {
			unsigned char want = want_after(&m, mode, pg, b), got = m.p[pg * KPAGE + b];

			if (got == want)
				continue;
			if (!wrong)
				fprintf(stderr, "threads: %s: %s: page %zu byte %zu is 0x%02x, want 0x%02x\n",
					k->name, what, pg, b, got, want);
			wrong++;
		}
	}
	report(k->name, what, wrong);
	mem_unmap(&m);
}

static void run(const struct kind *k)
{
	race(k, 0, "racing reads");
	race(k, 1, "racing writes to the same pages");
	race(k, 2, "racing reads and writes of interleaved pages");
}

int main(int argc, char **argv)
{
	return kinds_main(argc, argv, "threads", run);
}

/* pattern.c: pattern pages (a short pattern repeated over a page) in ucow's own memory, and
 * the fault handler that fills missing pages from them, a window at a time. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/sysinfo.h>

#include "config.h"
#include "fill.h"
#include "guards.h"
#include "log.h"
#include "pagemap.h"
#include "pattern.h"
#include "sys.h"
#include "window.h"

/* What one UFFDIO_COPY takes at most: the pattern repeated over this many bytes. */
#define CHUNK (64 * 1024UL)
#define MAX_PATTERNS 1024

struct pattern {
	unsigned char *chunk;	/* CHUNK bytes of the pattern; never written for zero */
	bool zero;
};

static struct {
	pthread_mutex_t lock;		/* serialises creation; readers use count */
	struct pattern table[MAX_PATTERNS];	/* id N is table[N - 1] */
	atomic_int count;
	atomic_int byte_ids[256];	/* pattern_of_byte's cache, 0 = not made yet */
} patterns = {
	.lock = PTHREAD_MUTEX_INITIALIZER,
};

static const struct pattern *pattern_get(int id)
{
	if (id <= 0 || id > atomic_load_explicit(&patterns.count, memory_order_acquire))
		return NULL;
	return &patterns.table[id - 1];
}

static bool all_zero(const unsigned char *p, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (p[i])
			return false;
	return true;
}

/* Spreads @content over @dst by doubling, without calling memset (ucow may interpose it). */
static void repeat(unsigned char *dst, size_t total, const void *content, size_t size)
{
	memcpy(dst, content, size);
	for (size_t have = size; have < total; have *= 2)
		memcpy(dst + have, dst, have < total - have ? have : total - have);
}

static int find_locked(const void *content, size_t size, bool zero)
{
	int n = atomic_load_explicit(&patterns.count, memory_order_relaxed);

	for (int i = 0; i < n; i++) {
		const struct pattern *p = &patterns.table[i];

		if (zero ? p->zero : (!p->zero && memcmp(p->chunk, content, size) == 0 &&
				      memcmp(p->chunk + size, p->chunk, UCOW_PAGE_SIZE - size) == 0))
			return i + 1;
	}
	return 0;
}

int pattern_intern(const void *content, size_t size)
{
	bool zero;
	void *chunk;
	int id, n;

	if (size == 0 || size > UCOW_PAGE_SIZE || (size & (size - 1)))
		return -EINVAL;
	zero = all_zero(content, size);
	pthread_mutex_lock(&patterns.lock);
	id = find_locked(content, size, zero);
	if (id)
		goto out;
	n = atomic_load_explicit(&patterns.count, memory_order_relaxed);
	id = -ENOMEM;
	if (n == MAX_PATTERNS)
		goto out;
	chunk = sys_mmap(NULL, CHUNK, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (chunk == MAP_FAILED)
		goto out;
	/* The zero pattern is left untouched: reading it costs no memory. */
	if (!zero)
		repeat(chunk, CHUNK, content, size);
	sys_mprotect(chunk, CHUNK, PROT_READ);
	patterns.table[n] = (struct pattern){ .chunk = chunk, .zero = zero };
	atomic_store_explicit(&patterns.count, n + 1, memory_order_release);
	id = n + 1;
out:
	pthread_mutex_unlock(&patterns.lock);
	return id;
}

void pattern_fork_child(void)
{
	pthread_mutex_init(&patterns.lock, NULL);
}

int pattern_of_byte(unsigned char c)
{
	int id = atomic_load_explicit(&patterns.byte_ids[c], memory_order_acquire);

	if (id)
		return id;
	id = pattern_intern(&c, 1);
	if (id > 0)
		atomic_store_explicit(&patterns.byte_ids[c], id, memory_order_release);
	return id;
}

bool pattern_is_zero(int id)
{
	const struct pattern *p = pattern_get(id);

	return p && p->zero;
}

void pattern_write(int id, void *dst, size_t len)
{
	const struct pattern *p = pattern_get(id);

	if (!p)
		return;
	for (size_t done = 0; done < len; done += CHUNK)
		memcpy((char *)dst + done, p->chunk, len - done < CHUNK ? len - done : CHUNK);
}

static void count_pages(atomic_ulong *pages_filled, long bytes)
{
	if (pages_filled)
		ucow_count(pages_filled, (unsigned long)bytes / UCOW_PAGE_SIZE);
}

/*
 * The faulting page, and when faults come a fixed distance apart, the pages the stream will
 * touch next at that distance: one page each, no memory beyond what the stream is heading
 * for. The faulting page first, with its wake; the others have nobody waiting yet.
 */
static int pattern_fill_strided(const struct ucow_region *r, const struct ucow_fault *f,
				const struct pattern *p, atomic_ulong *pages_filled)
{
	long stride = UCOW_PAGE_SIZE;
	unsigned int count = window_strided(f->addr, r->start, r->end, ucow_cfg.fault_around,
					    &stride);
	bool zero = p->zero && !(f->flags & UCOW_FAULT_WRITE);
	long filled, total = 0;

	/* count >= 1: the faulting page is always answered. */
	for (unsigned int i = 0; i < count; i++) {
		uintptr_t at = f->addr + (uintptr_t)((long)i * stride);

		if (zero)
			filled = fill_zero(at, UCOW_PAGE_SIZE);
		else
			filled = i ? fill_copy_quiet(at, p->chunk, UCOW_PAGE_SIZE)
				   : fill_copy(at, p->chunk, UCOW_PAGE_SIZE);
		if (filled < 0) {
			if (i == 0)
				return (int)filled;
			break;
		}
		total += filled;
	}
	count_pages(pages_filled, total);
	return 0;
}

int pattern_fault(const struct ucow_region *r, const struct ucow_fault *f)
{
	atomic_ulong *pages_filled = r->policy->pages_filled;
	const struct pattern *p = pattern_get((int)r->data);
	struct window w;
	long filled;

	if (!p)
		return -EINVAL;
	w = window_next(f->addr, r->start, r->end,
			(f->flags & UCOW_FAULT_AGAIN) ? 0 : ucow_cfg.fault_around);
	if (w.end - w.start == UCOW_PAGE_SIZE && !(f->flags & UCOW_FAULT_AGAIN))
		return pattern_fill_strided(r, f, p, pages_filled);
	if (p->zero && !(f->flags & UCOW_FAULT_WRITE))
		filled = fill_zero(w.start, w.end - w.start);
	else
		filled = fill_repeat(w.start, w.end - w.start, p->chunk, CHUNK, true);
	if (filled < 0)
		return (int)filled;
	count_pages(pages_filled, filled);
	return 0;
}

#define MATERIALISE_PATIENCE_NS 1000000000ULL	/* 1 s of address-space changes */

/*
 * Through the userfaultfd, from a program thread: missing pages get the pattern, present
 * ones (EEXIST) are kept. EAGAIN means an event is on its way to the handler; it is read
 * and applied by the handler thread, so this thread only waits its turn.
 */
static int fill_run(const struct pattern *p, uintptr_t start, uintptr_t end)
{
	uint64_t deadline = sys_now_ns() + MATERIALISE_PATIENCE_NS;
	uintptr_t at = start;

	while (at < end) {
		size_t n = end - at < CHUNK ? end - at : CHUNK;
		long filled = p->zero ? fill_zero(at, n) : fill_copy(at, p->chunk, n);

		if (filled == -EAGAIN && sys_now_ns() < deadline) {
			sched_yield();
			continue;
		}
		if (filled < 0)
			return (int)filled;
		at += n;
	}
	return 0;
}

/*
 * Only the runs mincore says are not resident are filled (a page swapped out counts as not
 * resident, and gets EEXIST, never a copy): after a fork that filled them, the next one asks
 * one mincore per 2 MiB instead of one ioctl per page.
 */
static int materialise_registered(const struct pattern *p, uintptr_t start, uintptr_t end)
{
	unsigned char here[PM_BATCH];
	int ret = 0;

	for (uintptr_t addr = start; addr < end && ret == 0;) {
		size_t n = (end - addr) / UCOW_PAGE_SIZE;
		uintptr_t run = 0;

		if (n > PM_BATCH)
			n = PM_BATCH;
		if (mincore((void *)addr, n * UCOW_PAGE_SIZE, here) < 0)
			return fill_run(p, addr, end);
		for (size_t i = 0; i < n && ret == 0; i++, addr += UCOW_PAGE_SIZE) {
			if (!(here[i] & 1) && !run)
				run = addr;
			if ((here[i] & 1) && run) {
				ret = fill_run(p, run, addr);
				run = 0;
			}
		}
		if (run && ret == 0)
			ret = fill_run(p, run, addr);
	}
	return ret;
}

/* Writes the pattern over [s,e), whatever its protection (the caller is alone here), but
 * over its guard pages, which stay guards (a write there would be SIGSEGV in ucow). */
static int write_run(const struct ucow_region *r, uintptr_t s, uintptr_t e)
{
	bool writable = (r->prot & (PROT_READ | PROT_WRITE)) == (PROT_READ | PROT_WRITE);

	for (uintptr_t g; s < e; s = g + UCOW_PAGE_SIZE) {
		g = guards_first(s, e);
		if (g == s)
			continue;
		if (!writable && sys_mprotect((void *)s, g - s, PROT_READ | PROT_WRITE) < 0)
			return -errno;
		pattern_write((int)r->data, (void *)s, g - s);
		if (!writable && sys_mprotect((void *)s, g - s, r->prot) < 0)
			return -errno;
	}
	return 0;
}

/*
 * Whether each page of [addr, addr+n pages) holds something (present or swapped out): from
 * pagemap when this process may read it, else from mincore, which cannot tell a page
 * swapped out (and out of the swap cache) from one never touched.
 */
static int pages_here(int pm, uintptr_t addr, size_t n, unsigned char *here)
{
	uint64_t entries[PM_BATCH];

	if (pm >= 0) {
		ssize_t got = pagemap_read(pm, addr, entries, n);

		if (got != (ssize_t)n)
			return got < 0 ? (int)got : -EIO;
		for (size_t i = 0; i < n; i++)
			here[i] = !!(entries[i] & (PM_PRESENT | PM_SWAPPED));
		return 0;
	}
	if (mincore((void *)addr, n * UCOW_PAGE_SIZE, here) < 0)
		return -errno;
	for (size_t i = 0; i < n; i++)
		here[i] &= 1;
	return 0;
}

/* No userfaultfd covers @r any more: its missing pages read zero until written here. */
static int materialise_unregistered(const struct ucow_region *r)
{
	unsigned char here[PM_BATCH];
	int pm = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
	struct sysinfo si;
	int ret = 0;

	if (pm < 0 && sysinfo(&si) == 0 && si.totalswap > si.freeswap)
		ucow_warn("fork", "cannot read /proc/self/pagemap (%s) with swap in use: pages of "
			  "%#lx-%#lx swapped out may be taken for untouched ones", strerror(errno),
			  (unsigned long)r->start, (unsigned long)r->end);

	for (uintptr_t addr = r->start; addr < r->end && ret == 0;) {
		size_t n = (r->end - addr) / UCOW_PAGE_SIZE;
		uintptr_t run = 0;

		if (n > PM_BATCH)
			n = PM_BATCH;
		ret = pages_here(pm, addr, n, here);
		for (size_t i = 0; i < n && ret == 0; i++, addr += UCOW_PAGE_SIZE) {
			if (!here[i] && !run)
				run = addr;
			if (here[i] && run) {
				ret = write_run(r, run, addr);
				run = 0;
			}
		}
		if (run && ret == 0)
			ret = write_run(r, run, addr);
	}
	if (pm >= 0)
		close(pm);
	return ret;
}

int pattern_materialise(const struct ucow_region *r, bool registered)
{
	const struct pattern *p = pattern_get((int)r->data);

	if (!p)
		return -EINVAL;
	if (!registered)
		return materialise_unregistered(r);
	return materialise_registered(p, r->start, r->end);
}

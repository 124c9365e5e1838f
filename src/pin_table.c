/* pin_table.c: the pin table — a reserved array of pinned ranges under a sequence lock:
 * add, forget, the lock-free overlap hint, the summary. */
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/mman.h>

#include "log.h"
#include "pin.h"
#include "pin_counters.h"
#include "pin_table.h"
#include "sys.h"

#define PINS_MAX 65536			/* the table's reserved size: it never moves */

/*
 * Writers hold @lock with every signal blocked (the seccomp trap's handler writes too) and
 * bump @seq around each change; pin_overlaps() reads without the lock, retrying while @seq
 * moves. The array is reserved once and never moves, so a reader never follows a stale
 * pointer.
 */
static struct {
	pthread_mutex_t lock;
	atomic_uint seq;
	struct pin *entries;
	atomic_size_t n;
	atomic_uintptr_t lo, hi;	/* bounds of every entry: the hint's first check */
} pinned = { .lock = PTHREAD_MUTEX_INITIALIZER };

void pin_table_lock(sigset_t *old)
{
	sigset_t all;

	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, old);
	pthread_mutex_lock(&pinned.lock);
}

void pin_table_unlock(const sigset_t *old)
{
	pthread_mutex_unlock(&pinned.lock);
	pthread_sigmask(SIG_SETMASK, old, NULL);
}

static bool reserved(void)
{
	void *p;

	if (pinned.entries)
		return true;
	p = sys_mmap(NULL, UCOW_PAGE_UP(PINS_MAX * sizeof(struct pin)), PROT_READ | PROT_WRITE,
		     MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (p == MAP_FAILED)
		return false;
	pinned.entries = p;
	return true;
}

void pin_table_write_begin(void)
{
	atomic_fetch_add_explicit(&pinned.seq, 1, memory_order_acq_rel);
}

/* Ends a change: the bounds the lock-free hint checks first, then an even sequence. */
void pin_table_write_end(void)
{
	size_t n = atomic_load_explicit(&pinned.n, memory_order_relaxed);
	uintptr_t lo = UINTPTR_MAX, hi = 0;

	for (size_t i = 0; i < n; i++) {
		if (pinned.entries[i].start < lo)
			lo = pinned.entries[i].start;
		if (pinned.entries[i].end > hi)
			hi = pinned.entries[i].end;
	}
	atomic_store_explicit(&pinned.lo, n ? lo : 0, memory_order_relaxed);
	atomic_store_explicit(&pinned.hi, n ? hi : 0, memory_order_relaxed);
	atomic_fetch_add_explicit(&pinned.seq, 1, memory_order_release);
}

bool pin_table_empty(void)
{
	return atomic_load_explicit(&pinned.n, memory_order_acquire) == 0;
}

size_t pin_table_size(void)
{
	return atomic_load_explicit(&pinned.n, memory_order_relaxed);
}

struct pin *pin_table_entry(size_t i)
{
	return &pinned.entries[i];
}

bool pin_table_add(const struct pin *p)
{
	size_t n = atomic_load_explicit(&pinned.n, memory_order_relaxed);

	if (!reserved() || n == PINS_MAX)
		return false;
	pinned.entries[n] = *p;
	atomic_store_explicit(&pinned.n, n + 1, memory_order_release);
	pin_count(PIN_LEARNT, 1);
	return true;
}

void pin_table_del(size_t i)
{
	size_t n = atomic_load_explicit(&pinned.n, memory_order_relaxed);

	pinned.entries[i] = pinned.entries[n - 1];
	atomic_store_explicit(&pinned.n, n - 1, memory_order_release);
	pin_count(PIN_FORGOTTEN, 1);
}

bool pin_overlaps(uintptr_t start, uintptr_t end)
{
	if (atomic_load_explicit(&pinned.n, memory_order_acquire) == 0)
		return false;
	if (start >= atomic_load_explicit(&pinned.hi, memory_order_relaxed) ||
	    end <= atomic_load_explicit(&pinned.lo, memory_order_relaxed))
		return false;
	for (int tries = 0; tries < 100; tries++) {
		unsigned int seq = atomic_load_explicit(&pinned.seq, memory_order_acquire);
		size_t n = atomic_load_explicit(&pinned.n, memory_order_acquire);
		bool hit = false;

		if (seq & 1)
			continue;
		for (size_t i = 0; i < n && !hit; i++) {
			uintptr_t s = __atomic_load_n(&pinned.entries[i].start, __ATOMIC_RELAXED);
			uintptr_t e = __atomic_load_n(&pinned.entries[i].end, __ATOMIC_RELAXED);

			hit = s < end && e > start;
		}
		atomic_thread_fence(memory_order_acquire);
		if (atomic_load_explicit(&pinned.seq, memory_order_relaxed) == seq)
			return hit;
	}
	return true;	/* a writer kept the table busy: "may intersect" is the safe answer */
}

void pin_table_forget_slots(int ring, unsigned int first, unsigned int nr)
{
	for (size_t i = 0; i < atomic_load_explicit(&pinned.n, memory_order_relaxed);) {
		const struct pin *p = &pinned.entries[i];
		bool match = p->ring == ring && p->source != PIN_API &&
			     (nr ? p->slot - first < nr : !(p->slot & PIN_SLOT_PBUF));

		if (match)
			pin_table_del(i);
		else
			i++;
	}
}

void pin_table_forget_ring(int ring)
{
	for (size_t i = 0; i < atomic_load_explicit(&pinned.n, memory_order_relaxed);) {
		if (pinned.entries[i].ring == ring && pinned.entries[i].source != PIN_API)
			pin_table_del(i);
		else
			i++;
	}
}

void pin_table_learn_slot(int ring, unsigned int slot, uintptr_t base, size_t len,
			  enum pin_source src, bool fresh)
{
	struct pin p = {
		.start = UCOW_PAGE_DOWN(base),
		.end = UCOW_PAGE_UP(base + len),
		.ring = ring,
		.slot = slot,
		.source = (unsigned char)src,
		.how = PIN_HOW_RING,
	};

	if (!fresh)
		pin_table_forget_slots(ring, slot, 1);
	if (base && len && !pin_table_add(&p))
		ucow_warn("pin", "the pin table is full (%d ranges): %#lx-%#lx is not known",
			  PINS_MAX, (unsigned long)p.start, (unsigned long)p.end);
}

void pin_summarise(struct pin_summary *s)
{
	size_t n = atomic_load_explicit(&pinned.n, memory_order_acquire);

	memset(s, 0, sizeof(*s));
	for (size_t i = 0; i < n; i++) {
		struct pin p = pinned.entries[i];

		s->known++;
		s->bytes += p.end - p.start;
		if (p.source < PIN__SOURCES)
			s->by_source[p.source]++;
	}
}

void pin_table_fork_child(void)
{
	pthread_mutex_init(&pinned.lock, NULL);
	/* A writer of another thread may have been between write_begin and write_end: an odd
	 * sequence left here would make every later lock-free look give up. */
	atomic_store_explicit(&pinned.seq, 0, memory_order_relaxed);
}

void pin_table_clear(void)
{
	pin_table_write_begin();
	atomic_store_explicit(&pinned.n, 0, memory_order_release);
	pin_table_write_end();
}

/* pin_table.h: the pin table — every range ucow knows to be pinned, in one array that any
 * thread reads without a lock (a sequence count) and writers change under a lock. */
#ifndef UCOW_PIN_TABLE_H
#define UCOW_PIN_TABLE_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Where ucow learnt of a pin. */
enum pin_source {
	PIN_LIBURING,	/* an interposed liburing register function */
	PIN_RAW,	/* a raw io_uring_register system call, seen by the seccomp trap */
	PIN_API,	/* ucow_pin() */
	PIN__SOURCES,
};

/* How a ucow_pin range stays with the parent at fork. */
enum pin_how {
	PIN_HOW_RING = 0,	/* an io_uring pin: the kernel copies the pages for the child */
	PIN_HOW_KERNEL,		/* ucow_pin made a kernel pin (ucow's own ring): the same */
	PIN_HOW_COPY,		/* ucow copies the range for the child itself (pin_fork.c) */
	PIN_HOW_SHARED,		/* shared memory: there is no copy-on-write to protect it from */
};

#define PIN_NO_RING (-1)		/* the ring of a ucow_pin range */
#define PIN_RING_REGISTERED 0x40000000	/* ring: PIN_RING_REGISTERED | a registered ring index */
#define PIN_SLOT_PBUF 0x80000000u	/* slot of a provided-buffer ring: PIN_SLOT_PBUF | bgid */

struct pin {
	uintptr_t start, end;		/* page aligned */
	int ring;			/* io_uring pins: the ring (an fd); ucow_pin: PIN_NO_RING */
	unsigned int slot;		/* the buffer slot (ucow_pin: the first of ucow's ring) */
	unsigned short nslots;		/* ucow_pin with PIN_HOW_KERNEL: slots used */
	unsigned char source;		/* enum pin_source */
	unsigned char how;		/* enum pin_how */
	bool seen;			/* pin_fdinfo_check's mark */
};

/*
 * Writers hold the lock with every signal blocked (the seccomp trap's handler writes too),
 * and make each change between pin_table_write_begin and pin_table_write_end.
 */
void pin_table_lock(sigset_t *old);
void pin_table_unlock(const sigset_t *old);
void pin_table_write_begin(void);
void pin_table_write_end(void);

/* Whether the table is empty; lock-free (a hint: it may change at once). */
bool pin_table_empty(void);

/* Under the lock: the number of entries, and entry @i (< that number). */
size_t pin_table_size(void);
struct pin *pin_table_entry(size_t i);

/* Under the lock, between write_begin and write_end. add: false when the table is full (or
 * cannot be reserved); del: the last entry takes index @i. */
bool pin_table_add(const struct pin *p);
void pin_table_del(size_t i);

/*
 * io_uring buffers, under the lock between write_begin and write_end. learn_slot: @slot of
 * @ring now holds [base, base+len) (a NULL base or zero length: nothing; @fresh: the ring had
 * nothing there, so nothing to forget: a whole new table is learnt in linear time).
 * forget_slots: drops the pins of @ring in slots [first, first+nr) (nr 0: every buffer slot,
 * provided rings not included). forget_ring: every pin of @ring, provided rings too.
 */
void pin_table_learn_slot(int ring, unsigned int slot, uintptr_t base, size_t len,
			  enum pin_source src, bool fresh);
void pin_table_forget_slots(int ring, unsigned int first, unsigned int nr);
void pin_table_forget_ring(int ring);

struct pin_summary {
	unsigned long known;			/* ranges now */
	unsigned long bytes;			/* their total length (overlaps counted twice) */
	unsigned long by_source[PIN__SOURCES];	/* ranges now, per source */
};

/* What the table holds now (for the stats); lock-free, may mix two moments. */
void pin_summarise(struct pin_summary *s);

/*
 * In a fork child, before anything else of the pins: the lock is made usable again and the
 * sequence count even (a writer of another thread may have been between write_begin and
 * write_end: an odd count left here would make every later lock-free look give up).
 */
void pin_table_fork_child(void);
/* In a fork child: pins are not inherited, like mlock; the table is emptied (not counted as
 * forgotten). */
void pin_table_clear(void);

#endif

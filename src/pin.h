/* pin.h: the pin table — ranges a device may read and write behind the page table (io_uring
 * fixed buffers, ucow_pin), which ucow never defers, discards, re-maps or write-protects. */
#ifndef UCOW_PIN_H
#define UCOW_PIN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

/* Lock-free hint for the hot paths: true when some pinned range may intersect [start,end). */
bool pin_overlaps(uintptr_t start, uintptr_t end);

/* Where ucow learnt of a pin. */
enum pin_source {
	PIN_LIBURING,	/* an interposed liburing register function */
	PIN_RAW,	/* a raw io_uring_register system call, seen by the seccomp trap */
	PIN_API,	/* ucow_pin() */
	PIN__SOURCES,
};

/* Whether pins are learnt at all (ucow enabled and UCOW_PINS=on). */
bool pins_active(void);

/*
 * Rule 2, unshare before pin: makes every page of [addr, addr+len) present, private and
 * writable (missing pages of managed regions reach the handler as write faults; shared
 * copy-on-write pages are broken). 0 or -errno; never called on the handler thread.
 */
int pin_unshare(uintptr_t addr, size_t len);
/* The same for each buffer of an iovec array about to be registered (errors ignored: the
 * kernel's own pin then reports them). */
void pin_unshare_iov(const struct iovec *iov, unsigned int nr);

/*
 * io_uring buffers as the kernel holds them: ring @ring (an fd, or a registered ring index
 * with PIN_RING_REGISTERED set), slots [first, first+nr) now hold @iov, the program's array
 * (a NULL base clears a slot; @fresh: those slots were empty); pin_ring_forget drops slots
 * [first, first+nr) (nr 0: every buffer slot).
 */
#define PIN_RING_REGISTERED 0x40000000
#define PIN_SLOT_PBUF 0x80000000u	/* slot of a provided-buffer ring: PIN_SLOT_PBUF | bgid */
#define PIN_REGISTER_CLONE_BUFFERS 30	/* IORING_REGISTER_CLONE_BUFFERS (6.12) */
void pin_ring_learn(int ring, unsigned int first, const struct iovec *iov, unsigned int nr,
		    enum pin_source src, bool fresh);
void pin_ring_forget(int ring, unsigned int first, unsigned int nr);
/* A whole ring is gone (closed, or its buffers unregistered): every slot, provided rings too. */
void pin_ring_close(int ring);
/*
 * Brings the buffers known for @ring in line with /proc/self/fdinfo/<ring> (UserBufs:), the
 * kernel's own list; slots the kernel lists that ucow did not know are labelled @src.
 */
void pin_ring_check(int ring, enum pin_source src);

/*
 * Everything a raw io_uring_register(@fd, @opcode, @arg, @nr) implies, around @call, which
 * makes the real call and returns its result (>= 0 or -errno): unshares buffers before,
 * learns or forgets after, checks fdinfo. The seccomp trap's SIGSYS handler calls it: the
 * signal only ever comes at a system call the program makes, never inside ucow's own code.
 */
typedef long (*pin_register_fn)(void *ctx, int fd, unsigned int opcode, void *arg,
				unsigned int nr);
long pin_io_uring_register(int fd, unsigned int opcode, void *arg, unsigned int nr,
			   pin_register_fn call, void *ctx, enum pin_source src);

/* After mprotect gave write access to [start,end): pinned pages are made exclusive again. */
void pin_reassert(uintptr_t start, uintptr_t end);

/*
 * fork: ucow_pin ranges that are not kernel pins are copied for the child here (the kernel
 * copies its own pinned pages). prepare before the fork, parent after it; in the child,
 * child_map before the engine registers ranges again and child_fill after.
 */
void pin_fork_prepare(void);
void pin_fork_parent(void);
void pin_fork_child_map(void);
void pin_fork_child_fill(void);

struct pin_summary {
	unsigned long known;			/* ranges now */
	unsigned long bytes;			/* their total length (overlaps counted twice) */
	unsigned long by_source[PIN__SOURCES];	/* ranges now, per source */
};

/* What the table holds now (for the stats); lock-free, may mix two moments. */
void pin_summarise(struct pin_summary *s);
/* The stats group, snprintf-like: ',"pins":{...}' (the leading comma included). */
int pin_stats_json(char *buf, size_t size);

#endif

/* pin.c: the pin table and ucow_pin(): what ucow knows to be pinned, made exclusive before the
 * pin (rule 2), left alone afterwards (rule 3), and copied for fork children when only ucow
 * knows of the pin. */
#include <errno.h>
#include <fcntl.h>
#include <linux/io_uring.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

#include "config.h"
#include "engine.h"
#include "filter_probe.h"
#include "log.h"
#include "pin.h"
#include "region.h"
#include "source.h"
#include "stats.h"
#include "sys.h"
#include "trap.h"
#include "ucow.h"

#define EXPORT __attribute__((visibility("default")))

#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23
#endif
#ifndef IORING_REGISTER_USE_REGISTERED_RING
#define IORING_REGISTER_USE_REGISTERED_RING (1U << 31)
#endif
#ifndef IOU_PBUF_RING_MMAP
#define IOU_PBUF_RING_MMAP 1
#endif

#define PINS_MAX 65536			/* the table's reserved size: it never moves */
#define NO_RING (-1)
#define KRING_SLOTS 4096		/* slots of ucow's own ring (a ucow_pin takes one per GiB) */
#define KRING_CHUNK (1UL << 30)		/* io_uring's largest buffer */
#define KRING_MAX_CHUNKS 64

/* How a ucow_pin range stays with the parent at fork. */
enum pin_how {
	HOW_RING = 0,	/* an io_uring pin: the kernel copies the pages for the child */
	HOW_KERNEL,	/* ucow_pin made a kernel pin (ucow's own ring): the same */
	HOW_COPY,	/* ucow copies the range for the child itself (pin_fork_*) */
	HOW_SHARED,	/* shared memory: there is no copy-on-write to protect it from */
};

struct pin {
	uintptr_t start, end;		/* page aligned */
	int ring;			/* io_uring pins: the ring; ucow_pin: NO_RING */
	unsigned int slot;		/* the buffer slot (ucow_pin: the first of ucow's ring) */
	unsigned short nslots;		/* ucow_pin with HOW_KERNEL: slots used */
	unsigned char source;		/* enum pin_source */
	unsigned char how;		/* enum pin_how */
	bool seen;			/* pin_ring_check's mark */
};

/*
 * Writers hold @lock with every signal blocked (the seccomp trap's handler writes too) and
 * bump @seq around each change; pin_overlaps() reads without the lock, retrying while @seq
 * moves. The array is reserved once and never moves, so a reader never follows a stale
 * pointer.
 */
static struct {
	pthread_mutex_t lock;
	atomic_uint seq;
	struct pin *v;
	atomic_size_t n;
	atomic_uintptr_t lo, hi;
} table = { .lock = PTHREAD_MUTEX_INITIALIZER };

/* ucow's own io_uring ring: ucow_pin ranges registered as its fixed buffers become pins the
 * kernel knows, whose pages it copies for fork children itself. */
static struct {
	int fd;				/* -1: not opened yet */
	bool failed;			/* cannot be used in this process */
	uint64_t used[KRING_SLOTS / 64];
} kring = { .fd = -1 };

bool pins_active(void)
{
	return ucow_enabled && ucow_cfg.pins;
}

/* ---- the table ---------------------------------------------------------------------- */

static void table_lock(sigset_t *old)
{
	sigset_t all;

	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, old);
	pthread_mutex_lock(&table.lock);
}

static void table_unlock(const sigset_t *old)
{
	pthread_mutex_unlock(&table.lock);
	pthread_sigmask(SIG_SETMASK, old, NULL);
}

static bool table_ready(void)
{
	void *p;

	if (table.v)
		return true;
	p = sys_mmap(NULL, UCOW_PAGE_UP(PINS_MAX * sizeof(struct pin)), PROT_READ | PROT_WRITE,
		     MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (p == MAP_FAILED)
		return false;
	table.v = p;
	return true;
}

static void write_begin(void)
{
	atomic_fetch_add_explicit(&table.seq, 1, memory_order_acq_rel);
}

/* Ends a change: the bounds the lock-free hint checks first, then an even sequence. */
static void write_end(void)
{
	size_t n = atomic_load_explicit(&table.n, memory_order_relaxed);
	uintptr_t lo = UINTPTR_MAX, hi = 0;

	for (size_t i = 0; i < n; i++) {
		if (table.v[i].start < lo)
			lo = table.v[i].start;
		if (table.v[i].end > hi)
			hi = table.v[i].end;
	}
	atomic_store_explicit(&table.lo, n ? lo : 0, memory_order_relaxed);
	atomic_store_explicit(&table.hi, n ? hi : 0, memory_order_relaxed);
	atomic_fetch_add_explicit(&table.seq, 1, memory_order_release);
}

/* Under the lock, between write_begin and write_end. */
static bool table_add(const struct pin *p)
{
	size_t n = atomic_load_explicit(&table.n, memory_order_relaxed);

	if (!table_ready() || n == PINS_MAX)
		return false;
	table.v[n] = *p;
	atomic_store_explicit(&table.n, n + 1, memory_order_release);
	ucow_stat_add(UCOW_ST_PIN_LEARNT, 1);
	return true;
}

/* Under the lock, between write_begin and write_end; the last entry takes index @i. */
static void table_del(size_t i)
{
	size_t n = atomic_load_explicit(&table.n, memory_order_relaxed);

	table.v[i] = table.v[n - 1];
	atomic_store_explicit(&table.n, n - 1, memory_order_release);
	ucow_stat_add(UCOW_ST_PIN_FORGOTTEN, 1);
}

bool pin_overlaps(uintptr_t start, uintptr_t end)
{
	if (atomic_load_explicit(&table.n, memory_order_acquire) == 0)
		return false;
	if (start >= atomic_load_explicit(&table.hi, memory_order_relaxed) ||
	    end <= atomic_load_explicit(&table.lo, memory_order_relaxed))
		return false;
	for (int tries = 0; tries < 100; tries++) {
		unsigned int seq = atomic_load_explicit(&table.seq, memory_order_acquire);
		size_t n = atomic_load_explicit(&table.n, memory_order_acquire);
		bool hit = false;

		if (seq & 1)
			continue;
		for (size_t i = 0; i < n && !hit; i++) {
			uintptr_t s = __atomic_load_n(&table.v[i].start, __ATOMIC_RELAXED);
			uintptr_t e = __atomic_load_n(&table.v[i].end, __ATOMIC_RELAXED);

			hit = s < end && e > start;
		}
		atomic_thread_fence(memory_order_acquire);
		if (atomic_load_explicit(&table.seq, memory_order_relaxed) == seq)
			return hit;
	}
	return true;	/* a writer kept the table busy: "may intersect" is the safe answer */
}

void pin_summarise(struct pin_summary *s)
{
	size_t n = atomic_load_explicit(&table.n, memory_order_acquire);

	memset(s, 0, sizeof(*s));
	for (size_t i = 0; i < n; i++) {
		struct pin p = table.v[i];

		s->known++;
		s->bytes += p.end - p.start;
		if (p.source < PIN__SOURCES)
			s->by_source[p.source]++;
	}
}

int pin_stats_json(char *buf, size_t size)
{
	struct pin_summary ps;

	pin_summarise(&ps);
	return snprintf(buf, size,
		",\"pins\":{\"enabled\":%s,\"known\":%lu,\"bytes\":%lu,\"liburing\":%lu,"
		"\"raw\":%lu,\"api\":%lu,\"learnt\":%lu,\"forgotten\":%lu,\"kernel_pins\":%lu,"
		"\"fork_copied_pages\":%lu,\"fdinfo_checks\":%lu,\"fdinfo_mismatches\":%lu,"
		"\"trap\":\"%s\",\"trapped\":%lu}",
		pins_active() ? "true" : "false", ps.known, ps.bytes, ps.by_source[PIN_LIBURING],
		ps.by_source[PIN_RAW], ps.by_source[PIN_API],
		(unsigned long)ucow_stats[UCOW_ST_PIN_LEARNT],
		(unsigned long)ucow_stats[UCOW_ST_PIN_FORGOTTEN],
		(unsigned long)ucow_stats[UCOW_ST_PIN_KERNEL],
		(unsigned long)ucow_stats[UCOW_ST_PIN_FORK_COPIED],
		(unsigned long)ucow_stats[UCOW_ST_PIN_FDINFO_CHECKS],
		(unsigned long)ucow_stats[UCOW_ST_PIN_FDINFO_MISMATCHES], trap_state(),
		(unsigned long)ucow_stats[UCOW_ST_PIN_TRAPPED]);
}

/* ---- reading the program's memory and the kernel's lists ------------------------------- */

/*
 * Copies @len bytes the program handed to a system call: an address the kernel would have
 * refused (EFAULT) must not crash ucow instead. process_vm_readv on ourselves checks it.
 */
static bool copy_in(void *dst, const void *src, size_t len)
{
	struct iovec local = { dst, len }, remote = { (void *)src, len };
	ssize_t n;

	if (!filter_allows(UCOW_SYS_PROCESS_VM_READV)) {
		memcpy(dst, src, len);	/* the seccomp filter kills on the check: trusted */
		return true;
	}
	n = process_vm_readv(getpid(), &local, 1, &remote, 1, 0);
	if (n == (ssize_t)len)
		return true;
	if (n < 0 && (errno == ENOSYS || errno == EPERM)) {
		memcpy(dst, src, len);	/* cannot check here: the caller's pointer is trusted */
		return true;
	}
	return false;
}

/* Whether this kernel knows MADV_POPULATE_WRITE (5.14): an empty range answers 0 if so. */
static bool populate_write_known(void)
{
	static int known = -1;

	if (known < 0)
		known = sys_madvise((void *)UCOW_PAGE_SIZE, 0, MADV_POPULATE_WRITE) == 0;
	return known;
}

int pin_unshare(uintptr_t addr, size_t len)
{
	uintptr_t start = UCOW_PAGE_DOWN(addr), end = UCOW_PAGE_UP(addr + len);

	if (end <= start)
		return 0;
	if (sys_madvise((void *)start, end - start, MADV_POPULATE_WRITE) == 0)
		return 0;
	if (errno != EINVAL || populate_write_known())
		return -errno;
	/* A kernel before 5.14: a write that changes nothing faults every page in, private. */
	for (uintptr_t p = start; p < end; p += UCOW_PAGE_SIZE)
		__atomic_fetch_or((volatile unsigned char *)p, 0, __ATOMIC_RELAXED);
	return 0;
}

void pin_unshare_iov(const struct iovec *uiov, unsigned int nr)
{
	struct iovec iov[32];

	for (unsigned int done = 0; done < nr;) {
		unsigned int k = nr - done < 32 ? nr - done : 32;

		if (!copy_in(iov, uiov + done, k * sizeof(iov[0])))
			return;
		for (unsigned int i = 0; i < k; i++)
			if (iov[i].iov_base && iov[i].iov_len)
				pin_unshare((uintptr_t)iov[i].iov_base, iov[i].iov_len);
		done += k;
	}
}

/* ---- io_uring buffers ---------------------------------------------------------------- */

/* Under the lock: drops the pins of @ring in slots [first, first+nr) (nr 0: all buffers). */
static void forget_locked(int ring, unsigned int first, unsigned int nr)
{
	for (size_t i = 0; i < atomic_load_explicit(&table.n, memory_order_relaxed);) {
		const struct pin *p = &table.v[i];
		bool match = p->ring == ring && p->source != PIN_API &&
			     (nr ? p->slot - first < nr : !(p->slot & PIN_SLOT_PBUF));

		if (match)
			table_del(i);
		else
			i++;
	}
}

/* Under the lock: @slot of @ring now holds [base, base+len) (@fresh: the ring had nothing
 * there, so nothing to forget: a whole new table is learnt in linear time). */
static void learn_locked(int ring, unsigned int slot, uintptr_t base, size_t len,
			 enum pin_source src, bool fresh)
{
	struct pin p = {
		.start = UCOW_PAGE_DOWN(base),
		.end = UCOW_PAGE_UP(base + len),
		.ring = ring,
		.slot = slot,
		.source = (unsigned char)src,
		.how = HOW_RING,
	};

	if (!fresh)
		forget_locked(ring, slot, 1);
	if (base && len && !table_add(&p))
		ucow_warn("pin", "the pin table is full (%d ranges): %#lx-%#lx is not known",
			  PINS_MAX, (unsigned long)p.start, (unsigned long)p.end);
}

void pin_ring_learn(int ring, unsigned int first, const struct iovec *uiov, unsigned int nr,
		    enum pin_source src, bool fresh)
{
	struct iovec iov[32];
	sigset_t old;

	for (unsigned int done = 0; done < nr;) {
		unsigned int k = nr - done < 32 ? nr - done : 32;

		if (!copy_in(iov, uiov + done, k * sizeof(iov[0])))
			return;
		table_lock(&old);
		write_begin();
		for (unsigned int i = 0; i < k; i++)
			learn_locked(ring, first + done + i, (uintptr_t)iov[i].iov_base,
				     iov[i].iov_len, src, fresh);
		write_end();
		table_unlock(&old);
		done += k;
	}
}

void pin_ring_forget(int ring, unsigned int first, unsigned int nr)
{
	sigset_t old;

	if (atomic_load_explicit(&table.n, memory_order_acquire) == 0)
		return;
	table_lock(&old);
	write_begin();
	forget_locked(ring, first, nr);
	write_end();
	table_unlock(&old);
}

void pin_ring_close(int ring)
{
	sigset_t old;

	if (atomic_load_explicit(&table.n, memory_order_acquire) == 0)
		return;
	table_lock(&old);
	write_begin();
	for (size_t i = 0; i < atomic_load_explicit(&table.n, memory_order_relaxed);) {
		if (table.v[i].ring == ring && table.v[i].source != PIN_API)
			table_del(i);
		else
			i++;
	}
	write_end();
	table_unlock(&old);
}

/* One line of fdinfo's buffer list: "%5u: 0x%llx/%u" (or "<none>" for an empty slot). */
static bool parse_buf_line(const char *line, unsigned int *slot, uintptr_t *base, size_t *len)
{
	unsigned long long b;
	unsigned int s, l;

	while (*line == ' ' || *line == '\t')
		line++;
	if (sscanf(line, "%u: 0x%llx/%u", &s, &b, &l) == 3) {
		*slot = s;
		*base = (uintptr_t)b;
		*len = l;
		return true;
	}
	if (sscanf(line, "%u:", &s) == 1) {
		*slot = s;
		*base = 0;
		*len = 0;
		return true;
	}
	return false;
}

/* Under the lock: one slot the kernel lists; true when the table already had it right. */
static bool check_slot_locked(int ring, unsigned int slot, uintptr_t base, size_t len,
			      enum pin_source src)
{
	size_t n = atomic_load_explicit(&table.n, memory_order_relaxed), i;

	for (i = 0; i < n; i++)
		if (table.v[i].ring == ring && table.v[i].source != PIN_API &&
		    table.v[i].slot == slot)
			break;
	if (!base || !len) {
		if (i == n)
			return true;
		table_del(i);
		return false;
	}
	if (i < n && table.v[i].start == UCOW_PAGE_DOWN(base) &&
	    table.v[i].end == UCOW_PAGE_UP(base + len)) {
		table.v[i].seen = true;
		return true;
	}
	learn_locked(ring, slot, base, len, src, false);
	n = atomic_load_explicit(&table.n, memory_order_relaxed);
	if (n && table.v[n - 1].ring == ring && table.v[n - 1].slot == slot)
		table.v[n - 1].seen = true;
	return false;
}

void pin_ring_check(int ring, enum pin_source src)
{
	char path[64], buf[4096];
	unsigned long listed = 0, mismatches = 0;
	long expected = -1;
	size_t have = 0;
	bool in_list = false;
	sigset_t old;
	int fd;

	if (ring < 0 || (ring & PIN_RING_REGISTERED))
		return;
	snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", ring);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return;
	table_lock(&old);
	write_begin();
	for (size_t i = 0; i < atomic_load_explicit(&table.n, memory_order_relaxed); i++)
		table.v[i].seen = false;
	for (;;) {
		ssize_t got = read(fd, buf + have, sizeof(buf) - 1 - have);
		char *line = buf, *nl;

		if (got <= 0)
			break;
		have += (size_t)got;
		buf[have] = '\0';
		while ((nl = strchr(line, '\n'))) {
			unsigned int slot;
			uintptr_t base;
			size_t len;

			*nl = '\0';
			if (strncmp(line, "UserBufs:", 9) == 0) {
				expected = strtol(line + 9, NULL, 10);
				in_list = true;
			} else if (in_list && parse_buf_line(line, &slot, &base, &len)) {
				listed++;
				mismatches += !check_slot_locked(ring, slot, base, len, src);
			} else {
				in_list = false;
			}
			line = nl + 1;
		}
		have -= (size_t)(line - buf);
		memmove(buf, line, have);
	}
	close(fd);
	/* The kernel lists the buffers only when it gets the ring's lock at once: a short
	 * list proves nothing about the slots it left out. */
	if (expected >= 0 && (unsigned long)expected == listed) {
		for (size_t i = 0; i < atomic_load_explicit(&table.n, memory_order_relaxed);) {
			const struct pin *p = &table.v[i];

			if (p->ring == ring && p->source != PIN_API && !(p->slot & PIN_SLOT_PBUF) &&
			    !p->seen) {
				table_del(i);
				mismatches++;
			} else {
				i++;
			}
		}
	}
	write_end();
	table_unlock(&old);
	if (expected >= 0)
		ucow_stat_add(UCOW_ST_PIN_FDINFO_CHECKS, 1);
	if (mismatches) {
		ucow_stat_add(UCOW_ST_PIN_FDINFO_MISMATCHES, mismatches);
		ucow_debug("pin", "ring %d: %lu buffer slot(s) corrected from fdinfo", ring,
			   mismatches);
	}
}

/* The buffer-array argument of one register call, copied out of the program's memory. */
static bool buffers_of(unsigned int op, void *arg, unsigned int nr, const struct iovec **iov,
		       unsigned int *count, unsigned int *first)
{
	struct io_uring_rsrc_register rr;
	struct io_uring_rsrc_update2 up;

	*first = 0;
	switch (op) {
	case IORING_REGISTER_BUFFERS:
		*iov = arg;
		*count = nr;
		return true;
	case IORING_REGISTER_BUFFERS2:
		if (nr != sizeof(rr) || !copy_in(&rr, arg, sizeof(rr)))
			return false;
		*iov = (rr.flags & IORING_RSRC_REGISTER_SPARSE) ? NULL :
		       (const struct iovec *)(uintptr_t)rr.data;
		*count = *iov ? rr.nr : 0;
		return true;
	case IORING_REGISTER_BUFFERS_UPDATE:
		if (nr != sizeof(up) || !copy_in(&up, arg, sizeof(up)))
			return false;
		*iov = (const struct iovec *)(uintptr_t)up.data;
		*count = up.nr;
		*first = up.offset;
		return true;
	default:
		return false;
	}
}

long pin_io_uring_register(int fd, unsigned int opcode, void *arg, unsigned int nr,
			   pin_register_fn call, void *ctx, enum pin_source src)
{
	unsigned int op = opcode & ~IORING_REGISTER_USE_REGISTERED_RING;
	int ring = (opcode & IORING_REGISTER_USE_REGISTERED_RING) ? (PIN_RING_REGISTERED | fd) : fd;
	const struct iovec *iov = NULL;
	unsigned int count = 0, first = 0;
	struct io_uring_buf_reg reg;
	bool have_reg = false;
	long ret;

	if (!pins_active())
		return call(ctx, fd, opcode, arg, nr);
	switch (op) {
	case IORING_REGISTER_BUFFERS:
	case IORING_REGISTER_BUFFERS2:
	case IORING_REGISTER_BUFFERS_UPDATE:
		if (buffers_of(op, arg, nr, &iov, &count, &first) && iov)
			pin_unshare_iov(iov, count);
		ret = call(ctx, fd, opcode, arg, nr);
		if (ret < 0)
			break;
		if (op == IORING_REGISTER_BUFFERS_UPDATE)
			count = (unsigned int)ret;	/* the slots it did update */
		else
			pin_ring_forget(ring, 0, 0);	/* a new table replaced the old */
		if (iov)
			pin_ring_learn(ring, first, iov, count, src,
				       op != IORING_REGISTER_BUFFERS_UPDATE);
		break;
	case IORING_UNREGISTER_BUFFERS:
		ret = call(ctx, fd, opcode, arg, nr);
		if (ret == 0)
			pin_ring_forget(ring, 0, 0);
		break;
	case IORING_REGISTER_PBUF_RING:
		/* A provided-buffer ring in the program's memory is pinned by the kernel too;
		 * 6.4's kernel-allocated rings (IOU_PBUF_RING_MMAP, in what the 6.1 header
		 * calls pad) are not the program's memory. */
		have_reg = copy_in(&reg, arg, sizeof(reg)) && reg.ring_addr &&
			   !(reg.pad & IOU_PBUF_RING_MMAP);
		if (have_reg)
			pin_unshare(reg.ring_addr, reg.ring_entries * sizeof(struct io_uring_buf));
		ret = call(ctx, fd, opcode, arg, nr);
		if (ret == 0 && have_reg) {
			struct iovec one = {
				(void *)(uintptr_t)reg.ring_addr,
				reg.ring_entries * sizeof(struct io_uring_buf),
			};

			pin_ring_learn(ring, PIN_SLOT_PBUF | reg.bgid, &one, 1, src, false);
		}
		return ret;
	case IORING_UNREGISTER_PBUF_RING:
		have_reg = copy_in(&reg, arg, sizeof(reg));
		ret = call(ctx, fd, opcode, arg, nr);
		if (ret == 0 && have_reg)
			pin_ring_forget(ring, PIN_SLOT_PBUF | reg.bgid, 1);
		return ret;
	case PIN_REGISTER_CLONE_BUFFERS:
		ret = call(ctx, fd, opcode, arg, nr);	/* the kernel's list says what came */
		break;
	default:
		return call(ctx, fd, opcode, arg, nr);
	}
	pin_ring_check(ring, src);
	return ret;
}

/* ---- ucow_pin: ucow's own ring, or a copy at fork ----------------------------------------- */

static long kring_register(unsigned int op, void *arg, unsigned int nr)
{
	return trap_io_uring_register(kring.fd, op, arg, nr);
}

/* Opens ucow's ring with an empty table of KRING_SLOTS; false (and why) when it cannot. */
static bool kring_ready(int *why)
{
	struct io_uring_rsrc_register rr = {
		.nr = KRING_SLOTS,
		.flags = IORING_RSRC_REGISTER_SPARSE,
	};
	struct io_uring_params params;
	int fd, high;
	long ret;

	if (kring.fd >= 0)
		return true;
	if (kring.failed) {
		*why = EOPNOTSUPP;
		return false;
	}
	if (!filter_allows(UCOW_SYS_IO_URING_SETUP)) {
		*why = EPERM;	/* the seccomp filter kills on it */
		kring.failed = true;
		return false;
	}
	memset(&params, 0, sizeof(params));
	fd = (int)syscall(SYS_io_uring_setup, 1, &params);
	if (fd < 0) {
		*why = errno;
		kring.failed = true;
		return false;
	}
	high = ucow_dup_high(fd);
	if (high >= 0) {
		close(fd);
		fd = high;
	}
	kring.fd = fd;
	ret = kring_register(IORING_REGISTER_BUFFERS2, &rr, sizeof(rr));
	if (ret < 0) {
		*why = (int)-ret;
		close(fd);
		kring.fd = -1;
		kring.failed = true;
		return false;
	}
	return true;
}

/* First of @n free consecutive slots of ucow's ring, marked used; -1 if none. */
static int kring_take(unsigned int n)
{
	for (unsigned int s = 0; s + n <= KRING_SLOTS; s++) {
		unsigned int k = 0;

		while (k < n && !(kring.used[(s + k) / 64] & (1ULL << ((s + k) % 64))))
			k++;
		if (k == n) {
			for (k = 0; k < n; k++)
				kring.used[(s + k) / 64] |= 1ULL << ((s + k) % 64);
			return (int)s;
		}
		s += k;
	}
	return -1;
}

static long kring_update(unsigned int first, struct iovec *iov, unsigned int n)
{
	uint64_t tags[KRING_MAX_CHUNKS] = { 0 };
	struct io_uring_rsrc_update2 up = {
		.offset = first,
		.data = (uintptr_t)iov,
		.tags = (uintptr_t)tags,
		.nr = n,
	};

	return kring_register(IORING_REGISTER_BUFFERS_UPDATE, &up, sizeof(up));
}

static void kring_release(unsigned int first, unsigned int n)
{
	struct iovec none[KRING_MAX_CHUNKS] = { { 0 } };

	if (kring.fd >= 0)
		kring_update(first, none, n);
	for (unsigned int k = 0; k < n; k++)
		kring.used[(first + k) / 64] &= ~(1ULL << ((first + k) % 64));
}

/* Registers [start,end) with ucow's ring: 0 with the slots, or -errno. Under the lock. */
static int kring_pin(uintptr_t start, uintptr_t end, unsigned int *first, unsigned short *n)
{
	struct iovec iov[KRING_MAX_CHUNKS];
	unsigned int chunks = (unsigned int)((end - start + KRING_CHUNK - 1) / KRING_CHUNK);
	int why = 0, slot;
	long ret;

	if (chunks > KRING_MAX_CHUNKS)
		return -E2BIG;
	if (!kring_ready(&why))
		return -why;
	slot = kring_take(chunks);
	if (slot < 0)
		return -ENOSPC;
	for (unsigned int k = 0; k < chunks; k++) {
		uintptr_t s = start + k * KRING_CHUNK;

		iov[k].iov_base = (void *)s;
		iov[k].iov_len = end - s < KRING_CHUNK ? end - s : KRING_CHUNK;
	}
	ret = kring_update((unsigned int)slot, iov, chunks);
	if (ret != (long)chunks) {
		kring_release((unsigned int)slot, chunks);
		return ret < 0 ? (int)ret : -EIO;
	}
	*first = (unsigned int)slot;
	*n = (unsigned short)chunks;
	return 0;
}

/* One mapping of /proc/self/maps, as much as ucow needs of it. */
struct vma {
	uintptr_t start, end;
	int prot;
	bool shared;
	bool file;
};

static bool parse_maps_line(const char *line, struct vma *v)
{
	unsigned long s, e, ino;
	char perms[5];

	if (sscanf(line, "%lx-%lx %4s %*x %*x:%*x %lu", &s, &e, perms, &ino) < 4)
		return false;
	v->start = s;
	v->end = e;
	v->prot = (perms[0] == 'r' ? PROT_READ : 0) | (perms[1] == 'w' ? PROT_WRITE : 0) |
		  (perms[2] == 'x' ? PROT_EXEC : 0);
	v->shared = perms[3] == 's';
	v->file = ino != 0;
	return true;
}

/* Calls @fn on each mapping intersecting [start,end), clipped; stops when it returns false. */
static void maps_foreach(uintptr_t start, uintptr_t end,
			 bool (*fn)(const struct vma *v, void *arg), void *arg)
{
	char buf[4096];
	size_t have = 0;
	int fd = open("/proc/self/maps", O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return;
	for (;;) {
		ssize_t got = read(fd, buf + have, sizeof(buf) - 1 - have);
		char *line = buf, *nl;

		if (got <= 0)
			break;
		have += (size_t)got;
		buf[have] = '\0';
		while ((nl = strchr(line, '\n'))) {
			struct vma v;

			*nl = '\0';
			if (parse_maps_line(line, &v) && v.start < end && v.end > start) {
				if (v.start < start)
					v.start = start;
				if (v.end > end)
					v.end = end;
				if (!fn(&v, arg)) {
					close(fd);
					return;
				}
			}
			line = nl + 1;
		}
		have -= (size_t)(line - buf);
		memmove(buf, line, have);
		if (have == sizeof(buf) - 1)
			have = 0;	/* a line longer than the buffer: not one ucow needs */
	}
	close(fd);
}

struct classify {
	bool all_shared;
	bool copyable;
};

/* Whether ucow can copy a mapping for a child: private anonymous memory, or a private file
 * mapping ucow manages (it holds the file). */
static bool copyable_vma(const struct vma *v)
{
	struct ucow_region r;

	if (v->shared || !v->file)
		return true;
	for (uintptr_t a = v->start; a < v->end; a = r.end)
		if (!registry_lookup(&ucow_registry, a, &r, false) || !r.src)
			return false;
	return true;
}

static bool classify_one(const struct vma *v, void *arg)
{
	struct classify *c = arg;

	c->all_shared &= v->shared;
	c->copyable &= copyable_vma(v);
	return true;
}

static enum pin_how fallback_how(uintptr_t start, uintptr_t end, int *err)
{
	struct classify c = { .all_shared = true, .copyable = true };

	maps_foreach(start, end, classify_one, &c);
	if (c.all_shared)
		return HOW_SHARED;
	if (c.copyable)
		return HOW_COPY;
	*err = EOPNOTSUPP;
	return HOW_COPY;
}

/* Adds one ucow_pin range under the lock: a kernel pin if possible, else a fork-time copy. */
static int api_pin_locked(uintptr_t start, uintptr_t end)
{
	static bool told;
	struct pin p = { .start = start, .end = end, .ring = NO_RING, .source = PIN_API };
	int ret, err = 0;

	ret = kring_pin(start, end, &p.slot, &p.nslots);
	if (ret == 0) {
		p.how = HOW_KERNEL;
		ucow_stat_add(UCOW_ST_PIN_KERNEL, 1);
	} else {
		p.how = (unsigned char)fallback_how(start, end, &err);
		if (err)
			return -err;
		if (!told && p.how == HOW_COPY) {
			told = true;
			ucow_info("pin", "no kernel pin for ucow_pin ranges (io_uring: %s): ucow copies "
				  "them for fork children itself", strerror(-ret));
		}
	}
	write_begin();
	if (!table_add(&p)) {
		write_end();
		if (p.how == HOW_KERNEL)
			kring_release(p.slot, p.nslots);
		return -ENOMEM;
	}
	write_end();
	return 0;
}

static void api_unpin_entry_locked(size_t i)
{
	struct pin p = table.v[i];

	write_begin();
	table_del(i);
	write_end();
	if (p.how == HOW_KERNEL)
		kring_release(p.slot, p.nslots);
}

static int range_of(const void *addr, size_t len, uintptr_t *start, uintptr_t *end)
{
	uintptr_t a = (uintptr_t)addr;

	if (!ucow_enabled)
		return -ENOSYS;
	if (!ucow_cfg.pins)
		return -EOPNOTSUPP;
	if (len == 0 || a + len < a || UCOW_PAGE_UP(a + len) < a)
		return -EINVAL;
	*start = UCOW_PAGE_DOWN(a);
	*end = UCOW_PAGE_UP(a + len);
	return 0;
}

EXPORT int ucow_pin(void *addr, size_t len)
{
	uintptr_t start, end;
	sigset_t old;
	int ret;

	ret = range_of(addr, len, &start, &end);
	if (ret == 0)
		ret = pin_unshare(start, end - start);	/* rule 2: before the pin, not after */
	if (ret == 0) {
		table_lock(&old);
		ret = api_pin_locked(start, end);
		table_unlock(&old);
	}
	if (ret < 0) {
		errno = -ret;
		return -1;
	}
	ucow_debug("pin", "ucow_pin %#lx-%#lx", (unsigned long)start, (unsigned long)end);
	return 0;
}

EXPORT int ucow_unpin(void *addr, size_t len)
{
	uintptr_t start, end, keep[2][2];
	sigset_t old;
	int ret = range_of(addr, len, &start, &end);

	if (ret < 0) {
		errno = -ret;
		return -1;
	}
	table_lock(&old);
	for (size_t i = 0; i < atomic_load_explicit(&table.n, memory_order_relaxed);) {
		struct pin p = table.v[i];
		int k = 0;

		if (p.source != PIN_API || p.start >= end || p.end <= start) {
			i++;
			continue;
		}
		/* The parts outside the range stay pinned: pinned again before the old pin
		 * goes, so that they are never unpinned in between. */
		if (p.start < start) {
			keep[k][0] = p.start;
			keep[k++][1] = start;
		}
		if (p.end > end) {
			keep[k][0] = end;
			keep[k++][1] = p.end;
		}
		for (int j = 0; j < k; j++)
			if (api_pin_locked(keep[j][0], keep[j][1]) < 0)
				ucow_warn("pin", "ucow_unpin: %#lx-%#lx could not stay pinned",
					  (unsigned long)keep[j][0], (unsigned long)keep[j][1]);
		api_unpin_entry_locked(i);	/* the entries added went to the end */
	}
	table_unlock(&old);
	return 0;
}

/* ---- mprotect ----------------------------------------------------------------------- */

void pin_reassert(uintptr_t start, uintptr_t end)
{
	sigset_t old;

	if (!pins_active() || !pin_overlaps(start, end))
		return;
	table_lock(&old);
	for (size_t i = 0; i < atomic_load_explicit(&table.n, memory_order_relaxed); i++) {
		uintptr_t s = table.v[i].start > start ? table.v[i].start : start;
		uintptr_t e = table.v[i].end < end ? table.v[i].end : end;

		if (s < e && table.v[i].how != HOW_SHARED)
			sys_madvise((void *)s, e - s, MADV_POPULATE_WRITE);
	}
	table_unlock(&old);
}

/* ---- fork --------------------------------------------------------------------------- */

/* A piece of a HOW_COPY pin the child gets as a copy: mapped again, then filled. */
struct copy_piece {
	uintptr_t start, end;
	int prot;
	int fd;				/* -1: anonymous; else ucow's duplicate of the file */
	uint64_t offset;
	struct ucow_source *src;	/* the reference that keeps @fd open across the fork */
	size_t at;			/* position of the bytes in the snapshot */
};

#define PIECES_MAX 4096

static struct {
	struct copy_piece *pieces;	/* in ucow's own pages, kept from fork to fork */
	size_t n;
	unsigned char *snapshot;
	size_t snapshot_len;
	sigset_t old;
	bool warned;
} fk;

/* Whether this thread holds the table for its fork: @fk is then its own. Another thread that
 * forks meanwhile with an empty table must leave @fk alone (its child inherits this flag). */
static __thread bool fk_locked __attribute__((tls_model("initial-exec")));

static bool add_piece(const struct vma *v, void *arg)
{
	size_t *bytes = arg;
	struct ucow_region r;

	if (v->shared)
		return true;
	for (uintptr_t a = v->start; a < v->end && fk.n < PIECES_MAX;) {
		struct copy_piece *c = &fk.pieces[fk.n];

		c->start = a;
		c->end = v->end;
		c->prot = v->prot;
		c->fd = -1;
		c->src = NULL;
		if (v->file) {
			if (!registry_lookup(&ucow_registry, a, &r, true) || !r.src) {
				if (!fk.warned)
					ucow_warn("pin", "a ucow_pin range at %#lx is now a file "
						  "mapping ucow does not hold: the child shares its "
						  "pages copy-on-write", (unsigned long)a);
				fk.warned = true;
				return true;
			}
			if (r.end < c->end)
				c->end = r.end;
			/* Its descriptor is the handler's; the child maps the copy it opened
			 * again through the parent's handler table (source_fork_fd). */
			c->src = r.src;
			c->offset = r.offset + (a - r.start);
		}
		c->at = *bytes;
		*bytes += c->end - c->start;
		a = c->end;
		fk.n++;
	}
	return true;
}

/*
 * The child's bytes of one piece, into @dst. A piece the program made unreadable (PROT_NONE)
 * is read through /proc/self/mem, as a debugger reads it: changing its protection, even for
 * a moment, would let another thread touch what must fault.
 */
static bool snapshot_piece(unsigned char *dst, const struct copy_piece *c, int *mem)
{
	size_t len = c->end - c->start, done = 0;

	if (c->prot & PROT_READ) {
		memcpy(dst, (void *)c->start, len);
		return true;
	}
	if (*mem < 0)
		*mem = open("/proc/self/mem", O_RDONLY | O_CLOEXEC);
	while (*mem >= 0 && done < len) {
		ssize_t n = pread(*mem, dst + done, len - done, (off_t)(c->start + done));

		if (n <= 0 && !(n < 0 && errno == EINTR))
			return false;
		done += n > 0 ? (size_t)n : 0;
	}
	return done == len;
}

void pin_fork_prepare(void)
{
	size_t bytes = 0, n;
	int mem = -1;

	if (!pins_active() || atomic_load_explicit(&table.n, memory_order_acquire) == 0)
		return;
	table_lock(&fk.old);
	fk_locked = true;
	fk.n = 0;
	fk.snapshot = NULL;
	n = atomic_load_explicit(&table.n, memory_order_relaxed);
	for (size_t i = 0; i < n; i++) {
		if (table.v[i].how != HOW_COPY)
			continue;
		if (!fk.pieces) {
			void *p = sys_mmap(NULL, UCOW_PAGE_UP(PIECES_MAX * sizeof(*fk.pieces)),
					   PROT_READ | PROT_WRITE,
					   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);

			if (p == MAP_FAILED)
				return;
			fk.pieces = p;
		}
		maps_foreach(table.v[i].start, table.v[i].end, add_piece, &bytes);
	}
	if (!fk.n)
		return;
	fk.snapshot = sys_mmap(NULL, UCOW_PAGE_UP(bytes), PROT_READ | PROT_WRITE,
			       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (fk.snapshot == MAP_FAILED) {
		ucow_warn("pin", "no memory for the fork-time copy of %zu pinned bytes: the child "
			  "shares them copy-on-write", bytes);
		fk.snapshot = NULL;
		goto drop;
	}
	fk.snapshot_len = UCOW_PAGE_UP(bytes);
	/* The child's bytes are taken as fork() begins; the parent's pages are never
	 * write-protected, because the child does not share them at all. */
	for (size_t i = 0; i < fk.n; i++) {
		struct copy_piece *c = &fk.pieces[i];

		if (!snapshot_piece(fk.snapshot + c->at, c, &mem)) {
			ucow_warn("pin", "cannot read %#lx-%#lx (not readable, no /proc/self/mem?): "
				  "the child shares it copy-on-write", (unsigned long)c->start,
				  (unsigned long)c->end);
			c->end = c->start;
		} else if (sys_madvise((void *)c->start, c->end - c->start, MADV_DONTFORK) < 0) {
			ucow_warn("pin", "MADV_DONTFORK %#lx-%#lx: %s: the child shares it copy-on-write",
				  (unsigned long)c->start, (unsigned long)c->end, strerror(errno));
			c->end = c->start;
		}
		ucow_stat_add(UCOW_ST_PIN_FORK_COPIED, (c->end - c->start) / UCOW_PAGE_SIZE);
	}
	if (mem >= 0)
		close(mem);
	return;
drop:
	for (size_t i = 0; i < fk.n; i++)
		if (fk.pieces[i].src)
			source_put(fk.pieces[i].src);
	fk.n = 0;
}

static void fork_done(void)
{
	for (size_t i = 0; i < fk.n; i++)
		if (fk.pieces[i].src)
			source_put(fk.pieces[i].src);
	if (fk.snapshot)
		sys_munmap(fk.snapshot, fk.snapshot_len);
	fk.snapshot = NULL;
	fk.n = 0;
}

void pin_fork_parent(void)
{
	if (!fk_locked)
		return;
	for (size_t i = 0; i < fk.n; i++) {
		struct copy_piece *c = &fk.pieces[i];

		if (c->end > c->start)
			sys_madvise((void *)c->start, c->end - c->start, MADV_DOFORK);
	}
	fork_done();
	fk_locked = false;
	table_unlock(&fk.old);
}

void pin_fork_child_map(void)
{
	pthread_mutex_init(&table.lock, NULL);
	/* A writer of another thread may have been between write_begin and write_end: an odd
	 * sequence left here would make every later lock-free look give up. */
	atomic_store_explicit(&table.seq, 0, memory_order_relaxed);
	/* Pins are not inherited, like mlock: the child's pages are its own copies. ucow's
	 * ring is the parent's as well; closing it here leaves the parent's pins alone. */
	if (kring.fd >= 0)
		close(kring.fd);
	kring.fd = -1;
	kring.failed = false;
	memset(kring.used, 0, sizeof(kring.used));
	for (size_t i = 0; fk_locked && i < fk.n; i++) {
		struct copy_piece *c = &fk.pieces[i];
		void *p;

		if (c->end <= c->start)
			continue;
		if (c->src)
			c->fd = source_fork_fd(c->src);
		if (c->src && c->fd < 0)
			p = MAP_FAILED, errno = EBADF;
		else if (c->fd >= 0)
			p = sys_mmap((void *)c->start, c->end - c->start, c->prot | PROT_WRITE,
				     MAP_PRIVATE | MAP_FIXED, c->fd, (long)c->offset);
		else
			p = sys_mmap((void *)c->start, c->end - c->start, c->prot | PROT_WRITE,
				     MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
		if (p == MAP_FAILED) {
			ucow_error("pin", "fork child: cannot map %#lx-%#lx again: %s",
				   (unsigned long)c->start, (unsigned long)c->end, strerror(errno));
			c->end = c->start;
		}
	}
}

void pin_fork_child_fill(void)
{
	for (size_t i = 0; fk_locked && i < fk.n; i++) {
		struct copy_piece *c = &fk.pieces[i];

		if (c->end <= c->start)
			continue;
		/* Write faults on a managed file's holes reach the child's handler, which
		 * fills them privately: the file itself is never written. */
		memcpy((void *)c->start, fk.snapshot + c->at, c->end - c->start);
	}
	/* Only once every piece is filled: overlapping pins give pieces that overlap. */
	for (size_t i = 0; fk_locked && i < fk.n; i++) {
		struct copy_piece *c = &fk.pieces[i];

		if (c->end > c->start && !(c->prot & PROT_WRITE))
			sys_mprotect((void *)c->start, c->end - c->start, c->prot);
	}
	if (fk_locked)
		fork_done();
	write_begin();
	atomic_store_explicit(&table.n, 0, memory_order_release);
	write_end();
	if (fk_locked) {
		fk_locked = false;
		pthread_sigmask(SIG_SETMASK, &fk.old, NULL);
	}
}

/* uring.c: liburing's buffer-registration functions, interposed, so that the pins a program
 * makes through liburing are learnt where they are made (and unshared before them). Each
 * goes to the next definition (liburing's) through pin_io_uring_register(). */
#include <dlfcn.h>
#include <errno.h>
#include <liburing.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>

#include "cancel.h"
#include "pin.h"
#include "pin_ring.h"
#include "trap.h"

#define EXPORT __attribute__((visibility("default")))

/* The next definition of @name (liburing's), looked up once. */
#define NEXT(name)                                                                     \
	({                                                                             \
		static __typeof__(&name) next_##name;                                  \
		if (!next_##name)                                                      \
			next_##name = (__typeof__(&name))dlsym(RTLD_NEXT, #name);      \
		next_##name;                                                           \
	})

/* What one interposed call needs to make the real call from inside pin_io_uring_register. */
struct call {
	long (*make)(const struct call *c);
	struct io_uring *ring;
	const struct iovec *iov;
	const __u64 *tags;
	unsigned int off, nr;
	struct io_uring_buf_reg *reg;
	unsigned int flags;
	int bgid;
	int fd;			/* io_uring_register(): its own arguments */
	unsigned int opcode;
	const void *arg;
	void *fn;
};

static long make_call(void *ctx, int fd, unsigned int opcode, void *arg, unsigned int nr)
{
	const struct call *c = ctx;

	return c->make(c);
}

static int learn(struct call *c, int fd, unsigned int opcode, void *arg, unsigned int nr)
{
	sigset_t sys, old;
	bool unblocked = false;
	long ret;

	if (!c->fn)
		return -ENOSYS;
	/*
	 * liburing's own system call may meet ucow's trap: in a thread that blocks SIGSYS the
	 * kernel would force the default action (death) instead of running ucow's handler.
	 */
	if (trap_may_signal()) {
		sigemptyset(&sys);
		sigaddset(&sys, SIGSYS);
		unblocked = pthread_sigmask(SIG_UNBLOCK, &sys, &old) == 0 &&
			    sigismember(&old, SIGSYS) == 1;
	}
	trap_in_liburing++;
	ret = pin_io_uring_register(fd, opcode, arg, nr, make_call, c, PIN_LIBURING);
	trap_in_liburing--;
	if (unblocked)
		pthread_sigmask(SIG_BLOCK, &sys, NULL);
	return (int)ret;
}

static long make_buffers(const struct call *c)
{
	return ((__typeof__(&io_uring_register_buffers))c->fn)(c->ring, c->iov, c->nr);
}

EXPORT int io_uring_register_buffers(struct io_uring *ring, const struct iovec *iovecs,
				     unsigned nr_iovecs)
{
	UCOW_NO_CANCEL;
	struct call c = { make_buffers, ring, iovecs, NULL, 0, nr_iovecs,
			  .fn = NEXT(io_uring_register_buffers) };

	if (!pins_active() && c.fn)
		return (int)make_buffers(&c);
	return learn(&c, ring->ring_fd, IORING_REGISTER_BUFFERS, (void *)iovecs, nr_iovecs);
}

static long make_buffers_tags(const struct call *c)
{
	return ((__typeof__(&io_uring_register_buffers_tags))c->fn)(c->ring, c->iov, c->tags,
								    c->nr);
}

EXPORT int io_uring_register_buffers_tags(struct io_uring *ring, const struct iovec *iovecs,
					  const __u64 *tags, unsigned nr)
{
	UCOW_NO_CANCEL;
	struct call c = { make_buffers_tags, ring, iovecs, tags, 0, nr,
			  .fn = NEXT(io_uring_register_buffers_tags) };
	struct io_uring_rsrc_register rr = {
		.nr = nr,
		.data = (uintptr_t)iovecs,
		.tags = (uintptr_t)tags,
	};

	if (!pins_active() && c.fn)
		return (int)make_buffers_tags(&c);
	return learn(&c, ring->ring_fd, IORING_REGISTER_BUFFERS2, &rr, sizeof(rr));
}

static long make_buffers_sparse(const struct call *c)
{
	return ((__typeof__(&io_uring_register_buffers_sparse))c->fn)(c->ring, c->nr);
}

EXPORT int io_uring_register_buffers_sparse(struct io_uring *ring, unsigned nr)
{
	UCOW_NO_CANCEL;
	struct call c = { make_buffers_sparse, ring, NULL, NULL, 0, nr,
			  .fn = NEXT(io_uring_register_buffers_sparse) };
	struct io_uring_rsrc_register rr = { .nr = nr, .flags = IORING_RSRC_REGISTER_SPARSE };

	if (!pins_active() && c.fn)
		return (int)make_buffers_sparse(&c);
	return learn(&c, ring->ring_fd, IORING_REGISTER_BUFFERS2, &rr, sizeof(rr));
}

static long make_buffers_update_tag(const struct call *c)
{
	return ((__typeof__(&io_uring_register_buffers_update_tag))c->fn)(c->ring, c->off, c->iov,
									  c->tags, c->nr);
}

EXPORT int io_uring_register_buffers_update_tag(struct io_uring *ring, unsigned off,
						const struct iovec *iovecs, const __u64 *tags,
						unsigned nr)
{
	UCOW_NO_CANCEL;
	struct call c = { make_buffers_update_tag, ring, iovecs, tags, off, nr,
			  .fn = NEXT(io_uring_register_buffers_update_tag) };
	struct io_uring_rsrc_update2 up = {
		.offset = off,
		.data = (uintptr_t)iovecs,
		.tags = (uintptr_t)tags,
		.nr = nr,
	};

	if (!pins_active() && c.fn)
		return (int)make_buffers_update_tag(&c);
	return learn(&c, ring->ring_fd, IORING_REGISTER_BUFFERS_UPDATE, &up, sizeof(up));
}

static long make_unregister_buffers(const struct call *c)
{
	return ((__typeof__(&io_uring_unregister_buffers))c->fn)(c->ring);
}

EXPORT int io_uring_unregister_buffers(struct io_uring *ring)
{
	UCOW_NO_CANCEL;
	struct call c = { make_unregister_buffers, ring, .fn = NEXT(io_uring_unregister_buffers) };

	if (!pins_active() && c.fn)
		return (int)make_unregister_buffers(&c);
	return learn(&c, ring->ring_fd, IORING_UNREGISTER_BUFFERS, NULL, 0);
}

static long make_buf_ring(const struct call *c)
{
	return ((__typeof__(&io_uring_register_buf_ring))c->fn)(c->ring, c->reg, c->flags);
}

EXPORT int io_uring_register_buf_ring(struct io_uring *ring, struct io_uring_buf_reg *reg,
				      unsigned int flags)
{
	UCOW_NO_CANCEL;
	struct call c = { make_buf_ring, ring, .reg = reg, .flags = flags,
			  .fn = NEXT(io_uring_register_buf_ring) };

	if (!pins_active() && c.fn)
		return (int)make_buf_ring(&c);
	return learn(&c, ring->ring_fd, IORING_REGISTER_PBUF_RING, reg, 1);
}

static long make_unregister_buf_ring(const struct call *c)
{
	return ((__typeof__(&io_uring_unregister_buf_ring))c->fn)(c->ring, c->bgid);
}

EXPORT int io_uring_unregister_buf_ring(struct io_uring *ring, int bgid)
{
	UCOW_NO_CANCEL;
	struct call c = { make_unregister_buf_ring, ring, .bgid = bgid,
			  .fn = NEXT(io_uring_unregister_buf_ring) };
	struct io_uring_buf_reg reg = { .bgid = (__u16)bgid };

	if (!pins_active() && c.fn)
		return (int)make_unregister_buf_ring(&c);
	return learn(&c, ring->ring_fd, IORING_UNREGISTER_PBUF_RING, &reg, 1);
}

/* liburing 2.3's generic call: any operation, on any ring fd. */
static long make_register(const struct call *c)
{
	return ((__typeof__(&io_uring_register))c->fn)((unsigned int)c->fd, c->opcode, c->arg,
						       c->nr);
}

EXPORT int io_uring_register(unsigned int fd, unsigned int opcode, const void *arg,
			     unsigned int nr_args)
{
	UCOW_NO_CANCEL;
	struct call c = { make_register, .fd = (int)fd, .opcode = opcode, .arg = arg,
			  .nr = nr_args, .fn = NEXT(io_uring_register) };

	if (!pins_active() && c.fn)
		return (int)make_register(&c);
	return learn(&c, (int)fd, opcode, (void *)arg, nr_args);
}

/* The ring's fd closes: its buffers go with it (unless a fork child still holds the ring,
 * which then keeps the parent's pages; the parent no longer sees them as its pins). */
EXPORT void io_uring_queue_exit(struct io_uring *ring)
{
	UCOW_NO_CANCEL;
	void (*next)(struct io_uring *) = NEXT(io_uring_queue_exit);
	int fd = ring->ring_fd;

	if (next)
		next(ring);
	if (pins_active())
		pin_ring_close(fd);
}

/* pin_ring.c: the pins io_uring makes — decodes the buffer operations of io_uring_register
 * calls, unshares their buffers before the call and learns or forgets the slots after it. */
#include <errno.h>
#include <linux/io_uring.h>
#include <signal.h>
#include <stdbool.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

#include "compat.h"
#include "filter_probe.h"
#include "pin.h"
#include "pin_fdinfo.h"
#include "pin_ring.h"
#include "pin_table.h"
#include "pin_unshare.h"

/* io_uring, newer than the headers liburing ships (enums there: only a #define helps) */
#ifndef IORING_REGISTER_USE_REGISTERED_RING
#define IORING_REGISTER_USE_REGISTERED_RING (1U << 31)
#endif
#ifndef IOU_PBUF_RING_MMAP
#define IOU_PBUF_RING_MMAP 1
#endif

long pin_ring_register_marked(int fd, unsigned int opcode, void *arg, unsigned int nr)
{
	long ret = syscall(SYS_io_uring_register, fd, opcode, arg, nr, PIN_RING_OWN_CALL, 0);

	return ret < 0 ? -errno : ret;
}

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

/* Rule 2 for each buffer of an iovec array about to be registered (errors ignored: the
 * kernel's own pin then reports them). */
static void unshare_iov(const struct iovec *uiov, unsigned int nr)
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

/* Slots [first, first+nr) of @ring now hold @uiov, the program's array (a NULL base clears a
 * slot; @fresh: those slots were empty). */
static void ring_learn(int ring, unsigned int first, const struct iovec *uiov, unsigned int nr,
		       enum pin_source src, bool fresh)
{
	struct iovec iov[32];
	sigset_t old;

	for (unsigned int done = 0; done < nr;) {
		unsigned int k = nr - done < 32 ? nr - done : 32;

		if (!copy_in(iov, uiov + done, k * sizeof(iov[0])))
			return;
		pin_table_lock(&old);
		pin_table_write_begin();
		for (unsigned int i = 0; i < k; i++)
			pin_table_learn_slot(ring, first + done + i, (uintptr_t)iov[i].iov_base,
					     iov[i].iov_len, src, fresh);
		pin_table_write_end();
		pin_table_unlock(&old);
		done += k;
	}
}

/* Drops slots [first, first+nr) of @ring (nr 0: every buffer slot). */
static void ring_forget(int ring, unsigned int first, unsigned int nr)
{
	sigset_t old;

	if (pin_table_empty())
		return;
	pin_table_lock(&old);
	pin_table_write_begin();
	pin_table_forget_slots(ring, first, nr);
	pin_table_write_end();
	pin_table_unlock(&old);
}

void pin_ring_close(int ring)
{
	sigset_t old;

	if (pin_table_empty())
		return;
	pin_table_lock(&old);
	pin_table_write_begin();
	pin_table_forget_ring(ring);
	pin_table_write_end();
	pin_table_unlock(&old);
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
			unshare_iov(iov, count);
		ret = call(ctx, fd, opcode, arg, nr);
		if (ret < 0)
			break;
		if (op == IORING_REGISTER_BUFFERS_UPDATE)
			count = (unsigned int)ret;	/* the slots it did update */
		else
			ring_forget(ring, 0, 0);	/* a new table replaced the old */
		if (iov)
			ring_learn(ring, first, iov, count, src,
				   op != IORING_REGISTER_BUFFERS_UPDATE);
		break;
	case IORING_UNREGISTER_BUFFERS:
		ret = call(ctx, fd, opcode, arg, nr);
		if (ret == 0)
			ring_forget(ring, 0, 0);
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

			ring_learn(ring, PIN_SLOT_PBUF | reg.bgid, &one, 1, src, false);
		}
		return ret;
	case IORING_UNREGISTER_PBUF_RING:
		have_reg = copy_in(&reg, arg, sizeof(reg));
		ret = call(ctx, fd, opcode, arg, nr);
		if (ret == 0 && have_reg)
			ring_forget(ring, PIN_SLOT_PBUF | reg.bgid, 1);
		return ret;
	case PIN_REGISTER_CLONE_BUFFERS:
		ret = call(ctx, fd, opcode, arg, nr);	/* the kernel's list says what came */
		break;
	default:
		return call(ctx, fd, opcode, arg, nr);
	}
	pin_fdinfo_check(ring, src);
	return ret;
}

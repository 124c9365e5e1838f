/* pin_kernel.c: ucow's own io_uring ring — ucow_pin ranges registered as its fixed buffers
 * become pins the kernel knows, whose pages it copies for fork children itself. */
#include <errno.h>
#include <linux/io_uring.h>
#include <stdbool.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

#include "filter_probe.h"
#include "pin_counters.h"
#include "pin_kernel.h"
#include "pin_ring.h"
#include "source.h"

#define OWN_RING_SLOTS 4096		/* slots of ucow's own ring (a ucow_pin takes one per GiB) */
#define OWN_RING_CHUNK (1UL << 30)	/* io_uring's largest buffer */
#define OWN_RING_MAX_CHUNKS 64

/* Guarded by the pin table's lock. */
static struct {
	int fd;				/* -1: not opened yet */
	bool failed;			/* cannot be used in this process */
	uint64_t used[OWN_RING_SLOTS / 64];
} own_ring = { .fd = -1 };

/* Opens ucow's ring with an empty table of OWN_RING_SLOTS; false (and why) when it cannot. */
static bool own_ring_ready(int *why)
{
	struct io_uring_rsrc_register rr = {
		.nr = OWN_RING_SLOTS,
		.flags = IORING_RSRC_REGISTER_SPARSE,
	};
	struct io_uring_params params;
	int fd, high;
	long ret;

	if (own_ring.fd >= 0)
		return true;
	if (own_ring.failed) {
		*why = EOPNOTSUPP;
		return false;
	}
	if (!filter_allows(UCOW_SYS_IO_URING_SETUP)) {
		*why = EPERM;	/* the seccomp filter kills on it */
		own_ring.failed = true;
		return false;
	}
	memset(&params, 0, sizeof(params));
	fd = (int)syscall(SYS_io_uring_setup, 1, &params);
	if (fd < 0) {
		*why = errno;
		own_ring.failed = true;
		return false;
	}
	high = ucow_dup_high(fd);
	if (high >= 0) {
		close(fd);
		fd = high;
	}
	own_ring.fd = fd;
	ret = pin_ring_register_marked(fd, IORING_REGISTER_BUFFERS2, &rr, sizeof(rr));
	if (ret < 0) {
		*why = (int)-ret;
		close(fd);
		own_ring.fd = -1;
		own_ring.failed = true;
		return false;
	}
	return true;
}

/* First of @n free consecutive slots of ucow's ring, marked used; -1 if none. */
static int take_slots(unsigned int n)
{
	for (unsigned int s = 0; s + n <= OWN_RING_SLOTS; s++) {
		unsigned int k = 0;

		while (k < n && !(own_ring.used[(s + k) / 64] & (1ULL << ((s + k) % 64))))
			k++;
		if (k == n) {
			for (k = 0; k < n; k++)
				own_ring.used[(s + k) / 64] |= 1ULL << ((s + k) % 64);
			return (int)s;
		}
		s += k;
	}
	return -1;
}

static long update_slots(unsigned int first, struct iovec *iov, unsigned int n)
{
	uint64_t tags[OWN_RING_MAX_CHUNKS] = { 0 };
	struct io_uring_rsrc_update2 up = {
		.offset = first,
		.data = (uintptr_t)iov,
		.tags = (uintptr_t)tags,
		.nr = n,
	};

	return pin_ring_register_marked(own_ring.fd, IORING_REGISTER_BUFFERS_UPDATE, &up,
					sizeof(up));
}

void pin_kernel_release(unsigned int first, unsigned int n)
{
	struct iovec none[OWN_RING_MAX_CHUNKS] = { { 0 } };

	if (own_ring.fd >= 0)
		update_slots(first, none, n);
	for (unsigned int k = 0; k < n; k++)
		own_ring.used[(first + k) / 64] &= ~(1ULL << ((first + k) % 64));
}

int pin_kernel_pin(uintptr_t start, uintptr_t end, unsigned int *first, unsigned short *n)
{
	struct iovec iov[OWN_RING_MAX_CHUNKS];
	unsigned int chunks = (unsigned int)((end - start + OWN_RING_CHUNK - 1) / OWN_RING_CHUNK);
	int why = 0, slot;
	long ret;

	if (chunks > OWN_RING_MAX_CHUNKS)
		return -E2BIG;
	if (!own_ring_ready(&why))
		return -why;
	slot = take_slots(chunks);
	if (slot < 0)
		return -ENOSPC;
	for (unsigned int k = 0; k < chunks; k++) {
		uintptr_t s = start + k * OWN_RING_CHUNK;

		iov[k].iov_base = (void *)s;
		iov[k].iov_len = end - s < OWN_RING_CHUNK ? end - s : OWN_RING_CHUNK;
	}
	ret = update_slots((unsigned int)slot, iov, chunks);
	if (ret != (long)chunks) {
		pin_kernel_release((unsigned int)slot, chunks);
		return ret < 0 ? (int)ret : -EIO;
	}
	*first = (unsigned int)slot;
	*n = (unsigned short)chunks;
	pin_count(PIN_KERNEL, 1);
	return 0;
}

void pin_kernel_fork_child(void)
{
	if (own_ring.fd >= 0)
		close(own_ring.fd);
	own_ring.fd = -1;
	own_ring.failed = false;
	memset(own_ring.used, 0, sizeof(own_ring.used));
}

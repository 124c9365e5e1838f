/* pin_ring.h: the pins io_uring makes — learnt from the io_uring_register calls a program
 * makes (through liburing's functions, or raw and seen by the seccomp trap). */
#ifndef UCOW_PIN_RING_H
#define UCOW_PIN_RING_H

#include "pin_table.h"

#define PIN_REGISTER_CLONE_BUFFERS 30	/* IORING_REGISTER_CLONE_BUFFERS (6.12) */

/* ucow's mark in io_uring_register's fifth argument, which the kernel ignores: "ucowpins".
 * The seccomp trap lets every call that carries it through. */
#define PIN_RING_OWN_CALL 0x75636f7770696e73ULL

/*
 * io_uring_register(2) as ucow makes it: with ucow's mark, so never trapped. Returns the
 * result, or -errno.
 */
long pin_ring_register_marked(int fd, unsigned int opcode, void *arg, unsigned int nr);

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

/* A whole ring is gone (closed, or its buffers unregistered): every slot, provided rings too. */
void pin_ring_close(int ring);

#endif

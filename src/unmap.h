/* unmap.h: the interposed munmap's protocol — managed pieces are unregistered before the
 * kernel unmaps them, so that no unmap event makes the unmapping thread wait for the handler. */
#ifndef UCOW_UNMAP_H
#define UCOW_UNMAP_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * unmap_begin() unregisters managed pieces of [start,end) first, so the kernel queues no
 * unmap event that the unmapping thread would wait for the handler to read (a round trip:
 * 100 us and more when the handler sleeps). A fault waiting there is woken and meets the
 * kernel's own fill until the munmap is done: right for shmem holes (the kernel's fill is the
 * file's content), wrong for a pattern or a deferred value, whose pieces are unregistered
 * first only while no other thread of the program can touch them (with this thread's
 * signals blocked until unmap_end()). The pieces stay recorded until unmap_end() hears
 * whether the munmap succeeded (it fails whole): then they are forgotten, or registered
 * again. The rest is left to the unmap events.
 */
#define UNMAP_FIRST_MAX 16
struct unmap_first {
	size_t n;
	bool rest;		/* pieces not unregistered: their events do the work */
	bool masked;		/* signals blocked; @old is the mask to put back */
	sigset_t old;
	struct {
		uintptr_t start, end;
		uint64_t birth;
	} v[UNMAP_FIRST_MAX];
};
void unmap_begin(uintptr_t start, uintptr_t end, struct unmap_first *u);
/* Whether the calling thread is the program's only one (the handler aside). */
bool program_alone(void);
void unmap_end(uintptr_t start, uintptr_t end, const struct unmap_first *u, bool unmapped);

#endif

/* engine.h: the process-wide userfaultfd engine — started on the first managed region —
 * and the answers policies give to faults. */
#ifndef UCOW_ENGINE_H
#define UCOW_ENGINE_H

#include <stdbool.h>
#include <signal.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"	/* ucow_enabled, which its users took from here */
#include "policy.h"
#include "uffd.h"

enum ucow_engine_mode {
	UCOW_ENGINE_UNUSED = 0,	/* nothing managed yet: no fd, no thread */
	UCOW_ENGINE_FULL,
	UCOW_ENGINE_USER_ONLY,
	UCOW_ENGINE_FAILED,	/* could not start; the process runs unmanaged */
};

enum ucow_engine_mode engine_mode(void);
/* The userfaultfd of this process, or -1. */
int engine_uffd(void);
uint64_t engine_features(void);

/* Opens the userfaultfd and starts the handler if not done yet; 0 or -errno (logged once). */
int engine_start(void);

/*
 * Manages [start, start+len) with @policy: records it, then registers it for missing
 * faults. @fd (or -1) is duplicated by ucow. On any failure the range stays unmanaged
 * and the program goes on; returns 0 or -errno.
 */
int engine_manage(uintptr_t start, size_t len, const struct ucow_policy *policy, int fd,
		  uint64_t offset, uint64_t data, int prot);

/*
 * Whether some engine_manage() has registered a range and not yet recorded it: a fault
 * there finds no region for that long (another thread touching memory being memset).
 */
bool engine_recording(void);

/* Hands [start,end) back to the kernel: unregistered, forgotten, waiters woken. */
void engine_unmanage(uintptr_t start, uintptr_t end);

/*
 * [start,end) was unmapped, by this thread or another: forgets the regions in it that are
 * really gone, keeping any that another thread has mapped and managed again meanwhile.
 */
void engine_forget_unmapped(uintptr_t start, uintptr_t end);
/*
 * The same, for an unmap event on the handler thread: a piece whose probe must wait for a
 * message still unread is settled later, by engine_settle_doubts() after the next batch.
 */
void engine_unmapped_event(uintptr_t start, uintptr_t end);
void engine_settle_doubts(void);
/* Whether some notice is still unsettled (the handler reads on before it goes idle). */
bool engine_doubts_left(void);

/*
 * An interposed munmap of [start,end): engine_unmap_begin() unregisters managed pieces
 * first, so the kernel queues no unmap event that the unmapping thread would wait for the
 * handler to read (a round trip: 100 us and more when the handler sleeps). A fault waiting
 * there is woken and meets the kernel's own fill until the munmap is done: right for shmem
 * holes (the kernel's fill is the file's content), wrong for a pattern or a deferred value,
 * whose pieces are unregistered first only while no other thread of the program can touch
 * them (with this thread's signals blocked until engine_unmap_end()). The pieces stay
 * recorded until engine_unmap_end() hears whether the munmap succeeded (it fails whole):
 * then they are forgotten, or registered again. The rest is left to the unmap events.
 */
#define UNMAP_FIRST_MAX 16
struct engine_unmap {
	size_t n;
	bool rest;		/* pieces not unregistered: their events do the work */
	bool masked;		/* signals blocked; @old is the mask to put back */
	sigset_t old;
	struct {
		uintptr_t start, end;
		uint64_t birth;
	} v[UNMAP_FIRST_MAX];
};
void engine_unmap_begin(uintptr_t start, uintptr_t end, struct engine_unmap *u);
void engine_unmap_end(uintptr_t start, uintptr_t end, const struct engine_unmap *u, bool unmapped);

/*
 * The program registers [start,end) with a userfaultfd of its own (QEMU's postcopy): what ucow
 * deferred there is filled for real, then the range is handed back to the kernel, so that
 * the program's registration finds it free, as on a plain kernel. 0, or -EIO when some
 * content could not be filled (logged).
 */
int engine_step_aside(uintptr_t start, uintptr_t end);

/* With UCOW_STATS, lets each policy measure what [start,end) holds (before it goes). */
void engine_account(uintptr_t start, uintptr_t end);

/* In a fork child, before fork() returns: a new userfaultfd, every range registered
 * again, a running handler. */
void engine_fork_child(void);
void engine_fork_prepare(void);
/* Before a child ucow gets no call in (glibc's clone() without CLONE_VM): what ucow deferred
 * is filled for real, so that the child, which the kernel leaves unregistered, reads it. */
void engine_unmanaged_child_prepare(void);
void engine_fork_parent(void);

/*
 * Answers for policies. Each fills [dst, dst+len) (page aligned, inside one region) and
 * wakes the faulting threads. Returns the bytes ucow filled (>= 0; pages someone else
 * filled, or a range that is gone, count as done but not filled): the threads may go on.
 * -EAGAIN while the address space is changing; other -errno when it cannot be resolved.
 */
long ucow_answer_copy(uintptr_t dst, const void *src, size_t len);
/* As ucow_answer_copy, but the threads waiting in the range are not woken (unless some of it
 * was filled by someone else): a policy filling a window in parts wakes once at the end. */
long ucow_answer_copy_quiet(uintptr_t dst, const void *src, size_t len);
long ucow_answer_zero(uintptr_t dst, size_t len);
int ucow_answer_wake(uintptr_t dst, size_t len);

/* A page of zeroes in memory ucow never manages. */
extern const void *ucow_zero_page;

#endif

/* sys.h: raw system calls for ucow's own use, so that ucow never re-enters its own
 * interposed wrappers (or another preloaded library's) when it maps or unmaps memory. */
#ifndef UCOW_SYS_H
#define UCOW_SYS_H

#include <fcntl.h>
#include <limits.h>
#include <linux/futex.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/syscall.h>
#include <unistd.h>

static inline void *sys_mmap(void *addr, size_t len, int prot, int flags, int fd, long off)
{
	return (void *)syscall(SYS_mmap, addr, len, prot, flags, fd, off);
}

static inline int sys_munmap(void *addr, size_t len)
{
	return (int)syscall(SYS_munmap, addr, len);
}

static inline void *sys_mremap(void *old, size_t old_len, size_t new_len, int flags, void *new_addr)
{
	return (void *)syscall(SYS_mremap, old, old_len, new_len, flags, new_addr);
}

static inline int sys_mprotect(void *addr, size_t len, int prot)
{
	return (int)syscall(SYS_mprotect, addr, len, prot);
}

static inline int sys_madvise(void *addr, size_t len, int advice)
{
	return (int)syscall(SYS_madvise, addr, len, advice);
}

static inline long sys_gettid(void)
{
	return syscall(SYS_gettid);
}

static inline uint64_t sys_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/*
 * Sleeps while *@word holds @val (a process-private futex), at most @timeout_ns if not 0. It
 * may return early (a signal, a timeout, a spurious wake-up): callers look at @word again.
 */
static inline void sys_futex_wait(atomic_uint *word, unsigned int val, uint64_t timeout_ns)
{
	struct timespec ts = {
		.tv_sec = (time_t)(timeout_ns / 1000000000u),
		.tv_nsec = (long)(timeout_ns % 1000000000u),
	};

	syscall(SYS_futex, word, FUTEX_WAIT_PRIVATE, val, timeout_ns ? &ts : NULL, NULL, 0);
}

/* Wakes every thread in sys_futex_wait() on @word. */
static inline void sys_futex_wake(atomic_uint *word)
{
	syscall(SYS_futex, word, FUTEX_WAKE_PRIVATE, INT_MAX, NULL, NULL, 0);
}

#define UCOW_PAGE_SIZE 4096UL
#define UCOW_PAGE_MASK (~(UCOW_PAGE_SIZE - 1))
#define UCOW_PAGE_DOWN(x) ((uintptr_t)(x) & UCOW_PAGE_MASK)
#define UCOW_PAGE_UP(x) (((uintptr_t)(x) + UCOW_PAGE_SIZE - 1) & UCOW_PAGE_MASK)

#endif

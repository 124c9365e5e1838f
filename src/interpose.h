/* interpose.h: the libc calls ucow stands in front of, and the next definitions it passes
 * them on to. */
#ifndef UCOW_INTERPOSE_H
#define UCOW_INTERPOSE_H

#include <stdbool.h>
#include <sys/types.h>

#include "sigguard.h"

struct ucow_next {
	void *(*mmap)(void *addr, size_t len, int prot, int flags, int fd, off_t off);
	int (*munmap)(void *addr, size_t len);
	void *(*mremap)(void *old, size_t old_len, size_t new_len, int flags, ...);
	int (*mprotect)(void *addr, size_t len, int prot);
	int (*madvise)(void *addr, size_t len, int advice);
	pid_t (*_Fork)(void);
	void (*_exit)(int status) __attribute__((noreturn));
	int (*ioctl)(int fd, unsigned long request, ...);
	int (*clone)(int (*fn)(void *), void *stack, int flags, void *arg, ...);
	int (*prctl)(int option, ...);
};

/* Filled once at start-up; a NULL entry means "not resolved yet": use the raw syscall. */
extern struct ucow_next ucow_next;

/* Resolves every entry with dlsym(RTLD_NEXT). Calls made while it runs (dlsym may
 * allocate, and an allocator may mmap) take the raw-syscall path. */
void interpose_resolve(void);

/*
 * Interposed mremap calls on managed memory run one at a time, each until the registry has
 * followed it, so that the handler reads moves in the order the kernel made them (each
 * thread queues its event only after letting go of the address space). fork holds it too
 * (prepare, then parent or child) in a process with regions, so that no call is half made
 * in the child.
 */
void remap_order_hold(struct sigguard *g);
void remap_order_release(struct sigguard *g);
void remap_order_fork_child(void);

#endif

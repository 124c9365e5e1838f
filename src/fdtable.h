/* fdtable.h: the handler thread's own descriptor table, out of the program's reach. */
/* Program threads reach the userfaultfd through uffd_ctl.h, which builds on the facts here. */
#ifndef UCOW_FDTABLE_H
#define UCOW_FDTABLE_H

#include <stdatomic.h>
#include <stdbool.h>
#include <sys/types.h>

/*
 * The handler's table as program threads see it. fdtable.c sets it at handler entry and exit
 * and resets it in a fork child; uffd_ctl.c reads it and replaces @shared (under its lock).
 */
struct handler_table {
	int priv;			/* the userfaultfd in the handler's table */
	atomic_bool shared_table;	/* no table of its own (a seccomp filter forbids unshare) */
	atomic_int shared;		/* a copy in the program's table, or -1 */
	atomic_int tid;			/* the handler thread, once it has its table */
	atomic_bool handler_alive;	/* it serves requests (fdt_handler_enter until _exit) */
	pid_t pid;			/* the process it serves */
	void *bell;			/* the doorbell: registered, never touched */
	int pagemap;			/* /proc/self/pagemap, opened while it could be, or -1 */
	atomic_bool bell_ok;
};
extern struct handler_table handler_table;

/*
 * On the handler thread, first: takes a private table holding only @uffd and the sources'
 * descriptors (nothing of the program's), and registers the doorbell. 0 or -errno.
 */
int fdt_handler_enter(int uffd);

/*
 * /proc/self/pagemap for reading (close it with fdt_pagemap_close): opened now, or, once the
 * process can no longer open it (a privilege drop makes it undumpable), a copy of the one
 * the handler opened when it started. -errno if neither.
 */
int fdt_pagemap_open(void);
void fdt_pagemap_close(int fd);

/* The handler thread stops serving (it exits): requests fail at once from now on. */
void fdt_handler_exit(void);

/*
 * Handler thread, serving an adopt request: its own description of the file thread @tid
 * holds as @fd (which must still be @dev/@ino), opened with @accmode (*@private_pos true),
 * else a duplicate of @fd (*@private_pos false). Its number in the handler's table, or -errno.
 */
long fdt_handler_adopt(pid_t tid, int fd, int accmode, dev_t dev, ino_t ino, bool *private_pos);

/* A copy of a handler-table descriptor in the calling thread's table (close it with
 * close()), or -errno. The handler thread gets @fd itself back: do not close it then. */
int fdt_borrow(int fd);
void fdt_unborrow(int fd, int copy);

/* fork: sources are carried over in the forking thread's table (source.h). The shared copy
 * of the userfaultfd is uffd_ctl_fork_prepare()'s and uffd_ctl_fork_child()'s, run first. */
void fdt_fork_prepare(void);
void fdt_fork_parent(void);
void fdt_fork_child(void);
/* In the child, first thing: its copies of the parent's sources (source_fork_fd). */
void fdt_fork_child_carry(void);

#endif

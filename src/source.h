/* source.h: ucow's own reference-counted descriptions of the files behind managed regions,
 * one per file, held in the handler thread's private descriptor table (fdtable.c). */
#ifndef UCOW_SOURCE_H
#define UCOW_SOURCE_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <sys/types.h>

struct ucow_source {
	int fd;			/* in the handler's private table; -1 when the slot is free */
	atomic_int refs;	/* one per region (and per fault in flight) */
	bool private_pos;	/* @fd has its own file position: lseek is safe */
	bool writable;		/* @fd was opened for writing (fallocate works) */
	bool closing;		/* no reference left; the handler closes @fd */
	dev_t dev;		/* the file's identity: one source per file and access mode */
	ino_t ino;
	int accmode;
	int carry_fd;		/* across fork: a copy in the forking thread's table, or -1 */
};

/* Set on the handler thread, the only one whose table holds the sources' descriptors. */
extern __thread bool ucow_in_handler;

/* The live source of this file and access mode, with a new reference; NULL if none. */
struct ucow_source *source_find(dev_t dev, ino_t ino, int accmode);
/* A new source for @fd (already in the handler's table), holding one reference; NULL with
 * errno (the caller still owns @fd then). */
struct ucow_source *source_install(int fd, dev_t dev, ino_t ino, int accmode, bool private_pos);
void source_get(struct ucow_source *s);
/* The last reference closes the descriptor: at once on the handler thread, otherwise
 * the handler does it at its next source_reap() (closing a number in the program's table
 * would close the program's file). */
void source_put(struct ucow_source *s);
/* Handler thread: closes the descriptors of sources let go of elsewhere. */
void source_reap(void);
/* Whether some source waits for source_reap(). */
bool source_reap_pending(void);
/* The private numbers of live sources, up to @max, into @out; those beyond @max are lost
 * (their fd becomes -1). Returns how many. */
size_t source_fds(int *out, size_t max);

/* Duplicates @fd close-on-exec at the top of the program's range (below RLIMIT_NOFILE),
 * away from the lowest numbers that open() gives the program; -1 with errno if none is free
 * up there. */
int ucow_dup_high(int fd);

/*
 * fork: source_fork_prepare() holds the sources still until source_fork_parent(). In the
 * child, source_fork_child_carry() opens each live source's file again through @carry (the
 * parent's handler table, in /proc) into the child's table; source_fork_child() makes those
 * the sources' numbers (the child's handler keeps them when it takes its own table), and
 * source_fork_child_done() closes them from the child's shared table once the handler has
 * its own (@adopted), or forgets them all when it has none. No descriptor of a program file
 * is ever closed in the parent's table: that would drop the program's POSIX locks.
 */
void source_fork_prepare(void);
void source_fork_parent(void);
void source_fork_child_carry(int (*carry)(int fd, int accmode));
void source_fork_child(void);
void source_fork_child_done(bool adopted);
/* Whether @s has a descriptor in this process's handler table. */
bool source_usable(const struct ucow_source *s);
/* Between fork and source_fork_child_done(), in the child: @s's copy in the shared table. */
int source_fork_fd(const struct ucow_source *s);
#endif

/* source.h: ucow's own reference-counted duplicates of the files behind managed regions,
 * so a program may close its fd right after mmap. */
#ifndef UCOW_SOURCE_H
#define UCOW_SOURCE_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>

struct ucow_source {
	int fd;			/* ucow's duplicate: close-on-exec, at a high number */
	atomic_int refs;	/* one per region (and per fault in flight) */
	bool private_pos;	/* @fd has its own file position: lseek is safe */
};

/* Opens ucow's own description of @fd's file (or a duplicate); NULL with errno on
 * failure. The result holds one reference. */
struct ucow_source *source_open(int fd);
void source_get(struct ucow_source *s);
void source_put(struct ucow_source *s);
/* Duplicates @fd close-on-exec at a high number (above most programs' fds). */
int ucow_dup_high(int fd);



/* In a fork child: the lock may have been held by a thread that does not exist there. */
void source_fork_child(void);
#endif

/* engine_fork.h: the engine's part of fork — the registry frozen while memory is copied, and
 * a child managed (its own userfaultfd, every range registered again) before fork returns. */
#ifndef UCOW_ENGINE_FORK_H
#define UCOW_ENGINE_FORK_H

/* In the parent, around fork (fork.c's atfork handlers). */
void engine_fork_prepare(void);
void engine_fork_parent(void);
/* In a fork child, before fork() returns: a new userfaultfd, every range registered again, a
 * running handler; or, when that cannot be, every deferred page written (law 7). */
void engine_fork_child(void);

#endif

/* engine_fork.h: the engine's part of fork — the registry frozen while memory is copied, and
 * a child managed (its own userfaultfd, every range registered again) before fork returns. */
#ifndef UCOW_ENGINE_FORK_H
#define UCOW_ENGINE_FORK_H

#include <stdbool.h>

/*
 * Around fork (fork.c's atfork handlers), always: prepare holds the engine's start-up lock
 * across the fork, so that the engine neither starts nor changes meanwhile, and returns
 * whether it serves this process; parent and child are told the same.
 */
bool engine_fork_prepare(void);
void engine_fork_parent(bool serving);
/* In a fork child, before fork() returns: a new userfaultfd, every range registered again, a
 * running handler; or, when that cannot be, every deferred page written (law 7). */
void engine_fork_child(bool serving);

#endif

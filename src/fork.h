/* fork.h: fork, _Fork and clone as the program sees them (fork.c). */
#ifndef UCOW_FORK_H
#define UCOW_FORK_H

/* Registers ucow's fork handlers (pthread_atfork); called first thing at start-up. */
void fork_init(void);

#endif

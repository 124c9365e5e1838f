/* sigguard.h: program threads hold ucow's locks with their signals blocked, so that no signal
 * handler of the program runs on a thread that holds a lock the handler thread may need. */
#ifndef UCOW_SIGGUARD_H
#define UCOW_SIGGUARD_H

#include <pthread.h>
#include <signal.h>
#include <stdbool.h>

/*
 * A signal handler that touches managed memory waits for the handler thread; if its thread
 * held the registry lock, the handler would wait for it in turn (law 9). Guards nest: only
 * the outermost one changes the mask. ucow's own threads run with every signal blocked and
 * mark themselves with sigguard_thread_blocked(), so the fault path pays nothing.
 */
extern __thread unsigned int ucow_sigguard_depth;

struct sigguard {
	sigset_t old;
	bool changed;
};

static inline void sigguard_enter(struct sigguard *g)
{
	g->changed = false;
	if (ucow_sigguard_depth++ == 0) {
		sigset_t all;

		sigfillset(&all);
		g->changed = pthread_sigmask(SIG_SETMASK, &all, &g->old) == 0;
	}
}

static inline void sigguard_leave(struct sigguard *g)
{
	ucow_sigguard_depth--;
	if (g->changed)
		pthread_sigmask(SIG_SETMASK, &g->old, NULL);
}

/* For a thread that blocks every signal for its whole life (the handler). */
static inline void sigguard_thread_blocked(void)
{
	ucow_sigguard_depth = 1;
}

#endif

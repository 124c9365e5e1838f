/* cancel.h: ucow's work on a program thread is never a cancellation point. The calls it
 * interposes (mmap, memset, madvise, ...) are none; the open, close, read and msync ucow makes
 * inside them are, and a deferred pthread_cancel acting there ended the thread with ucow's
 * locks held and its signals blocked: the program's next mmap or memset waited forever. */
#ifndef UCOW_CANCEL_H
#define UCOW_CANCEL_H

#include <pthread.h>

static inline int cancel_off(void)
{
	int old = PTHREAD_CANCEL_DISABLE;

	pthread_setcancelstate(PTHREAD_CANCEL_DISABLE, &old);
	return old;
}

/* A request made meanwhile acts at the thread's next cancellation point, as without ucow. */
static inline void cancel_back(const int *old)
{
	if (*old != PTHREAD_CANCEL_DISABLE)
		pthread_setcancelstate(*old, NULL);
}

/* First in a function: cancellation is off until it returns, whichever return that is. */
#define UCOW_NO_CANCEL \
	int ucow_cancel_state __attribute__((cleanup(cancel_back), unused)) = cancel_off()

#endif

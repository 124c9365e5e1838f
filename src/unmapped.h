/* unmapped.h: forgetting the regions whose mapping is gone — after an unmap event, an munmap
 * ucow did not see, or in a fork child — but never one mapped and managed again meanwhile. */
#ifndef UCOW_UNMAPPED_H
#define UCOW_UNMAPPED_H

#include <stdbool.h>
#include <stdint.h>

struct ucow_region;

/*
 * [start,end) was unmapped, by this thread or another: forgets the regions in it that are
 * really gone, keeping any that another thread has mapped and managed again meanwhile.
 * Program threads: waits for the kernel's answer, and calls @settle (handler_barrier) before
 * forgetting a piece, so that a move of it already under way is applied first.
 */
void unmapped_forget(uintptr_t start, uintptr_t end, void (*settle)(void));
/*
 * The same, for an unmap event on the handler thread: a piece whose probe must wait for a
 * message still unread (@pending says whether one is) is settled later, by
 * unmapped_settle_doubts() after the next batch, with the same @pending.
 */
void unmapped_event(uintptr_t start, uintptr_t end, bool (*pending)(void));
void unmapped_settle_doubts(bool (*pending)(void));
/* Whether some notice is still unsettled (the handler reads on before it goes idle). */
bool unmapped_doubts_left(void);

/* A registry_walk() callback: forgets the parts of @r with nothing mapped (a fork child:
 * ranges the program kept from it with MADV_DONTFORK, maybe only part of one mapping). */
void unmapped_forget_parts(const struct ucow_region *r, void *arg);

#endif

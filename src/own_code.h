/* own_code.h: where ucow's own code lies in memory, so that the calls ucow makes itself are
 * never interposed (its ioctls) nor deferred (its memsets). */
#ifndef UCOW_OWN_CODE_H
#define UCOW_OWN_CODE_H

#include <stdbool.h>

/* Once, at start-up: finds the executable segment of libucow.so. */
void own_code_find(void);
/* Whether @addr (a return address) lies in ucow's own code. */
bool own_code_has(const void *addr);

#endif

/* pin_fdinfo.h: checking what ucow knows of a ring's buffers against the kernel's own list. */
#ifndef UCOW_PIN_FDINFO_H
#define UCOW_PIN_FDINFO_H

#include "pin_table.h"

/*
 * Brings the buffers known for @ring in line with /proc/self/fdinfo/<ring> (UserBufs:), the
 * kernel's own list; slots the kernel lists that ucow did not know are labelled @src. A
 * registered ring index (PIN_RING_REGISTERED) has no fdinfo: nothing is checked.
 */
void pin_fdinfo_check(int ring, enum pin_source src);

#endif

/* foreign_uffd.h: memory the program registered with a userfaultfd of its own, which ucow
 * leaves alone (its faults are the program's to answer, perhaps with SIGBUS). */
#ifndef UCOW_FOREIGN_UFFD_H
#define UCOW_FOREIGN_UFFD_H

#include <stdbool.h>
#include <stdint.h>

/* Whether [start,end) may overlap such a range (registered through ioctl(3); over-estimated,
 * never forgotten). Async-signal-safe. */
bool foreign_uffd_may_overlap(uintptr_t start, uintptr_t end);

#endif

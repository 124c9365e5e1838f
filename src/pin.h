/* pin.h: the pin table — ranges a device may read and write behind the page table (io_uring
 * fixed buffers, ucow_pin), which ucow never defers, discards, re-maps or write-protects. */
#ifndef UCOW_PIN_H
#define UCOW_PIN_H

#include <stdbool.h>
#include <stdint.h>

/* Lock-free hint for the hot paths: true when some pinned range may intersect [start,end). */
bool pin_overlaps(uintptr_t start, uintptr_t end);

#endif

/* pin_unshare.h: making pinned pages exclusive — before the pin (rule 2) and again when
 * mprotect gives write access back (rule 3: pin_reassert, in pin.h). */
#ifndef UCOW_PIN_UNSHARE_H
#define UCOW_PIN_UNSHARE_H

#include <stddef.h>
#include <stdint.h>

/*
 * Rule 2, unshare before pin: makes every page of [addr, addr+len) present, private and
 * writable (missing pages of managed regions reach the handler as write faults; shared
 * copy-on-write pages are broken). 0 or -errno; never called on the handler thread.
 */
int pin_unshare(uintptr_t addr, size_t len);

#endif

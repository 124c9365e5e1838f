/* pin_kernel.h: ucow's own io_uring ring, whose fixed buffers make ucow_pin ranges pins the
 * kernel knows (it then copies their pages for fork children itself). */
#ifndef UCOW_PIN_KERNEL_H
#define UCOW_PIN_KERNEL_H

#include <stdint.h>

/*
 * Registers [start,end) (page aligned) with ucow's ring, opened on first use: 0 with the
 * first slot and the number of slots taken, or -errno (-E2BIG: too long for the slots one
 * range may take; -ENOSPC: no free slots; the ring cannot be opened: why). Under the pin
 * table's lock, which guards the ring too.
 */
int pin_kernel_pin(uintptr_t start, uintptr_t end, unsigned int *first, unsigned short *n);
/* Unpins slots [first, first+n) and frees them. Under the pin table's lock. */
void pin_kernel_release(unsigned int first, unsigned int n);
/* In a fork child: pins are not inherited; the ring (the parent's too) is closed here, which
 * leaves the parent's pins alone, and may be opened again. */
void pin_kernel_fork_child(void);

#endif

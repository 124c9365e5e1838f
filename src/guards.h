/* guards.h: guard pages (MADV_GUARD_INSTALL), which ucow's fills must leave alone: the
 * kernel's UFFDIO_COPY overwrites a guard marker as if the page were missing. */
#ifndef UCOW_GUARDS_H
#define UCOW_GUARDS_H

#include <stdbool.h>
#include <stdint.h>

/* The program is about to install guard pages (madvise(3), before the call). */
void guards_installing(void);
/* Whether the program may have guard pages: none looked for until it asked for some. */
bool guards_possible(void);
/*
 * The first guard page in [start,end) (page aligned), or @end when there is none or the kernel
 * cannot tell (PAGEMAP_SCAN reports guards from Linux 6.15), through @pm, an open
 * /proc/self/pagemap.
 */
uintptr_t guards_first_in(int pm, uintptr_t start, uintptr_t end);
/* The same through the handler's pagemap descriptor, or one opened for the call, with the
 * end of that run of guard pages in *@run_end. */
uintptr_t guards_next_run(uintptr_t start, uintptr_t end, uintptr_t *run_end);
/* The first guard page as guards_next_run() finds it, or @end at once while
 * guards_possible() is false (the fill path). */
uintptr_t guards_first(uintptr_t start, uintptr_t end);

#endif

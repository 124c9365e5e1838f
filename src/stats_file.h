/* stats_file.h: UCOW_STATS=DIR/ — each process image keeps its latest statistics object in a
 * file of its own in DIR, mapped when it starts, so that it stays writable after a privilege
 * drop and holds figures even when the process is killed (live_abi.h has the layout). */
#ifndef UCOW_STATS_FILE_H
#define UCOW_STATS_FILE_H

#include <stdbool.h>
#include <stddef.h>

/* Whether UCOW_STATS names a directory (ends with '/'). */
bool stats_file_wanted(void);
/* At start-up, and in a fork child (in place of its parent's): creates and maps this image's
 * file; no descriptor is kept. One warning if it cannot. stats_file_start() calls them. */
void stats_file_open(void);
void stats_file_fork_child(void);
/* Whether this process has its file mapped. */
bool stats_file_active(void);
/* Makes @json (@n bytes) the latest object; @ended: the image's exit writes it. */
void stats_file_put(const char *json, size_t n, bool ended);
/* The image did not end after all (an exec that failed). */
void stats_file_unend(void);

#endif

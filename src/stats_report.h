/* stats_report.h: the per-process statistics object (UCOW_STATS): the engine's counters and
 * every policy's group, as one line of JSON, and the measures taken as memory goes. */
#ifndef UCOW_STATS_REPORT_H
#define UCOW_STATS_REPORT_H

#include <stddef.h>
#include <stdint.h>

/* snprintf-like: the JSON object for this process, without a newline. */
int stats_format(char *buf, size_t size);
/* Writes the object to UCOW_STATS (a path, appended, or stderr) if it is set. */
void stats_write(void);
/* A fork child counts from zero, the engine and every policy. */
void stats_reset_all(void);
/* With UCOW_STATS, lets each policy measure what [start,end) holds (before it goes). */
void stats_account(uintptr_t start, uintptr_t end);

#endif

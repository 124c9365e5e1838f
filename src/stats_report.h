/* stats_report.h: the per-process statistics object (UCOW_STATS): the engine's counters and
 * every policy's group, as one line of JSON, and the measures taken as memory goes. */
#ifndef UCOW_STATS_REPORT_H
#define UCOW_STATS_REPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* snprintf-like: the JSON object for this process, without a newline. */
int stats_format(char *buf, size_t size);
/* Writes the object to UCOW_STATS (a path, appended, or stderr) if it is set. */
void stats_write(void);
/* A fork child counts from zero, the engine and every policy, and owns its counters. */
void stats_reset_all(void);
/* At start-up: this process owns its counters (a vfork child, sharing them, does not). */
void stats_own(void);
/*
 * The process ends (exit(), _exit(), _Exit()): with UCOW_STATS, what each policy holds is
 * measured and the object written, once per process. A vfork child or a raw clone, which
 * shares or copies its parent's counters without owning them, writes nothing.
 */
void stats_at_exit(void);
/* With UCOW_STATS=DIR/, at start-up and in a fork child: this image's file, and a first
 * object in it (a process killed before any refresh still counts, as not managed). */
void stats_file_start(bool fork_child);
/* Lets each policy measure what [start,end) holds, before it goes (munmap, exit). */
void stats_account(uintptr_t start, uintptr_t end);
/*
 * Handler thread: stats_format() with what the regions still mapped hold measured now, into
 * the policies' live counters (cleared after, never counted at exit). -EBUSY when the exit's
 * own measure holds on.
 */
int stats_format_live(char *buf, size_t size);

/* Before an exec (exec.c): the figures so far, written and marked ended in the stats file;
 * after one that failed, the mark taken back. */
void stats_before_exec(void);
void stats_exec_failed(void);

#endif

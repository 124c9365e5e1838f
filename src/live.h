/* live.h: live statistics on request (`ucow stat`): the handler thread's stats page and its
 * doorbell, and the periodic refresh of the per-process stats file (UCOW_STATS=DIR/). */
#ifndef UCOW_LIVE_H
#define UCOW_LIVE_H

#include <stddef.h>

/* What answers a request: stats_format_live (stats_report.h), set at start-up. */
extern int (*live_format)(char *buf, size_t size);

/*
 * Handler thread, once it has its own table: maps the live page and opens the doorbell (an
 * eventfd kept in the handler's table only). Returns the doorbell to poll, or -1: then this
 * process has no live statistics (one info line says why), and is otherwise unchanged.
 */
int live_start(void);

/* Handler thread: the doorbell rang; answers with the statistics measured now. */
void live_answer(void);

/* Handler thread: @timeout_ms for poll, shortened to the next refresh of the stats file. */
int live_timeout(int timeout_ms);
/* Handler thread: refreshes the stats file if it is time (only while memory is managed). */
void live_tick(void);

/* Fork child: the page it inherited is its parent's; its own handler maps another. */
void live_fork_child(void);

/* The handler stops: readers no longer find the page ready. */
void live_stop(void);
/* The doorbell failed (poll said POLLERR or POLLNVAL): no more live statistics. */
void live_doorbell_lost(void);

#endif

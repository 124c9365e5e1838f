/* live_abi.h: what ucow's live statistics look like from outside the process: the page the
 * handler answers `ucow stat` in, and the per-process file of UCOW_STATS=DIR/. */
#ifndef UCOW_LIVE_ABI_H
#define UCOW_LIVE_ABI_H

#include <stdint.h>

/*
 * The live page: a memfd of this name mapped MAP_SHARED (its descriptor closed), so that
 * /proc/PID/maps shows "/memfd:ucow-stats (deleted)". `ucow stat` reads the header with
 * process_vm_readv, takes a copy of @eventfd from the handler thread @tid's own table
 * (pidfd_open(PIDFD_THREAD), pidfd_getfd: both need ptrace access), writes to it, and waits
 * until @answered moves; then @json holds the process's statistics object, measured then.
 */
#define UCOW_LIVE_NAME "ucow-stats"
#define UCOW_LIVE_MAGIC 0x6576696c776f6375ULL	/* "ucowlive" */
#define UCOW_LIVE_VERSION 1
#define UCOW_LIVE_SIZE 8192UL

struct ucow_live_header {
	uint64_t magic;
	uint32_t version;
	int32_t pid;		/* the process (a fork child's inherited page is not its own) */
	int32_t tid;		/* the handler thread */
	int32_t eventfd;	/* the request doorbell, in the handler's own table */
	uint32_t answered;	/* odd while an answer is written; +2 per answer */
	uint32_t len;		/* of @json, without a NUL */
	uint64_t answered_ns;	/* CLOCK_MONOTONIC of the last answer */
	uint64_t reserved[3];
};

#define UCOW_LIVE_JSON_MAX (UCOW_LIVE_SIZE - sizeof(struct ucow_live_header))

/*
 * UCOW_STATS=DIR/ (`ucow run --stats`): each process image keeps one file in DIR, opened when
 * it starts (before it can drop privileges) and mapped MAP_SHARED: its latest statistics
 * object, rewritten at exit, on each live request and every UCOW_STATS_REFRESH_MS while it
 * manages memory. A process killed by a signal leaves its figures as of the last refresh.
 */
#define UCOW_STATS_FILE_MAGIC 0x7374617473776f63ULL	/* "cowstats" */
#define UCOW_STATS_FILE_VERSION 1
#define UCOW_STATS_FILE_SIZE 8192UL
#define UCOW_STATS_REFRESH_MS 1000
#define UCOW_STATS_FILE_ENDED 0x1u	/* written by the image's exit (exit, _exit) */

struct ucow_stats_file_header {
	uint64_t magic;
	uint32_t version;
	int32_t pid;
	uint64_t starttime;	/* /proc/PID/stat field 22: kept across exec, unlike a reused pid */
	uint64_t created_ns;	/* CLOCK_BOOTTIME at open: orders the images of one process */
	uint32_t gen;		/* slot[gen & 1] is the latest object */
	uint32_t flags;		/* UCOW_STATS_FILE_* */
	uint32_t len[2];
	uint64_t reserved[2];
};

#define UCOW_STATS_SLOT_MAX ((UCOW_STATS_FILE_SIZE - sizeof(struct ucow_stats_file_header)) / 2)

#endif

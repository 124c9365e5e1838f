/* cli.h: what the parts of the ucow command share: exit statuses, the subcommands,
 * finding libucow.so, and the --stats summary. */
#ifndef UCOW_CLI_H
#define UCOW_CLI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* Exit statuses of ucow itself, as env(1) and nohup(1) use them. */
#define UCOW_EXIT_USAGE 125	/* ucow's own error: bad option, no library */
#define UCOW_EXIT_CANNOT_EXEC 126
#define UCOW_EXIT_NOT_FOUND 127

int ucow_cmd_run(int argc, char **argv);
int ucow_cmd_features(int argc, char **argv);
int ucow_cmd_stat(int argc, char **argv);

/*
 * Finds libucow.so: the build tree next to this executable, the installed libdir, then
 * <exe dir>/../lib. Writes its absolute path into @path and returns 0, or returns -1
 * and writes where it looked into @path.
 */
int ucow_find_library(char *path, size_t size);

/* Totals over the JSON lines the processes of one `ucow run --stats` wrote. */
struct ucow_stats_total {
	unsigned long processes;
	unsigned long managed;
	unsigned long malformed;
	unsigned long uffd_full, uffd_user_only, uffd_none, uffd_unused;
	unsigned long signalled;	/* ended without exit: killed (UCOW_STATS=DIR/) */
	unsigned long running;		/* still running when the summary was made */
	long command_pid;		/* set by the caller: the process `ucow run` started */
	char comm[32];			/* its name, or else the first reported process's */
	long pid;			/* and its pid */
	char shmem_mode[16];		/* the last mode reported */
	uint64_t regions, register_failed, faults, unknown_faults;
	uint64_t poisoned, fallbacks;
	uint64_t shmem_regions, shmem_faults_read, shmem_faults_write;
	uint64_t pages_zero_mapped, pages_filled_private;
	uint64_t pagecache_pages_avoided, pagecache_pages_filled;
	uint64_t untouched_bytes;	/* filled ahead by ucow, never touched */
	uint64_t shmem_bytes_saved;	/* page cache the shmem-hole policy avoided */
	uint64_t refpage_regions, refpage_faults, refpage_pages_filled, refpage_eager_bytes;
	uint64_t lazy_deferred_calls, lazy_pages_deferred, lazy_pages_touched, lazy_bytes_saved;
	uint64_t pins_known, pins_liburing, pins_raw, pins_api, pins_fork_copied_pages;
	/* Anonymous memory in managed regions, measured by the library as they went. */
	uint64_t private_bytes;
};

/* Adds one line of UCOW_STATS output; a line that is not a JSON object is counted as
 * malformed and otherwise ignored. */
void ucow_stats_add_line(struct ucow_stats_total *t, const char *line);
/* One object's figures into @one: 0, or -1 if it is malformed. */
int ucow_stats_parse(const char *text, struct ucow_stats_total *one);
/* Adds one process @s (an object parsed, or the images of one process merged) to @t. */
void ucow_stats_add(struct ucow_stats_total *t, const struct ucow_stats_total *s);
/* Adds @later, the image a process exec'd, to @s, its earlier images: still one process. */
void ucow_stats_add_image(struct ucow_stats_total *s, const struct ucow_stats_total *later);
/*
 * Reads the per-process files of UCOW_STATS=DIR/ (live_abi.h): the images of one process
 * (same pid and start time) are one process; one whose last image did not exit is still
 * running or was killed. Removes the files it read with @remove. -errno if @dir cannot be read.
 */
int ucow_stats_read_dir(struct ucow_stats_total *t, const char *dir, bool remove);
/* Reads every line of @path; -errno if it cannot be opened. */
int ucow_stats_read_file(struct ucow_stats_total *t, const char *path);
/* The short human summary, every line starting with @prefix ("ucow: stats: "). */
void ucow_stats_print(const struct ucow_stats_total *t, FILE *out, const char *prefix);

#endif

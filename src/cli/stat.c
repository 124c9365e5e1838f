/* stat.c: `ucow stat PID...`: the live statistics of running managed processes, asked of
 * each process's handler thread through its stats page and doorbell (src/live_abi.h). */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "live_abi.h"
#include "procfs.h"

#ifndef PIDFD_THREAD
#define PIDFD_THREAD O_EXCL
#endif

#define ANSWER_PATIENCE_NS 2000000000ULL	/* 2 s */

static const char stat_usage[] =
	"Usage: ucow stat [--json] [--watch SECONDS] PID...\n"
	"Show what ucow saves in running processes, measured now.\n"
	"\n"
	"  --json             one JSON object per process and line (as UCOW_STATS writes)\n"
	"  --watch SECONDS    ask again every SECONDS until every process has ended\n"
	"  -h, --help         show this help\n"
	"\n"
	"Needs the access ptrace needs (root, or the same user where ptrace rules allow).\n"
	"Exit status: 0, or 1 if a process is not running or not managed by ucow.\n";

struct target {
	pid_t pid;
	bool failed;		/* said once, dropped */
	uintptr_t page;		/* the live page in its address space */
	pid_t tid;		/* its handler thread */
	int bell;		/* our copy of its doorbell, or -1 */
};

static void fail(struct target *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void fail(struct target *t, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "ucow: stat: %d: ", (int)t->pid);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	t->failed = true;
	if (t->bell >= 0)
		close(t->bell);
	t->bell = -1;
}

static void comm_of(pid_t pid, char *comm, size_t size)
{
	char path[64];
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/comm", (int)pid);
	snprintf(comm, size, "?");
	f = fopen(path, "re");
	if (!f)
		return;
	if (fgets(comm, (int)size, f))
		comm[strcspn(comm, "\n")] = '\0';
	fclose(f);
}

/* The live page of @t from /proc/PID/maps: 0, or -1 after saying why there is none. */
static int find_page(struct target *t)
{
	static const char suffix[] = "/memfd:" UCOW_LIVE_NAME " (deleted)";
	char path[64], line[512], comm[32];
	bool has_lib = false;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/maps", (int)t->pid);
	f = fopen(path, "re");
	if (!f) {
		if (errno == ENOENT) {
			fail(t, "no such process");
			return -1;
		}
		fail(t, "cannot read %s: %s (root, or the process's own user, may)", path,
		     strerror(errno));
		return -1;
	}
	t->page = 0;
	while (fgets(line, sizeof(line), f)) {
		size_t len = strcspn(line, "\n");
		unsigned long start;

		line[len] = '\0';
		if (strstr(line, "/libucow.so"))
			has_lib = true;
		if (len >= sizeof(suffix) - 1 &&
		    strcmp(line + len - (sizeof(suffix) - 1), suffix) == 0 &&
		    sscanf(line, "%lx-", &start) == 1)
			t->page = start;
	}
	fclose(f);
	if (t->page)
		return 0;
	comm_of(t->pid, comm, sizeof(comm));
	if (!has_lib)
		fail(t, "%s is not running ucow (libucow.so is not loaded in it)", comm);
	else
		fail(t, "%s runs ucow but manages no memory (no region was managed yet)", comm);
	return -1;
}

static int read_remote(pid_t pid, uintptr_t addr, void *buf, size_t len)
{
	struct iovec local = { buf, len }, remote = { (void *)addr, len };
	ssize_t n = syscall(SYS_process_vm_readv, pid, &local, 1, &remote, 1, 0);

	if (n == (ssize_t)len)
		return 0;
	return n < 0 ? -errno : -EIO;
}

/* Whether @tid is a thread of process @pid now. */
static bool thread_of(pid_t pid, pid_t tid)
{
	char path[64];
	struct stat st;

	snprintf(path, sizeof(path), "/proc/%d/task/%d", (int)pid, (int)tid);
	return stat(path, &st) == 0;
}


/* A copy of the handler's doorbell: 0, or -1 after saying why not. */
static int connect_target(struct target *t)
{
	struct ucow_live_header h;
	char comm[32];
	int pidfd, r;

	if (find_page(t) < 0)
		return -1;
	r = read_remote(t->pid, t->page, &h, sizeof(h));
	if (r < 0) {
		fail(t, "cannot read its stats page: %s (ptrace access is needed: root, or the "
		     "same user where ptrace rules allow)", strerror(-r));
		return -1;
	}
	if (h.magic != UCOW_LIVE_MAGIC || h.pid != t->pid) {
		comm_of(t->pid, comm, sizeof(comm));
		fail(t, "%s runs ucow but manages no memory (its stats page is %s)", comm,
		     h.magic != UCOW_LIVE_MAGIC ? "not ready" : "its parent's");
		return -1;
	}
	if (h.version != UCOW_LIVE_VERSION) {
		fail(t, "its ucow speaks stats page version %u, this one %u", h.version,
		     UCOW_LIVE_VERSION);
		return -1;
	}
	pidfd = (int)syscall(SYS_pidfd_open, h.tid, PIDFD_THREAD);
	if (pidfd < 0) {
		fail(t, "cannot reach its handler thread %d: %s", (int)h.tid, strerror(errno));
		return -1;
	}
	/* The page is the target's to write: its thread id must be one of the target's own
	 * threads (checked after the pidfd pins it), and the descriptor an eventfd, or this
	 * would write into whatever some other process holds there. */
	if (!thread_of(t->pid, h.tid)) {
		close(pidfd);
		fail(t, "its stats page names thread %d, which is not one of its own", (int)h.tid);
		return -1;
	}
	t->bell = (int)syscall(SYS_pidfd_getfd, pidfd, h.eventfd, 0);
	r = errno;
	close(pidfd);
	if (t->bell < 0) {
		fail(t, "cannot take its stats doorbell: %s (ptrace access is needed: root, or "
		     "the same user where ptrace rules allow)", strerror(r));
		return -1;
	}
	if (!procfs_fd_is_anon(t->bell, "eventfd")) {
		close(t->bell);
		t->bell = -1;
		fail(t, "its stats page names descriptor %d, which is no eventfd", (int)h.eventfd);
		return -1;
	}
	t->tid = h.tid;
	return 0;
}

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* Rings and waits for the answer: its length in @json, or -1 after saying why. */
static int ask(struct target *t, char *json, size_t size)
{
	struct ucow_live_header h;
	uint64_t one = 1, deadline;
	uint32_t before;
	int r;

	if (t->bell < 0 && connect_target(t) < 0)
		return -1;
	r = read_remote(t->pid, t->page, &h, sizeof(h));
	if (r < 0) {
		fail(t, r == -ESRCH ? "the process has ended" : "cannot read its stats page: %s",
		     strerror(-r));
		return -1;
	}
	before = h.answered & ~1u;
	if (write(t->bell, &one, sizeof(one)) != sizeof(one)) {
		fail(t, "cannot ring its stats doorbell: %s", strerror(errno));
		return -1;
	}
	deadline = now_ns() + ANSWER_PATIENCE_NS;
	for (;;) {
		struct timespec pause = { 0, 200000 };

		nanosleep(&pause, NULL);
		r = read_remote(t->pid, t->page, &h, sizeof(h));
		if (r < 0) {
			fail(t, r == -ESRCH ? "the process has ended" :
			     "cannot read its stats page: %s", strerror(-r));
			return -1;
		}
		if (!(h.answered & 1) && h.answered - before >= 2) {
			uint32_t again;

			if (h.len == 0 || h.len >= size || h.len > UCOW_LIVE_JSON_MAX) {
				fail(t, "its handler could not measure now (the process is exiting?)");
				return -1;
			}
			if (read_remote(t->pid, t->page + sizeof(h), json, h.len) == 0 &&
			    read_remote(t->pid, t->page + offsetof(struct ucow_live_header,
								   answered),
					&again, sizeof(again)) == 0 && again == h.answered) {
				json[h.len] = '\0';
				return (int)h.len;
			}
			before = h.answered;	/* another asker's answer overtook: ring again */
			if (write(t->bell, &one, sizeof(one)) != sizeof(one))
				break;
		}
		if (now_ns() > deadline) {
			fail(t, "no answer within 2 s (its handler thread is stopped or busy)");
			return -1;
		}
	}
	fail(t, "cannot ring its stats doorbell: %s", strerror(errno));
	return -1;
}

static int show(struct target *t, bool json_out, bool *first)
{
	char json[UCOW_LIVE_JSON_MAX + 1];
	struct ucow_stats_total total = { 0 };

	if (ask(t, json, sizeof(json)) < 0)
		return -1;
	if (json_out) {
		printf("%s\n", json);
		return 0;
	}
	total.command_pid = t->pid;
	ucow_stats_add_line(&total, json);
	if (!*first)
		putchar('\n');
	*first = false;
	ucow_stats_print(&total, stdout, "");
	return 0;
}

int ucow_cmd_stat(int argc, char **argv)
{
	struct target *targets;
	bool json_out = false;
	double watch = 0;
	int i, n = 0, status = 0;

	for (i = 1; i < argc; i++) {
		const char *a = argv[i];
		char *end;

		if (strcmp(a, "--") == 0) {
			i++;
			break;
		}
		if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
			fputs(stat_usage, stdout);
			return 0;
		}
		if (strcmp(a, "--json") == 0) {
			json_out = true;
		} else if (strcmp(a, "--watch") == 0 || strncmp(a, "--watch=", 8) == 0) {
			const char *v = a[7] == '=' ? a + 8 : (i + 1 < argc ? argv[++i] : NULL);

			watch = v ? strtod(v, &end) : 0;
			if (!v || end == v || *end || !(watch > 0) || watch > 86400) {
				fprintf(stderr, "ucow: stat: --watch needs a number of seconds "
					"(0 < SECONDS <= 86400)\n");
				return UCOW_EXIT_USAGE;
			}
		} else if (a[0] == '-') {
			fprintf(stderr, "ucow: stat: unknown option '%s'; try 'ucow stat --help'\n",
				a);
			return UCOW_EXIT_USAGE;
		} else {
			break;
		}
	}
	if (i >= argc) {
		fprintf(stderr, "ucow: stat: no process given; usage: ucow stat [--json] "
			"[--watch SECONDS] PID...\n");
		return UCOW_EXIT_USAGE;
	}
	targets = calloc((size_t)(argc - i), sizeof(*targets));
	if (!targets) {
		fprintf(stderr, "ucow: stat: out of memory\n");
		return UCOW_EXIT_USAGE;
	}
	for (; i < argc; i++) {
		char *end;
		long pid = strtol(argv[i], &end, 10);

		if (end == argv[i] || *end || pid <= 0 || pid > 0x3fffffff) {
			fprintf(stderr, "ucow: stat: '%s' is not a process id\n", argv[i]);
			free(targets);
			return UCOW_EXIT_USAGE;
		}
		targets[n++] = (struct target){ .pid = (pid_t)pid, .bell = -1 };
	}
	for (;;) {
		bool first = true, any = false;

		for (int k = 0; k < n; k++) {
			if (targets[k].failed)
				continue;
			if (show(&targets[k], json_out, &first) < 0)
				status = 1;
			else
				any = true;
		}
		fflush(stdout);
		if (!watch || !any)
			break;
		if (!json_out)
			putchar('\n');
		struct timespec ts = { (time_t)watch, (long)((watch - (time_t)watch) * 1e9) };

		while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
			;
	}
	for (int k = 0; k < n; k++)
		if (targets[k].bell >= 0)
			close(targets[k].bell);
	free(targets);
	return status;
}

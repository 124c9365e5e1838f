/* run.c: `ucow run`: checks the options with the library's own parsers, sets the UCOW_*
 * knobs, puts libucow.so first in LD_PRELOAD (and libucow-memset.so after it, for lazy
 * memset) and runs the command; with a bare --stats it stays the parent to print a summary
 * when the command is done. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "config.h"
#include "cli.h"

/* The SONAMEs (-version-info in src/Makefile.inc): a build tree, `make install` and the
 * runtime package alone (Debian's libucow0, without the -dev package's libucow.so) all
 * have these names. */
#define LIBRARY_NAME "libucow.so.0"
#define MEMSET_LIBRARY_NAME "libucow-memset.so.0"	/* next to it: lazy memset's memset */

static const char run_usage[] =
	"Usage: ucow run [OPTIONS] [--] COMMAND [ARGS]\n"
	"Run COMMAND with libucow.so preloaded, so that its memory is managed by ucow.\n"
	"\n"
	"  --shmem-holes=MODE   MAP_PRIVATE tmpfs/memfd holes: zero (default), write or off\n"
	"  --lazy-memset[=on|off]  defer large memsets of untouched memory (default off)\n"
	"  --fault-around=SIZE  largest window filled on one fault, e.g. 64K or 2M; 0 = one page\n"
	"  --idle-poll[=on|off] idle CPUs poll, not halt, while faults are served (root)\n"
	"  --local-wake[=on|off]  wake a faulting thread from its own CPU (default on)\n"
	"  --stats              print a summary of what ucow did when COMMAND exits\n"
	"  --stats=PATH         append one JSON line per process to PATH (or stderr)\n"
	"  --log=LEVEL          ucow's diagnostics: error, warn (default), info or debug\n"
	"  -h, --help           show this help\n"
	"\n"
	"Exit status: COMMAND's; 125 if ucow itself fails, 126 if COMMAND cannot be run,\n"
	"127 if it is not found. See ucow(1) and ucow(7).\n";

/* The options of `ucow run`, each one knob. */
struct run_option {
	const char *name;	/* without the leading "--" */
	const char *knob;
	bool value_optional;	/* --name alone is allowed */
	const char *implied;	/* the value of --name alone */
};

static const struct run_option run_options[] = {
	{ "shmem-holes", "UCOW_SHMEM_HOLES", false, NULL },
	{ "lazy-memset", "UCOW_LAZY_MEMSET", true, "on" },
	{ "fault-around", "UCOW_FAULT_AROUND", false, NULL },
	{ "idle-poll", "UCOW_IDLE_POLL", true, "on" },
	{ "local-wake", "UCOW_LOCAL_WAKE", true, "on" },
	{ "stats", "UCOW_STATS", true, NULL },	/* alone: summarise */
	{ "log", "UCOW_LOG", false, NULL },
	{ NULL, NULL, false, NULL },
};

#define MAX_SETTINGS 16

struct run_request {
	struct {
		const char *knob;
		const char *value;
	} set[MAX_SETTINGS];
	int nset;
	bool summarise;		/* a bare --stats */
	char stats_path[PATH_MAX];
	char **command;
};

static int run_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static int run_error(const char *fmt, ...)
{
	va_list ap;

	fputs("ucow: run: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return UCOW_EXIT_USAGE;
}

static int exe_dir(char *dir, size_t size)
{
	ssize_t n = readlink("/proc/self/exe", dir, size - 1);
	char *slash;

	if (n <= 0)
		return -1;
	dir[n] = '\0';
	slash = strrchr(dir, '/');
	if (!slash)
		return -1;
	*slash = '\0';
	return 0;
}

/* @dir/libucow.so.0, with @dir made canonical but the library's own name kept, so that
 * LD_PRELOAD names the SONAME, as ld.so would. */
static int try_library(const char *dir, char *path, size_t size)
{
	char candidate[PATH_MAX], real_dir[PATH_MAX];

	if ((size_t)snprintf(candidate, sizeof(candidate), "%s/" LIBRARY_NAME, dir) >=
	    sizeof(candidate))
		return -1;
	if (access(candidate, R_OK) != 0 || !realpath(dir, real_dir))
		return -1;
	if ((size_t)snprintf(path, size, "%s/" LIBRARY_NAME, real_dir) >= size)
		return -1;
	return 0;
}

int ucow_find_library(char *path, size_t size)
{
	char dir[PATH_MAX], sub[PATH_MAX + 16];
	bool have_exe = exe_dir(dir, sizeof(dir) - 16) == 0;

	/* A build tree first, so that a freshly built ucow never runs an older installed copy. */
	if (have_exe) {
		snprintf(sub, sizeof(sub), "%s/src/.libs", dir);
		if (try_library(sub, path, size) == 0)
			return 0;
	}
#ifdef UCOW_LIBDIR
	if (try_library(UCOW_LIBDIR, path, size) == 0)
		return 0;
#endif
	if (have_exe) {
		snprintf(sub, sizeof(sub), "%s/../lib", dir);
		if (try_library(sub, path, size) == 0)
			return 0;
	}
	snprintf(path, size, "%s/src/.libs"
#ifdef UCOW_LIBDIR
		 ", " UCOW_LIBDIR
#endif
		 " and %s/../lib", have_exe ? dir : "?", have_exe ? dir : "?");
	return -1;
}

/* Whether LD_PRELOAD entry @entry names the library at @lib. */
static bool same_library(const char *entry, const char *lib)
{
	char a[PATH_MAX], b[PATH_MAX];

	if (strcmp(entry, lib) == 0)
		return true;
	/* A bare name is looked up by ld.so in its own paths, not relative to here. */
	if (!strchr(entry, '/'))
		return false;
	return realpath(entry, a) && realpath(lib, b) && strcmp(a, b) == 0;
}

/* @lib (and @memset_lib after it, if not NULL), then every other entry of @old in order;
 * ld.so splits on spaces and colons. */
static char *preload_list(const char *lib, const char *memset_lib, const char *old)
{
	size_t size = strlen(lib) + (memset_lib ? strlen(memset_lib) + 1 : 0) +
		      (old ? strlen(old) : 0) + 2;
	char *list = malloc(size), *copy, *entry, *save = NULL;

	if (!list)
		return NULL;
	strcpy(list, lib);
	if (memset_lib) {
		strcat(list, ":");
		strcat(list, memset_lib);
	}
	if (!old)
		return list;
	copy = strdup(old);
	if (!copy) {
		free(list);
		return NULL;
	}
	for (entry = strtok_r(copy, " :", &save); entry; entry = strtok_r(NULL, " :", &save)) {
		if (same_library(entry, lib) || (memset_lib && same_library(entry, memset_lib)))
			continue;
		strcat(list, ":");
		strcat(list, entry);
	}
	free(copy);
	return list;
}

/*
 * Whether the command runs with lazy memset (--lazy-memset, or UCOW_LAZY_MEMSET=on already in
 * the environment): then libucow-memset.so, next to @lib, goes into @path. Without that file
 * libucow.so says so itself when the command starts, and runs on without lazy memset.
 */
static bool memset_library(const char *lib, char *path, size_t size)
{
	const struct ucow_knob *knob = ucow_knob_find("UCOW_LAZY_MEMSET");
	const char *value = getenv("UCOW_LAZY_MEMSET");
	const char *slash = strrchr(lib, '/');
	struct ucow_config cfg;
	char err[256];

	ucow_config_defaults(&cfg);
	if (!knob || !value || ucow_knob_set(&cfg, knob, value, err, sizeof(err)) < 0 ||
	    !cfg.lazy_memset || !slash)
		return false;
	if ((size_t)snprintf(path, size, "%.*s/" MEMSET_LIBRARY_NAME, (int)(slash - lib), lib) >=
	    size)
		return false;
	return access(path, R_OK) == 0;
}

static const struct run_option *find_option(const char *name, size_t len)
{
	for (const struct run_option *o = run_options; o->name; o++)
		if (strlen(o->name) == len && strncmp(o->name, name, len) == 0)
			return o;
	return NULL;
}

/* Checks @value exactly as the library will, so that a typo stops here, not later. */
static int check_knob(const struct run_option *o, const char *value)
{
	const struct ucow_knob *knob = ucow_knob_find(o->knob);
	struct ucow_config scratch;
	char err[256];

	if (!knob)
		return run_error("--%s: this build knows no knob %s", o->name, o->knob);
	ucow_config_defaults(&scratch);
	if (ucow_knob_set(&scratch, knob, value, err, sizeof(err)) < 0)
		return run_error("--%s: %s", o->name, err);
	return 0;
}

static int set_stats_path(struct run_request *req, const char *value)
{
	char cwd[PATH_MAX];

	/* The library opens the path at exit, after the command may have changed directory. */
	if (value[0] == '/' || strcmp(value, "stderr") == 0 || value[0] == '\0') {
		snprintf(req->stats_path, sizeof(req->stats_path), "%s", value);
		return 0;
	}
	if (!getcwd(cwd, sizeof(cwd)))
		return run_error("--stats=%s: cannot resolve a relative path: %s", value,
				 strerror(errno));
	if ((size_t)snprintf(req->stats_path, sizeof(req->stats_path), "%s/%s", cwd, value) >=
	    sizeof(req->stats_path))
		return run_error("--stats=%s: the path is too long", value);
	return 0;
}

static int parse_run_args(int argc, char **argv, struct run_request *req)
{
	int i;

	for (i = 1; i < argc; i++) {
		const char *arg = argv[i], *name, *eq, *value;
		const struct run_option *o;
		size_t len;
		int r;

		if (strcmp(arg, "--") == 0) {
			i++;
			break;
		}
		if (arg[0] != '-' || arg[1] == '\0')
			break;	/* the command */
		if (strcmp(arg, "-h") == 0 || strcmp(arg, "--help") == 0) {
			fputs(run_usage, stdout);
			exit(fflush(stdout) == 0 ? 0 : UCOW_EXIT_USAGE);
		}
		if (arg[1] != '-')
			return run_error("unknown option '%s'; try 'ucow run --help'", arg);
		name = arg + 2;
		eq = strchr(name, '=');
		len = eq ? (size_t)(eq - name) : strlen(name);
		o = find_option(name, len);
		if (!o)
			return run_error("unknown option '%s'; try 'ucow run --help'", arg);
		if (eq) {
			value = eq + 1;
		} else if (o->value_optional) {
			value = o->implied;
		} else if (i + 1 < argc) {
			value = argv[++i];
		} else {
			return run_error("--%s needs a value; try 'ucow run --help'", o->name);
		}
		if (strcmp(o->name, "stats") == 0) {
			req->summarise = value == NULL;
			if (!value)
				continue;
			r = set_stats_path(req, value);
			if (r)
				return r;
			value = req->stats_path;
		}
		r = check_knob(o, value);
		if (r)
			return r;
		if (req->nset == MAX_SETTINGS)
			return run_error("too many options");
		req->set[req->nset].knob = o->knob;
		req->set[req->nset].value = value;
		req->nset++;
	}
	if (i >= argc)
		return run_error("no command given; usage: ucow run [OPTIONS] -- COMMAND [ARGS]");
	req->command = argv + i;
	return 0;
}

static int exec_status(int err)
{
	return err == ENOENT || err == ENOTDIR ? UCOW_EXIT_NOT_FOUND : UCOW_EXIT_CANNOT_EXEC;
}

static void exec_failed(const char *command, int err)
{
	fprintf(stderr, "ucow: run: cannot run '%s': %s\n", command, strerror(err));
}

/* The supervised run of a bare --stats. */

static const int forwarded_signals[] = { SIGINT, SIGTERM, SIGHUP, SIGQUIT };
#define N_FORWARDED (sizeof(forwarded_signals) / sizeof(forwarded_signals[0]))

static volatile pid_t supervised_child;

static void forward_signal(int sig, siginfo_t *info, void *uctx)
{
	pid_t child = supervised_child;
	int saved_errno = errno;

	if (child <= 0)
		return;
	/* The command signalling its own process group: it has the signal already. */
	if (info && info->si_pid == child)
		return;
	/*
	 * A signal from the terminal (^C, ^\) reaches the whole foreground process group,
	 * the command included, if it is still in ours: sending it again would deliver it
	 * twice (as sudo(8) also reasons).
	 */
	if (info && info->si_code == SI_KERNEL && getpgid(child) == getpgrp())
		return;
	kill(child, sig);
	errno = saved_errno;
}

struct temp_stats {
	char dir[PATH_MAX];
	char path[PATH_MAX + 16];	/* UCOW_STATS: the directory, with a final '/' */
};

/*
 * UCOW_STATS=DIR/: each process keeps its own file in a fresh directory, opened when it
 * starts and mapped, so that a process killed by a signal leaves its last figures and one
 * that drops privileges can still write. As root the directory is writable by all, sticky
 * and not listable (mode 1733): a child created after a privilege drop makes its file there,
 * under a name nobody can guess; otherwise it is private.
 */
static int make_temp_stats(struct temp_stats *ts)
{
	const char *tmp = getenv("TMPDIR");

	if (!tmp || tmp[0] != '/')
		tmp = "/tmp";
	if ((size_t)snprintf(ts->dir, sizeof(ts->dir), "%s/ucow-stats.XXXXXX", tmp) >=
	    sizeof(ts->dir))
		return run_error("--stats: TMPDIR is too long");
	if (!mkdtemp(ts->dir))
		return run_error("--stats: cannot create a directory in %s: %s", tmp,
				 strerror(errno));
	if (geteuid() == 0 && chmod(ts->dir, 01733) < 0) {
		rmdir(ts->dir);
		return run_error("--stats: cannot open %s to dropped privileges: %s", ts->dir,
				 strerror(errno));
	}
	snprintf(ts->path, sizeof(ts->path), "%s/", ts->dir);
	return 0;
}

static void remove_temp_stats(const struct temp_stats *ts)
{
	struct ucow_stats_total ignored = { 0 };

	ucow_stats_read_dir(&ignored, ts->dir, true);
	rmdir(ts->dir);
}

/* Ends ucow the way the command ended: its exit status, or death by the same signal. */
static int pass_on_status(int status)
{
	struct rlimit no_core = { 0, 0 };
	sigset_t only;
	int sig;

	if (WIFEXITED(status))
		return WEXITSTATUS(status);
	if (!WIFSIGNALED(status))
		return UCOW_EXIT_USAGE;
	sig = WTERMSIG(status);
	/* The command dumped its own core; ours would only overwrite it. */
	setrlimit(RLIMIT_CORE, &no_core);
	fflush(NULL);
	signal(sig, SIG_DFL);
	sigemptyset(&only);
	sigaddset(&only, sig);
	sigprocmask(SIG_UNBLOCK, &only, NULL);
	raise(sig);
	return 128 + sig;
}

static int run_supervised(char **command)
{
	struct sigaction forward = { .sa_sigaction = forward_signal,
				     .sa_flags = SA_SIGINFO | SA_RESTART };
	struct sigaction old_chld, dfl = { .sa_handler = SIG_DFL };
	struct sigaction old[N_FORWARDED];
	struct ucow_stats_total total = { 0 };
	struct temp_stats ts;
	sigset_t block, saved;
	int report[2], status, err, r;
	ssize_t n;
	pid_t child;

	r = make_temp_stats(&ts);
	if (r)
		return r;
	if (setenv("UCOW_STATS", ts.path, 1) != 0 || pipe2(report, O_CLOEXEC) != 0) {
		remove_temp_stats(&ts);
		return run_error("--stats: %s", strerror(errno));
	}
	sigemptyset(&block);
	for (size_t i = 0; i < N_FORWARDED; i++)
		sigaddset(&block, forwarded_signals[i]);
	sigprocmask(SIG_BLOCK, &block, &saved);
	/* Inheriting SIGCHLD ignored would let the kernel reap the command before we can. */
	sigaction(SIGCHLD, &dfl, &old_chld);

	child = fork();
	if (child == 0) {
		sigaction(SIGCHLD, &old_chld, NULL);
		sigprocmask(SIG_SETMASK, &saved, NULL);
		close(report[0]);
		execvp(command[0], command);
		err = errno;
		if (write(report[1], &err, sizeof(err)) < 0)
			exec_failed(command[0], err);
		_exit(exec_status(err));
	}
	if (child < 0) {
		err = errno;
		sigprocmask(SIG_SETMASK, &saved, NULL);
		remove_temp_stats(&ts);
		return run_error("cannot fork: %s", strerror(err));
	}
	supervised_child = child;
	close(report[1]);
	for (size_t i = 0; i < N_FORWARDED; i++) {
		sigaction(forwarded_signals[i], NULL, &old[i]);
		/* An ignored signal (nohup) stays ignored, for us as for the command. */
		if (old[i].sa_handler != SIG_IGN)
			sigaction(forwarded_signals[i], &forward, NULL);
	}
	sigprocmask(SIG_SETMASK, &saved, NULL);

	do
		n = read(report[0], &err, sizeof(err));
	while (n < 0 && errno == EINTR);
	close(report[0]);

	while (waitpid(child, &status, 0) < 0) {
		if (errno != EINTR) {
			err = errno;
			remove_temp_stats(&ts);
			return run_error("waiting for '%s': %s", command[0], strerror(err));
		}
	}
	supervised_child = 0;
	if (n == (ssize_t)sizeof(err)) {
		remove_temp_stats(&ts);
		exec_failed(command[0], err);
		return exec_status(err);
	}

	total.command_pid = child;
	r = ucow_stats_read_dir(&total, ts.dir, true);
	if (r < 0)
		fprintf(stderr, "ucow: stats: cannot read %s: %s\n", ts.dir, strerror(-r));
	ucow_stats_print(&total, stderr, "ucow: stats: ");
	rmdir(ts.dir);
	return pass_on_status(status);
}

int ucow_cmd_run(int argc, char **argv)
{
	struct run_request req = { 0 };
	char lib[PATH_MAX], memset_lib[PATH_MAX];
	char *preload;
	int r;

	r = parse_run_args(argc, argv, &req);
	if (r)
		return r;
	if (ucow_find_library(lib, sizeof(lib)) < 0)
		return run_error("cannot find " LIBRARY_NAME " (looked in %s); build it with "
				 "'make' or install it with 'make install'", lib);
	if (strpbrk(lib, " :"))
		return run_error("the library path '%s' holds a space or a colon, which "
				 "LD_PRELOAD cannot carry; install ucow elsewhere", lib);
	for (int i = 0; i < req.nset; i++)
		if (setenv(req.set[i].knob, req.set[i].value, 1) != 0)
			return run_error("setting %s: %s", req.set[i].knob, strerror(errno));
	preload = preload_list(lib, memset_library(lib, memset_lib, sizeof(memset_lib)) ?
				    memset_lib : NULL, getenv("LD_PRELOAD"));
	if (!preload || setenv("LD_PRELOAD", preload, 1) != 0)
		return run_error("setting LD_PRELOAD: %s", strerror(errno));
	free(preload);
	fflush(stdout);

	if (req.summarise)
		return run_supervised(req.command);
	execvp(req.command[0], req.command);
	r = errno;
	exec_failed(req.command[0], r);
	return exec_status(r);
}

/* exec.c: the exec family as the program sees it. An image that execs a program that does not
 * load ucow (setuid, LD_PRELOAD taken out) never exits through ucow: under UCOW_STATS=DIR/ its
 * figures are written just before the exec and marked ended, so that `ucow run --stats`
 * counts it as ended, not killed; taken back if the exec fails. glibc's own exec functions
 * call each other inside libc, past any interposer: each is stood in front of here. */
#include <dlfcn.h>
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <unistd.h>

#include "cancel.h"
#include "stats_report.h"

#define EXPORT __attribute__((visibility("default")))

typedef int (*execve_fn)(const char *, char *const[], char *const[]);
typedef int (*fexecve_fn)(int, char *const[], char *const[]);

static struct {
	execve_fn execve, execvpe;
	fexecve_fn fexecve;
} next_exec;

/* Resolved at load, not at the call: an exec may come from a vfork child, which must not take
 * the dynamic linker's locks. */
__attribute__((constructor)) static void exec_resolve(void)
{
	next_exec.execve = (execve_fn)dlsym(RTLD_NEXT, "execve");
	next_exec.execvpe = (execve_fn)dlsym(RTLD_NEXT, "execvpe");
	next_exec.fexecve = (fexecve_fn)dlsym(RTLD_NEXT, "fexecve");
}

/* The exec failed: the image lives on, its figures are not final (errno kept). */
static int failed(void)
{
	int saved = errno;

	stats_exec_failed();
	errno = saved;
	return -1;
}

static int run_execve(const char *path, char *const argv[], char *const envp[])
{
	if (!next_exec.execve) {
		errno = ENOSYS;
		return -1;
	}
	stats_before_exec();
	next_exec.execve(path, argv, envp);
	return failed();
}

static int run_execvpe(const char *file, char *const argv[], char *const envp[])
{
	if (!next_exec.execvpe) {
		errno = ENOSYS;
		return -1;
	}
	stats_before_exec();
	next_exec.execvpe(file, argv, envp);
	return failed();
}

EXPORT int execve(const char *path, char *const argv[], char *const envp[])
{
	UCOW_NO_CANCEL;
	return run_execve(path, argv, envp);
}

EXPORT int execv(const char *path, char *const argv[])
{
	UCOW_NO_CANCEL;
	return run_execve(path, argv, environ);
}

EXPORT int execvpe(const char *file, char *const argv[], char *const envp[])
{
	UCOW_NO_CANCEL;
	return run_execvpe(file, argv, envp);
}

EXPORT int execvp(const char *file, char *const argv[])
{
	UCOW_NO_CANCEL;
	return run_execvpe(file, argv, environ);
}

EXPORT int fexecve(int fd, char *const argv[], char *const envp[])
{
	UCOW_NO_CANCEL;
	if (!next_exec.fexecve) {
		errno = ENOSYS;
		return -1;
	}
	stats_before_exec();
	next_exec.fexecve(fd, argv, envp);
	return failed();
}

/*
 * execl, execlp and execle: the argument list after @arg, up to its NULL, made an argv (and,
 * @with_env, the envp after the NULL taken), then run as execve or, @search, execvpe.
 */
static int run_list(const char *file, const char *arg, va_list ap, bool search, bool with_env)
{
	va_list count;
	size_t n = 1;

	va_copy(count, ap);
	while (va_arg(count, char *))
		n++;
	va_end(count);
	{
		char *argv[n + 1];
		char *const *envp = environ;

		argv[0] = (char *)arg;
		for (size_t i = 1; i <= n; i++)
			argv[i] = va_arg(ap, char *);
		if (with_env)
			envp = va_arg(ap, char *const *);
		return search ? run_execvpe(file, argv, envp) : run_execve(file, argv, envp);
	}
}

EXPORT int execl(const char *path, const char *arg, ...)
{
	UCOW_NO_CANCEL;
	va_list ap;
	int ret;

	va_start(ap, arg);
	ret = run_list(path, arg, ap, false, false);
	va_end(ap);
	return ret;
}

EXPORT int execlp(const char *file, const char *arg, ...)
{
	UCOW_NO_CANCEL;
	va_list ap;
	int ret;

	va_start(ap, arg);
	ret = run_list(file, arg, ap, true, false);
	va_end(ap);
	return ret;
}

EXPORT int execle(const char *path, const char *arg, ...)
{
	UCOW_NO_CANCEL;
	va_list ap;
	int ret;

	va_start(ap, arg);
	ret = run_list(path, arg, ap, false, true);
	va_end(ap);
	return ret;
}

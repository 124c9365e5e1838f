/* exit.c: _exit and _Exit as the program sees them. exit() writes the statistics object from
 * ucow's destructor; a fork child usually ends with _exit, which runs none: it is written here
 * first, so that `ucow run --stats` counts the children too. */
#include <dlfcn.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "cancel.h"
#include "interpose.h"
#include "stats_report.h"

#define EXPORT __attribute__((visibility("default")))

EXPORT void _exit(int status)
{
	UCOW_NO_CANCEL;
	stats_at_exit();
	if (!ucow_next._exit)
		ucow_next._exit = dlsym(RTLD_NEXT, "_exit");
	if (ucow_next._exit)
		ucow_next._exit(status);
	syscall(SYS_exit_group, status);
	__builtin_unreachable();
}

EXPORT void _Exit(int status) __attribute__((alias("_exit")));

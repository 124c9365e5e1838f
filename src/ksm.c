/* ksm.c: prctl as the program sees it. PR_SET_MEMORY_MERGE makes every mapping mergeable, and
 * KSM merges only pages that are there: the policies fill theirs first, as for MADV_MERGEABLE. */
#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "cancel.h"
#include "compat.h"
#include "config.h"
#include "interpose.h"
#include "policy.h"
#include "sys.h"

#define EXPORT __attribute__((visibility("default")))

/* Every mapping of the process is mergeable from now on, and new ones will be. */
static void merge_all(void)
{
	int saved_errno = errno;
	UCOW_NO_CANCEL;

	for_each_policy(pp)
		if ((*pp)->advise_before)
			(*pp)->advise_before(0, UCOW_PAGE_DOWN(UINTPTR_MAX), MADV_MERGEABLE);
	errno = saved_errno;
}

/* glibc reads four more arguments whatever the option: so does this. */
EXPORT int prctl(int option, ...)
{
	unsigned long arg[4];
	va_list ap;
	int ret;

	va_start(ap, option);
	for (int i = 0; i < 4; i++)
		arg[i] = va_arg(ap, unsigned long);
	va_end(ap);
	/* Before start-up resolved it (a constructor that runs first): the system call. */
	if (ucow_next.prctl)
		ret = ucow_next.prctl(option, arg[0], arg[1], arg[2], arg[3]);
	else
		ret = (int)syscall(SYS_prctl, option, arg[0], arg[1], arg[2], arg[3]);
	if (ret == 0 && option == PR_SET_MEMORY_MERGE && arg[0] && ucow_enabled)
		merge_all();
	return ret;
}

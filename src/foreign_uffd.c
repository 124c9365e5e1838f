/* foreign_uffd.c: ioctl as the program sees it. When the program registers memory that ucow
 * manages with a userfaultfd of its own (QEMU's postcopy), ucow steps aside first. */
#include <dlfcn.h>
#include <errno.h>
#include <stdatomic.h>
#include <stdarg.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

#include "cancel.h"
#include "config.h"
#include "foreign_uffd.h"
#include "materialise.h"
#include "filter_probe.h"
#include "interpose.h"
#include "own_code.h"
#include "region.h"
#include "sys.h"
#include "uffd.h"

#define EXPORT __attribute__((visibility("default")))

/*
 * The range the program asks to register, read as the kernel would: a bad pointer must give
 * the program the kernel's EFAULT, not a crash inside ucow.
 */
static bool read_register_range(const void *arg, uintptr_t *start, uintptr_t *end)
{
	struct uffdio_register reg;
	struct iovec local = { &reg, sizeof(reg) }, remote = { (void *)arg, sizeof(reg) };

	if (!filter_allows(UCOW_SYS_PROCESS_VM_READV))
		reg = *(const struct uffdio_register *)arg;	/* the filter leaves no safer way */
	else if (process_vm_readv(getpid(), &local, 1, &remote, 1, 0) != (ssize_t)sizeof(reg))
		return false;
	if (reg.range.len == 0 || reg.range.start + reg.range.len < reg.range.start)
		return false;
	*start = UCOW_PAGE_DOWN(reg.range.start);
	*end = UCOW_PAGE_UP(reg.range.start + reg.range.len);
	return true;
}

/* The hull of what the program registered with its own userfaultfds: it only grows. */
static _Atomic uintptr_t program_lo = UINTPTR_MAX, program_hi;

static void note_program_range(uintptr_t start, uintptr_t end)
{
	uintptr_t v = atomic_load(&program_lo);

	while (start < v && !atomic_compare_exchange_weak(&program_lo, &v, start))
		;
	v = atomic_load(&program_hi);
	while (end > v && !atomic_compare_exchange_weak(&program_hi, &v, end))
		;
}

bool foreign_uffd_may_overlap(uintptr_t start, uintptr_t end)
{
	return start < atomic_load(&program_hi) && end > atomic_load(&program_lo);
}

static void step_aside_for(const void *arg)
{
	uintptr_t start, end;
	int saved_errno = errno;

	if (!arg || !read_register_range(arg, &start, &end)) {
		errno = saved_errno;
		return;
	}
	note_program_range(start, end);
	if (registry_count(&ucow_registry) != 0 && registry_may_overlap(&ucow_registry, start, end))
		engine_step_aside(start, end);
	errno = saved_errno;
}

EXPORT int ioctl(int fd, unsigned long request, ...)
{
	va_list ap;
	void *arg;

	va_start(ap, request);
	arg = va_arg(ap, void *);
	va_end(ap);
	if (request == UFFDIO_REGISTER && ucow_enabled &&
	    !own_code_has(__builtin_return_address(0))) {
		UCOW_NO_CANCEL;

		step_aside_for(arg);
	}
	if (!ucow_next.ioctl)
		ucow_next.ioctl = dlsym(RTLD_NEXT, "ioctl");
	if (ucow_next.ioctl)
		return ucow_next.ioctl(fd, request, arg);
	return (int)syscall(SYS_ioctl, fd, request, arg);
}

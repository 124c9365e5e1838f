/* fill.c: the fill API — COPY, ZEROPAGE, WAKE and POISON on ucow's userfaultfd, and the one
 * place that turns the kernel's answer to a fill into what the faulting thread needs. */
#include <errno.h>
#include <stdbool.h>
#include <sys/mman.h>

#include "fill.h"
#include "guards.h"
#include "placement.h"
#include "source.h"
#include "sys.h"
#include "uffd.h"
#include "uffd_ctl.h"
#include "waker.h"

const void *fill_zeroes;

static struct {
	int handler_uffd;	/* in the handler's own table; -1 until it runs */
	bool can_poison;
} fill_state = {
	.handler_uffd = -1,
};

int fill_init(uint64_t features)
{
	void *zero;

	fill_state.can_poison = features & UFFD_FEATURE_POISON;
	if (fill_zeroes)
		return 0;
	zero = sys_mmap(NULL, FILL_ZEROES_LEN, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (zero == MAP_FAILED)
		return -ENOMEM;
	fill_zeroes = zero;
	return 0;
}

void fill_bind_handler(int uffd)
{
	fill_state.handler_uffd = uffd;
}

/* The handler's fills go straight to its descriptor; a program thread's through uffd_ctl. */
static long copy_once(uintptr_t dst, const void *src, size_t len, bool wake)
{
	if (ucow_in_handler)
		return uffd_copy(fill_state.handler_uffd, dst, src, len, wake);
	return uffd_ctl_copy(dst, src, len, wake);
}

static long zero_once(uintptr_t dst, size_t len, bool wake)
{
	if (ucow_in_handler)
		return uffd_zeropage(fill_state.handler_uffd, dst, len, wake);
	return uffd_ctl_zeropage(dst, len, wake);
}

static int wake_range(uintptr_t dst, size_t len)
{
	if (ucow_in_handler)
		return waker_wake(dst, len) ? 0 : uffd_wake(fill_state.handler_uffd, dst, len);
	return uffd_ctl_wake(dst, len);
}

/*
 * Fills [dst, dst+len) in as many ioctls as the kernel needs (it stops at a present page),
 * and decides for each verdict: present pages were filled by someone else; a range gone is
 * done; a changing layout is asked again by the caller.
 */
static long fill_range(uintptr_t dst, const void *src, size_t len, bool wake)
{
	/* Quietly, with one wake at the end, where the waker may take that wake. */
	bool woken_at_end = wake && ucow_in_handler && waker_ready(dst, len), skipped = false;
	size_t done = 0, filled = 0;

	if (woken_at_end)
		wake = false;
	/* A wake the waker claimed and has not made (preempted) is made again here too, not
	 * only between faults: a resolve of many fills would hold it up (man 7: UCOW_LOCAL_WAKE). */
	if (ucow_in_handler)
		waker_check();

	while (done < len) {
		size_t n = len - done;
		long r;

		/* A copy would replace a guard page's marker (a zero page is refused there). */
		if (src && guards_possible()) {
			n = guards_first(dst + done, dst + len) - (dst + done);
			if (n == 0) {
				done += UCOW_PAGE_SIZE;
				skipped = true;
				continue;
			}
		}
		r = src ? copy_once(dst + done, (const char *)src + done, n, wake)
			: zero_once(dst + done, n, wake);

		if (r > 0) {
			done += (size_t)r;
			filled += (size_t)r;
			continue;
		}
		switch (-r) {
		case EEXIST:	/* present already: another fault or thread filled it */
			done += UCOW_PAGE_SIZE;
			skipped = true;
			continue;
		case ENOENT:	/* the range was unmapped or unregistered meanwhile */
			wake_range(dst, len);
			return (long)filled;
		case EAGAIN:	/* the layout is changing: events first, then ask again */
			if (done)
				wake_range(dst, done);
			return -EAGAIN;
		default:	/* ENOMEM, ESRCH (the process is exiting), EFAULT, EINVAL */
			if (done)
				wake_range(dst, done);
			return (int)r;
		}
	}
	if (skipped || woken_at_end)
		wake_range(dst, len);
	return (long)filled;
}

long fill_copy(uintptr_t dst, const void *src, size_t len)
{
	return fill_range(dst, src, len, true);
}

long fill_copy_quiet(uintptr_t dst, const void *src, size_t len)
{
	return fill_range(dst, src, len, false);
}

long fill_zero(uintptr_t dst, size_t len)
{
	return fill_range(dst, NULL, len, true);
}

long fill_zero_quiet(uintptr_t dst, size_t len)
{
	return fill_range(dst, NULL, len, false);
}

int fill_wake(uintptr_t dst, size_t len)
{
	int ret = wake_range(dst, len);

	return ret == -ENOENT ? 0 : ret;
}

long fill_repeat(uintptr_t dst, size_t len, const void *chunk, size_t chunk_len, bool near)
{
	return fill_repeat_then(dst, len, chunk, chunk_len, near, NULL, NULL);
}

long fill_repeat_then(uintptr_t dst, size_t len, const void *chunk, size_t chunk_len, bool near,
		      void (*before_wake)(uintptr_t start, uintptr_t end, void *arg), void *arg)
{
	uintptr_t filled_end = dst + len;
	long filled, total = 0;
	int cpu;

	/*
	 * One wake at the end: a thread woken after the first chunk would only fault again on
	 * the next one while it is being filled.
	 */
	cpu = near ? placement_near(len) : -1;
	for (uintptr_t addr = dst; addr < dst + len; addr += chunk_len) {
		size_t n = dst + len - addr < chunk_len ? dst + len - addr : chunk_len;

		filled = fill_copy_quiet(addr, chunk, n);
		if (filled < 0) {
			if (addr == dst) {
				placement_home(cpu);
				return filled;
			}
			/* The rest stays missing, and is woken all the same: the threads waiting
			 * there (the faulting one, when the window lies below it) fault again. */
			filled_end = addr;
			break;
		}
		total += filled;
	}
	placement_leave(cpu);
	if (before_wake)
		before_wake(dst, filled_end, arg);
	fill_wake(dst, len);
	placement_home(cpu);
	return total;
}

long fill_poison(uintptr_t dst)
{
	if (!fill_state.can_poison || !ucow_in_handler)
		return -EOPNOTSUPP;
	return uffd_poison(fill_state.handler_uffd, dst, UCOW_PAGE_SIZE);
}

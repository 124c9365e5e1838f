/* interpose.c: mmap, munmap, mremap, mprotect and madvise as the program sees them. Calls on
 * memory ucow does not manage go straight through: one lock-free check, then the next
 * definition (libc's, or another preloaded library's). */
#include <dlfcn.h>
#include <errno.h>
#include <linux/magic.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/vfs.h>
#include <unistd.h>

#include "cancel.h"
#include "compat.h"
#include "config.h"
#include "filter_probe.h"
#include "guards.h"
#include "handler.h"
#include "interpose.h"
#include "own_code.h"
#include "policy.h"
#include "procfs.h"
#include "region.h"
#include "registration.h"
#include "remap_unify.h"
#include "stats_report.h"
#include "sys.h"
#include "unmap.h"
#include "unmapped.h"

#define EXPORT __attribute__((visibility("default")))

struct ucow_next ucow_next;

void interpose_resolve(void)
{
	ucow_next.mmap = dlsym(RTLD_NEXT, "mmap");
	ucow_next.munmap = dlsym(RTLD_NEXT, "munmap");
	ucow_next.mremap = dlsym(RTLD_NEXT, "mremap");
	ucow_next.mprotect = dlsym(RTLD_NEXT, "mprotect");
	ucow_next.madvise = dlsym(RTLD_NEXT, "madvise");
	ucow_next._Fork = dlsym(RTLD_NEXT, "_Fork");
	ucow_next._exit = dlsym(RTLD_NEXT, "_exit");
	ucow_next.ioctl = dlsym(RTLD_NEXT, "ioctl");
	ucow_next.clone = dlsym(RTLD_NEXT, "clone");
	ucow_next.prctl = dlsym(RTLD_NEXT, "prctl");
	own_code_find();
}

static void *next_mmap(void *addr, size_t len, int prot, int flags, int fd, off_t off)
{
	if (ucow_next.mmap)
		return ucow_next.mmap(addr, len, prot, flags, fd, off);
	return sys_mmap(addr, len, prot, flags, fd, off);
}

static int next_munmap(void *addr, size_t len)
{
	return ucow_next.munmap ? ucow_next.munmap(addr, len) : sys_munmap(addr, len);
}

static void *next_mremap(void *old, size_t old_len, size_t new_len, int flags, void *new_addr)
{
	if (ucow_next.mremap)
		return ucow_next.mremap(old, old_len, new_len, flags, new_addr);
	return sys_mremap(old, old_len, new_len, flags, new_addr);
}

static bool managed_range(const void *addr, size_t len)
{
	uintptr_t start = UCOW_PAGE_DOWN(addr);

	return registry_may_overlap(&ucow_registry, start, UCOW_PAGE_UP((uintptr_t)addr + len));
}

/* Every claim is for a tmpfs file (a refpage is a memfd): one fstatfs lets the others by. */
static bool on_tmpfs(int fd)
{
	struct statfs sfs;

	return fstatfs(fd, &sfs) == 0 && sfs.f_type == TMPFS_MAGIC;
}

/* Records, after a move of [from,from+len) to @to, what the kernel's events did not. */
static void follow_own_move(uintptr_t from, uintptr_t to, size_t len)
{
	handler_barrier();
	if (registry_overlaps(&ucow_registry, from, from + len))
		registry_move(&ucow_registry, from, to, len, false);	/* eager: no event */
}

/* The policy that claims @call, asked in table order (NULL: none), or an error for the mmap. */
static const struct ucow_policy *claim(struct ucow_mmap_call *call, uint64_t *data, int *err)
{
	const struct ucow_policy *policy;

	*err = 0;
	for_each_policy(pp) {
		policy = *pp;
		if (!policy->claim)
			continue;
		*err = policy->claim(call, data);
		if (*err > 0)
			return policy;
		if (*err < 0)
			return NULL;
	}
	return NULL;
}

/* Every claiming policy has a manage operation: the claim says what manage expects. */
static int manage_new(void *p, const struct ucow_mmap_call *call, const struct ucow_policy *policy,
		      uint64_t data)
{
	return policy->manage((uintptr_t)p, call, data);
}

/*
 * MAP_FIXED over memory another thread may be reading: mapped in place, the new mapping
 * would be served by the kernel (zeroes for a reference page) until it is registered. It is
 * made and managed elsewhere first, then moved into place in one step (mremap), so that a
 * reader sees the old mapping or the managed one, never the kernel's fill. Returns NULL when
 * the plain path must be taken instead.
 */
static void *map_fixed_managed(const struct ucow_mmap_call *call,
			       const struct ucow_policy *policy, uint64_t data)
{
	void *addr = call->addr;
	size_t len = call->len, plen = UCOW_PAGE_UP(len);
	bool managed;
	void *tmp, *p;
	int ret;

	if (((uintptr_t)addr & ~UCOW_PAGE_MASK) || len == 0)
		return NULL;
	tmp = next_mmap(NULL, len, call->prot, call->flags & ~(MAP_FIXED | MAP_FIXED_NOREPLACE),
			call->fd, call->off);
	if (tmp == MAP_FAILED)
		return NULL;
	ret = manage_new(tmp, call, policy, data);
	if (ret < 0) {
		/* refpage_manage unmapped it: the call fails, as it would in place. */
		errno = -ret;
		return MAP_FAILED;
	}
	managed = registry_overlaps(&ucow_registry, (uintptr_t)tmp, (uintptr_t)tmp + plen);
	p = sys_mremap(tmp, plen, plen, MREMAP_MAYMOVE | MREMAP_FIXED, addr);
	if (p == MAP_FAILED) {
		engine_unmanage((uintptr_t)tmp, (uintptr_t)tmp + plen);
		registry_remove(&ucow_registry, (uintptr_t)tmp, (uintptr_t)tmp + plen);
		next_munmap(tmp, plen);
		return NULL;
	}
	if (managed)
		follow_own_move((uintptr_t)tmp, (uintptr_t)p, plen);
	else	/* what was there before, if ucow filled it itself, had no event */
		registry_remove(&ucow_registry, (uintptr_t)p, (uintptr_t)p + plen);
	return p;
}

EXPORT void *mmap(void *addr, size_t len, int prot, int flags, int fd, off_t off)
{
	UCOW_NO_CANCEL;
	struct ucow_mmap_call call = {
		.addr = addr, .len = len, .prot = prot, .flags = flags, .fd = fd, .off = off,
	};
	const struct ucow_policy *policy;
	uint64_t data = 0;
	bool replaces;
	int saved_errno, ret;
	void *p;

	if (!ucow_enabled)
		return next_mmap(addr, len, prot, flags, fd, off);
	call.tmpfs = fd >= 0 && !(flags & MAP_ANONYMOUS) && on_tmpfs(fd);
	policy = claim(&call, &data, &ret);
	if (ret < 0) {
		errno = -ret;
		return MAP_FAILED;
	}
	/* A claim may have rewritten the call into what the kernel must be given. */
	flags = call.flags;
	fd = call.fd;
	/* MAP_FIXED_NOREPLACE (with or without MAP_FIXED) never replaces: the plain path fails
	 * with the kernel's EEXIST. */
	if (policy && (flags & MAP_FIXED) && !(flags & MAP_FIXED_NOREPLACE)) {
		saved_errno = errno;
		p = map_fixed_managed(&call, policy, data);
		if (p) {
			if (p != MAP_FAILED)
				errno = saved_errno;
			return p;
		}
	}
	replaces = (flags & MAP_FIXED) && managed_range(addr, len);
	p = next_mmap(addr, len, prot, flags, fd, off);
	if (p == MAP_FAILED || (!replaces && !policy))
		return p;
	saved_errno = errno;
	if (replaces) {
		/* The kernel unmapped what was there and told the handler; follow it now. */
		handler_barrier();
		registry_remove(&ucow_registry, (uintptr_t)p, (uintptr_t)p + UCOW_PAGE_UP(len));
	}
	if (policy) {
		ret = manage_new(p, &call, policy, data);
		if (ret < 0) {
			saved_errno = -ret;
			p = MAP_FAILED;
		}
	}
	errno = saved_errno;
	return p;
}

EXPORT void *mmap64(void *addr, size_t len, int prot, int flags, int fd, off_t off)
	__attribute__((alias("mmap")));

EXPORT int munmap(void *addr, size_t len)
{
	UCOW_NO_CANCEL;
	uintptr_t start = (uintptr_t)addr, end = UCOW_PAGE_UP(start + len);
	struct unmap_first u;
	int ret, saved_errno;

	if (!ucow_enabled || !managed_range(addr, len))
		return next_munmap(addr, len);
	/* Only a call the kernel will carry out (munmap fails whole or not at all). */
	if ((start & ~UCOW_PAGE_MASK) || len == 0 || end < start)
		return next_munmap(addr, len);
	stats_account(start, end);
	unmap_begin(start, end, &u);
	ret = next_munmap(addr, len);
	saved_errno = errno;
	unmap_end(start, end, &u, ret == 0);
	errno = saved_errno;
	return ret;
}

static bool remaps_content(const struct ucow_region *r, void *arg)
{
	return !r->policy->remap_zero;
}

/* The regions of the range being remapped, by birth, as they were before the call. */
#define SRC_BIRTHS 16
struct src_births {
	size_t n;
	bool overflow;
	uint64_t v[SRC_BIRTHS];
};

static void note_birth(const struct ucow_region *r, void *arg)
{
	struct src_births *b = arg;

	if (b->n == SRC_BIRTHS)
		b->overflow = true;
	else
		b->v[b->n++] = r->birth;
}

/* A region that was not there before the call: another thread's new mapping at the old
 * address, once the kernel had moved ours away. */
static bool born_since(const struct ucow_region *r, void *arg)
{
	const struct src_births *b = arg;

	for (size_t i = 0; i < b->n; i++)
		if (b->v[i] == r->birth)
			return false;
	return !b->overflow;
}

/* One of ours that no event moves: the interposed call does. */
static bool eventless_before(const struct ucow_region *r, void *arg)
{
	return r->policy->eventless && !born_since(r, arg);
}

/* Brings the registry in line with a successful mremap of [o,o+olen) to [n,n+nlen), whose
 * regions were @src before the call. */
static void follow_mremap(uintptr_t o, size_t olen, uintptr_t n, size_t nlen, bool keep_old,
			  struct src_births *src)
{
	struct ucow_region last;
	size_t kept = olen < nlen ? olen : nlen;
	bool src_managed = src->n || src->overflow;

	if (olen == 0)	/* a second mapping of shared memory: nothing ucow manages */
		return;
	if (n != o) {
		/*
		 * A registered range was moved already by its REMAP event (the kernel waits until
		 * the handler reads it); moving again would drop it at the destination, and
		 * regions of ours found at the old address may be there again (another thread
		 * moved the mapping back). Ranges ucow fills itself (eager refpages) have no
		 * event: they are still at the old address, and nothing born since is (the old
		 * range is not another mapping's yet). When nothing of ours moved, what the
		 * kernel replaced at the destination goes.
		 */
		if (registry_any(&ucow_registry, o, o + kept, eventless_before, src) &&
		    !registry_any(&ucow_registry, o, o + olen, born_since, src))
			registry_move(&ucow_registry, o, n, kept, keep_old);
		else if (!src_managed) {
			/* Left over at the destination, as far as the kernel says: the noting
			 * before the call may have missed ours (another thread moved it in). */
			unmapped_forget(n, n + nlen, handler_barrier);
		} else if (keep_old && registry_any(&ucow_registry, n, n + kept, remaps_content, NULL))
			/* MREMAP_DONTUNMAP: the kernel keeps the old range, registered, as the same
			 * kind of mapping; its event moved the regions away. Not those whose old
			 * range reads zeroes (remap_zero): a fault there finds nothing and gets
			 * zeroes. */
			registry_move(&ucow_registry, n, o, kept, true);
		/* Otherwise the old range's regions went with their REMAP event, and what the
		 * kernel unmapped with its UNMAP event: removing them again here, after the fact,
		 * could take another thread's (the same mapping moved back by it, even). */
	}
	/* What a shrink left behind without an event (eager regions) goes where the kernel says
	 * nothing registered is mapped: by address, it may be another thread's already. */
	if (nlen < olen)
		unmapped_forget(o + nlen, o + olen, handler_barrier);
	/* The kernel extends the registration with the VMA; the registry follows. */
	if (nlen > olen && registry_lookup(&ucow_registry, n + olen - 1, &last, false) &&
	    last.end == n + olen && !last.policy->remap_zero) {
		last.offset += n + olen - last.start;
		last.start = n + olen;
		last.end = n + nlen;
		registry_remove(&ucow_registry, last.start, last.end);
		registry_insert(&ucow_registry, &last);
	}
}

static pthread_mutex_t remap_order = PTHREAD_MUTEX_INITIALIZER;

void remap_order_hold(struct sigguard *g)
{
	/* A signal handler's own mremap would wait for this thread (a filter may forbid
	 * changing the mask: then the lock alone). */
	g->changed = false;
	if (filter_allows(UCOW_SYS_RT_SIGPROCMASK))
		sigguard_enter(g);
	else
		ucow_sigguard_depth++;	/* as sigguard_leave() expects */
	pthread_mutex_lock(&remap_order);
}

void remap_order_release(struct sigguard *g)
{
	pthread_mutex_unlock(&remap_order);
	sigguard_leave(g);
}

void remap_order_fork_child(void)
{
	pthread_mutex_init(&remap_order, NULL);
}

EXPORT void *mremap(void *old, size_t old_len, size_t new_len, int flags, ...)
{
	UCOW_NO_CANCEL;
	void *new_addr = NULL, *p;
	uintptr_t o = UCOW_PAGE_DOWN(old);
	size_t olen = UCOW_PAGE_UP(old_len), nlen = UCOW_PAGE_UP(new_len);
	bool involved;
	struct src_births src = { 0 };
	bool unified = false;
	struct sigguard mask;
	int saved_errno;
	va_list ap;

	/* Passed on whatever the flags: the next mremap (libc's) decides what to make of it,
	 * as it would without ucow (the kernel checks it with MREMAP_DONTUNMAP too). */
	va_start(ap, flags);
	new_addr = va_arg(ap, void *);
	va_end(ap);
	if (!ucow_enabled)
		return next_mremap(old, old_len, new_len, flags, new_addr);
	involved = managed_range(old, old_len) ||
		   ((flags & MREMAP_FIXED) && managed_range(new_addr, new_len));
	if (!involved)
		return next_mremap(old, old_len, new_len, flags, new_addr);
	/* One at a time, from the noting to the registry's last change: another thread's move
	 * of the same mapping, made in between, would make both wrong (eager regions have no
	 * event at all). Events begun before are applied first: what is noted is then what the
	 * kernel holds. */
	remap_order_hold(&mask);
	handler_barrier();
	registry_foreach(&ucow_registry, o, o + olen, note_birth, &src);
	p = next_mremap(old, old_len, new_len, flags, new_addr);
	/* The kernel wants the old range in one VMA: where ucow split it, made whole again. */
	if (p == MAP_FAILED && errno == EFAULT && managed_range(old, old_len) &&
	    remap_unify(o, o + olen) == 0) {
		unified = true;
		p = next_mremap(old, old_len, new_len, flags, new_addr);
	}
	saved_errno = errno;
	if (p == MAP_FAILED) {
		if (unified)
			remap_unify_undo(o, o + olen);
	} else {
		handler_barrier();
		follow_mremap(o, olen, (uintptr_t)p, nlen, flags & MREMAP_DONTUNMAP, &src);
		for_each_policy(pp)
			if ((*pp)->remapped)
				(*pp)->remapped(o, olen, (uintptr_t)p, nlen, flags);
		if (unified)
			remap_unify_undo((uintptr_t)p, (uintptr_t)p + nlen);
	}
	remap_order_release(&mask);
	errno = saved_errno;
	return p;
}

EXPORT int mprotect(void *addr, size_t len, int prot)
{
	UCOW_NO_CANCEL;
	uintptr_t start = UCOW_PAGE_DOWN(addr), end = UCOW_PAGE_UP((uintptr_t)addr + len);
	int ret = ucow_next.mprotect ? ucow_next.mprotect(addr, len, prot)
				     : sys_mprotect(addr, len, prot);
	int saved_errno = errno;

	if (ret < 0 || !ucow_enabled)
		return ret;
	if (managed_range(addr, len))
		registry_protect(&ucow_registry, start, end, prot);
	for_each_policy(pp)
		if ((*pp)->protected)
			(*pp)->protected(start, end, prot);
	errno = saved_errno;
	return ret;
}

static int next_madvise(void *addr, size_t len, int advice)
{
	return ucow_next.madvise ? ucow_next.madvise(addr, len, advice)
				 : sys_madvise(addr, len, advice);
}

#ifndef PIDFD_SELF_THREAD
#define PIDFD_SELF_THREAD (-10000)
#define PIDFD_SELF_THREAD_GROUP (-10001)
#endif
#define SELF_IOVECS 64	/* more, and the call goes straight to the kernel */

/* Whether @pidfd names this process (then its advice is the program's own madvise). */
static bool pidfd_is_self(int pidfd)
{
	char path[64], buf[512], *pid;

	if (pidfd == PIDFD_SELF_THREAD || pidfd == PIDFD_SELF_THREAD_GROUP)
		return true;
	snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", pidfd);
	if (pidfd < 0 || procfs_read(path, buf, sizeof(buf)) <= 0)
		return false;
	pid = strstr(buf, "\nPid:");
	return pid && atoi(pid + 5) == getpid();
}

/*
 * process_madvise on this process: madvise() on each range in turn, as the kernel does it
 * (stopping at the first failure, with the bytes advised so far, or the error), so that
 * ucow follows the advice exactly as madvise's. -2 when it must go to the kernel as it is
 * (another process, flags, a vector ucow cannot read or too long).
 */
static ssize_t advise_self(int pidfd, const struct iovec *iov, size_t n, int advice,
			   unsigned int flags)
{
	struct iovec local[SELF_IOVECS], *mine = local;
	struct iovec self = { local, n * sizeof(local[0]) }, remote = { (void *)iov, self.iov_len };
	ssize_t total = 0;

	if (flags || n == 0 || n > SELF_IOVECS || !pidfd_is_self(pidfd) ||
	    !filter_allows(UCOW_SYS_PROCESS_VM_READV) ||
	    process_vm_readv(getpid(), &self, 1, &remote, 1, 0) != (ssize_t)self.iov_len)
		return -2;
	for (size_t i = 0; i < n; i++, mine++) {
		if (mine->iov_len == 0)
			continue;
		if (madvise(mine->iov_base, mine->iov_len, advice) < 0)
			return total ? total : -1;
		total += (ssize_t)mine->iov_len;
	}
	return total;
}

/*
 * process_madvise: on this process, what madvise() does (guard pages noted, deferred values
 * under new guards forgotten, advice followed); on another, the kernel's call, with guard
 * installs noted all the same.
 */
EXPORT ssize_t process_madvise(int pidfd, const struct iovec *iov, size_t n, int advice,
			       unsigned int flags)
{
	UCOW_NO_CANCEL;
	ssize_t ret;

	if (ucow_enabled) {
		ret = advise_self(pidfd, iov, n, advice, flags);
		if (ret != -2)
			return ret;
		if (advice == MADV_GUARD_INSTALL)
			guards_installing();
	}
	return syscall(SYS_process_madvise, pidfd, iov, n, advice, flags);
}

/* The runs of guard pages a failed install left in [start,end): what the policies must
 * follow (the kernel keeps the guards it installed before the error). */
static void guards_left(uintptr_t start, uintptr_t end)
{
	uintptr_t e;

	for (uintptr_t g = guards_next_run(start, end, &e); g < end; g = guards_next_run(e, end, &e))
		for_each_policy(pp)
			if ((*pp)->advise_after)
				(*pp)->advise_after(g, e, MADV_GUARD_INSTALL);
}

/*
 * Discards on managed memory reach the handler as UFFD_EVENT_REMOVE before the kernel
 * zaps the pages, in kernel order with faults. What else a policy must do around advice
 * (memory it filled itself, deferred values under MADV_HUGEPAGE, ...) is its advise hooks'.
 * A misaligned address fails with EINVAL whatever ucow does: it goes straight through.
 */
EXPORT int madvise(void *addr, size_t len, int advice)
{
	UCOW_NO_CANCEL;
	uintptr_t start = (uintptr_t)addr, end = UCOW_PAGE_UP(start + len);
	int given = advice, ret, saved_errno;

	if (!ucow_enabled || (start & ~UCOW_PAGE_MASK) || end < start)
		return next_madvise(addr, len, advice);
	/* Before the markers exist: a fill that starts after this looks for them. */
	if (advice == MADV_GUARD_INSTALL)
		guards_installing();
	for_each_policy(pp)
		if ((*pp)->advise_before)
			given = (*pp)->advise_before(start, end, given);
	ret = next_madvise(addr, len, given);
	if (ret < 0) {
		if (advice == MADV_GUARD_INSTALL) {
			saved_errno = errno;
			guards_left(start, end);
			errno = saved_errno;
		}
		return ret;
	}
	saved_errno = errno;
	for_each_policy(pp)
		if ((*pp)->advise_after)
			(*pp)->advise_after(start, end, advice);
	errno = saved_errno;
	return ret;
}

/* engine.c: the process's userfaultfd, started on the first managed region; registering
 * and handing back ranges; the answers policies give to faults. */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config.h"
#include "engine.h"
#include "filter_probe.h"
#include "fdtable.h"
#include "handler.h"
#include "log.h"
#include "region.h"
#include "sigguard.h"
#include "source.h"
#include "stats.h"
#include "sys.h"
#include "trap.h"

const void *ucow_zero_page;

static struct {
	atomic_int mode;		/* enum ucow_engine_mode */
	int uffd;			/* in the handler's own table: for the handler only */
	uint64_t features;
	pthread_mutex_t lock;		/* serialises start-up */
	atomic_int recording;		/* engine_manage calls between register and record */
	pid_t pid;			/* the process the engine was started in */
} engine = {
	.uffd = -1,
	.lock = PTHREAD_MUTEX_INITIALIZER,
};

bool engine_recording(void)
{
	return atomic_load(&engine.recording) > 0;
}

enum ucow_engine_mode engine_mode(void)
{
	return atomic_load_explicit(&engine.mode, memory_order_acquire);
}

int engine_uffd(void)
{
	return engine.uffd;
}

uint64_t engine_features(void)
{
	return engine.features;
}

static void describe_missing(uint64_t missing, char *buf, size_t len)
{
	size_t n = 0;

	buf[0] = '\0';
	for (const struct ucow_uffd_feature *f = ucow_uffd_features; f->name && n < len; f++)
		if (missing & f->bit)
			n += snprintf(buf + n, len - n, "%s%s", n ? ", " : "", f->name);
}

static int open_uffd(enum ucow_engine_mode *mode)
{
	char why[512], missing[256];
	enum ucow_uffd_mode umode;
	uint64_t granted = 0;
	int fd, high, ret;

	fd = uffd_open(ucow_cfg.user_mode_only, &umode, why, sizeof(why));
	if (fd < 0) {
		ucow_warn("uffd", "%s; running unmanaged", why);
		return fd;
	}
	high = ucow_dup_high(fd);
	if (high >= 0) {
		close(fd);
		fd = high;
	}
	ret = uffd_api(fd, UCOW_UFFD_WANTED, NULL, &granted);
	if (ret == 0 && (granted & UCOW_UFFD_REQUIRED) != UCOW_UFFD_REQUIRED) {
		describe_missing(UCOW_UFFD_REQUIRED & ~granted, missing, sizeof(missing));
		ucow_warn("uffd", "this kernel lacks userfaultfd features ucow needs (%s); "
			  "running unmanaged (see 'ucow features')", missing);
		ret = -ENOTSUP;
	} else if (ret < 0) {
		ucow_warn("uffd", "UFFDIO_API failed: %s; running unmanaged", strerror(-ret));
	}
	if (ret < 0) {
		close(fd);
		return ret;
	}
	if (umode == UCOW_UFFD_USER_ONLY)
		ucow_info("uffd", "managing with a user-mode-only userfaultfd (UCOW_USER_MODE_ONLY=on): "
			  "syscalls that touch untouched managed pages fail with EFAULT");
	engine.features = granted;
	*mode = umode == UCOW_UFFD_USER_ONLY ? UCOW_ENGINE_USER_ONLY : UCOW_ENGINE_FULL;
	return fd;
}

static int start_locked(void)
{
	enum ucow_engine_mode mode;
	void *zero;
	int fd, ret;

	if (!ucow_zero_page) {
		zero = sys_mmap(NULL, UCOW_PAGE_SIZE, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (zero == MAP_FAILED) {
			ucow_warn("engine", "cannot map a zero page: %s; running unmanaged",
				  strerror(errno));
			return -ENOMEM;
		}
		ucow_zero_page = zero;
	}
	if (filter_probe() < 0)		/* a seccomp filter would kill ucow's calls */
		return -EPERM;
	fd = open_uffd(&mode);
	if (fd < 0)
		return fd;
	ret = handler_start(fd);
	if (ret < 0) {
		ucow_warn("engine", "cannot start the handler thread: %s; running unmanaged",
			  strerror(-ret));
		/* The program may have closed it meanwhile and reused the number. */
		if (uffd_is_userfaultfd(fd))
			close(fd);
		return ret;
	}
	engine.uffd = fd;
	engine.pid = getpid();
	atomic_store_explicit(&engine.mode, mode, memory_order_release);
	ucow_debug("engine", "userfaultfd %d ready, features %#llx", fd,
		   (unsigned long long)engine.features);
	return 0;
}

int engine_start(void)
{
	enum ucow_engine_mode mode = engine_mode();
	int ret = 0;

	if (mode == UCOW_ENGINE_FULL || mode == UCOW_ENGINE_USER_ONLY)
		/* A child made by a raw fork or clone: ucow had no call in it, its engine is the
		 * parent's. New memory there is left to the kernel, quietly. */
		return getpid() == engine.pid ? 0 : -ESRCH;
	if (mode == UCOW_ENGINE_FAILED)
		return -ENOTSUP;
	pthread_mutex_lock(&engine.lock);
	if (engine_mode() == UCOW_ENGINE_UNUSED) {
		ret = start_locked();
		if (ret < 0)
			atomic_store_explicit(&engine.mode, UCOW_ENGINE_FAILED,
					      memory_order_release);
	} else if (engine_mode() == UCOW_ENGINE_FAILED) {
		ret = -ENOTSUP;
	}
	pthread_mutex_unlock(&engine.lock);
	return ret;
}

static int register_range(uintptr_t start, uintptr_t end)
{
	const uint64_t need = (1ULL << _UFFDIO_COPY) | (1ULL << _UFFDIO_ZEROPAGE) |
			      (1ULL << _UFFDIO_WAKE);
	uint64_t ioctls = 0;
	int ret;

	ret = uffd_ctl_register(start, end - start, UFFDIO_REGISTER_MODE_MISSING, &ioctls);
	if (ret == 0 && (ioctls & need) != need) {
		uffd_ctl_unregister(start, end - start);
		ret = -EOPNOTSUPP;
	}
	return ret;
}

/*
 * The source for the program's @fd: the one ucow holds for the same file already, else one
 * the handler opens in its own table while @fd is valid (an mmap in progress).
 */
static struct ucow_source *engine_source(int fd)
{
	struct ucow_source *s;
	bool private_pos;
	struct stat st;
	int flags, own;

	flags = fcntl(fd, F_GETFL);
	if (flags < 0 || fstat(fd, &st) < 0)
		return NULL;
	s = source_find(st.st_dev, st.st_ino, flags & O_ACCMODE);
	if (s)
		return s;
	own = fdt_adopt(fd, flags & O_ACCMODE, &private_pos);
	if (own < 0) {
		errno = -own;
		return NULL;
	}
	s = source_install(own, st.st_dev, st.st_ino, flags & O_ACCMODE, private_pos);
	if (!s) {
		/* A number in the handler's table: only the handler may close it. */
		fdt_close(own);
		errno = ENOMEM;
	}
	return s;
}

/* Numbers the regions engine_manage makes (region.birth). */
static atomic_uint_fast64_t births;

int engine_manage(uintptr_t start, size_t len, const struct ucow_policy *policy, int fd,
		  uint64_t offset, uint64_t data, int prot)
{
	struct ucow_region r = {
		.start = start,
		.end = start + UCOW_PAGE_UP(len),
		.policy = policy,
		.offset = offset,
		.data = data,
		.prot = prot,
		.birth = atomic_fetch_add(&births, 1) + 1,
	};
	int ret;

	ret = engine_start();
	if (ret < 0)
		return ret;
	if (fd >= 0) {
		r.src = engine_source(fd);
		if (!r.src) {
			ret = -errno;
			ucow_info(policy->name, "cannot keep a description of fd %d: %s; left to the kernel",
				  fd, strerror(-ret));
			return ret;
		}
	}
	/*
	 * Events the kernel delivered for this address before the mmap returned come first.
	 * Another thread's munmap of this address that the kernel has done but not yet queued
	 * (it queues after dropping mmap_lock) may still arrive later: the handler forgets
	 * only pieces whose range is not registered, so the range is registered before it is
	 * recorded (nothing faults in it before this mmap has returned).
	 */
	handler_barrier();
	atomic_fetch_add(&engine.recording, 1);
	ret = register_range(r.start, r.end);
	if (ret < 0) {
		atomic_fetch_sub(&engine.recording, 1);
		if (r.src)
			source_put(r.src);
		ucow_stat_add(UCOW_ST_REGISTER_FAILED, 1);
		ucow_info(policy->name, "cannot register %#lx-%#lx with userfaultfd: %s; left to the kernel",
			  (unsigned long)r.start, (unsigned long)r.end, strerror(-ret));
		return ret;
	}
	ret = registry_insert(&ucow_registry, &r);
	if (ret == -EEXIST) {
		/* A range the kernel has unmapped but whose event is not applied yet. */
		registry_remove(&ucow_registry, r.start, r.end);
		ret = registry_insert(&ucow_registry, &r);
	}
	atomic_fetch_sub(&engine.recording, 1);
	if (r.src)
		source_put(r.src);
	if (ret < 0) {
		uffd_ctl_unregister(r.start, r.end - r.start);
		ucow_info(policy->name, "cannot record %#lx-%#lx: %s; left to the kernel",
			  (unsigned long)r.start, (unsigned long)r.end, strerror(-ret));
		return ret;
	}
	ucow_stat_add(UCOW_ST_REGIONS, 1);
	ucow_stat_add(policy->regions_stat, 1);
	trap_arm();
	ucow_debug(policy->name, "managing %#lx-%#lx", (unsigned long)r.start,
		   (unsigned long)r.end);
	return 0;
}

void engine_unmanage(uintptr_t start, uintptr_t end)
{
	registry_remove(&ucow_registry, start, end);
	if (engine.uffd < 0)
		return;
	uffd_ctl_unregister(start, end - start);
	uffd_ctl_wake(start, end - start);
}

#define UNMAP_PIECES 32
#define PROBE_PATIENCE_NS 2000000	/* 2 ms per pass */

static bool mapped(uintptr_t start, uintptr_t end)
{
	/* msync(MS_ASYNC) does nothing but say ENOMEM where a page is not mapped. */
	return !(msync((void *)start, end - start, MS_ASYNC) < 0 && errno == ENOMEM);
}

/*
 * Whether a region piece still stands for a live managed mapping: whether its range is still
 * registered with the userfaultfd (a range mapped again without ucow is not), or, with no
 * userfaultfd, whether anything is mapped there.
 * The probe says EAGAIN while an event is on its way, and that includes the unmap whose
 * notice the handler has just read until the unmapping thread runs again (it lowers the
 * kernel's mmap_changing once woken, which on an idle virtual CPU takes 100 us or more, and
 * on a busy one milliseconds): without waiting for it, half the handler's probes ended in
 * doubt (measured). @deadline bounds one pass. With @doubt (the handler thread), a probe
 * still in doubt then, or one that waits for a message only the handler can read (mremap
 * over a managed range: its remap follows its unmap), says so instead of guessing.
 */
static bool piece_alive(uintptr_t start, uintptr_t end, uint64_t deadline, bool *doubt)
{
	int ret;

	if (engine.uffd < 0)
		return mapped(start, end);
	while ((ret = uffd_ctl_registered(start)) == -EAGAIN) {
		if (doubt && (handler_pending() || sys_now_ns() >= deadline)) {
			*doubt = true;
			return true;
		}
		if (sys_now_ns() >= deadline)
			break;
		sched_yield();
	}
	return ret != 0;	/* in doubt, keep it: a stale entry costs less than a lost one */
}

/*
 * Unmap notices the handler could not settle yet (handler thread only). The handler stays
 * busy, reading and serving, until they are settled (handler_barrier() waits for that), or
 * for DOUBT_PATIENCE_NS at most: an unmapping thread stopped (SIGSTOP, a debugger) right
 * after its event would otherwise keep every barrier waiting.
 */
#define DOUBTS_MAX 16
#define DOUBT_PATIENCE_NS 200000000ULL	/* 200 ms */
static struct {
	size_t n;
	struct {
		uintptr_t start, end;
		uint64_t since;
	} v[DOUBTS_MAX];
} doubts;

/*
 * The parts of @r with nothing mapped (a fork child: ranges the program kept from it with
 * MADV_DONTFORK, maybe only part of one mapping) are forgotten; the rest stays.
 */
static void forget_unmapped_parts(const struct ucow_region *r, void *arg)
{
	uintptr_t hole = 0;

	if (mapped(r->start, r->end))
		return;
	for (uintptr_t a = r->start; a < r->end; a += UCOW_PAGE_SIZE) {
		bool here = mapped(a, a + UCOW_PAGE_SIZE);

		if (!here && !hole)
			hole = a;
		if (here && hole) {
			registry_remove_birth(&ucow_registry, hole, a, r->birth);
			hole = 0;
		}
	}
	if (hole)
		registry_remove_birth(&ucow_registry, hole, r->end, r->birth);
}

/* @since: when the notice for [start,end) came (0: now); on a thread other than the
 * handler, 0 and no doubts: it waits. */
static void forget_dead_since(uintptr_t start, uintptr_t end, bool on_handler, uint64_t since)
{
	uint64_t now = sys_now_ns(), deadline = now + PROBE_PATIENCE_NS;

	if (!since)
		since = now;
	while (start < end) {
		struct ucow_region v[UNMAP_PIECES];
		uintptr_t resume;
		size_t n = registry_collect(&ucow_registry, start, end, v, UNMAP_PIECES, &resume);

		for (size_t i = 0; i < n; i++) {
			bool doubt = false;
			bool may_doubt = on_handler && doubts.n < DOUBTS_MAX &&
					 sys_now_ns() - since < DOUBT_PATIENCE_NS;

			/* By birth: the range may have been managed again since it was looked at. */
			if (!piece_alive(v[i].start, v[i].end, deadline, may_doubt ? &doubt : NULL))
				registry_remove_birth(&ucow_registry, v[i].start, v[i].end, v[i].birth);
			else if (doubt) {
				doubts.v[doubts.n].start = v[i].start;
				doubts.v[doubts.n].end = v[i].end;
				doubts.v[doubts.n].since = since;
				doubts.n++;
			}
		}
		if (!resume)
			break;
		start = resume;
	}
}

static void forget_dead(uintptr_t start, uintptr_t end, bool on_handler)
{
	forget_dead_since(start, end, on_handler, 0);
}

/*
 * The kernel queues an unmap event after it lets go of the address space, so another thread
 * may already have mapped the range again, with ucow or without. A region piece is kept
 * only if its range is registered with ucow's userfaultfd: then it is a new region, which
 * never merges with what was there before (region.birth).
 */
void engine_forget_unmapped(uintptr_t start, uintptr_t end)
{
	forget_dead(start, end, false);
}

void engine_unmapped_event(uintptr_t start, uintptr_t end)
{
	forget_dead(start, end, true);
}

void engine_settle_doubts(void)
{
	size_t n = doubts.n;

	for (size_t i = 0; i < n; i++) {
		uintptr_t s = doubts.v[0].start, e = doubts.v[0].end;
		uint64_t since = doubts.v[0].since;

		/* Taken off first: the recheck may doubt again, at the end of the list. */
		doubts.n--;
		for (size_t j = 0; j < doubts.n; j++)
			doubts.v[j] = doubts.v[j + 1];
		forget_dead_since(s, e, true, since);
	}
}

bool engine_doubts_left(void)
{
	return doubts.n != 0;
}

/*
 * Whether this thread is the program's only one (besides the handler): then nothing else
 * can touch a range it unmaps. /proc/self/stat's 20th field counts the threads.
 */
static bool program_alone(void)
{
	long threads = sys_proc_stat_field("/proc/self/stat", 20);

	return threads >= 1 && threads <= 1 + (handler_running() ? 1 : 0);
}

void engine_unmap_begin(uintptr_t start, uintptr_t end, struct engine_unmap *u)
{
	struct ucow_region v[UNMAP_FIRST_MAX];
	uintptr_t resume;
	size_t n;
	int alone = -1;		/* not asked yet */

	u->n = 0;
	u->rest = true;
	u->masked = false;
	if (engine.uffd < 0)
		return;
	n = registry_collect(&ucow_registry, start, end, v, UNMAP_FIRST_MAX, &resume);
	u->rest = resume != 0;
	for (size_t i = 0; i < n; i++) {
		if (!v[i].policy->kernel_fallback) {
			if (alone < 0)
				alone = program_alone();
			if (!alone) {
				u->rest = true;
				continue;
			}
			if (!u->masked) {
				sigset_t all;

				/* A signal handler here could touch the range in between. */
				sigfillset(&all);
				pthread_sigmask(SIG_SETMASK, &all, &u->old);
				u->masked = true;
			}
		}
		u->v[u->n].start = v[i].start;
		u->v[u->n].end = v[i].end;
		u->v[u->n].birth = v[i].birth;
		u->n++;
		uffd_ctl_unregister(v[i].start, v[i].end - v[i].start);
	}
}

void engine_unmap_end(uintptr_t start, uintptr_t end, const struct engine_unmap *u, bool unmapped)
{
	for (size_t i = 0; i < u->n; i++) {
		uintptr_t s = u->v[i].start, e = u->v[i].end;

		/* By birth: once unmapped, another thread may have mapped and managed it anew. */
		if (unmapped) {
			registry_remove_birth(&ucow_registry, s, e, u->v[i].birth);
		} else if (register_range(s, e) < 0) {
			registry_remove_birth(&ucow_registry, s, e, u->v[i].birth);
			ucow_error("engine", "munmap of %#lx-%#lx failed after ucow let go of it, "
				   "and it cannot be registered again: the kernel fills its pages now",
				   (unsigned long)s, (unsigned long)e);
		}
	}
	if (u->masked)
		pthread_sigmask(SIG_SETMASK, &u->old, NULL);
	if (unmapped && u->rest) {
		handler_barrier();
		engine_forget_unmapped(start, end);
	}
}

static void account_one(const struct ucow_region *r, void *arg)
{
	if (r->policy->account)
		r->policy->account(r);
}

void engine_account(uintptr_t start, uintptr_t end)
{
	if (ucow_cfg.stats[0] && registry_may_overlap(&ucow_registry, start, end))
		registry_foreach(&ucow_registry, start, end, account_one, NULL);
}

/* The kernel's verdict on a fill, turned into what the faulting thread needs. */
static long answer(long (*fill)(uintptr_t dst, const void *src, size_t len), uintptr_t dst,
		  const void *src, size_t len)
{
	bool skipped = false;
	size_t done = 0, filled = 0;

	while (done < len) {
		long r = fill(dst + done, src ? (const char *)src + done : NULL, len - done);

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
			uffd_ctl_wake(dst, len);
			return (long)filled;
		case EAGAIN:	/* the layout is changing: events first, then ask again */
			if (done)
				uffd_ctl_wake(dst, done);
			return -EAGAIN;
		default:	/* ENOMEM, ESRCH (the process is exiting), EFAULT, EINVAL */
			if (done)
				uffd_ctl_wake(dst, done);
			return (int)r;
		}
	}
	if (skipped)
		uffd_ctl_wake(dst, len);
	return (long)filled;
}

static long fill_copy(uintptr_t dst, const void *src, size_t len)
{
	return uffd_ctl_copy(dst, src, len, true);
}

static long fill_copy_quiet(uintptr_t dst, const void *src, size_t len)
{
	return uffd_ctl_copy(dst, src, len, false);
}

static long fill_zero(uintptr_t dst, const void *src, size_t len)
{
	return uffd_ctl_zeropage(dst, len, true);
}

long ucow_answer_copy(uintptr_t dst, const void *src, size_t len)
{
	return answer(fill_copy, dst, src, len);
}

long ucow_answer_copy_quiet(uintptr_t dst, const void *src, size_t len)
{
	return answer(fill_copy_quiet, dst, src, len);
}

long ucow_answer_zero(uintptr_t dst, size_t len)
{
	return answer(fill_zero, dst, NULL, len);
}

int ucow_answer_wake(uintptr_t dst, size_t len)
{
	int ret = uffd_ctl_wake(dst, len);

	return ret == -ENOENT ? 0 : ret;
}

/* The forking thread's signal mask, from engine_fork_prepare() until fork returns. */
static __thread struct sigguard fork_guard;

/*
 * Every region of [start,end) that a policy must fill itself is filled for real (@registered:
 * through the userfaultfd, else by writing its missing pages). Returns how many could not be.
 */
/*
 * Regions whose policy says a filled region is plain memory (lazy memset: nothing left to
 * defer once every page holds the value) leave ucow: a later fork has nothing to fill again.
 */
static void release_one(const struct ucow_region *r, void *arg)
{
	if (r->policy->plain_when_filled)
		engine_unmanage(r->start, r->end);
}

static void release_filled(uintptr_t start, uintptr_t end)
{
	registry_walk(&ucow_registry, start, end, release_one, NULL);
}

struct materialising {
	bool registered;
	int failed;
};

static void materialise_one(const struct ucow_region *r, void *arg)
{
	struct materialising *m = arg;
	int ret;

	if (!r->policy->materialise)
		return;
	ret = r->policy->materialise(r, m->registered);
	if (ret < 0) {
		m->failed++;
		ucow_error(r->policy->name, "cannot fill %#lx-%#lx for real: %s",
			   (unsigned long)r->start, (unsigned long)r->end, strerror(-ret));
	}
}

static int materialise_all(uintptr_t start, uintptr_t end, bool registered)
{
	struct materialising m = { .registered = registered };

	registry_walk(&ucow_registry, start, end, materialise_one, &m);
	return m.failed;
}

static void step_aside_one(const struct ucow_region *r, void *arg)
{
	engine_unmanage(r->start, r->end);
	if (r->policy->released)
		r->policy->released(r);
	ucow_stat_add(UCOW_ST_STEPPED_ASIDE, 1);
	ucow_debug(r->policy->name, "%#lx-%#lx handed to the program's own userfaultfd",
		   (unsigned long)r->start, (unsigned long)r->end);
}

int engine_step_aside(uintptr_t start, uintptr_t end)
{
	int failed;

	if (!registry_may_overlap(&ucow_registry, start, end))
		return 0;
	/* Unmaps made behind ucow's back must not leave entries to fill in someone's memory. */
	handler_barrier();
	failed = materialise_all(start, end, true);
	registry_walk(&ucow_registry, start, end, step_aside_one, NULL);
	return failed ? -EIO : 0;
}

/*
 * Whether a fork child could open a userfaultfd of its own: it has this process's
 * credentials, so asking now tells (a privilege drop since the engine started).
 */
static bool child_can_open_uffd(void)
{
	static struct {
		bool known, can;
		uid_t uid[3];
		gid_t gid[3];
	} last;
	enum ucow_uffd_mode umode;
	uid_t uid[3];
	gid_t gid[3];
	char why[512];
	int fd;

	/* A filter the program added since the engine started may kill the call itself. */
	if (filter_probe() < 0)
		return false;
	/* The answer holds while the credentials do: a server forking per request after it
	 * dropped its privileges asks once. */
	getresuid(&uid[0], &uid[1], &uid[2]);
	getresgid(&gid[0], &gid[1], &gid[2]);
	if (last.known && !memcmp(uid, last.uid, sizeof(uid)) && !memcmp(gid, last.gid, sizeof(gid)))
		return last.can;
	fd = uffd_open(ucow_cfg.user_mode_only, &umode, why, sizeof(why));
	if (fd >= 0)
		close(fd);
	last.can = fd >= 0;
	memcpy(last.uid, uid, sizeof(uid));
	memcpy(last.gid, gid, sizeof(gid));
	last.known = true;
	return last.can;
}

/* Set by engine_fork_prepare() for the child: it runs unmanaged without trying, and with
 * @child_filled, with nothing left to fill. */
static __thread bool child_unmanageable, child_filled;

static bool has_deferred(const struct ucow_region *r, void *arg)
{
	return r->policy->materialise != NULL;
}

void engine_unmanaged_child_prepare(void)
{
	if (!registry_any(&ucow_registry, 0, UINTPTR_MAX, has_deferred, NULL))
		return;
	handler_barrier();
	if (materialise_all(0, UINTPTR_MAX, true) == 0)
		release_filled(0, UINTPTR_MAX);
}

void engine_fork_prepare(void)
{
	/*
	 * Entries whose mapping went behind ucow's back (unmapped and mapped again by glibc's
	 * own calls, the event not applied yet) would be registered again in the child.
	 */
	engine_forget_unmapped(0, UINTPTR_MAX);
	/*
	 * A child that will not be able to open a userfaultfd cannot be managed, and the kernel
	 * drops its registrations: what ucow deferred is filled for real now, while this
	 * process's userfaultfd still can (law 7). A child that fails later (no thread) writes
	 * the missing pages itself.
	 */
	child_unmanageable = child_filled = false;
	if (registry_count(&ucow_registry) && !child_can_open_uffd()) {
		/* Said here, at info level; each child of a pre-forking server would say it. */
		child_unmanageable = true;
		child_filled = true;
		if (registry_any(&ucow_registry, 0, UINTPTR_MAX, has_deferred, NULL)) {
			ucow_info("fork", "the child cannot open a userfaultfd (privileges dropped?): "
				  "deferred content is filled for real before the fork");
			child_filled = materialise_all(0, UINTPTR_MAX, true) == 0;
			release_filled(0, UINTPTR_MAX);
		}
	}
	/* Held across fork: a signal handler touching managed memory meanwhile would wait for
	 * the handler thread. The registry is only frozen: the handler still serves faults
	 * (registry.h says why). */
	sigguard_enter(&fork_guard);
	pthread_mutex_lock(&engine.lock);
	registry_freeze(&ucow_registry);
	fdt_fork_prepare();
}

void engine_fork_parent(void)
{
	fdt_fork_parent();
	registry_thaw(&ucow_registry);
	pthread_mutex_unlock(&engine.lock);
	sigguard_leave(&fork_guard);
}

/*
 * Regions whose source could not be carried into the child (no descriptor free in the forking
 * thread's table) are handed back to the kernel: right for shmem holes, the only policy with
 * a source, whose fallback is the kernel's own fill.
 */
static void drop_uncarried(void)
{
	uintptr_t start = 0, resume;
	size_t dropped = 0;

	do {
		struct ucow_region v[UNMAP_PIECES];
		size_t n = registry_collect(&ucow_registry, start, UINTPTR_MAX, v, UNMAP_PIECES,
					    &resume);

		for (size_t i = 0; i < n; i++)
			if (v[i].src && !source_usable(v[i].src)) {
				registry_remove(&ucow_registry, v[i].start, v[i].end);
				dropped++;
			}
		start = resume;
	} while (resume);
	if (dropped)
		ucow_info("fork", "%zu file mapping(s) could not keep their file in the child: "
			  "left to the kernel there", dropped);
}

/*
 * The child runs unmanaged: the kernel dropped its registrations, so every deferred page
 * is written now (this thread is the child's only one), then ucow forgets it all.
 */
static void fork_child_unmanaged(void)
{
	int failed = child_filled ? 0 : materialise_all(0, UINTPTR_MAX, false);

	registry_remove(&ucow_registry, 0, UINTPTR_MAX);
	if (failed)
		ucow_error("fork", "%d deferred range(s) could not be filled in the child", failed);
}

/* Registers every region again; a region that cannot be is filled for real and forgotten. */
static void register_one(const struct ucow_region *r, void *arg)
{
	int *failed = arg;

	if (register_range(r->start, r->end) == 0) {
		ucow_stat_add(UCOW_ST_REGIONS, 1);
		return;
	}
	(*failed)++;
	if (r->policy->materialise)
		r->policy->materialise(r, false);
	registry_remove_birth(&ucow_registry, r->start, r->end, r->birth);
}

static int fork_child_register(void)
{
	int failed = 0;

	registry_walk(&ucow_registry, 0, UINTPTR_MAX, register_one, &failed);
	return failed;
}

void engine_fork_child(void)
{
	enum ucow_engine_mode mode = engine_mode();
	int failed;

	registry_fork_child(&ucow_registry);
	pthread_mutex_init(&engine.lock, NULL);
	/* A thread of the parent between register and record is not here. */
	atomic_store(&engine.recording, 0);
	ucow_stats_reset();
	handler_fork_child();
	if (mode != UCOW_ENGINE_FULL && mode != UCOW_ENGINE_USER_ONLY)
		goto out;
	/* The parent's userfaultfd serves the parent's address space, not ours. */
	fdt_fork_child();
	engine.uffd = -1;
	atomic_store_explicit(&engine.mode, UCOW_ENGINE_UNUSED, memory_order_release);
	if (registry_count(&ucow_registry) == 0) {
		source_fork_child_done(false);
		goto out;
	}
	/* Ranges the program kept from the child (MADV_DONTFORK) are not there to register. */
	registry_walk(&ucow_registry, 0, UINTPTR_MAX, forget_unmapped_parts, NULL);
	if (child_unmanageable) {
		source_fork_child_done(false);
		atomic_store_explicit(&engine.mode, UCOW_ENGINE_FAILED, memory_order_release);
		fork_child_unmanaged();
		goto out;
	}
	if (engine_start() < 0) {
		source_fork_child_done(false);
		/* No userfaultfd or no handler thread (a pids limit): unmanaged from here. */
		fork_child_unmanaged();
		goto out;
	}
	/* The handler has the carried sources in its table now. */
	source_fork_child_done(true);
	drop_uncarried();
	failed = fork_child_register();
	if (failed)
		ucow_warn("fork", "%d managed range(s) could not be registered again in the child; "
			  "their deferred content was written", failed);
out:
	sigguard_leave(&fork_guard);
}

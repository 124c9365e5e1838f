/* handler.c: the handler thread. It reads userfaultfd messages in batches, applies events
 * in the order the kernel sent them, then resolves each fault through its region's policy,
 * answering every message. It never allocates and never touches managed memory. */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "fdtable.h"
#include "fill.h"
#include "handler.h"
#include "idle_poll.h"
#include "live.h"
#include "log.h"
#include "pace.h"
#include "placement.h"
#include "policy.h"
#include "region.h"
#include "registration.h"
#include "sigguard.h"
#include "source.h"
#include "stats.h"
#include "sys.h"
#include "uffd.h"
#include "uffd_ctl.h"
#include "unmapped.h"
#include "waker.h"
#include "window.h"

#define READ_BATCH 64
#define QUEUE_SLOTS 4096	/* faults waiting: at most one per blocked thread */
#define REAP_DELAY_MS 100	/* how long an idle handler keeps a file nobody maps */
/* How long a barrier waits for other threads' events: the thread that caused one lowers
 * mmap_changing only once it runs again (milliseconds on a busy CPU); one stopped holds it. */
#define EVENTS_PATIENCE_NS 20000000ULL	/* 20 ms */
/* How long a barrier waits for the end of a fork that holds what the handler applied. */
#define QUEUE_PATIENCE_NS 1000000000ULL	/* 1 s */

static struct {
	int uffd;
	atomic_bool running;
	pthread_t thread;
	atomic_uint period;	/* odd while a batch is being read and applied */
	atomic_uint waiters;	/* threads in handler_barrier() */
	struct uffd_msg *queue;	/* faults read, not yet answered: a ring in ucow's own pages */
	atomic_int entered;	/* 1 once it has its own table, -errno if it could not */
	size_t head, tail;
} handler;

bool handler_running(void)
{
	return handler.running;
}

bool handler_pending(void)
{
	struct pollfd pfd = { .fd = handler.uffd, .events = POLLIN };

	return poll(&pfd, 1, 0) > 0;
}

/*
 * Until the kernel has handed over every event it began before now. Such an event of another
 * thread's may describe this address range as it was before this thread's own change (a move
 * out of the range this thread just mapped): applied after the change, it would carry the
 * new mapping's regions off with it.
 */
static bool events_unread(void)
{
	static atomic_flag told = ATOMIC_FLAG_INIT;
	int ret = uffd_ctl_events_read();

	if (ret < 0 && !atomic_flag_test_and_set(&told))
		ucow_debug("handler", "cannot tell whether other threads' events are read (%s): "
			   "changes are recorded without waiting for them", strerror(-ret));
	return ret == 0;
}

/* What the handler applied while a fork held the registry waits in a queue until it ends. */
static bool events_queued(void)
{
	return registry_queued(&ucow_registry);
}

/* While @busy says so, for @patience_ns at most (then counted as late): yielding at first,
 * then sleeping, since what it waits for may take a while (a fork of a large process). */
static void wait_while(bool (*busy)(void), uint64_t patience_ns)
{
	const struct timespec nap = { .tv_nsec = 20000 };
	uint64_t deadline = 0;

	for (unsigned int i = 0; busy(); i++) {
		if (!deadline) {
			deadline = sys_now_ns() + patience_ns;
		} else if (sys_now_ns() > deadline) {
			ucow_stat_add(UCOW_ST_EVENTS_LATE, 1);
			return;
		}
		if (i < 100)
			sched_yield();
		else
			nanosleep(&nap, NULL);
	}
}

void handler_barrier(void)
{
	unsigned int p;

	if (!handler.running || pthread_equal(pthread_self(), handler.thread))
		return;
	wait_while(events_unread, EVENTS_PATIENCE_NS);
	p = atomic_load(&handler.period);
	if (p & 1) {
		atomic_fetch_add(&handler.waiters, 1);
		while (atomic_load(&handler.period) == p)
			sys_futex_wait(&handler.period, p, 0);
		atomic_fetch_sub(&handler.waiters, 1);
	}
	wait_while(events_queued, QUEUE_PATIENCE_NS);
}

static void enter_busy(void)
{
	atomic_fetch_add(&handler.period, 1);
}

static void enter_idle(void)
{
	atomic_fetch_add(&handler.period, 1);
	if (atomic_load(&handler.waiters))
		sys_futex_wake(&handler.period);
}

static void discard_one(const struct ucow_region *r, void *arg)
{
	if (r->policy->discard)
		r->policy->discard(r, r->start, r->end);
}

/*
 * Pages of [start,end) are being discarded. The policies hear of it outside the registry
 * lock, so that they may change the registry (lazy memset forgets its value there); they get
 * region copies that hold no source reference.
 */
static void discard_range(uintptr_t start, uintptr_t end)
{
	registry_walk(&ucow_registry, start, end, discard_one, NULL);
}

static void apply_event(const struct uffd_msg *msg)
{
	switch (msg->event) {
	case UFFD_EVENT_UNMAP:
		ucow_stat_add(UCOW_ST_EVENTS_UNMAP, 1);
		window_forget(msg->arg.remove.start, msg->arg.remove.end);
		unmapped_event(msg->arg.remove.start, msg->arg.remove.end, handler_pending);
		break;
	case UFFD_EVENT_REMAP:
		ucow_stat_add(UCOW_ST_EVENTS_REMAP, 1);
		registry_move(&ucow_registry, msg->arg.remap.from, msg->arg.remap.to,
			      msg->arg.remap.len, false);
		break;
	case UFFD_EVENT_REMOVE:
		if (uffd_ctl_doorbell(msg))
			break;
		ucow_stat_add(UCOW_ST_EVENTS_REMOVE, 1);
		discard_range(msg->arg.remove.start, msg->arg.remove.end);
		break;
	case UFFD_EVENT_FORK:
		/* Never asked for; a descriptor handed over anyway must not leak. */
		close((int)msg->arg.fork.ufd);
		break;
	default:
		ucow_debug("handler", "ignoring event %#x", msg->event);
		break;
	}
}

/* Reads what fits in the queue: events are applied at once, faults queued. */
static int read_messages(void)
{
	struct uffd_msg batch[READ_BATCH];
	size_t room = QUEUE_SLOTS - (handler.tail - handler.head);
	ssize_t n;

	if (room == 0)
		return 0;
	if (room > READ_BATCH)
		room = READ_BATCH;
	n = read(handler.uffd, batch, room * sizeof(batch[0]));
	if (n < 0)
		return errno == EAGAIN || errno == EINTR ? 0 : -errno;
	n /= (ssize_t)sizeof(batch[0]);
	for (ssize_t i = 0; i < n; i++) {
		if (batch[i].event == UFFD_EVENT_PAGEFAULT)
			handler.queue[handler.tail++ % QUEUE_SLOTS] = batch[i];
		else
			apply_event(&batch[i]);
	}
	return (int)n;
}

/* A fault that cannot be resolved: back to the kernel where that is correct, else SIGBUS. */
static void give_up(const struct ucow_fault *f, const struct ucow_region *r, int err)
{
	const char *who = r ? r->policy->name : "handler";

	if (r && r->policy->kernel_fallback) {
		ucow_stat_add(UCOW_ST_FALLBACKS, 1);
		ucow_warn(who, "cannot resolve a fault at %#lx (%s): %#lx-%#lx handed back to the kernel",
			  (unsigned long)f->addr, strerror(-err), (unsigned long)r->start,
			  (unsigned long)r->end);
		engine_unmanage(r->start, r->end);
		return;
	}
	if (fill_poison(f->addr) > 0) {
		ucow_stat_add(UCOW_ST_POISONED, 1);
		ucow_error(who, "cannot resolve a fault at %#lx (%s): page poisoned (SIGBUS on access)",
			   (unsigned long)f->addr, strerror(-err));
		return;
	}
	ucow_stat_add(UCOW_ST_FALLBACKS, 1);
	ucow_error(who, "cannot resolve a fault at %#lx (%s) nor poison it: page handed back "
		   "to the kernel", (unsigned long)f->addr, strerror(-err));
	engine_unmanage(f->addr, f->addr + UCOW_PAGE_SIZE);
}

#define RECORD_PATIENCE_NS 2000000	/* 2 ms */

/*
 * The region of @addr. A range is registered before it is recorded (engine_manage), so a
 * fault can come first: then the handler waits for the record (its value, for a deferred
 * memset) rather than answer zeroes. Bounded: after that, the caller treats it as unknown.
 */
static bool lookup_recorded(uintptr_t addr, struct ucow_region *r)
{
	uint64_t deadline = 0;

	while (!registry_lookup(&ucow_registry, addr, r, true)) {
		if (!engine_recording())
			return false;
		if (!deadline)
			deadline = sys_now_ns() + RECORD_PATIENCE_NS;
		else if (sys_now_ns() > deadline)
			return false;
		sched_yield();
	}
	return true;
}

/*
 * A fill of a file's page refused with EFAULT: the file ended before the page when the fill
 * was made (another thread truncated it after the fault was taken). Where it still does, the
 * thread is woken and faults again, and the kernel's own fault path gives it SIGBUS: 0.
 * Where the file has grown back meanwhile, the fill is worth making again, a few times:
 * -EAGAIN. Otherwise the EFAULT stands.
 */
#define TRUNCATION_RETRIES 8

static int truncated_under(const struct ucow_region *r, uintptr_t addr, int *retries)
{
	struct stat st;

	if (!r->src || fstat(r->src->fd, &st) < 0)
		return -EFAULT;
	if (region_file_offset(r, addr) >= st.st_size)
		return uffd_wake(handler.uffd, addr, UCOW_PAGE_SIZE) == 0 ? 0 : -EFAULT;
	return (*retries)++ < TRUNCATION_RETRIES ? -EAGAIN : -EFAULT;
}

static void resolve(const struct uffd_msg *msg)
{
	struct ucow_fault f = {
		.addr = UCOW_PAGE_DOWN(msg->arg.pagefault.address),
		.flags = (msg->arg.pagefault.flags & UFFD_PAGEFAULT_FLAG_WRITE) ? UCOW_FAULT_WRITE : 0,
	};
	struct ucow_region r;
	int ret, retries = 0;
	bool known;

	ucow_stat_add(UCOW_ST_FAULTS, 1);
	placement_fault((pid_t)msg->arg.pagefault.feat.ptid);
	waker_fault((pid_t)msg->arg.pagefault.feat.ptid, f.addr);
	for (;;) {
		known = lookup_recorded(f.addr, &r);
		if (known) {
			window_fault_region(r.birth);
			if (r.policy->faults_counter)
				ucow_count(&r.policy->faults_counter[f.flags & UCOW_FAULT_WRITE ? 1 : 0], 1);
			ret = r.policy->fault(&r, &f);
			if (ret == -EFAULT)
				ret = truncated_under(&r, f.addr, &retries);
			if (r.src)
				source_put(r.src);
		} else {
			/* Registered with us but unknown (grown by a call ucow did not see): the
			 * kernel would give zeroes to new anonymous memory and to a shmem hole. */
			ret = (int)fill_zero(f.addr, UCOW_PAGE_SIZE);
			/* Nothing filled: the range went (a fault that raced with its unmap). */
			if (ret > 0)
				ucow_stat_add(UCOW_ST_UNKNOWN_FAULTS, 1);
			ret = ret > 0 ? 0 : ret;
		}
		if (ret != -EAGAIN)
			break;
		f.flags |= UCOW_FAULT_AGAIN;
		ucow_stat_add(UCOW_ST_EAGAIN, 1);
		if (read_messages() <= 0)
			sched_yield();
	}
	/* After the answer: the request, made while the thread's CPU wakes for it, would only
	 * add to this fault's wait (isolated faults: 15-20 us more, measured); the next ones of
	 * the burst find the CPUs polling. */
	idle_poll_hold();
	waker_served();
	if (ret == 0)
		return;
	if (ret == -ESRCH) {	/* the address space is gone: the process is exiting */
		ucow_debug("handler", "fault at %#lx: the process is exiting", (unsigned long)f.addr);
		return;
	}
	give_up(&f, known ? &r : NULL, ret);
}

/*
 * After serving faults, watch the descriptor for a short while before sleeping (pace.c says
 * how long): a thread that faults in sequence comes back within microseconds, and waking a
 * sleeping handler on another CPU costs far more than the spin (DESIGN.md, kernel facts);
 * the watch ends early when another task wants the CPU. It reads at once
 * rather than polling first: one system call less between a fault and its answer; busy
 * around each read, as handler_barrier() expects of any read. Returns the messages read (the
 * handler then stays busy), 0 if none came (idle), -1 with errno on failure (idle).
 */
static int wait_spinning(void)
{
	uint64_t last = sys_now_ns(), until = last + pace_spin_ns();
	int ret;

	do {
		enter_busy();
		ret = read_messages();
		if (ret > 0) {
			pace_undisturbed();
			return ret;
		}
		enter_idle();
		if (ret < 0) {
			errno = -ret;
			return -1;
		}
		waker_check();
		if (pace_preempted(&last))
			return 0;
	} while (last < until);
	pace_undisturbed();
	return 0;
}

/*
 * Waits for messages, idle. glibc's SIGSETXID and SIGCANCEL cannot be blocked, so a set*id()
 * call in any thread interrupts the poll: it is only asked again, never counted as a new
 * period. Returns with the handler busy, or -1 with errno (idle).
 */
static int wait_messages(struct pollfd *pfd, nfds_t n, bool served)
{
	int ret;

	if (served) {
		ret = wait_spinning();
		if (ret > 0)
			pace_message();
		if (ret != 0)
			return ret;
	}
	idle_poll_release();
	waker_rest();
	do {
		/* A file the program let go of is closed soon, not at the next fault: its
		 * pages (a deleted memfd's) are freed only then. Soon, not at once: a program
		 * that maps the same file again takes it back without a request. The stats
		 * file (UCOW_STATS=DIR/) is refreshed while memory is managed. */
		ret = poll(pfd, n, live_timeout(source_reap_pending() ? REAP_DELAY_MS : -1));
		if (ret == 0) {
			source_reap();
			live_tick();
		}
	} while (ret == 0 || (ret < 0 && errno == EINTR));
	if (ret > 0 && !(pfd->revents & (POLLERR | POLLNVAL)))
		enter_busy();
	if (ret > 0 && (pfd->revents & POLLIN))
		pace_message();
	return ret;
}

/*
 * Reads and applies what is there, resolves the faults, and settles the unmap notices that
 * had to wait for later messages. The handler stays busy until none is left unsettled:
 * handler_barrier() promises every event read is applied. Returns how many messages it read
 * (or 1 if it only resolved faults read before), or -errno.
 */
static int serve_batch(void)
{
	bool resolved = false;
	int ret, total = 0;

	do {
		ret = read_messages();
		if (ret < 0)
			return ret;
		total += ret;
		while (handler.head != handler.tail) {
			/* A copy: resolving may read more messages into the ring. */
			struct uffd_msg msg = handler.queue[handler.head++ % QUEUE_SLOTS];

			/* A handler kept busy still makes a wake handed off and not made. */
			waker_check();
			resolve(&msg);
			resolved = true;
		}
		unmapped_settle_doubts(handler_pending);
	} while (unmapped_doubts_left());
	/* Faults the spin read count too. */
	return total ? total : resolved;
}

static void *handler_main(void *arg)
{
	/* The userfaultfd, and the doorbell of live statistics (ucow stat), if any. */
	struct pollfd pfd[2] = { { .fd = handler.uffd, .events = POLLIN },
				 { .fd = -1, .events = POLLIN } };
	bool served = false;
	int ret;

	sigguard_thread_blocked();
	/* Before anything else, and before handler_start() returns: the program may close
	 * every descriptor right after. */
	ret = fdt_handler_enter(handler.uffd);
	if (ret >= 0) {
		fill_bind_handler(handler.uffd);
		placement_adopt_process_mask();
		/* Sharing this table and mask; made while the program waits for this thread. */
		waker_init(handler.uffd);
	}
	atomic_store(&handler.entered, ret < 0 ? ret : 1);
	sys_futex_wake((atomic_uint *)&handler.entered);
	if (ret < 0) {
		handler.running = false;
		return NULL;
	}
	placement_init();
	idle_poll_start();
	pfd[1].fd = live_start();
	for (;;) {
		enter_idle();
		pfd[0].revents = pfd[1].revents = 0;
		ret = wait_messages(pfd, pfd[1].fd >= 0 ? 2 : 1, served);
		if (ret < 0 || (pfd[0].revents & (POLLERR | POLLNVAL))) {
			ucow_error("handler", "polling userfaultfd %d failed: "
				   "managed memory is no longer served", handler.uffd);
			break;
		}
		ret = serve_batch();
		if (ret < 0) {
			ucow_error("handler", "reading userfaultfd: %s", strerror(-ret));
			enter_idle();
			break;
		}
		/* Any message: a program that unmaps managed memory often maps and faults next. */
		served = ret > 0;
		if (served)
			pace_served();
		source_reap();
		/* After the events read with it: the registry is the kernel's as of the ring. */
		if (pfd[1].fd >= 0 && (pfd[1].revents & (POLLERR | POLLNVAL))) {
			live_doorbell_lost();
			pfd[1].fd = -1;
		} else if (pfd[1].fd >= 0 && (pfd[1].revents & POLLIN)) {
			live_answer();
		}
		live_tick();
	}
	live_stop();
	idle_poll_stop();
	waker_stop();
	fdt_handler_exit();
	handler.running = false;
	return NULL;
}

int handler_start(int uffd)
{
	sigset_t all, old;
	pthread_attr_t attr;
	int ret;

	if (!handler.queue) {
		void *q = sys_mmap(NULL, UCOW_PAGE_UP(QUEUE_SLOTS * sizeof(struct uffd_msg)),
				   PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

		if (q == MAP_FAILED)
			return -ENOMEM;
		handler.queue = q;
	}
	handler.uffd = uffd;
	handler.head = handler.tail = 0;
	atomic_store(&handler.entered, 0);
	/* Busy until the thread first goes idle: a barrier before then waits for it. */
	atomic_store(&handler.period, 1);
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	pthread_attr_setstacksize(&attr, 256 * 1024);
	/* The program's signal handlers must never run on this thread: they may touch
	 * managed memory, whose faults only this thread can answer. */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	handler.running = true;
	ret = pthread_create(&handler.thread, &attr, handler_main, NULL);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	pthread_attr_destroy(&attr);
	if (ret) {
		handler.running = false;
		return -ret;
	}
	pthread_setname_np(handler.thread, "ucow-handler");
	while ((ret = atomic_load(&handler.entered)) == 0)
		sys_futex_wait((atomic_uint *)&handler.entered, 0, 0);
	return ret < 0 ? ret : 0;
}

void handler_fork_child(void)
{
	live_fork_child();
	waker_fork_child();
	handler.running = false;
	handler.head = handler.tail = 0;
	atomic_store(&handler.period, 0);
	atomic_store(&handler.waiters, 0);
}

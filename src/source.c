/* source.c: ucow's own descriptions of the files behind managed regions, one per file, in
 * slabs of ucow's own pages; their descriptors live in the handler thread's table. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <unistd.h>

#include "source.h"
#include "sys.h"

/* Sources live in pages ucow maps for itself, never in the program's heap. */
#define SOURCES_PER_SLAB (UCOW_PAGE_SIZE * 4 / sizeof(struct ucow_source))

struct source_slab {
	struct source_slab *next;
	struct ucow_source s[SOURCES_PER_SLAB - 1];
};

/* Every slot of every slab, free or not. */
#define for_each_slot(s) \
	for (struct source_slab *slab_ = slabs; slab_; slab_ = slab_->next) \
		for (struct ucow_source *s = slab_->s; s < slab_->s + SOURCES_PER_SLAB - 1; s++)

__thread bool ucow_in_handler;

static struct source_slab *slabs;
static pthread_mutex_t slab_lock = PTHREAD_MUTEX_INITIALIZER;
static atomic_int closing;	/* sources waiting for the handler to close their fd */

/* Never above this: the kernel's table grows to the highest number used (the limit can be
 * a million; 4096 entries are 32 KiB of kernel memory). */
#define DUP_HIGH_CEIL 4096

int ucow_dup_high(int fd)
{
	static const int below[] = { 1, 8, 64, 512 };
	struct rlimit rl;
	long top = DUP_HIGH_CEIL;
	int nfd = -1;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY &&
	    (long)rl.rlim_cur < top)
		top = (long)rl.rlim_cur;
	/* The lowest free number at or above each floor: the top one first. Never low: there
	 * the program's next open() would get another number than on the kernel. */
	for (size_t i = 0; i < sizeof(below) / sizeof(below[0]) && top - below[i] >= top / 2;
	     i++) {
		nfd = fcntl(fd, F_DUPFD_CLOEXEC, (int)(top - below[i]));
		if (nfd >= 0 || errno != EMFILE)
			break;
	}
	return nfd;
}

/*
 * The handler takes the lock only for a last reference; a program thread holding it must
 * not run a signal handler that faults on managed memory meanwhile (the handler would wait
 * for it): program threads hold it with signals blocked.
 */
static void lock(sigset_t *old)
{
	sigset_t all;

	if (!ucow_in_handler) {
		sigfillset(&all);
		pthread_sigmask(SIG_SETMASK, &all, old);
	}
	pthread_mutex_lock(&slab_lock);
}

static void unlock(const sigset_t *old)
{
	pthread_mutex_unlock(&slab_lock);
	if (!ucow_in_handler)
		pthread_sigmask(SIG_SETMASK, old, NULL);
}

/* A reference, unless none is left: a source going away is never revived. */
static bool get_live(struct ucow_source *s)
{
	int refs = atomic_load(&s->refs);

	while (refs > 0)
		if (atomic_compare_exchange_weak(&s->refs, &refs, refs + 1))
			return true;
	return false;
}

static bool live(const struct ucow_source *s)
{
	return s->fd >= 0 && !s->closing;
}

struct ucow_source *source_find(dev_t dev, ino_t ino, int accmode)
{
	struct ucow_source *found = NULL;
	sigset_t old;

	lock(&old);
	for (struct source_slab *slab = slabs; slab && !found; slab = slab->next)
		for (size_t i = 0; i < SOURCES_PER_SLAB - 1; i++) {
			struct ucow_source *s = &slab->s[i];

			if (s->fd < 0 || s->dev != dev || s->ino != ino || s->accmode != accmode)
				continue;
			if (live(s) && get_live(s)) {
				found = s;
				break;
			}
			/*
			 * Let go of but not closed yet (the handler closes under this lock):
			 * taken back, which spares a request to the handler when a program
			 * maps the same file again after unmapping it.
			 */
			if (s->closing && atomic_load(&s->refs) == 0) {
				s->closing = false;
				atomic_fetch_sub(&closing, 1);
				atomic_store(&s->refs, 1);
				found = s;
				break;
			}
		}
	unlock(&old);
	return found;
}

static struct ucow_source *slot_alloc(void)
{
	struct source_slab *slab;

	for (slab = slabs; slab; slab = slab->next)
		for (size_t i = 0; i < SOURCES_PER_SLAB - 1; i++)
			if (atomic_load(&slab->s[i].refs) == 0 && slab->s[i].fd < 0)
				return &slab->s[i];
	slab = sys_mmap(NULL, sizeof(*slab), PROT_READ | PROT_WRITE,
			MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (slab == MAP_FAILED)
		return NULL;
	for (size_t i = 0; i < SOURCES_PER_SLAB - 1; i++) {
		slab->s[i].fd = -1;
		slab->s[i].carry_fd = -1;
	}
	slab->next = slabs;
	slabs = slab;
	return &slab->s[0];
}

struct ucow_source *source_install(int fd, dev_t dev, ino_t ino, int accmode, bool private_pos)
{
	struct ucow_source *s;
	sigset_t old;

	lock(&old);
	s = slot_alloc();
	if (s) {
		s->fd = fd;
		s->dev = dev;
		s->ino = ino;
		s->accmode = accmode;
		s->private_pos = private_pos;
		s->writable = accmode != O_RDONLY;
		s->closing = false;
		s->carry_fd = -1;
		atomic_store(&s->refs, 1);
	}
	unlock(&old);
	if (!s)
		errno = ENOMEM;
	return s;
}

void source_get(struct ucow_source *s)
{
	atomic_fetch_add_explicit(&s->refs, 1, memory_order_relaxed);
}

void source_put(struct ucow_source *s)
{
	sigset_t old;
	int fd = -1;

	if (atomic_fetch_sub_explicit(&s->refs, 1, memory_order_acq_rel) != 1)
		return;
	lock(&old);
	if (s->fd >= 0) {
		if (ucow_in_handler) {
			fd = s->fd;
			s->fd = -1;
		} else {
			s->closing = true;
			atomic_fetch_add(&closing, 1);
		}
	}
	unlock(&old);
	if (fd >= 0)
		close(fd);
}

bool source_reap_pending(void)
{
	return atomic_load_explicit(&closing, memory_order_relaxed) != 0;
}

void source_reap(void)
{
	if (!ucow_in_handler || atomic_load_explicit(&closing, memory_order_relaxed) == 0)
		return;
	/* Held across a fork (source_fork_prepare): the closes wait for a later batch. */
	if (pthread_mutex_trylock(&slab_lock) != 0)
		return;
	for_each_slot(s) {
		if (s->closing) {
			close(s->fd);
			s->fd = -1;
			s->closing = false;
			atomic_fetch_sub(&closing, 1);
		}
	}
	pthread_mutex_unlock(&slab_lock);
}

size_t source_fds(int *out, size_t max)
{
	size_t n = 0;

	pthread_mutex_lock(&slab_lock);
	for_each_slot(s) {
		if (s->fd < 0)
			continue;
		if (n < max)
			out[n++] = s->fd;
		else
			s->fd = -1;
	}
	pthread_mutex_unlock(&slab_lock);
	return n;
}

void source_fork_prepare(void)
{
	pthread_mutex_lock(&slab_lock);
	for_each_slot(s)
		s->carry_fd = -1;
}

void source_fork_parent(void)
{
	pthread_mutex_unlock(&slab_lock);
}

void source_fork_child_carry(int (*carry)(int fd, int accmode))
{
	for_each_slot(s) {
		s->carry_fd = live(s) && atomic_load(&s->refs) > 0 ? carry(s->fd, s->accmode) : -1;
		/* A description of the child's own: seeking for holes moves nobody else's. */
		if (s->carry_fd >= 0)
			s->private_pos = true;
	}
}

void source_fork_child(void)
{
	/* The lock may have been held by a thread that does not exist here; the parent's
	 * handler table did not come along: only carried copies stand for sources. */
	pthread_mutex_init(&slab_lock, NULL);
	atomic_store(&closing, 0);
	for_each_slot(s) {
		s->closing = false;
		s->fd = atomic_load(&s->refs) > 0 ? s->carry_fd : -1;
		if (s->carry_fd >= 0 && s->fd < 0)
			close(s->carry_fd);
		s->carry_fd = s->fd;
	}
}

void source_fork_child_done(bool adopted)
{
	for_each_slot(s) {
		/* The same number in both tables: the handler's copy stays. */
		if (s->carry_fd >= 0)
			close(s->carry_fd);
		s->carry_fd = -1;
		if (!adopted)
			s->fd = -1;
	}
}

bool source_usable(const struct ucow_source *s)
{
	return s->fd >= 0;
}

int source_fork_fd(const struct ucow_source *s)
{
	return s->carry_fd;
}

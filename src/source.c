/* source.c: ucow's own duplicates of the files behind managed regions, held per region. */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <unistd.h>

#include "sigguard.h"
#include "source.h"
#include "sys.h"

/* Sources live in pages ucow maps for itself, never in the program's heap. */
#define SOURCES_PER_SLAB (UCOW_PAGE_SIZE * 4 / sizeof(struct ucow_source))

struct source_slab {
	struct source_slab *next;
	struct ucow_source s[SOURCES_PER_SLAB - 1];
};

static struct source_slab *slabs;
static pthread_mutex_t slab_lock = PTHREAD_MUTEX_INITIALIZER;

int ucow_dup_high(int fd)
{
	struct rlimit rl;
	long floor = 1000;
	int nfd;

	/* High enough to stay clear of the program's own numbers, low enough that the
	 * kernel's fd table does not grow to the limit (it can be a million). */
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY &&
	    (long)rl.rlim_cur < floor + 64)
		floor = (long)rl.rlim_cur > 128 ? (long)rl.rlim_cur - 64 : 3;
	nfd = fcntl(fd, F_DUPFD_CLOEXEC, (int)floor);
	if (nfd < 0)
		nfd = fcntl(fd, F_DUPFD_CLOEXEC, 3);
	return nfd;
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
	for (size_t i = 0; i < SOURCES_PER_SLAB - 1; i++)
		slab->s[i].fd = -1;
	slab->next = slabs;
	slabs = slab;
	return &slab->s[0];
}

/*
 * A description of ucow's own, so that seeking for holes never moves the program's file
 * position (a dup would share it). Falls back to a dup, without a private position.
 */
static int open_private(int fd, bool *private_pos)
{
	char path[64];
	int flags = fcntl(fd, F_GETFL);
	int own, high;

	*private_pos = false;
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	own = flags < 0 ? -1 : open(path, (flags & O_ACCMODE) | O_CLOEXEC | O_NOCTTY);
	if (own < 0)
		return ucow_dup_high(fd);
	*private_pos = true;
	high = ucow_dup_high(own);
	if (high >= 0) {
		close(own);
		own = high;
	}
	return own;
}

struct ucow_source *source_open(int fd)
{
	struct ucow_source *s;
	struct sigguard g;
	bool private_pos;
	int nfd = open_private(fd, &private_pos);

	if (nfd < 0)
		return NULL;
	sigguard_enter(&g);
	pthread_mutex_lock(&slab_lock);
	s = slot_alloc();
	if (s) {
		s->fd = nfd;
		s->private_pos = private_pos;
		atomic_store(&s->refs, 1);
	}
	pthread_mutex_unlock(&slab_lock);
	sigguard_leave(&g);
	if (!s) {
		close(nfd);
		errno = ENOMEM;
	}
	return s;
}

void source_get(struct ucow_source *s)
{
	atomic_fetch_add_explicit(&s->refs, 1, memory_order_relaxed);
}

void source_put(struct ucow_source *s)
{
	struct sigguard g;
	int fd;

	if (atomic_fetch_sub_explicit(&s->refs, 1, memory_order_acq_rel) != 1)
		return;
	sigguard_enter(&g);
	pthread_mutex_lock(&slab_lock);
	fd = s->fd;
	s->fd = -1;
	pthread_mutex_unlock(&slab_lock);
	sigguard_leave(&g);
	close(fd);
}

void source_fork_child(void)
{
	pthread_mutex_init(&slab_lock, NULL);
}

/* stats_file.c: UCOW_STATS=DIR/ — this process image's statistics file in DIR, opened and
 * mapped at start-up (no descriptor kept), written at exit and refreshed by the handler. */
#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sched.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "config.h"
#include "live_abi.h"
#include "log.h"
#include "procfs.h"
#include "stats_file.h"
#include "sys.h"

static struct {
	struct ucow_stats_file_header *h;
	atomic_flag writing;
} sfile = { .writing = ATOMIC_FLAG_INIT };

bool stats_file_wanted(void)
{
	size_t len = strlen(ucow_cfg.stats);

	return len > 1 && ucow_cfg.stats[len - 1] == '/';
}

bool stats_file_active(void)
{
	return sfile.h != NULL;
}

static uint64_t boottime_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_BOOTTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* DIR/PID-RANDOM: O_EXCL on a name nobody can guess (DIR may be writable by others). */
static int create_file(char *path, size_t size)
{
	unsigned long long r[2] = { 0, 0 };
	int fd;

	if (getrandom(r, sizeof(r), GRND_NONBLOCK) != (ssize_t)sizeof(r))
		r[1] = boottime_ns() ^ (unsigned long long)(uintptr_t)&r;
	if ((size_t)snprintf(path, size, "%s%d-%016llx%016llx.stats", ucow_cfg.stats,
			     (int)getpid(), r[0], r[1]) >= size)
		return -ENAMETOOLONG;
	fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	return fd < 0 ? -errno : fd;
}

/* Writes the file's every byte (zeroes): false with errno if the file system has no room. */
static bool reserve(int fd)
{
	static const char zeroes[UCOW_STATS_FILE_SIZE];

	for (size_t done = 0; done < sizeof(zeroes);) {
		ssize_t n = pwrite(fd, zeroes + done, sizeof(zeroes) - done, (off_t)done);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			if (n == 0)
				errno = ENOSPC;
			return false;
		}
		done += (size_t)n;
	}
	return true;
}

/* Maps a new file at @at (MAP_FIXED over the parent's, in a fork child) or anywhere. */
static void open_at(void *at)
{
	char path[UCOW_STATS_PATH_MAX + 64];
	struct ucow_stats_file_header *h;
	void *p;
	int fd;

	fd = create_file(path, sizeof(path));
	/* Written whole now, its blocks reserved: a page of a full file system written through
	 * the mapping later would be a SIGBUS in whichever thread wrote it. */
	if (fd < 0 || !reserve(fd)) {
		ucow_warn("stats", "cannot create a statistics file in UCOW_STATS=%s: %s",
			  ucow_cfg.stats, strerror(fd < 0 ? -fd : errno));
		if (fd >= 0) {
			unlink(path);
			close(fd);
		}
		if (at)
			sys_munmap(at, UCOW_STATS_FILE_SIZE);
		sfile.h = NULL;
		return;
	}
	p = sys_mmap(at, UCOW_STATS_FILE_SIZE, PROT_READ | PROT_WRITE,
		     MAP_SHARED | (at ? MAP_FIXED : 0), fd, 0);
	close(fd);
	if (p == MAP_FAILED) {
		ucow_warn("stats", "cannot map %s: %s", path, strerror(errno));
		unlink(path);
		if (at)
			sys_munmap(at, UCOW_STATS_FILE_SIZE);
		sfile.h = NULL;
		return;
	}
	h = p;
	h->version = UCOW_STATS_FILE_VERSION;
	h->pid = (int32_t)getpid();
	h->starttime = (uint64_t)procfs_stat_field("/proc/self/stat", 22);
	h->created_ns = boottime_ns();
	h->magic = UCOW_STATS_FILE_MAGIC;
	sfile.h = h;
	atomic_flag_clear(&sfile.writing);
}

void stats_file_open(void)
{
	if (stats_file_wanted())
		open_at(NULL);
}

void stats_file_fork_child(void)
{
	if (sfile.h)
		open_at(sfile.h);
}

void stats_file_put(const char *json, size_t n, bool ended)
{
	struct ucow_stats_file_header *h = sfile.h;
	char *slot;
	uint32_t next;

	if (!h || n > UCOW_STATS_SLOT_MAX)
		return;
	/* Writers are the handler (refresh) and the exiting thread; neither waits long. */
	while (atomic_flag_test_and_set_explicit(&sfile.writing, memory_order_acquire))
		sched_yield();
	next = atomic_load_explicit((_Atomic uint32_t *)&h->gen, memory_order_relaxed) + 1;
	slot = (char *)(h + 1) + (next & 1) * UCOW_STATS_SLOT_MAX;
	memcpy(slot, json, n);
	h->len[next & 1] = (uint32_t)n;
	atomic_store_explicit((_Atomic uint32_t *)&h->gen, next, memory_order_release);
	if (ended)
		h->flags |= UCOW_STATS_FILE_ENDED;
	atomic_flag_clear_explicit(&sfile.writing, memory_order_release);
}

void stats_file_unend(void)
{
	struct ucow_stats_file_header *h = sfile.h;

	if (h)
		h->flags &= ~UCOW_STATS_FILE_ENDED;
}

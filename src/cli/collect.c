/* collect.c: reads the per-process statistics files of UCOW_STATS=DIR/ (`ucow run --stats`),
 * one process per pid and start time however many images it exec'd, killed ones included. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"
#include "live_abi.h"

struct image {
	int pid;
	uint64_t starttime, created_ns;
	bool ended;
	struct ucow_stats_total figures;
};

/* One file: 0 with @img filled, -1 if it is not a whole stats file (ignored). */
static int read_image(int dirfd, const char *name, struct image *img)
{
	static char buf[UCOW_STATS_FILE_SIZE];
	const struct ucow_stats_file_header *h = (const void *)buf;
	char json[UCOW_STATS_SLOT_MAX + 1];
	struct stat st;
	unsigned int slot;
	ssize_t n;
	int fd;

	/* DIR may be writable by others: nothing but a regular file of the right size. */
	fd = openat(dirfd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0)
		return -1;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_size != UCOW_STATS_FILE_SIZE) {
		close(fd);
		return -1;
	}
	n = pread(fd, buf, sizeof(buf), 0);
	close(fd);
	if (n != (ssize_t)sizeof(buf) || h->magic != UCOW_STATS_FILE_MAGIC ||
	    h->version != UCOW_STATS_FILE_VERSION)
		return -1;
	slot = h->gen & 1;
	if (h->gen == 0 || h->len[slot] == 0 || h->len[slot] > UCOW_STATS_SLOT_MAX)
		return -1;
	memcpy(json, buf + sizeof(*h) + slot * UCOW_STATS_SLOT_MAX, h->len[slot]);
	json[h->len[slot]] = '\0';
	memset(img, 0, sizeof(*img));
	if (ucow_stats_parse(json, &img->figures) < 0)
		return -1;
	img->pid = h->pid;
	img->starttime = h->starttime;
	img->created_ns = h->created_ns;
	img->ended = h->flags & UCOW_STATS_FILE_ENDED;
	return 0;
}

static int by_process(const void *a, const void *b)
{
	const struct image *x = a, *y = b;

	if (x->pid != y->pid)
		return x->pid < y->pid ? -1 : 1;
	if (x->starttime != y->starttime)
		return x->starttime < y->starttime ? -1 : 1;
	return x->created_ns < y->created_ns ? -1 : x->created_ns > y->created_ns;
}

/* Whether the process that wrote @img still runs: the same pid with the same start time. */
static bool still_running(const struct image *img)
{
	char path[64], line[1024], *p;
	unsigned long long start = 0;
	FILE *f;
	int field;

	snprintf(path, sizeof(path), "/proc/%d/stat", img->pid);
	f = fopen(path, "re");
	if (!f)
		return false;
	p = fgets(line, sizeof(line), f);
	fclose(f);
	if (!p || !(p = strrchr(line, ')')))
		return false;
	/* Field 3 follows ") "; the start time is field 22. */
	for (field = 2; field < 21 && p; field++)
		p = strchr(p + 1, ' ');
	return p && sscanf(p + 1, "%llu", &start) == 1 && start == img->starttime;
}

int ucow_stats_read_dir(struct ucow_stats_total *t, const char *dir, bool remove)
{
	struct image *images = NULL;
	size_t n = 0, cap = 0;
	struct dirent *d;
	DIR *dp = opendir(dir);

	if (!dp)
		return -errno;
	while ((d = readdir(dp))) {
		size_t len = strlen(d->d_name);

		if (len < 7 || strcmp(d->d_name + len - 6, ".stats") != 0)
			continue;
		if (n == cap) {
			struct image *more = realloc(images, (cap = cap ? 2 * cap : 16) *
							     sizeof(*images));

			if (!more)
				break;
			images = more;
		}
		if (read_image(dirfd(dp), d->d_name, &images[n]) == 0)
			n++;
		else
			t->malformed++;
		if (remove)
			unlinkat(dirfd(dp), d->d_name, 0);
	}
	closedir(dp);
	qsort(images, n, sizeof(*images), by_process);
	for (size_t i = 0; i < n;) {
		struct ucow_stats_total proc = images[i].figures;
		size_t j = i + 1;

		for (; j < n && images[j].pid == images[i].pid &&
		       images[j].starttime == images[i].starttime; j++)
			ucow_stats_add_image(&proc, &images[j].figures);
		/* The last image tells how the process ended: its exit wrote it, or not. */
		if (!images[j - 1].ended) {
			if (still_running(&images[j - 1]))
				proc.running = 1;
			else
				proc.signalled = 1;
		}
		ucow_stats_add(t, &proc);
		i = j;
	}
	free(images);
	return 0;
}

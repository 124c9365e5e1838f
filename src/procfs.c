/* procfs.c: reading this process's /proc files without allocating: lines, and the VMAs of its
 * address space (PROCMAP_QUERY, /proc/self/maps, /proc/self/smaps). */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "compat.h"
#include "procfs.h"

/* PROCMAP_QUERY: 0 untried or works, -1 missing (an older kernel): maps is read instead. */
static atomic_int procmap_query_missing;

int procfs_open(struct procfs_lines *l, const char *path)
{
	l->pos = l->len = 0;
	l->fd = open(path, O_RDONLY | O_CLOEXEC);
	return l->fd < 0 ? -errno : 0;
}

bool procfs_line(struct procfs_lines *l, char *line, size_t size)
{
	size_t n = 0;

	for (;;) {
		if (l->pos == l->len) {
			ssize_t got = read(l->fd, l->buf, sizeof(l->buf));

			if (got < 0 && errno == EINTR)
				continue;
			if (got <= 0)
				return n > 0 ? (line[n] = '\0', true) : false;
			l->pos = 0;
			l->len = (size_t)got;
		}
		while (l->pos < l->len) {
			char c = l->buf[l->pos++];

			if (c == '\n') {
				line[n] = '\0';
				return true;
			}
			if (n + 1 < size)
				line[n++] = c;
		}
	}
}

void procfs_close(struct procfs_lines *l)
{
	if (l->fd >= 0)
		close(l->fd);
	l->fd = -1;
}

ssize_t procfs_read(const char *path, char *buf, size_t size)
{
	size_t got = 0;
	ssize_t n;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return -errno;
	while (got < size - 1 && ((n = read(fd, buf + got, size - 1 - got)) > 0 ||
				  (n < 0 && errno == EINTR)))
		if (n > 0)
			got += (size_t)n;
	close(fd);
	buf[got] = '\0';
	return (ssize_t)got;
}

/* Fields @first.. of the stat file at @path into @out[@n]: 0, or -1. */
static int stat_fields(const char *path, int first, long *out, int n)
{
	char buf[512], *p;
	int at = 2;

	if (procfs_read(path, buf, sizeof(buf)) <= 0)
		return -1;
	p = strrchr(buf, ')');
	if (!p)
		return -1;
	for (int i = 0; i < n; i++) {
		for (; *p && at < first + i; p++)
			if (*p == ' ')
				at++;
		if (!*p)
			return -1;
		out[i] = strtol(p, NULL, 10);
	}
	return 0;
}

long procfs_stat_field(const char *path, int field)
{
	long value;

	return stat_fields(path, field, &value, 1) < 0 ? -1 : value;
}

int procfs_thread_sched(pid_t tid, int *policy)
{
	char path[64];
	long f[3];	/* processor (39), rt_priority (40), policy (41) */

	snprintf(path, sizeof(path), "/proc/self/task/%d/stat", (int)tid);
	if (stat_fields(path, 39, f, 3) < 0 || f[0] < 0 || f[0] >= CPU_SETSIZE)
		return -1;
	if (policy)
		*policy = (int)f[2];
	return (int)f[0];
}

int procfs_thread_cpu(pid_t tid)
{
	return procfs_thread_sched(tid, NULL);
}

struct linux_dirent64 {
	uint64_t d_ino;
	int64_t d_off;
	unsigned short d_reclen;
	unsigned char d_type;
	char d_name[];
};

int procfs_each_number(const char *path, void (*fn)(unsigned long n, int dir, void *arg),
		       void *arg)
{
	char buf[4096];
	long got;
	int dir;

	dir = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dir < 0)
		return -errno;
	while ((got = syscall(SYS_getdents64, dir, buf, sizeof(buf))) > 0) {
		for (long at = 0; at < got;) {
			struct linux_dirent64 *d = (struct linux_dirent64 *)(buf + at);
			char *end;
			unsigned long n = strtoul(d->d_name, &end, 10);

			at += d->d_reclen;
			if (!*end && end != d->d_name)
				fn(n, dir, arg);
		}
	}
	close(dir);
	return 0;
}

bool procfs_fd_is_anon(int fd, const char *kind)
{
	char path[64], link[64], want[64];
	int len;
	ssize_t n;

	len = snprintf(want, sizeof(want), "anon_inode:[%s]", kind);
	if (len < 0 || (size_t)len >= sizeof(want))
		return false;
	/* thread-self: the handler's own table is not the process's. */
	snprintf(path, sizeof(path), "/proc/thread-self/fd/%d", fd);
	n = readlink(path, link, sizeof(link));
	return n == len && memcmp(link, want, (size_t)len) == 0;
}

bool procfs_file_has(const char *path, const char *needle, size_t len)
{
	char buf[8192];
	size_t have = 0;
	bool found = false;
	ssize_t n;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0 || len == 0 || len >= sizeof(buf) / 2) {
		if (fd >= 0)
			close(fd);
		return false;
	}
	while (!found && ((n = read(fd, buf + have, sizeof(buf) - have)) > 0 ||
			  (n < 0 && errno == EINTR))) {
		if (n < 0)
			continue;
		have += (size_t)n;
		found = memmem(buf, have, needle, len) != NULL;
		if (have > len) {	/* keep the tail: a match may straddle two reads */
			memmove(buf, buf + have - (len - 1), len - 1);
			have = len - 1;
		}
	}
	close(fd);
	return found;
}

bool procfs_parent_said(const char *loaded, const char *absent, const char *name,
			const char *value)
{
	char path[64], entry[512];
	pid_t ppid = getppid();
	int n;

	if (!value || ppid <= 1)
		return false;
	/* "NAME=VALUE\0": the NUL ends the entry, so VALUE is not a prefix of another value. */
	n = snprintf(entry, sizeof(entry), "%s=%s", name, value);
	if (n < 0 || n + 1 >= (int)sizeof(entry))
		return false;
	snprintf(path, sizeof(path), "/proc/%d/maps", (int)ppid);
	if (!procfs_file_has(path, loaded, strlen(loaded)) ||
	    (absent && procfs_file_has(path, absent, strlen(absent))))
		return false;
	snprintf(path, sizeof(path), "/proc/%d/environ", (int)ppid);
	return procfs_file_has(path, entry, (size_t)n + 1);
}

static void set_name(struct procfs_vma *v, const char *name, size_t len)
{
	v->name_cut = len >= sizeof(v->name);
	if (v->name_cut)
		len = sizeof(v->name) - 1;
	memcpy(v->name, name, len);
	v->name[len] = '\0';
}

/* One line of /proc/self/maps: "start-end perms offset major:minor inode   name". */
static bool parse_maps_line(const char *line, struct procfs_vma *v)
{
	unsigned long start, end, off, inode;
	unsigned int major, minor;
	char perms[8] = "";
	int used = 0;

	if (sscanf(line, "%lx-%lx %7s %lx %x:%x %lu %n", &start, &end, perms, &off, &major,
		   &minor, &inode, &used) < 7 || strlen(perms) < 4)
		return false;
	v->start = start;
	v->end = end;
	v->prot = (perms[0] == 'r' ? PROT_READ : 0) | (perms[1] == 'w' ? PROT_WRITE : 0) |
		  (perms[2] == 'x' ? PROT_EXEC : 0);
	v->shared = perms[3] == 's';
	v->offset = off;
	v->dev_major = major;
	v->dev_minor = minor;
	v->inode = inode;
	set_name(v, line + used, strlen(line + used));
	return true;
}

/* Long enough for any line whose name procfs_vma can hold: a longer one is cut, noted. */
#define MAPS_LINE_MAX (PROCFS_NAME_MAX + 128)

int procfs_maps_walk(int (*fn)(const struct procfs_vma *v, void *arg), void *arg)
{
	struct procfs_lines l;
	char line[MAPS_LINE_MAX];
	struct procfs_vma v;
	int ret = procfs_open(&l, "/proc/self/maps");

	if (ret < 0)
		return ret;
	while (procfs_line(&l, line, sizeof(line)))
		if (parse_maps_line(line, &v) && (ret = fn(&v, arg)) != 0)
			break;
	procfs_close(&l);
	return ret;
}

static int covering(const struct procfs_vma *v, void *arg)
{
	struct procfs_vma *want = arg;

	if (v->end <= want->start)
		return 0;
	if (v->start > want->start)
		return -ENOENT;		/* a gap: nothing there */
	*want = *v;
	return 1;
}

static int query_vma(int maps, uintptr_t addr, struct procfs_vma *v)
{
	struct procmap_query q = {
		.size = sizeof(q),
		.query_addr = addr,
		.vma_name_addr = (uintptr_t)v->name,
		.vma_name_size = sizeof(v->name),
	};

	v->name_cut = false;
	if (ioctl(maps, PROCMAP_QUERY, &q) < 0) {
		if (errno != ENAMETOOLONG)
			return -errno;
		/* Only a file has a name that long: asked again without it. */
		q.vma_name_size = 0;
		q.vma_name_addr = 0;
		if (ioctl(maps, PROCMAP_QUERY, &q) < 0)
			return -errno;
		v->name_cut = true;
	}
	if (q.vma_name_size == 0)
		v->name[0] = '\0';
	v->start = q.vma_start;
	v->end = q.vma_end;
	v->prot = (q.vma_flags & PROCMAP_QUERY_VMA_READABLE ? PROT_READ : 0) |
		  (q.vma_flags & PROCMAP_QUERY_VMA_WRITABLE ? PROT_WRITE : 0) |
		  (q.vma_flags & PROCMAP_QUERY_VMA_EXECUTABLE ? PROT_EXEC : 0);
	v->shared = q.vma_flags & PROCMAP_QUERY_VMA_SHARED;
	v->offset = q.vma_offset;
	v->dev_major = q.dev_major;
	v->dev_minor = q.dev_minor;
	v->inode = q.inode;
	return 0;
}

bool procfs_vma_query_usable(void)
{
	return atomic_load_explicit(&procmap_query_missing, memory_order_relaxed) == 0;
}

int procfs_vma_at(int maps, uintptr_t addr, struct procfs_vma *v)
{
	int ret;

	if (maps >= 0 && procfs_vma_query_usable()) {
		ret = query_vma(maps, addr, v);
		if (ret != -ENOTTY && ret != -EINVAL)
			return ret;
		atomic_store(&procmap_query_missing, -1);
	}
	/* Kernels before PROCMAP_QUERY: the line of the VMA holding @addr. */
	v->start = addr;
	ret = procfs_maps_walk(covering, v);
	return ret == 1 ? 0 : ret == 0 ? -ENOENT : ret;
}

int procfs_vma_flags(uintptr_t start)
{
	static const struct { char name[3]; unsigned int flag; } known[] = {
		{ "hg", PROCFS_VMF_HG }, { "nh", PROCFS_VMF_NH }, { "dc", PROCFS_VMF_DC },
		{ "wf", PROCFS_VMF_WF }, { "gd", PROCFS_VMF_GD }, { "mg", PROCFS_VMF_MG },
	};
	struct procfs_lines l;
	char line[256];
	int flags = -ENOENT, ret = procfs_open(&l, "/proc/self/smaps");
	bool ours = false;

	if (ret < 0)
		return ret;
	while (procfs_line(&l, line, sizeof(line))) {
		char *end;
		unsigned long s = strtoul(line, &end, 16);

		if (*end == '-' && end != line) {
			if (ours || s > start)
				break;
			ours = s == start;
			if (ours)
				flags = 0;
			continue;
		}
		if (!ours || strncmp(line, "VmFlags:", 8) != 0)
			continue;
		for (char *p = line + 8; *p; p++)
			for (size_t i = 0; i < sizeof(known) / sizeof(known[0]); i++)
				if (p[0] == known[i].name[0] && p[1] == known[i].name[1] &&
				    p[-1] == ' ' && (p[2] == ' ' || p[2] == '\0'))
					flags |= (int)known[i].flag;
		break;
	}
	procfs_close(&l);
	return flags;
}

/* procfs.h: reading this process's /proc files without allocating: lines, and the VMAs of
 * its address space (PROCMAP_QUERY, /proc/self/maps, /proc/self/smaps). */
#ifndef UCOW_PROCFS_H
#define UCOW_PROCFS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* ---- lines ---- */

/* A /proc file read line by line through a buffer of its own (on the caller's stack). */
struct procfs_lines {
	int fd;
	size_t pos, len;
	char buf[4096];
};

/* Opens @path for procfs_line(): 0, or -errno. */
int procfs_open(struct procfs_lines *l, const char *path);
/* The next line of @l into @line, without its newline, truncated to @size (the rest of a
 * longer line is skipped). false at the end of the file (or on a read error). */
bool procfs_line(struct procfs_lines *l, char *line, size_t size);
void procfs_close(struct procfs_lines *l);

/* Reads a small file at @path whole (up to @size - 1 bytes) into @buf, NUL-terminated:
 * the bytes read, or -errno. */
ssize_t procfs_read(const char *path, char *buf, size_t size);
/* Field @field (1-based, as proc(5) numbers them, >= 3) of a stat file (/proc/self/stat,
 * /proc/self/task/TID/stat), or -1. */
long procfs_stat_field(const char *path, int field);
/* The CPU thread @tid of this process last ran on (field 39 of its stat file), or -1. */
int procfs_thread_cpu(pid_t tid);
/* The same, and its scheduling policy (field 41) into *@policy unless NULL. */
int procfs_thread_sched(pid_t tid, int *policy);

/* Whether descriptor @fd of the calling thread's table is an anonymous inode of @kind
 * ("userfaultfd", "eventfd": its /proc link reads anon_inode:[@kind]). */
bool procfs_fd_is_anon(int fd, const char *kind);

/* Whether the file at @path (any process's /proc file) holds @needle, @len bytes that may
 * include NULs (an environ entry), shorter than 4 KiB. false when it cannot be read. */
bool procfs_file_has(const char *path, const char *needle, size_t len);

/*
 * Whether the parent process runs a ucow that said it already: it has @loaded mapped (and
 * not @absent, unless NULL), and NAME=VALUE in its environment. A parent whose /proc files
 * this process cannot read counts as not having said it.
 */
bool procfs_parent_said(const char *loaded, const char *absent, const char *name,
			const char *value);

/* ---- numbered directories ---- */

/*
 * Calls @fn for each entry of the directory at @path whose name is a number (/proc/self/task,
 * /proc/thread-self/fd), with the directory's own descriptor, read with getdents64: no
 * allocation. Returns 0, or -errno when it cannot be opened.
 */
int procfs_each_number(const char *path, void (*fn)(unsigned long n, int dir, void *arg),
		       void *arg);

/* ---- VMAs ---- */

#define PROCFS_NAME_MAX 128

/* One mapping, as /proc/self/maps shows it. */
struct procfs_vma {
	uintptr_t start, end;
	int prot;		/* PROT_READ | PROT_WRITE | PROT_EXEC */
	bool shared;		/* 's' rather than 'p' */
	uint64_t offset;
	unsigned int dev_major, dev_minor;
	uint64_t inode;		/* 0: no file */
	/* "" (anonymous), "[heap]", "[stack]", "[anon:NAME]", a path... cut to the size, and
	 * then name_cut is set (only a file has a name that long) */
	bool name_cut;
	char name[PROCFS_NAME_MAX];
};

/*
 * The VMA holding @addr: 0, -ENOENT when nothing is mapped there, or another -errno. @maps
 * is an open /proc/self/maps (O_RDONLY), or -1: PROCMAP_QUERY on it answers at once (6.11);
 * without it, or on an older kernel, /proc/self/maps is read up to that line.
 */
int procfs_vma_at(int maps, uintptr_t addr, struct procfs_vma *v);
/* Whether procfs_vma_at() can use PROCMAP_QUERY (not known not to): worth opening @maps. */
bool procfs_vma_query_usable(void);

/* Flags of a VMA that only /proc/self/smaps shows (its VmFlags line). */
#define PROCFS_VMF_HG (1u << 0)	/* MADV_HUGEPAGE */
#define PROCFS_VMF_NH (1u << 1)	/* MADV_NOHUGEPAGE */
#define PROCFS_VMF_DC (1u << 2)	/* MADV_DONTFORK */
#define PROCFS_VMF_WF (1u << 3)	/* MADV_WIPEONFORK */
#define PROCFS_VMF_GD (1u << 4)	/* grows down: a stack */
#define PROCFS_VMF_MG (1u << 5)	/* KSM may merge it (MADV_MERGEABLE, PR_SET_MEMORY_MERGE) */

/* The PROCFS_VMF_* flags of the VMA starting at @start (smaps is read only that far): >= 0,
 * or -errno (-ENOENT: no VMA starts there). */
int procfs_vma_flags(uintptr_t start);

/*
 * Calls @fn for each mapping of /proc/self/maps, in address order, until it returns
 * non-zero. Returns that value, 0 when every mapping was seen, or -errno when the file
 * cannot be opened. The address space may change while it is read, as for any reader.
 */
int procfs_maps_walk(int (*fn)(const struct procfs_vma *v, void *arg), void *arg);

#endif

/* kinds.h: the kinds of memory the behaviour tests run over, and the bytes the kernel gives. */
/*
 * Plain C: knows nothing of ucow when built and is not linked with it. The kinds (kinds[]):
 *   anon     private anonymous memory, never written: reads 0 (the control: not managed)
 *   memfd    a memfd mapped MAP_PRIVATE, all holes: reads 0 (shmem holes policy)
 *   shm      a file in /dev/shm mapped MAP_PRIVATE, all holes: reads 0 (the same policy,
 *            through open(2) rather than memfd_create; skipped unless /dev/shm is tmpfs)
 *   data     a memfd mapped MAP_PRIVATE, every 4th page from page 1 data (its own byte,
 *            with bit 7 set), the others holes reading 0
 *   refpage  ucow_refpage_create of 0xa5 when the process has ucow (dlsym), else a memfd
 *            full of 0xa5: reads 0xa5 either way
 *   lazy     private anonymous memory memset to 0x5a with one call of memset (build with
 *            -fno-builtin-memset): managed with UCOW_LAZY_MEMSET=on
 */
#ifndef BEHAVIOUR_KINDS_H
#define BEHAVIOUR_KINDS_H

#include <stddef.h>
#include <sys/types.h>

#define KPAGE 4096UL
/* Above lazy memset's default minimum (1 MiB) and a 2 MiB fault-around window. */
#define KSIZE (4UL << 20)

#define KIND_REFBYTE 0xA5	/* every byte of a refpage */
#define KIND_LAZYBYTE 0x5A	/* the lazy kind's memset value */

/* Kind flags: what the runner script needs to know, and how the kernel treats the memory. */
#define KIND_MANAGED	0x01	/* ucow manages it (else: the unmanaged control) */
#define KIND_LAZY	0x02	/* managed only with UCOW_LAZY_MEMSET=on */
#define KIND_ANON	0x04	/* the kernel sees private anonymous memory: discarded pages
				 * read zero; else a MAP_PRIVATE file: they read the file */
#define KIND_DEVSHM	0x08	/* needs /dev/shm on tmpfs */

struct mem;

struct kind {
	const char *name;
	unsigned int flags;
	/* Maps @m->size bytes at @hint (MAP_FIXED when @fixed) into @m; -1 with errno. */
	int (*make)(struct mem *m, void *hint, int fixed);
	/* The byte the kernel gives every byte of page @page of the kind's backing
	 * (the file for file kinds, however long; the memset for lazy) */
	unsigned char (*expect)(size_t page);
};

/* One mapping of a kind. */
struct mem {
	const struct kind *kind;
	unsigned char *p;
	size_t size;	/* bytes mapped */
	int fd;		/* file kinds: the file (twice @size long: room to grow); else -1 */
	int touched;	/* mem_touch() was called */
};

extern const struct kind kinds[];
extern const size_t nkinds;

const struct kind *kind_find(const char *name);

/* Maps @size bytes of @k (a lazy kind is memset as a whole, with a call): 0, or -1 with
 * errno (ENOTSUP: no /dev/shm on tmpfs; else also a line on stderr). */
int mem_map(struct mem *m, const struct kind *k, size_t size);
int mem_map_at(struct mem *m, const struct kind *k, size_t size, void *hint, int fixed);
void mem_unmap(struct mem *m);
/* mem_map for case @what of @k: on failure, reports the case skipped (no /dev/shm on tmpfs)
 * or failed, and returns -1. Also -1, skipped, when the environment variable
 * UCOWTEST_BEHAVIOUR_DISABLE lists BEHAVIOUR/KIND/WHAT (a known ucow bug kept as a test). */
int setup(struct mem *m, const struct kind *k, size_t size, const char *what);
int setup_at(struct mem *m, const struct kind *k, size_t size, void *hint, int fixed,
	     const char *what);

/* The usual state before a behaviour: every 4th page from 0 written as a whole with
 * written_byte(page), every 4th from 2 read, the others left untouched. */
void mem_touch(struct mem *m);
unsigned char written_byte(size_t page);
/* What page @page of @m reads now, after mem_touch() or not (mem_expect() else). */
unsigned char mem_model(const struct mem *m, size_t page);
size_t check_model(const struct mem *m, const unsigned char *p, size_t first, size_t npages,
		   const char *what);

/* What page @page of a fresh mapping of @m reads: also past the end after a grow (the
 * file for file kinds, zero for anonymous kinds). */
unsigned char mem_expect(const struct mem *m, size_t page);
/* What page @page reads after the kernel discarded it (MADV_DONTNEED): the file, or zero. */
unsigned char mem_discarded(const struct mem *m, size_t page);

/* Wrong bytes in @npages pages at @p (the address of page @first), page @first + i of which
 * must be all want(arg, first + i);
 * the first wrong byte is told on stderr under @what. */
size_t check_pages(const unsigned char *p, size_t first, size_t npages,
		   unsigned char (*want)(const void *arg, size_t page), const void *arg,
		   const char *what);
/* The same against mem_expect() of @m. */
size_t check_expect(const struct mem *m, const unsigned char *p, size_t first, size_t npages,
		    const char *what);

/* Reports: one line per case "BEHAVIOUR KIND CASE: ok|FAILED|skipped (why)". */
void report(const char *kind, const char *what, size_t wrong);
void report_skip(const char *kind, const char *what, const char *why);
/* The exit status: 1 after any failure, else 0. */
int report_status(void);

/* The driver: parses "KIND ... | all" (or --list: one line per kind, "NAME managed|control
 * [VAR=VALUE ...]", for the runner script), runs @run over each kind, and returns the exit
 * status (2 for a bad command line). */
/* The exit status of child @pid once it ends (128 + N for signal N), or -1. */
int child_status(pid_t pid);

int kinds_main(int argc, char **argv, const char *name, void (*run)(const struct kind *k));

/* The behaviour's name, for messages. */
extern const char *behaviour;

/* Fills @n bytes at @p with @c, never through a (possibly lazy) memset call. */
void fill(unsigned char *p, int c, size_t n);
/* Fills them with one call of memset (ucow's lazy memset may defer it, when it is on). */
void big_memset(unsigned char *p, int c, size_t n);

#endif

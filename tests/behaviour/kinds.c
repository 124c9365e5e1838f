/* kinds.c: makes each kind of memory ucow manages (and the control), knows its bytes. */
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <sys/vfs.h>
#include <unistd.h>

#include "kinds.h"

#define TMPFS_MAGIC 0x01021994

const char *behaviour = "?";
static int failures;

static unsigned char zero(size_t page)
{
	(void)page;
	return 0;
}

static unsigned char refbyte(size_t page)
{
	(void)page;
	return KIND_REFBYTE;
}

static unsigned char lazybyte(size_t page)
{
	(void)page;
	return KIND_LAZYBYTE;
}

/* data: every 4th page from page 1 holds data, its own byte; the others are holes. */
static int is_data(size_t page)
{
	return page % 4 == 1;
}

static unsigned char databyte(size_t page)
{
	return is_data(page) ? (unsigned char)((page * 7 + 3) | 0x80) : 0;
}

void fill(unsigned char *p, int c, size_t n)
{
	volatile unsigned char *v = p;

	for (size_t i = 0; i < n; i++)
		v[i] = (unsigned char)c;
}

void big_memset(unsigned char *p, int c, size_t n)
{
	/* A call (built with -fno-builtin-memset): ucow's memset when preloaded. */
	static void *(*volatile set)(void *, int, size_t) = memset;

	set(p, c, n);
}

static void *map(struct mem *m, void *hint, int fixed, int fd)
{
	int flags = MAP_PRIVATE | (fixed ? MAP_FIXED : 0) | (fd < 0 ? MAP_ANONYMOUS : 0);

	m->p = mmap(hint, m->size, PROT_READ | PROT_WRITE, flags, fd, 0);
	return m->p;
}

/* A file of twice the mapping (room to grow it) whose pages hold @byte(page), written when
 * not zero: holes elsewhere. */
static int file_of(struct mem *m, int fd, unsigned char (*byte)(size_t))
{
	unsigned char page[KPAGE];

	if (ftruncate(fd, (off_t)(2 * m->size)) < 0)
		return -1;
	for (size_t pg = 0; pg < 2 * m->size / KPAGE; pg++) {
		if (!byte(pg))
			continue;
		fill(page, byte(pg), sizeof(page));
		if (pwrite(fd, page, sizeof(page), (off_t)(pg * KPAGE)) != (ssize_t)sizeof(page))
			return -1;
	}
	return 0;
}

static int make_anon(struct mem *m, void *hint, int fixed)
{
	return map(m, hint, fixed, -1) == MAP_FAILED ? -1 : 0;
}

static int make_lazy(struct mem *m, void *hint, int fixed)
{
	if (map(m, hint, fixed, -1) == MAP_FAILED)
		return -1;
	big_memset(m->p, KIND_LAZYBYTE, m->size);
	return 0;
}

static int make_file(struct mem *m, void *hint, int fixed, unsigned char (*byte)(size_t))
{
	m->fd = memfd_create("behaviour", MFD_CLOEXEC);
	if (m->fd < 0 || file_of(m, m->fd, byte) < 0)
		return -1;
	return map(m, hint, fixed, m->fd) == MAP_FAILED ? -1 : 0;
}

static int make_memfd(struct mem *m, void *hint, int fixed)
{
	return make_file(m, hint, fixed, zero);
}

static int make_data(struct mem *m, void *hint, int fixed)
{
	return make_file(m, hint, fixed, databyte);
}

static int make_shm(struct mem *m, void *hint, int fixed)
{
	static unsigned int serial;
	struct statfs sf;
	char path[64];

	if (statfs("/dev/shm", &sf) < 0 || sf.f_type != TMPFS_MAGIC) {
		errno = ENOTSUP;
		return -1;
	}
	snprintf(path, sizeof(path), "/dev/shm/ucow-behaviour-%d-%u", (int)getpid(), serial++);
	m->fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (m->fd < 0)
		return -1;
	unlink(path);
	if (file_of(m, m->fd, zero) < 0)
		return -1;
	return map(m, hint, fixed, m->fd) == MAP_FAILED ? -1 : 0;
}

/* ucow_refpage_create when the process has ucow (found with dlsym: this module is not linked
 * with it), else a memfd holding the same bytes: the same bytes either way. */
static int make_refpage(struct mem *m, void *hint, int fixed)
{
	int (*create)(const void *, size_t, unsigned long) =
		(int (*)(const void *, size_t, unsigned long))dlsym(RTLD_DEFAULT,
								   "ucow_refpage_create");
	unsigned char byte = KIND_REFBYTE;

	if (create)
		m->fd = create(&byte, 1, 0);
	else if ((m->fd = memfd_create("behaviour-refpage", MFD_CLOEXEC)) >= 0 &&
		 file_of(m, m->fd, refbyte) < 0)
		return -1;
	if (m->fd < 0)
		return -1;
	return map(m, hint, fixed, m->fd) == MAP_FAILED ? -1 : 0;
}

const struct kind kinds[] = {
	{ "anon", KIND_ANON, make_anon, zero },
	{ "memfd", KIND_MANAGED, make_memfd, zero },
	{ "shm", KIND_MANAGED | KIND_DEVSHM, make_shm, zero },
	{ "data", KIND_MANAGED, make_data, databyte },
	{ "refpage", KIND_MANAGED, make_refpage, refbyte },
	{ "lazy", KIND_MANAGED | KIND_LAZY | KIND_ANON, make_lazy, lazybyte },
};
const size_t nkinds = sizeof(kinds) / sizeof(kinds[0]);

const struct kind *kind_find(const char *name)
{
	for (size_t i = 0; i < nkinds; i++)
		if (!strcmp(kinds[i].name, name))
			return &kinds[i];
	return NULL;
}

int mem_map_at(struct mem *m, const struct kind *k, size_t size, void *hint, int fixed)
{
	int err;

	m->kind = k;
	m->size = size;
	m->fd = -1;
	m->touched = 0;
	m->p = MAP_FAILED;
	if (k->make(m, hint, fixed) == 0)
		return 0;
	err = errno;

	if (err != ENOTSUP)
		fprintf(stderr, "%s: cannot make %s memory: %s\n", behaviour, k->name,
			strerror(err));
	if (m->fd >= 0)
		close(m->fd);
	m->fd = -1;
	errno = err;
	return -1;
}

int mem_map(struct mem *m, const struct kind *k, size_t size)
{
	return mem_map_at(m, k, size, NULL, 0);
}

/* Whether the runner disabled case @what of @kind: UCOWTEST_BEHAVIOUR_DISABLE lists
 * BEHAVIOUR/KIND/CASE words (known ucow bugs). */
static int disabled(const char *kind, const char *what)
{
	const char *list = getenv("UCOWTEST_BEHAVIOUR_DISABLE");
	char word[128];
	size_t n;

	if (!list)
		return 0;
	n = (size_t)snprintf(word, sizeof(word), "%s/%s/%s", behaviour, kind, what);
	for (const char *s = strstr(list, word); s; s = strstr(s + 1, word))
		if ((s == list || s[-1] == ' ') && (s[n] == ' ' || s[n] == 0))
			return 1;
	return 0;
}

int setup_at(struct mem *m, const struct kind *k, size_t size, void *hint, int fixed,
	     const char *what)
{
	char why[128];

	m->p = MAP_FAILED;
	m->fd = -1;
	if (disabled(k->name, what)) {
		report_skip(k->name, what, "disabled by UCOWTEST_BEHAVIOUR_DISABLE");
		return -1;
	}
	if (mem_map_at(m, k, size, hint, fixed) == 0)
		return 0;
	if (errno == ENOTSUP && (k->flags & KIND_DEVSHM)) {
		report_skip(k->name, what, "/dev/shm is not tmpfs");
	} else {
		snprintf(why, sizeof(why), "setup: %s", strerror(errno));
		printf("%s %s %s: FAILED (%s)\n", behaviour, k->name, what, why);
		failures++;
	}
	return -1;
}

int setup(struct mem *m, const struct kind *k, size_t size, const char *what)
{
	return setup_at(m, k, size, NULL, 0, what);
}

unsigned char written_byte(size_t page)
{
	return (unsigned char)(0x60 + page % 16);
}

void mem_touch(struct mem *m)
{
	for (size_t pg = 0; pg < m->size / KPAGE; pg++) {
		if (pg % 4 == 0)
			fill(m->p + pg * KPAGE, written_byte(pg), KPAGE);
		else if (pg % 4 == 2)
			(void)*(volatile unsigned char *)(m->p + pg * KPAGE + 100);
	}
	m->touched = 1;
}

unsigned char mem_model(const struct mem *m, size_t page)
{
	if (m->touched && page % 4 == 0 && page < m->size / KPAGE)
		return written_byte(page);
	return mem_expect(m, page);
}

static unsigned char want_model(const void *arg, size_t page)
{
	return mem_model(arg, page);
}

size_t check_model(const struct mem *m, const unsigned char *p, size_t first, size_t npages,
		   const char *what)
{
	return check_pages(p, first, npages, want_model, m, what);
}

void mem_unmap(struct mem *m)
{
	if (m->p != MAP_FAILED)
		munmap(m->p, m->size);
	if (m->fd >= 0)
		close(m->fd);
	m->p = MAP_FAILED;
	m->fd = -1;
}

unsigned char mem_expect(const struct mem *m, size_t page)
{
	if ((m->kind->flags & KIND_ANON) && page >= m->size / KPAGE)
		return 0;
	return m->kind->expect(page);
}

unsigned char mem_discarded(const struct mem *m, size_t page)
{
	return (m->kind->flags & KIND_ANON) ? 0 : m->kind->expect(page);
}

size_t check_pages(const unsigned char *p, size_t first, size_t npages,
		   unsigned char (*want)(const void *arg, size_t page), const void *arg,
		   const char *what)
{
	size_t wrong = 0;

	for (size_t i = 0; i < npages; i++) {
		const volatile unsigned char *q = p + i * KPAGE;
		unsigned char w = want(arg, first + i);

		for (size_t b = 0; b < KPAGE; b++) {
			unsigned char got = q[b];

			if (got == w)
				continue;
			if (!wrong)
				fprintf(stderr, "%s: %s: page %zu byte %zu is 0x%02x, want 0x%02x\n",
					behaviour, what, first + i, b, got, w);
			wrong++;
		}
	}
	return wrong;
}

static unsigned char want_expect(const void *arg, size_t page)
{
	return mem_expect(arg, page);
}

size_t check_expect(const struct mem *m, const unsigned char *p, size_t first, size_t npages,
		    const char *what)
{
	return check_pages(p, first, npages, want_expect, m, what);
}

void report(const char *kind, const char *what, size_t wrong)
{
	if (wrong) {
		printf("%s %s %s: FAILED (%zu wrong)\n", behaviour, kind, what, wrong);
		failures++;
	} else {
		printf("%s %s %s: ok\n", behaviour, kind, what);
	}
	fflush(stdout);
}

void report_skip(const char *kind, const char *what, const char *why)
{
	printf("%s %s %s: skipped (%s)\n", behaviour, kind, what, why);
	fflush(stdout);
}

int report_status(void)
{
	return failures ? 1 : 0;
}

int kinds_main(int argc, char **argv, const char *name, void (*run)(const struct kind *k))
{
	behaviour = name;
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc == 2 && !strcmp(argv[1], "--list")) {
		for (size_t i = 0; i < nkinds; i++)
			printf("%s %s%s\n", kinds[i].name,
			       (kinds[i].flags & KIND_MANAGED) ? "managed" : "control",
			       (kinds[i].flags & KIND_LAZY) ? " UCOW_LAZY_MEMSET=on" : "");
		return 0;
	}
	if (argc < 2) {
		fprintf(stderr, "usage: %s KIND... | all | --list\n", argv[0]);
		return 2;
	}
	for (int a = 1; a < argc; a++) {
		if (strcmp(argv[a], "all") && !kind_find(argv[a])) {
			fprintf(stderr, "%s: unknown kind '%s'\n", name, argv[a]);
			return 2;
		}
	}
	for (int a = 1; a < argc; a++) {
		if (!strcmp(argv[a], "all")) {
			for (size_t i = 0; i < nkinds; i++)
				run(&kinds[i]);
		} else {
			run(kind_find(argv[a]));
		}
	}
	return report_status();
}

int child_status(pid_t pid)
{
	int status;

	if (pid < 0 || waitpid(pid, &status, 0) != pid)
		return -1;
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

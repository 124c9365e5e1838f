/* lazy_memset.c: memset and bzero as the program sees them (UCOW_LAZY_MEMSET). A large memset
 * over private anonymous pages never touched records the value instead of writing it: the
 * range is registered and each page is filled with the value on its first touch. Every other
 * call costs one compare before the next memset (libc's). */
#undef _FORTIFY_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <link.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <unistd.h>

#include "config.h"
#include "engine.h"
#include "pagemap.h"
#include "handler.h"
#include "interpose.h"
#include "lazy_memset.h"
#include "log.h"
#include "pattern.h"
#include "pin.h"
#include "region.h"
#include "stats.h"
#include "sys.h"
#include "uffd.h"
#include "uffd_ctl.h"
#include "window.h"

#define EXPORT __attribute__((visibility("default")))

/* The system headers are older than the kernel: PROCMAP_QUERY (6.11). */
#ifndef PROCMAP_QUERY
struct procmap_query {
	uint64_t size;
	uint64_t query_flags;
	uint64_t query_addr;
	uint64_t vma_start;
	uint64_t vma_end;
	uint64_t vma_flags;
	uint64_t vma_page_size;
	uint64_t vma_offset;
	uint64_t inode;
	uint32_t dev_major;
	uint32_t dev_minor;
	uint32_t vma_name_size;
	uint32_t build_id_size;
	uint64_t vma_name_addr;
	uint64_t build_id_addr;
};
#define PROCMAP_QUERY _IOWR('f', 17, struct procmap_query)
#define PROCMAP_QUERY_VMA_READABLE 0x01
#define PROCMAP_QUERY_VMA_WRITABLE 0x02
#define PROCMAP_QUERY_VMA_SHARED 0x08
#endif
#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23
#endif


typedef void *(*memset_fn)(void *s, int c, size_t n);
typedef void *(*memset_chk_fn)(void *s, int c, size_t n, size_t destlen);

#define NO_VEC (SIZE_MAX >> 1)	/* n - NO_VEC is above 32 for any n a memset can have */

static void *early_memset(void *s, int c, size_t n);
static void *early_memset_chk(void *s, int c, size_t n, size_t destlen);

/*
 * What every call reads, in one cache line. Until the constructor arms it, min is SIZE_MAX
 * and next a plain loop: memsets made before then (other constructors) go straight through.
 */
static struct {
	size_t min;
	memset_fn next;
	memset_chk_fn next_chk;
	/* n - from <= 32: 32 to 64 bytes in two 32-byte stores (set at start-up for the CPU);
	 * the folded compare costs nothing next to a flag test (0.3 ns of 2.3, measured) */
	size_t evex_from, avx2_from;
} hot __attribute__((aligned(64))) = {
	.min = SIZE_MAX,
	.evex_from = NO_VEC,
	.avx2_from = NO_VEC,
	.next = early_memset,
	.next_chk = early_memset_chk,
};

/* Flags of a mapping that only /proc/self/smaps shows (VmFlags). */
enum {
	VMF_HG = 1 << 0,	/* MADV_HUGEPAGE */
	VMF_NH = 1 << 1,	/* MADV_NOHUGEPAGE */
	VMF_DC = 1 << 2,	/* MADV_DONTFORK */
	VMF_WF = 1 << 3,	/* MADV_WIPEONFORK */
	VMF_GD = 1 << 4,	/* grows down: a stack */
};

static struct {
	uintptr_t text_lo, text_hi;	/* ucow's own code: its memsets are never deferred */
	size_t thp_always;		/* smallest huge page size the kernel gives any VMA, or 0 */
	size_t thp_madvise;		/* the same for MADV_HUGEPAGE VMAs */
	atomic_bool advice_seen;	/* some VMA may carry a flag above: read smaps */
	atomic_int query;		/* PROCMAP_QUERY: 0 untried, 1 works, -1 missing */
	atomic_int scan;		/* PAGEMAP_SCAN: the same */
	pthread_mutex_t lock;		/* one lazy memset at a time changes the registry */
} lm = {
	.lock = PTHREAD_MUTEX_INITIALIZER,
};

/* This thread is inside a lazy memset: a signal handler's memset is written for real. */
static __thread bool in_lazy;

/* ---- the calls ------------------------------------------------------------------------- */

/* Stores the compiler cannot turn back into a call to memset (ours). Other libraries'
 * constructors run before ours: a byte loop made their large memsets 1.7 times as slow. */
static void *early_memset(void *s, int c, size_t n)
{
#if defined(__x86_64__) && defined(__GNUC__)
	void *d = s;

	__asm__ volatile("rep stosb" : "+D"(d), "+c"(n) : "a"(c) : "memory");
#else
	unsigned char *p = s;

	for (size_t i = 0; i < n; i++) {
		p[i] = (unsigned char)c;
		__asm__ volatile("" : : "r"(p) : "memory");
	}
#endif
	return s;
}

static void *early_memset_chk(void *s, int c, size_t n, size_t destlen)
{
	if (n > destlen)
		abort();	/* as __chk_fail would: a buffer overflow */
	return early_memset(s, c, n);
}

/*
 * memset itself. Below the threshold the cost is one compare and a tail jump to libc's memset,
 * except up to 64 bytes, where a second indirect jump would cost a quarter of the call
 * (measured: 2.35 -> 3.0 ns): those stores are made here, as libc makes them. Not an IFUNC:
 * glibc then warns "Relink `LIB' with `libucow.so' for IFUNC symbol `memset'" on stderr for
 * every library relocated before ucow that binds memset at load time (BIND_NOW: libselinux
 * for ls, libtinfo for bash). The CPU is asked at start-up instead; until then SSE2 (in every
 * x86-64) does.
 */
static __attribute__((noinline)) void *memset_slow(void *s, int c, size_t n, const void *caller);

#if defined(__x86_64__) && defined(__GNUC__)
#include <emmintrin.h>

#define SMALL_MAX 64

static void small_vec_init(void)
{
	__builtin_cpu_init();
	if (__builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512vl"))
		hot.evex_from = 32;
	else if (__builtin_cpu_supports("avx2"))
		hot.avx2_from = 32;
}

/* 32 to 64 bytes in two 32-byte stores with AVX-512 (ymm16: no vzeroupper needed). */
static inline __attribute__((always_inline)) bool memset_evex(void *s, int c, size_t n)
{
	if (__builtin_expect(n - hot.evex_from > 32, 0))
		return false;
	__asm__ volatile("vpbroadcastb %k1, %%ymm16\n\t"
			 "vmovdqu64 %%ymm16, (%0)\n\t"
			 "vmovdqu64 %%ymm16, -32(%0,%2)"
			 : : "r"(s), "r"(c), "r"(n) : "memory");
	return true;
}

typedef uint64_t u64_any __attribute__((aligned(1), may_alias));
typedef uint32_t u32_any __attribute__((aligned(1), may_alias));
typedef uint16_t u16_any __attribute__((aligned(1), may_alias));

/* Up to 64 bytes without AVX-512: two overlapping stores of the widest size that fits. */
static inline __attribute__((always_inline)) void *memset_small(void *s, int c, size_t n)
{
	unsigned char *p = s;
	uint64_t v;

	if (n - hot.avx2_from <= 32) {
		__asm__ volatile("vmovd %k1, %%xmm15\n\t"
				 "vpbroadcastb %%xmm15, %%ymm15\n\t"
				 "vmovdqu %%ymm15, (%0)\n\t"
				 "vmovdqu %%ymm15, -32(%0,%2)\n\t"
				 "vzeroupper"
				 : : "r"(s), "r"(c), "r"(n) : "memory", "xmm15");
		return s;
	}
	v = (unsigned char)c * 0x0101010101010101ULL;
	if (n >= 16) {
		__m128i x = _mm_set1_epi64x((long long)v);

		_mm_storeu_si128((__m128i *)p, x);
		_mm_storeu_si128((__m128i *)(p + n - 16), x);
		if (n > 32) {
			_mm_storeu_si128((__m128i *)(p + 16), x);
			_mm_storeu_si128((__m128i *)(p + n - 32), x);
		}
	} else if (n >= 8) {
		*(u64_any *)p = v;
		*(u64_any *)(p + n - 8) = v;
	} else if (n >= 4) {
		*(u32_any *)p = (uint32_t)v;
		*(u32_any *)(p + n - 4) = (uint32_t)v;
	} else if (n >= 2) {
		*(u16_any *)p = (uint16_t)v;
		*(u16_any *)(p + n - 2) = (uint16_t)v;
	} else if (n) {
		*p = (unsigned char)v;
	}
	return s;
}
#else
#define SMALL_MAX 0
#define memset_evex(s, c, n) false
#define memset_small(s, c, n) hot.next(s, c, n)
static void small_vec_init(void)
{
}
#endif

/*
 * Page aligned: the AVX-512 path stays in one cache line (0.3 ns of 2.3 when it straddles),
 * and the function no longer moves with the code around it: two builds of identical code,
 * at 0x240 and 0x640 in the page, cost 2.2 and 2.45 ns per 64-byte call (measured).
 */
EXPORT __attribute__((aligned(4096))) void *memset(void *s, int c, size_t n)
{
	if (memset_evex(s, c, n))
		return s;
	if (__builtin_expect(n > SMALL_MAX, 1)) {
		if (__builtin_expect(n < hot.min, 1))
			return hot.next(s, c, n);
		return memset_slow(s, c, n, __builtin_return_address(0));
	}
	return memset_small(s, c, n);
}

EXPORT void bzero(void *s, size_t n)
{
	if (__builtin_expect(n < hot.min, 1)) {
		hot.next(s, 0, n);
		return;
	}
	memset_slow(s, 0, n, __builtin_return_address(0));
}

/* _FORTIFY_SOURCE programs call this where the compiler knows the buffer's size. */
EXPORT void *__memset_chk(void *s, int c, size_t n, size_t destlen)
{
	if (__builtin_expect(n < hot.min, 1) || n > destlen)
		return hot.next_chk(s, c, n, destlen);
	return memset_slow(s, c, n, __builtin_return_address(0));
}

void *lazy_memset_real(void *s, int c, size_t n)
{
	return hot.next(s, c, n);
}

/* ---- start-up -------------------------------------------------------------------------- */

static int find_own_text(struct dl_phdr_info *info, size_t size, void *arg)
{
	uintptr_t self = (uintptr_t)arg;

	for (int i = 0; i < info->dlpi_phnum; i++) {
		const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
		uintptr_t lo = info->dlpi_addr + ph->p_vaddr, hi = lo + ph->p_memsz;

		if (ph->p_type == PT_LOAD && (ph->p_flags & PF_X) && self >= lo && self < hi) {
			lm.text_lo = lo;
			lm.text_hi = hi;
			return 1;
		}
	}
	return 0;
}

void lazy_memset_resolve(void)
{
	memset_fn next = (memset_fn)dlsym(RTLD_NEXT, "memset");
	memset_chk_fn next_chk = (memset_chk_fn)dlsym(RTLD_NEXT, "__memset_chk");

	/* glibc's memset is an IFUNC: dlsym gives the implementation chosen for this CPU. */
	if (next)
		hot.next = next;
	if (next_chk)
		hot.next_chk = next_chk;
	dl_iterate_phdr(find_own_text, (void *)(uintptr_t)lazy_memset_resolve);
	small_vec_init();
}

bool interpose_own_caller(const void *addr)
{
	return (uintptr_t)addr >= lm.text_lo && (uintptr_t)addr < lm.text_hi;
}

/* "always [madvise] never" -> 2, 1, 0; "inherit" -> -1; unknown -> 0. */
static int thp_setting(const char *path)
{
	char buf[128];
	ssize_t n;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return 0;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return 0;
	buf[n] = '\0';
	if (strstr(buf, "[always]"))
		return 2;
	if (strstr(buf, "[madvise]"))
		return 1;
	if (strstr(buf, "[inherit]"))
		return -1;
	return 0;
}

/* Which VMAs the kernel would give huge pages on its own faults, and of what size at least. */
static void read_thp_settings(void)
{
	static const size_t sizes_kb[] = { 16, 32, 64, 128, 256, 512, 1024, 2048 };
	char path[96];
	int top = thp_setting("/sys/kernel/mm/transparent_hugepage/enabled");
	bool per_size = false;

	for (size_t i = 0; i < sizeof(sizes_kb) / sizeof(sizes_kb[0]); i++) {
		int s;

		snprintf(path, sizeof(path),
			 "/sys/kernel/mm/transparent_hugepage/hugepages-%zukB/enabled", sizes_kb[i]);
		if (access(path, F_OK) < 0)
			continue;
		per_size = true;
		s = thp_setting(path);
		if (s < 0)
			s = top;
		if (s == 2 && !lm.thp_always)
			lm.thp_always = sizes_kb[i] * 1024;
		if (s >= 1 && !lm.thp_madvise)
			lm.thp_madvise = sizes_kb[i] * 1024;
	}
	if (!per_size) {	/* before multi-size THP: one size, the PMD's */
		lm.thp_always = top == 2 ? 2UL << 20 : 0;
		lm.thp_madvise = top >= 1 ? 2UL << 20 : 0;
	}
}

static void lazy_fork_child(void)
{
	/* The lock may have been held by a thread that does not exist here. */
	pthread_mutex_init(&lm.lock, NULL);
}

void lazy_memset_init(void)
{
	const char *tunables = getenv("GLIBC_TUNABLES");

	if (!ucow_cfg.lazy_memset)
		return;
	read_thp_settings();
	/* glibc's malloc then advises MADV_HUGEPAGE itself, without calling madvise. */
	if (tunables && strstr(tunables, "glibc.malloc.hugetlb="))
		atomic_store(&lm.advice_seen, true);
	pthread_atfork(NULL, NULL, lazy_fork_child);
	/* Below a page nothing could ever be deferred. */
	hot.min = ucow_cfg.lazy_memset_min > UCOW_PAGE_SIZE ? ucow_cfg.lazy_memset_min
							    : UCOW_PAGE_SIZE;
}

/* ---- what the kernel says about the address space ---------------------------------------- */

struct vma {
	uintptr_t start, end;
	bool anon;		/* private anonymous, readable and writable, not a stack */
	unsigned int flags;	/* VMF_*, when smaps was read */
};

static bool anonymous_name(const char *name, size_t len)
{
	return len == 0 || name[0] == '\0' || strcmp(name, "[heap]") == 0 ||
	       strncmp(name, "[anon:", 6) == 0;
}

static int query_vma(int maps, uintptr_t addr, struct vma *v)
{
	char name[128];
	struct procmap_query q = {
		.size = sizeof(q),
		.query_addr = addr,
		.vma_name_addr = (uintptr_t)name,
		.vma_name_size = sizeof(name),
	};
	const uint64_t rw = PROCMAP_QUERY_VMA_READABLE | PROCMAP_QUERY_VMA_WRITABLE;

	if (ioctl(maps, PROCMAP_QUERY, &q) < 0) {
		if (errno != ENAMETOOLONG)
			return -errno;
		/* Only a file has a name that long. */
		q.vma_name_size = 0;
		q.vma_name_addr = 0;
		if (ioctl(maps, PROCMAP_QUERY, &q) < 0)
			return -errno;
		q.inode = 1;
	}
	v->start = q.vma_start;
	v->end = q.vma_end;
	v->anon = (q.vma_flags & rw) == rw && !(q.vma_flags & PROCMAP_QUERY_VMA_SHARED) &&
		  q.inode == 0 && q.dev_major == 0 && q.dev_minor == 0 &&
		  anonymous_name(name, q.vma_name_size);
	return 0;
}

/* Reads @fd line by line into @line (truncated to its size); false at the end. */
struct lines {
	int fd;
	char buf[4096];
	size_t pos, len;
};

static bool next_line(struct lines *l, char *line, size_t size)
{
	size_t n = 0;

	for (;;) {
		if (l->pos == l->len) {
			ssize_t got = read(l->fd, l->buf, sizeof(l->buf));

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

/* /proc/self/maps as kernels before PROCMAP_QUERY give it: the line of the VMA holding @addr. */
static int parse_maps(uintptr_t addr, struct vma *v)
{
	struct lines l = { .fd = open("/proc/self/maps", O_RDONLY | O_CLOEXEC) };
	char line[512], perms[8] = "", *name;
	unsigned long start, end, off, inode;
	unsigned int major, minor;
	int ret = -ENOENT, used;

	if (l.fd < 0)
		return -errno;
	while (next_line(&l, line, sizeof(line))) {
		if (sscanf(line, "%lx-%lx %7s %lx %x:%x %lu %n", &start, &end, perms, &off, &major,
			   &minor, &inode, &used) < 7)
			continue;
		if (addr < start || addr >= end)
			continue;
		name = line + used;
		v->start = start;
		v->end = end;
		v->anon = perms[0] == 'r' && perms[1] == 'w' && perms[3] == 'p' && inode == 0 &&
			  major == 0 && minor == 0 && anonymous_name(name, strlen(name));
		ret = 0;
		break;
	}
	close(l.fd);
	return ret;
}

/* The VmFlags of the VMA starting at @start, from /proc/self/smaps (read only that far). */
static unsigned int smaps_flags(uintptr_t start)
{
	static const struct { char name[3]; unsigned int flag; } known[] = {
		{ "hg", VMF_HG }, { "nh", VMF_NH }, { "dc", VMF_DC }, { "wf", VMF_WF },
		{ "gd", VMF_GD },
	};
	struct lines l = { .fd = open("/proc/self/smaps", O_RDONLY | O_CLOEXEC) };
	char line[256];
	unsigned int flags = 0;
	bool ours = false;

	if (l.fd < 0)
		return VMF_HG | VMF_DC;	/* cannot tell: assume the worst */
	while (next_line(&l, line, sizeof(line))) {
		char *end;
		unsigned long s = strtoul(line, &end, 16);

		if (*end == '-' && end != line) {
			if (ours || s > start)
				break;
			ours = s == start;
			continue;
		}
		if (!ours || strncmp(line, "VmFlags:", 8) != 0)
			continue;
		for (char *p = line + 8; *p; p++)
			for (size_t i = 0; i < sizeof(known) / sizeof(known[0]); i++)
				if (p[0] == known[i].name[0] && p[1] == known[i].name[1] &&
				    p[-1] == ' ' && (p[2] == ' ' || p[2] == '\0'))
					flags |= known[i].flag;
		break;
	}
	close(l.fd);
	return flags;
}

static int vma_at(int maps, uintptr_t addr, struct vma *v)
{
	int ret = -ENOTTY;

	v->flags = 0;
	if (atomic_load_explicit(&lm.query, memory_order_relaxed) >= 0 && maps >= 0) {
		ret = query_vma(maps, addr, v);
		if (ret == -ENOTTY || ret == -EINVAL)
			atomic_store(&lm.query, -1);
	}
	if (ret == -ENOTTY || ret == -EINVAL)
		ret = parse_maps(addr, v);
	if (ret == 0 && v->anon && atomic_load_explicit(&lm.advice_seen, memory_order_relaxed)) {
		v->flags = smaps_flags(v->start);
		if (v->flags & (VMF_DC | VMF_WF | VMF_GD))
			v->anon = false;
	}
	return ret;
}

/* The huge page size the kernel would use for faults in @v, or 0: those blocks stay its own. */
static size_t thp_block(const struct vma *v)
{
	if (lm.thp_always && !(v->flags & VMF_NH))
		return lm.thp_always;
	if (lm.thp_madvise && (v->flags & VMF_HG))
		return lm.thp_madvise;
	return 0;
}

/*
 * Calls @fn on each run of pages in [start,end) that are present or swapped out (a page
 * that is neither was never touched, or was discarded). PAGEMAP_SCAN walks only the page
 * tables that exist; /proc/self/pagemap is the fallback.
 */
static int present_runs(int pm, uintptr_t start, uintptr_t end,
			void (*fn)(uintptr_t s, uintptr_t e, void *arg), void *arg)
{
	struct page_region vec[64];
	uint64_t entries[PM_BATCH];
	uintptr_t run = 0;

	if (atomic_load_explicit(&lm.scan, memory_order_relaxed) >= 0) {
		struct pm_scan_arg a = {
			.size = sizeof(a),
			.start = start,
			.end = end,
			.vec = (uintptr_t)vec,
			.vec_len = sizeof(vec) / sizeof(vec[0]),
			.category_anyof_mask = PAGE_IS_PRESENT | PAGE_IS_SWAPPED,
			.return_mask = PAGE_IS_PRESENT | PAGE_IS_SWAPPED,
		};

		while (a.start < end) {
			long n = ioctl(pm, PAGEMAP_SCAN, &a);

			if (n < 0 && a.start != start)
				return -errno;
			if (n < 0)
				break;
			for (long i = 0; i < n; i++)
				fn(vec[i].start, vec[i].end, arg);
			if (a.walk_end <= a.start)
				return -EIO;
			a.start = a.walk_end;
		}
		if (a.start >= end)
			return 0;
		if (errno != ENOTTY && errno != EINVAL)
			return -errno;
		atomic_store(&lm.scan, -1);
	}
	for (uintptr_t addr = start; addr < end;) {
		size_t n = (end - addr) / UCOW_PAGE_SIZE;
		ssize_t got;

		if (n > PM_BATCH)
			n = PM_BATCH;
		got = pagemap_read(pm, addr, entries, n);
		if (got <= 0)
			return got < 0 ? (int)got : -EIO;
		n = (size_t)got;
		for (size_t i = 0; i < n; i++, addr += UCOW_PAGE_SIZE) {
			bool here = entries[i] & (PM_PRESENT | PM_SWAPPED);

			if (here && !run)
				run = addr;
			if (!here && run) {
				fn(run, addr, arg);
				run = 0;
			}
		}
	}
	if (run)
		fn(run, end, arg);
	return 0;
}

/* ---- deferring ------------------------------------------------------------------------- */

#define MAX_PARTS 32

struct parts {
	size_t n;
	bool overflow;		/* more than MAX_PARTS lazy regions */
	bool foreign;		/* another policy manages part of the range */
	struct ucow_region v[MAX_PARTS];
};

static void collect_parts(const struct ucow_region *r, void *arg)
{
	struct parts *p = arg;

	if (r->policy != &ucow_lazy_memset_policy) {
		p->foreign = true;
		return;
	}
	if (p->n == MAX_PARTS) {
		p->overflow = true;
		return;
	}
	p->v[p->n++] = *r;
}

static void lazy_parts(uintptr_t start, uintptr_t end, struct parts *p)
{
	p->n = 0;
	p->overflow = p->foreign = false;
	if (registry_may_overlap(&ucow_registry, start, end))
		registry_foreach(&ucow_registry, start, end, collect_parts, p);
}

struct hull {
	uintptr_t cursor;	/* end of the last present run seen */
	uintptr_t lo, hi;	/* the pages never touched lie in [lo, hi) */
	size_t missing;		/* bytes never touched */
};

static void hull_add_missing(struct hull *h, uintptr_t s, uintptr_t e)
{
	if (s >= e)
		return;
	if (!h->missing)
		h->lo = s;
	h->hi = e;
	h->missing += e - s;
}

static void hull_run(uintptr_t s, uintptr_t e, void *arg)
{
	struct hull *h = arg;

	hull_add_missing(h, h->cursor, s);
	h->cursor = e;
}

struct writer {
	int c;
	size_t bytes;
};

static void write_run(uintptr_t s, uintptr_t e, void *arg)
{
	struct writer *w = arg;

	hot.next((void *)s, w->c, e - s);
	w->bytes += e - s;
}

/*
 * Gives [start,end) (inside one registered VMA) the value @id from now on: the regions of
 * lazy memset already there get it in place, the gaps between them are registered.
 * Returns false (nothing left half done) when the gaps could not be registered.
 */
static bool manage_value(uintptr_t start, uintptr_t end, int id, const struct parts *p)
{
	uintptr_t at = start;
	uint64_t ioctls;
	long changed;

	if (p->n) {
		changed = registry_set_data(&ucow_registry, start, end, &ucow_lazy_memset_policy,
					    (uint64_t)id);
		if (changed < 0)
			return false;
		ucow_stat_add(UCOW_ST_LM_PAGES_REVALUED, (unsigned long)changed / UCOW_PAGE_SIZE);
		/* A fault the handler is filling from the old value ends before we go on. */
		handler_barrier();
	}
	for (size_t i = 0; i <= p->n; i++) {
		uintptr_t gap_end = i < p->n ? p->v[i].start : end;

		if (gap_end > at && engine_manage(at, gap_end - at, &ucow_lazy_memset_policy, -1,
						  at, (uint64_t)id, PROT_READ | PROT_WRITE) < 0)
			return false;
		if (i < p->n) {
			/* An entry the kernel may have dropped (unmapped and mapped again). */
			uffd_ctl_register(p->v[i].start, p->v[i].end - p->v[i].start,
					  UFFDIO_REGISTER_MODE_MISSING, &ioctls);
			at = p->v[i].end;
		}
	}
	return true;
}

/* Unregisters the regions of lazy memset in @p: their pages read zero again. */
static void forget_parts(const struct parts *p)
{
	for (size_t i = 0; i < p->n; i++)
		engine_unmanage(p->v[i].start, p->v[i].end);
}

/*
 * [start,end): whole pages of one private anonymous VMA, outside its huge-page blocks. The
 * pages present (or swapped) are written; those never touched get the value later, on their
 * first fault (or nothing at all, for zero). Returns the bytes written for real.
 */
static size_t defer_piece(int pm, uintptr_t start, uintptr_t end, unsigned char c, int id)
{
	struct hull h = { .cursor = start };
	struct writer w = { .c = c };
	struct parts p;

	lazy_parts(start, end, &p);
	if (p.foreign || p.overflow || present_runs(pm, start, end, hull_run, &h) < 0)
		goto all_real;
	hull_add_missing(&h, h.cursor, end);
	if (c == 0) {
		/* Untouched anonymous memory already reads zero: forget any older value. */
		forget_parts(&p);
		if (present_runs(pm, start, end, write_run, &w) < 0)
			goto all_real;
		ucow_stat_add(UCOW_ST_LM_PAGES_ZERO, (end - start - w.bytes) / UCOW_PAGE_SIZE);
		return w.bytes;
	}
	/* Every page present: an older value is of no account any more. */
	if (!h.missing)
		goto all_real;
	/* Registered first, then present pages written: a page touched in between is filled
	 * by the handler with the value and then written again, never left behind. */
	if (p.n) {
		if (h.lo > p.v[0].start)
			h.lo = p.v[0].start;
		if (h.hi < p.v[p.n - 1].end)
			h.hi = p.v[p.n - 1].end;
	}
	if (!manage_value(h.lo, h.hi, id, &p))
		goto all_real;
	if (present_runs(pm, start, end, write_run, &w) < 0) {
		/* Cannot tell which pages are present: write them all; the handler fills the
		 * missing ones on the way. */
		hot.next((void *)start, c, end - start);
		return end - start;
	}
	ucow_stat_add(UCOW_ST_LM_PAGES_DEFERRED, (end - start - w.bytes) / UCOW_PAGE_SIZE);
	return w.bytes;
all_real:
	/* Unregistered pages fault to the kernel; registered ones to the handler, with their
	 * old value, then written. */
	hot.next((void *)start, c, end - start);
	return end - start;
}

/* Whether this thread may take the registry lock: not if it holds it already (a signal
 * handler interrupted ucow). Other threads hold it only for a moment. */
static bool registry_lock_free(void)
{
	for (int i = 0; i < 100; i++) {
		if (pthread_rwlock_trywrlock(&ucow_registry.lock) == 0) {
			pthread_rwlock_unlock(&ucow_registry.lock);
			return true;
		}
		sched_yield();
	}
	return false;
}

/*
 * [lo,hi) (page aligned) under lazy memset: VMA by VMA, deferred where that is safe. Stops
 * at the first part that is not private anonymous memory (or not mapped): returns where, the
 * caller writes the rest for real, outside ucow's locks, so that a fault there is the
 * program's as its own memset would take it. @written: bytes written for real before that.
 */
static uintptr_t lazy_range(uintptr_t lo, uintptr_t hi, unsigned char c, size_t *written)
{
	int maps = -1, pm, id = 0;
	uintptr_t addr;

	*written = 0;
	if (pin_overlaps(lo, hi))
		return lo;
	if (engine_start() < 0 || engine_mode() != UCOW_ENGINE_FULL)
		return lo;
	if (!registry_lock_free())
		return lo;
	/* Events this thread caused (an allocator's MADV_DONTNEED, a munmap) are read by the
	 * handler before the call returns, but maybe not applied yet: the registry must hold
	 * them before we read it. */
	handler_barrier();
	if (c) {
		id = pattern_of_byte(c);
		if (id <= 0)
			return lo;
	}
	pm = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
	if (pm < 0)
		return lo;
	if (atomic_load_explicit(&lm.query, memory_order_relaxed) >= 0)
		maps = open("/proc/self/maps", O_RDONLY | O_CLOEXEC);
	for (addr = lo; addr < hi;) {
		struct vma v;
		uintptr_t end, blo, bhi;
		size_t block;

		if (vma_at(maps, addr, &v) < 0 || v.start > addr || !v.anon)
			break;
		end = v.end < hi ? v.end : hi;
		/* The kernel's huge pages stay the kernel's: blocks it would fill are written. */
		block = thp_block(&v);
		blo = block ? (v.start + block - 1) / block * block : end;
		bhi = block ? v.end / block * block : end;
		if (blo >= bhi || blo >= end || bhi <= addr) {
			*written += defer_piece(pm, addr, end, c, id);
		} else {
			if (blo > addr)
				*written += defer_piece(pm, addr, blo, c, id);
			blo = blo > addr ? blo : addr;
			bhi = bhi < end ? bhi : end;
			hot.next((void *)blo, c, bhi - blo);
			*written += bhi - blo;
			if (end > bhi)
				*written += defer_piece(pm, bhi, end, c, id);
		}
		addr = end;
	}
	if (maps >= 0)
		close(maps);
	close(pm);
	return addr;
}

/*
 * Whether every page of [lo,hi) is resident: then nothing can be deferred, and the call costs
 * one mincore instead of the whole look (a program clearing the same buffer again and again).
 * Only the first pages are looked at; a miss only means the full look follows.
 */
static bool all_resident(uintptr_t lo, uintptr_t hi)
{
	unsigned char vec[256];
	size_t pages = (hi - lo) / UCOW_PAGE_SIZE;

	if (pages > sizeof(vec))
		pages = sizeof(vec);
	if (mincore((void *)lo, pages * UCOW_PAGE_SIZE, vec) < 0)
		return false;
	for (size_t i = 0; i < pages; i++)
		if (!(vec[i] & 1))
			return false;
	/* The last pages too: a buffer grown at its end. */
	if ((hi - lo) / UCOW_PAGE_SIZE > pages) {
		lo = hi - pages * UCOW_PAGE_SIZE;
		if (mincore((void *)lo, pages * UCOW_PAGE_SIZE, vec) < 0)
			return false;
		for (size_t i = 0; i < pages; i++)
			if (!(vec[i] & 1))
				return false;
	}
	return true;
}

static __attribute__((noinline)) void *memset_slow(void *s, int c, size_t n, const void *caller)
{
	uintptr_t a = (uintptr_t)s, e = a + n;
	uintptr_t lo = UCOW_PAGE_UP(a), hi = UCOW_PAGE_DOWN(e), stop;
	size_t written;
	sigset_t all, mask;

	if (e < a || lo >= hi || !ucow_enabled || in_lazy ||
	    ((uintptr_t)caller >= lm.text_lo && (uintptr_t)caller < lm.text_hi))
		return hot.next(s, c, n);
	ucow_stat_add(UCOW_ST_LM_CALLS, 1);
	if (all_resident(lo, hi)) {
		ucow_stat_add(UCOW_ST_LM_RESIDENT, 1);
		return hot.next(s, c, n);
	}
	/* The head first, as the program's own memset would fault there first. */
	if (lo > a)
		hot.next(s, c, lo - a);
	/* No signal handler runs on this thread while it changes ucow's state. */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &mask);
	in_lazy = true;
	pthread_mutex_lock(&lm.lock);
	stop = lazy_range(lo, hi, (unsigned char)c, &written);
	pthread_mutex_unlock(&lm.lock);
	in_lazy = false;
	pthread_sigmask(SIG_SETMASK, &mask, NULL);
	if (stop == lo)
		ucow_stat_add(UCOW_ST_LM_DECLINED, 1);
	else if (written < stop - lo)
		ucow_stat_add(UCOW_ST_LM_DEFERRED_CALLS, 1);
	ucow_stat_add(UCOW_ST_LM_BYTES_WRITTEN, written + (lo - a) + (e - stop));
	if (e > stop)
		hot.next((void *)stop, c, e - stop);
	return s;
}

/* ---- the rest of the address space follows --------------------------------------------- */

/* Fills every deferred page of @p (as a touch would) and hands the ranges to the kernel. */
static void materialize(const struct parts *p)
{
	for (size_t i = 0; i < p->n; i++) {
		uintptr_t s = p->v[i].start, e = p->v[i].end;

		if (sys_madvise((void *)s, e - s, MADV_POPULATE_WRITE) < 0)
			for (uintptr_t a = s; a < e; a += UCOW_PAGE_SIZE)
				(void)*(volatile char *)a;
		engine_unmanage(s, e);
	}
}

void lazy_memset_advise(uintptr_t start, uintptr_t end, int advice)
{
	struct parts p;

	if (advice != MADV_HUGEPAGE && advice != MADV_NOHUGEPAGE && advice != MADV_DONTFORK &&
	    advice != MADV_WIPEONFORK)
		return;
	if (!ucow_cfg.lazy_memset || !ucow_enabled)
		return;
	atomic_store(&lm.advice_seen, true);
	if (advice == MADV_NOHUGEPAGE || !registry_may_overlap(&ucow_registry, start, end))
		return;
	/* An unmap made behind ucow's back (libc's own munmap, a raw syscall) was read by the
	 * handler before it returned, maybe not applied yet: a dead entry would be filled here,
	 * in whatever is mapped there now. */
	handler_barrier();
	/* A huge page needs all its pages; a child must see zeroes (WIPEONFORK) or nothing
	 * (DONTFORK) where the parent's pages are deferred: give them their value now. */
	lazy_parts(start, end, &p);
	if (p.overflow) {
		ucow_warn("lazy-memset", "too many deferred ranges under madvise(%d) at %#lx: "
			  "some stay deferred", advice, (unsigned long)start);
	}
	materialize(&p);
}

/* Hands the regions of lazy memset inside [start,end) back to the kernel (zero from now on). */
static void forget_range(uintptr_t start, uintptr_t end)
{
	struct parts p;

	do {
		lazy_parts(start, end, &p);
		forget_parts(&p);
	} while (p.overflow);
}

void lazy_memset_remapped(uintptr_t old, size_t old_len, uintptr_t new, size_t new_len,
			  int flags)
{
	if (!registry_may_overlap(&ucow_registry, old, old + old_len) &&
	    !registry_may_overlap(&ucow_registry, new, new + new_len))
		return;
	if (new_len > old_len && old_len)
		forget_range(new + old_len, new + new_len);
	if (flags & MREMAP_DONTUNMAP)
		forget_range(old, old + old_len);
}

/* ---- the policy ------------------------------------------------------------------------ */

/*
 * MADV_DONTNEED, MADV_FREE, MADV_REMOVE, seen as an event by the handler (glibc's and raw
 * calls included): the deferred value is forgotten, the pages read zero, as the kernel's do.
 * Runs on the handler thread, outside the registry lock.
 */
static void lazy_discard(const struct ucow_region *r, uintptr_t start, uintptr_t end)
{
	window_forget(start, end);
	engine_unmanage(start, end);
	ucow_stat_add(UCOW_ST_LM_DISCARDS, 1);
}

struct touched {
	size_t present;
};

static void count_run(uintptr_t s, uintptr_t e, void *arg)
{
	((struct touched *)arg)->present += e - s;
}

/* With UCOW_STATS, as the region goes: pages filled (touched) and pages never touched. */
static void lazy_account(const struct ucow_region *r)
{
	struct touched t = { 0 };
	int pm = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);

	if (pm < 0)
		return;
	if (present_runs(pm, r->start, r->end, count_run, &t) == 0) {
		ucow_stat_add(UCOW_ST_LM_PAGES_PRESENT, t.present / UCOW_PAGE_SIZE);
		ucow_stat_add(UCOW_ST_LM_PAGES_UNTOUCHED,
			      (r->end - r->start - t.present) / UCOW_PAGE_SIZE);
	}
	close(pm);
}

static int lazy_advise_before(uintptr_t start, uintptr_t end, int advice)
{
	lazy_memset_advise(start, end, advice);
	return advice;
}

const struct ucow_policy ucow_lazy_memset_policy = {
	.advise_before = lazy_advise_before,
	.remapped = lazy_memset_remapped,
	.stats_json = lazy_memset_stats_json,
	.name = "lazy-memset",
	.fault = pattern_fault,
	/* The kernel knows nothing of the value: a fault it cannot resolve is poisoned. */
	.kernel_fallback = false,
	.regions_counter = &ucow_stats[UCOW_ST_LM_REGIONS],
	.account = lazy_account,
	.discard = lazy_discard,
	.materialise = pattern_materialise,
	/* DONTNEED makes a filled page read zero, as the kernel's would: nothing of ours left. */
	.plain_when_filled = true,
};

int lazy_memset_stats_json(char *buf, size_t size)
{
	unsigned long untouched = ucow_stats[UCOW_ST_LM_PAGES_UNTOUCHED];

	return snprintf(buf, size,
		",\"lazy_memset\":{\"enabled\":%s,\"min\":%zu,\"calls\":%lu,\"deferred_calls\":%lu,"
		"\"declined_calls\":%lu,\"pages_deferred\":%lu,\"pages_zero_skipped\":%lu,"
		"\"pages_revalued\":%lu,\"bytes_written\":%lu,\"regions\":%lu,\"discards\":%lu,"
		"\"pages_touched\":%lu,\"pages_untouched\":%lu,\"bytes_saved\":%lu,"
		"\"resident_calls\":%lu}",
		hot.min != SIZE_MAX ? "true" : "false", hot.min != SIZE_MAX ? hot.min : 0,
		(unsigned long)ucow_stats[UCOW_ST_LM_CALLS],
		(unsigned long)ucow_stats[UCOW_ST_LM_DEFERRED_CALLS],
		(unsigned long)ucow_stats[UCOW_ST_LM_DECLINED],
		(unsigned long)ucow_stats[UCOW_ST_LM_PAGES_DEFERRED],
		(unsigned long)ucow_stats[UCOW_ST_LM_PAGES_ZERO],
		(unsigned long)ucow_stats[UCOW_ST_LM_PAGES_REVALUED],
		(unsigned long)ucow_stats[UCOW_ST_LM_BYTES_WRITTEN],
		(unsigned long)ucow_stats[UCOW_ST_LM_REGIONS],
		(unsigned long)ucow_stats[UCOW_ST_LM_DISCARDS],
		(unsigned long)ucow_stats[UCOW_ST_LM_PAGES_PRESENT], untouched,
		untouched * UCOW_PAGE_SIZE, (unsigned long)ucow_stats[UCOW_ST_LM_RESIDENT]);
}

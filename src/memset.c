/* memset.c: libucow-memset.so — memset, bzero and __memset_chk as the program sees them, so
 * that lazy memset (libucow.so, UCOW_LAZY_MEMSET) can take the large ones. A library of its
 * own: a program that does not ask for lazy memset keeps the C library's memset, untouched.
 * Every call below the armed size costs one compare before the C library's memset. */
#undef _FORTIFY_SOURCE
#include <dlfcn.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "memset_hook.h"

#define EXPORT __attribute__((visibility("default")))

typedef void *(*memset_chk_fn)(void *s, int c, size_t n, size_t destlen);

#define NO_VEC (SIZE_MAX >> 1)	/* n - NO_VEC is above 32 for any n a memset can have */

static void *early_memset(void *s, int c, size_t n);
static void *early_memset_chk(void *s, int c, size_t n, size_t destlen);

/*
 * Where each call goes, in one cache line (every call reads it). Until libucow.so arms lazy
 * memset, lazy_min is SIZE_MAX: every call is the C library's. Until the C library's memset
 * is found, a plain loop stands in (memsets of constructors that run before ours).
 */
static struct {
	_Atomic size_t lazy_min;		/* calls this long go to lazy */
	_Atomic ucow_lazy_memset_fn lazy;	/* stored before lazy_min */
	ucow_memset_fn libc;
	memset_chk_fn libc_chk;
	/* n - from <= 32: 32 to 64 bytes in two 32-byte stores (set at start-up for the CPU);
	 * the folded compare costs nothing next to a flag test (0.3 ns of 2.3, measured) */
	size_t evex_from, avx2_from;
} memset_route __attribute__((aligned(64))) = {
	.lazy_min = SIZE_MAX,
	.evex_from = NO_VEC,
	.avx2_from = NO_VEC,
	.libc = early_memset,
	.libc_chk = early_memset_chk,
};

static inline size_t lazy_min(void)
{
	return atomic_load_explicit(&memset_route.lazy_min, memory_order_relaxed);
}

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

/* A call of at least lazy_min bytes: lazy memset's, once armed. */
static __attribute__((noinline)) void *memset_lazy(void *s, int c, size_t n, const void *caller)
{
	ucow_lazy_memset_fn lazy = atomic_load_explicit(&memset_route.lazy, memory_order_acquire);

	return lazy ? lazy(s, c, n, caller) : memset_route.libc(s, c, n);
}

/*
 * memset itself. Below the threshold the cost is one compare and a tail jump to libc's memset,
 * except up to 64 bytes, where a second indirect jump would cost a quarter of the call
 * (measured: 2.35 -> 3.0 ns): those stores are made here, as libc makes them. Not an IFUNC:
 * glibc then warns "Relink `LIB' with `libucow-memset.so' for IFUNC symbol `memset'" on
 * stderr for every library relocated before ours that binds memset at load time (BIND_NOW:
 * libselinux for ls, libtinfo for bash). The CPU is asked at start-up instead; until then
 * SSE2 (in every x86-64) does.
 */
#if defined(__x86_64__) && defined(__GNUC__)
#include <emmintrin.h>

#define SMALL_MAX 64

static void small_vec_init(void)
{
	__builtin_cpu_init();
	if (__builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512vl"))
		memset_route.evex_from = 32;
	else if (__builtin_cpu_supports("avx2"))
		memset_route.avx2_from = 32;
}

/* 32 to 64 bytes in two 32-byte stores with AVX-512 (ymm16: no vzeroupper needed). */
static inline __attribute__((always_inline)) bool memset_evex(void *s, int c, size_t n)
{
	if (__builtin_expect(n - memset_route.evex_from > 32, 0))
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

	if (n - memset_route.avx2_from <= 32) {
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
#define memset_small(s, c, n) memset_route.libc(s, c, n)
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
		if (__builtin_expect(n < lazy_min(), 1))
			return memset_route.libc(s, c, n);
		return memset_lazy(s, c, n, __builtin_return_address(0));
	}
	return memset_small(s, c, n);
}

EXPORT void bzero(void *s, size_t n)
{
	if (__builtin_expect(n < lazy_min(), 1)) {
		memset_route.libc(s, 0, n);
		return;
	}
	memset_lazy(s, 0, n, __builtin_return_address(0));
}

/* _FORTIFY_SOURCE programs call this where the compiler knows the buffer's size. */
EXPORT void *__memset_chk(void *s, int c, size_t n, size_t destlen)
{
	if (__builtin_expect(n < lazy_min(), 1) || n > destlen)
		return memset_route.libc_chk(s, c, n, destlen);
	return memset_lazy(s, c, n, __builtin_return_address(0));
}

/* ---- start-up -------------------------------------------------------------------------- */

/* The next memset (libc's) and the CPU's vector stores; from our constructor, or from
 * libucow.so's arming it if its constructor runs first. */
static void resolve(void)
{
	static bool done;
	ucow_memset_fn next;
	memset_chk_fn next_chk;

	if (done)
		return;
	done = true;
	/* glibc's memset is an IFUNC: dlsym gives the implementation chosen for this CPU. */
	next = (ucow_memset_fn)dlsym(RTLD_NEXT, "memset");
	next_chk = (memset_chk_fn)dlsym(RTLD_NEXT, "__memset_chk");
	if (next)
		memset_route.libc = next;
	if (next_chk)
		memset_route.libc_chk = next_chk;
	small_vec_init();
}

/* UCOW_MEMSET_ARM (memset_hook.h): libucow.so finds it with dlsym. */
EXPORT ucow_memset_fn __ucow_memset_arm(size_t min, ucow_lazy_memset_fn lazy);

EXPORT ucow_memset_fn __ucow_memset_arm(size_t min, ucow_lazy_memset_fn lazy)
{
	resolve();
	atomic_store_explicit(&memset_route.lazy, lazy, memory_order_release);
	atomic_store_explicit(&memset_route.lazy_min, min, memory_order_release);
	return memset_route.libc;
}

static bool knob_on(const char *v)
{
	static const char *const yes[] = { "on", "1", "yes", "true", NULL };

	for (int i = 0; v && yes[i]; i++)
		if (strcmp(v, yes[i]) == 0)
			return true;
	return false;
}

__attribute__((constructor)) static void memset_init(void)
{
	static const char alone[] =
		"ucow: lazy-memset: libucow-memset.so is preloaded without libucow.so: lazy memset "
		"is off; preload libucow.so too, first (LD_PRELOAD=\"libucow.so "
		"libucow-memset.so\"), or use 'ucow run --lazy-memset'\n";

	resolve();
	/* Only libucow.so can arm us: said once, and memset stays the C library's. */
	if (knob_on(getenv("UCOW_LAZY_MEMSET")) && !dlsym(RTLD_DEFAULT, "ucow_version")) {
		ssize_t r = write(STDERR_FILENO, alone, sizeof(alone) - 1);

		(void)r;
	}
}

/* memset_hook.h: what libucow-memset.so and libucow.so say to each other — the one call by
 * which lazy memset (libucow.so) takes over the large memsets libucow-memset.so sees. */
#ifndef UCOW_MEMSET_HOOK_H
#define UCOW_MEMSET_HOOK_H

#include <stddef.h>

typedef void *(*ucow_memset_fn)(void *s, int c, size_t n);
/* A memset of at least the armed size, with the return address of the program's call. */
typedef void *(*ucow_lazy_memset_fn)(void *s, int c, size_t n, const void *caller);

/*
 * Exported by libucow-memset.so under this name (found with dlsym, so that either library
 * may come first in LD_PRELOAD, and libucow.so alone has no memset of its own at all):
 * from now on memset, bzero and __memset_chk calls of at least @min bytes go to @lazy.
 * Returns the memset every call is passed on to otherwise (the C library's): it never
 * defers; arm(SIZE_MAX, NULL) arms nothing and only returns it. Called at start-up (a
 * constructor), before any other thread runs.
 */
#define UCOW_MEMSET_ARM "__ucow_memset_arm"
typedef ucow_memset_fn (*ucow_memset_arm_fn)(size_t min, ucow_lazy_memset_fn lazy);

#endif

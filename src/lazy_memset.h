/* lazy_memset.h: lazy memset (UCOW_LAZY_MEMSET) — a large memset of private anonymous pages
 * never touched is recorded instead of written, and each page is filled on its first touch.
 * The memsets themselves reach it from libucow-memset.so (memset.c). */
#ifndef UCOW_LAZY_MEMSET_H
#define UCOW_LAZY_MEMSET_H

#include <stddef.h>
#include <stdint.h>

#include "policy.h"

extern const struct ucow_policy ucow_lazy_memset_policy;

#endif

/* pattern.h: page-sized pattern buffers in ucow's own memory (reference pages, lazy memset),
 * and the policy fault that fills missing pages from them through an adaptive window. */
#ifndef UCOW_PATTERN_H
#define UCOW_PATTERN_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "policy.h"

/*
 * Returns the id (> 0) of the page that holds @content (@size bytes, a power of two up to
 * the page size) repeated, creating it on first use; the same content gives the same id.
 * -EINVAL for a bad size, -ENOMEM when the table is full. Patterns live as long as the
 * process: they are one page each and few. Not for the handler thread.
 */
int pattern_intern(const void *content, size_t size);
/* The id of a page of @c bytes (memset's value); cheap after the first call for @c. */
int pattern_of_byte(unsigned char c);
bool pattern_is_zero(int id);
/* Writes pattern @id into [dst, dst+len), dst and len page aligned (eager fills, fork). */
void pattern_write(int id, void *dst, size_t len);

/* In a fork child: the creation lock may have been held by a thread that is not there. */
void pattern_fork_child(void);

/*
 * Fault handler for a policy whose region.data is a pattern id: fills the missing pages of
 * the window at the fault (adaptive: one page for scattered faults, UCOW_FAULT_AROUND for
 * sequential ones, never outside the region) with copies of the
 * pattern, or the zero page for a zero pattern read. Pages already present are left as they
 * are; the pages filled are added to the policy's pages_filled counter. Returns as a policy
 * fault does (0, -EAGAIN, -errno).
 */
int pattern_fault(const struct ucow_region *r, const struct ucow_fault *f);
/* A policy's materialise operation for regions whose data is a pattern id (policy.h). */
int pattern_materialise(const struct ucow_region *r, bool registered);

#endif

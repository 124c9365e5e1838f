/* pin_fork.h: pinned ranges at fork — the parent keeps its pinned pages and the child gets a
 * copy; ucow makes that copy itself for ucow_pin ranges the kernel does not pin (the
 * fork hooks are in pin.h). */
#ifndef UCOW_PIN_FORK_H
#define UCOW_PIN_FORK_H

#include <stdint.h>

#include "pin_table.h"

/*
 * How a ucow_pin range [start,end) that is not a kernel pin can stay with the parent at fork:
 * PIN_HOW_SHARED (all shared memory: nothing to protect) or PIN_HOW_COPY (ucow copies it
 * for the child). *@err is set to EOPNOTSUPP when part of it is a file mapping ucow cannot
 * copy (not one it manages).
 */
enum pin_how pin_fork_how(uintptr_t start, uintptr_t end, int *err);

#endif

/* ucow.h: the public API of libucow, the userland copy-on-write shim.
 * Programs that only want ucow's memory policies need none of it: preload libucow.so. */
#ifndef UCOW_H
#define UCOW_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The library's version, e.g. "0.1.0". */
const char *ucow_version(void);

/*
 * Writes this process's counters as one JSON object (the format UCOW_STATS writes at exit)
 * into @buf, like snprintf: returns the length it needs, excluding the NUL.
 */
long ucow_stats_json(char *buf, size_t size);

#ifdef __cplusplus
}
#endif

#endif

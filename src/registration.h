/* registration.h: ucow's userfaultfd as this process holds it (its mode and features), and the
 * ranges registered with it: registered and recorded as regions, or handed back. */
#ifndef UCOW_REGISTRATION_H
#define UCOW_REGISTRATION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct ucow_policy;

enum ucow_engine_mode {
	UCOW_ENGINE_UNUSED = 0,	/* nothing managed yet: no fd, no thread */
	UCOW_ENGINE_FULL,
	UCOW_ENGINE_USER_ONLY,
	UCOW_ENGINE_FAILED,	/* could not start; the process runs unmanaged */
};

enum ucow_engine_mode engine_mode(void);
/* Whether the engine serves this process now (started, not failed). */
bool engine_serving(void);
/* The userfaultfd of this process (in the handler's table), or -1. */
int engine_uffd(void);
uint64_t engine_features(void);
/* The process the engine was started in (a raw fork child has its parent's engine). */
pid_t engine_pid(void);

/* Set by the engine as it starts, fails, or forgets its parent's userfaultfd (fork child). */
void registration_started(int uffd, enum ucow_engine_mode mode, uint64_t features);
void registration_set_mode(enum ucow_engine_mode mode);
void registration_fork_child(void);

/* Registers [start,end) for missing faults: 0, or -errno (-EOPNOTSUPP: the kernel would not
 * let ucow fill it). */
int registration_add(uintptr_t start, uintptr_t end);

/* Records @r in the registry, in place of a stale entry whose unmap event is not applied
 * yet: 0 or -errno (-ENOMEM). */
struct ucow_region;
int registration_record(const struct ucow_region *r);

/*
 * Registers [start, start+len) and records it as a region of @policy with @fd's file (or -1),
 * @offset, @data and @prot. On failure the range stays unmanaged: 0 or -errno (logged).
 * The engine must be serving, and events read before must be applied (handler_barrier).
 */
int registration_manage(uintptr_t start, size_t len, const struct ucow_policy *policy, int fd,
			uint64_t offset, uint64_t data, int prot);

/*
 * Whether some registration_manage() has registered a range and not yet recorded it: a fault
 * there finds no region for that long (another thread touching memory being memset).
 */
bool engine_recording(void);

/* Hands [start,end) back to the kernel: unregistered, forgotten, waiters woken. */
void engine_unmanage(uintptr_t start, uintptr_t end);

#endif

/* fixed_byte.c: a test-only fourth policy — private anonymous mappings made with MAP_STACK read
 * as 0xC3 until written. It shows that a policy is one file and one row (tests/policy-row). */
#include <errno.h>
#include <sys/mman.h>

#include "engine.h"
#include "pattern.h"
#include "policy.h"

#define FIXED_BYTE 0xC3

extern const struct ucow_policy fixed_byte_policy;

static int fixed_byte_claim(struct ucow_mmap_call *call, uint64_t *data)
{
	const int want = MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK;
	int id;

	if ((call->flags & (MAP_TYPE | MAP_ANONYMOUS | MAP_STACK)) != want)
		return 0;
	id = pattern_of_byte(FIXED_BYTE);
	if (id <= 0)
		return 0;
	*data = (uint64_t)id;
	return 1;
}

/* Unmanaged, the mapping would read zeroes: the mmap fails instead. */
static int fixed_byte_manage(uintptr_t start, const struct ucow_mmap_call *call, uint64_t data)
{
	if (engine_manage(start, call->len, &fixed_byte_policy, -1, 0, data, call->prot) == 0)
		return 0;
	munmap((void *)start, call->len);
	return -ENOMEM;
}

const struct ucow_policy fixed_byte_policy = {
	.name = "fixed-byte",
	.claim = fixed_byte_claim,
	.manage = fixed_byte_manage,
	.fault = pattern_fault,
	.materialise = pattern_materialise,
};

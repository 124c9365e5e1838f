/* policies.c: the policy table — every memory policy ucow has, in the order an mmap call is
 * offered to them. A new policy is one file and one row here. */
#include <stddef.h>

#include "policy.h"

extern const struct ucow_policy ucow_refpage_policy;
extern const struct ucow_policy ucow_shmem_holes_policy;
extern const struct ucow_policy ucow_lazy_memset_policy;
extern const struct ucow_policy ucow_pins_policy;

const struct ucow_policy *const ucow_policies[] = {
	&ucow_refpage_policy,		/* first: a refpage fd is a memfd the others would take */
	&ucow_shmem_holes_policy,
	&ucow_lazy_memset_policy,
	&ucow_pins_policy,		/* claims nothing: keeps the others' pinned pages */
	NULL,
};

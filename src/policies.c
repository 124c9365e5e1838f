/* policies.c: the policy table — every memory policy ucow has, in the order an mmap call is
 * offered to them. A new policy is one file and one row here. */
#include <stddef.h>

#include "lazy_memset.h"
#include "pin_policy.h"
#include "policy.h"
#include "refpage.h"
#include "shmem_holes.h"

const struct ucow_policy *const ucow_policies[] = {
	&ucow_refpage_policy,		/* first: a refpage fd is a memfd the others would take */
	&ucow_shmem_holes_policy,
	&ucow_lazy_memset_policy,
	&ucow_pins_policy,		/* claims nothing: keeps the others' pinned pages */
	NULL,
};

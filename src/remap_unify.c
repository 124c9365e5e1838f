/* remap_unify.c: an mremap the kernel refused (EFAULT) only because ucow registered part of
 * a mapping with its userfaultfd, which split one VMA in two: the whole range registered
 * again, so that the pieces merge back and the call can be made once more. */
#include <errno.h>
#include <string.h>
#include <sys/mman.h>

#include "procfs.h"
#include "region.h"
#include "registration.h"
#include "remap_unify.h"
#include "uffd_ctl.h"

struct coverage {
	uintptr_t next, end;	/* the first address not yet seen mapped; the range's end */
	int prot;		/* the pieces', -1 before the first */
	char name[PROCFS_NAME_MAX];	/* the pieces' ("[anon:NAME]" or "") */
	bool unfit;
};

static bool plain_anonymous(const struct procfs_vma *v)
{
	return !v->inode && !v->shared && (!v->name[0] || strncmp(v->name, "[anon:", 6) == 0);
}

static int cover(const struct procfs_vma *v, void *arg)
{
	struct coverage *c = arg;

	if (v->end <= c->next)
		return 0;
	if (v->start > c->next || !plain_anonymous(v) ||
	    (c->prot >= 0 && (v->prot != c->prot || strcmp(v->name, c->name) != 0))) {
		c->unfit = true;
		return 1;
	}
	if (c->prot < 0)
		memcpy(c->name, v->name, sizeof(c->name));
	c->prot = v->prot;
	c->next = v->end;
	return c->next >= c->end;
}

/*
 * Only private anonymous memory, mapped without a gap, with one protection and one name:
 * registered where it was not, it still reads zero wherever it has no page (a fault ucow
 * knows nothing of is answered with zeroes). A range the kernel would refuse without ucow
 * (a hole in it, pieces of another kind) is left as it is.
 */
int remap_unify(uintptr_t start, uintptr_t end)
{
	struct coverage c = { .next = start, .end = end, .prot = -1 };
	int ret = procfs_maps_walk(cover, &c);

	if (ret < 0)
		return ret;
	if (c.unfit || c.next < end)
		return -EFAULT;
	return registration_add(start, end);
}

static void unregister_gap(uintptr_t start, uintptr_t end)
{
	if (start < end)
		uffd_ctl_unregister(start, end - start);
}

/* @arg: the end of the last region seen. */
static void gap_before(const struct ucow_region *r, void *arg)
{
	uintptr_t *next = arg;

	unregister_gap(*next, r->start);
	*next = r->end;
}

void remap_unify_undo(uintptr_t start, uintptr_t end)
{
	uintptr_t next = start;

	registry_walk(&ucow_registry, start, end, gap_before, &next);
	unregister_gap(next, end);
}

/* own_code.c: where ucow's own code lies in memory, so that the calls ucow makes itself are
 * never interposed (its ioctls) nor deferred (its memsets). */
#include <link.h>
#include <stdint.h>

#include "own_code.h"

/* libucow.so's executable segment, written once at start-up. */
static struct {
	uintptr_t lo, hi;
} own_text;

static int find_own_text(struct dl_phdr_info *info, size_t size, void *arg)
{
	uintptr_t self = (uintptr_t)arg;

	for (int i = 0; i < info->dlpi_phnum; i++) {
		const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
		uintptr_t lo = info->dlpi_addr + ph->p_vaddr, hi = lo + ph->p_memsz;

		if (ph->p_type == PT_LOAD && (ph->p_flags & PF_X) && self >= lo && self < hi) {
			own_text.lo = lo;
			own_text.hi = hi;
			return 1;
		}
	}
	return 0;
}

void own_code_find(void)
{
	dl_iterate_phdr(find_own_text, (void *)(uintptr_t)own_code_find);
}

bool own_code_has(const void *addr)
{
	return (uintptr_t)addr >= own_text.lo && (uintptr_t)addr < own_text.hi;
}

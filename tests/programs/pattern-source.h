/* pattern-source.h: an fd whose private mappings read as one byte repeated, for test
 * programs that know nothing of ucow: ucow_refpage_create when the process has it (found
 * with dlsym, as under LD_PRELOAD=libucow.so), else a memfd of @pages pages filled with it,
 * so that the program's output is the same with and without ucow. */
#ifndef PATTERN_SOURCE_H
#define PATTERN_SOURCE_H

#include <dlfcn.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

static int pattern_source(unsigned char byte, size_t pages, const char *name)
{
	int (*create)(const void *, size_t, unsigned long) =
		(int (*)(const void *, size_t, unsigned long))dlsym(RTLD_DEFAULT, "ucow_refpage_create");
	unsigned char page[4096];
	int fd;

	memset(page, byte, sizeof(page));
	if (create)
		return create(page, 1, 0);
	fd = memfd_create(name, MFD_CLOEXEC);
	for (size_t i = 0; fd >= 0 && i < pages; i++)
		if (write(fd, page, sizeof(page)) != (ssize_t)sizeof(page))
			return -1;
	return fd;
}

#endif

/* memfd-writer.h: the test programs' unit of managed memory: a fresh 1 MiB memfd mapped
 * privately, one byte written per page and every byte checked. Knows nothing of ucow. */
#ifndef UCOW_TEST_MEMFD_WRITER_H
#define UCOW_TEST_MEMFD_WRITER_H

#include <sys/mman.h>
#include <unistd.h>

#define MEMFD_WRITER_SIZE (1UL << 20)
#define MEMFD_WRITER_PAGE 4096UL

/* Writes @c to the first byte of every page of a new memfd named @name: 0, or 1 if a byte
 * read back is not the one written (or zero), or if the memfd cannot be made. */
static inline int write_memfd_named(const char *name, unsigned char c)
{
	int fd = memfd_create(name, MFD_CLOEXEC);
	unsigned char *p;
	int bad = 0;

	if (fd < 0 || ftruncate(fd, MEMFD_WRITER_SIZE) < 0)
		return 1;
	p = mmap(NULL, MEMFD_WRITER_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
	close(fd);
	if (p == MAP_FAILED)
		return 1;
	for (size_t i = 0; i < MEMFD_WRITER_SIZE; i += MEMFD_WRITER_PAGE)
		p[i] = c;
	for (size_t i = 0; i < MEMFD_WRITER_SIZE; i++)
		bad |= p[i] != (i % MEMFD_WRITER_PAGE ? 0 : c);
	return bad;
}

#endif

/* size-arg.h: the size arguments the test programs take ("4096", "64K", "32M", "1G").
 * Plain C shared by programs that know nothing of ucow. */
#ifndef TEST_SIZE_ARG_H
#define TEST_SIZE_ARG_H

#include <stdlib.h>

static inline size_t parse_size(const char *s)
{
	char *end;
	size_t v = strtoul(s, &end, 0);

	if (*end == 'K' || *end == 'k')
		v <<= 10;
	else if (*end == 'M' || *end == 'm')
		v <<= 20;
	else if (*end == 'G' || *end == 'g')
		v <<= 30;
	return v;
}

#endif

/* pin_fdinfo.c: checking the buffers ucow knows for a ring against /proc/self/fdinfo/<ring>
 * (UserBufs:), the kernel's own list, and correcting the table where they differ. */
#include <fcntl.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "pin_counters.h"
#include "pin_fdinfo.h"
#include "pin_table.h"
#include "sys.h"

/* One line of fdinfo's buffer list: "%5u: 0x%llx/%u" (or "<none>" for an empty slot). */
static bool parse_buf_line(const char *line, unsigned int *slot, uintptr_t *base, size_t *len)
{
	unsigned long long b;
	unsigned int s, l;

	while (*line == ' ' || *line == '\t')
		line++;
	if (sscanf(line, "%u: 0x%llx/%u", &s, &b, &l) == 3) {
		*slot = s;
		*base = (uintptr_t)b;
		*len = l;
		return true;
	}
	if (sscanf(line, "%u:", &s) == 1) {
		*slot = s;
		*base = 0;
		*len = 0;
		return true;
	}
	return false;
}

/* Under the lock: one slot the kernel lists; true when the table already had it right. */
static bool check_slot_locked(int ring, unsigned int slot, uintptr_t base, size_t len,
			      enum pin_source src)
{
	size_t n = pin_table_size(), i;
	struct pin *p = NULL;

	for (i = 0; i < n; i++) {
		p = pin_table_entry(i);
		if (p->ring == ring && p->source != PIN_API && p->slot == slot)
			break;
	}
	if (!base || !len) {
		if (i == n)
			return true;
		pin_table_del(i);
		return false;
	}
	if (i < n && p->start == UCOW_PAGE_DOWN(base) && p->end == UCOW_PAGE_UP(base + len)) {
		p->seen = true;
		return true;
	}
	pin_table_learn_slot(ring, slot, base, len, src, false);
	n = pin_table_size();
	if (n) {
		p = pin_table_entry(n - 1);
		if (p->ring == ring && p->slot == slot)
			p->seen = true;
	}
	return false;
}

void pin_fdinfo_check(int ring, enum pin_source src)
{
	char path[64], buf[4096];
	unsigned long listed = 0, mismatches = 0;
	long expected = -1;
	size_t have = 0;
	bool in_list = false;
	sigset_t old;
	int fd;

	if (ring < 0 || (ring & PIN_RING_REGISTERED))
		return;
	snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", ring);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return;
	pin_table_lock(&old);
	pin_table_write_begin();
	for (size_t i = 0; i < pin_table_size(); i++)
		pin_table_entry(i)->seen = false;
	for (;;) {
		ssize_t got = read(fd, buf + have, sizeof(buf) - 1 - have);
		char *line = buf, *nl;

		if (got <= 0)
			break;
		have += (size_t)got;
		buf[have] = '\0';
		while ((nl = strchr(line, '\n'))) {
			unsigned int slot;
			uintptr_t base;
			size_t len;

			*nl = '\0';
			if (strncmp(line, "UserBufs:", 9) == 0) {
				expected = strtol(line + 9, NULL, 10);
				in_list = true;
			} else if (in_list && parse_buf_line(line, &slot, &base, &len)) {
				listed++;
				mismatches += !check_slot_locked(ring, slot, base, len, src);
			} else {
				in_list = false;
			}
			line = nl + 1;
		}
		have -= (size_t)(line - buf);
		memmove(buf, line, have);
	}
	close(fd);
	/* The kernel lists the buffers only when it gets the ring's lock at once: a short
	 * list proves nothing about the slots it left out. */
	if (expected >= 0 && (unsigned long)expected == listed) {
		for (size_t i = 0; i < pin_table_size();) {
			const struct pin *p = pin_table_entry(i);

			if (p->ring == ring && p->source != PIN_API && !(p->slot & PIN_SLOT_PBUF) &&
			    !p->seen) {
				pin_table_del(i);
				mismatches++;
			} else {
				i++;
			}
		}
	}
	pin_table_write_end();
	pin_table_unlock(&old);
	if (expected >= 0)
		pin_count(PIN_FDINFO_CHECKS, 1);
	if (mismatches) {
		pin_count(PIN_FDINFO_MISMATCHES, mismatches);
		ucow_debug("pin", "ring %d: %lu buffer slot(s) corrected from fdinfo", ring,
			   mismatches);
	}
}

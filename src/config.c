/* config.c: the knob table and its strict parsers; a bad value is reported, never guessed. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "config.h"
#include "log.h"

struct ucow_config ucow_cfg;
atomic_bool ucow_enabled;

static const char *const shmem_modes[] = { "zero", "write", "off", NULL };
static const char *const log_levels[] = { "error", "warn", "info", "debug", NULL };

#define KNOB(n, t, field, ch, d, h) \
	{ .name = n, .type = t, .offset = offsetof(struct ucow_config, field), \
	  .choices = ch, .def = d, .help = h }

const struct ucow_knob ucow_knobs[] = {
	KNOB("UCOW_DISABLE", UCOW_KNOB_BOOL, disable, NULL, "off",
	     "on: the library does nothing at all"),
	KNOB("UCOW_SHMEM_HOLES", UCOW_KNOB_ENUM, shmem_holes, shmem_modes, "zero",
	     "MAP_PRIVATE shmem holes: zero, write or off"),
	KNOB("UCOW_LAZY_MEMSET", UCOW_KNOB_BOOL, lazy_memset, NULL, "off",
	     "defer large memsets of untouched private anonymous memory"),
	KNOB("UCOW_LAZY_MEMSET_MIN", UCOW_KNOB_SIZE, lazy_memset_min, NULL, "1M",
	     "smallest memset that lazy memset considers"),
	KNOB("UCOW_FAULT_AROUND", UCOW_KNOB_SIZE, fault_around, NULL, "2M",
	     "largest window filled on one fault; 0 fills one page"),
	KNOB("UCOW_PINS", UCOW_KNOB_BOOL, pins, NULL, "on",
	     "pin-aware copy-on-write"),
	KNOB("UCOW_SECCOMP", UCOW_KNOB_BOOL, seccomp, NULL, "off",
	     "trap raw io_uring_register calls with a seccomp filter"),
	KNOB("UCOW_USER_MODE_ONLY", UCOW_KNOB_BOOL, user_mode_only, NULL, "off",
	     "manage with a user-mode-only userfaultfd (syscalls on missing pages fail with EFAULT)"),
	KNOB("UCOW_IDLE_POLL", UCOW_KNOB_BOOL, idle_poll, NULL, "off",
	     "idle CPUs poll, not halt, while faults are served (root; costs the machine's CPU time)"),
	KNOB("UCOW_LOCAL_WAKE", UCOW_KNOB_BOOL, local_wake, NULL, "on",
	     "wake a thread from its fault on its own CPU, through a thread of ucow's at SCHED_IDLE"),
	KNOB("UCOW_STATS", UCOW_KNOB_STRING, stats, NULL, "",
	     "write a JSON summary at exit to PATH, to stderr, or to a file per process in DIR/"),
	KNOB("UCOW_LOG", UCOW_KNOB_ENUM, log_level, log_levels, "warn",
	     "diagnostics: error, warn, info or debug"),
	{ .name = NULL },
};

int ucow_parse_bool(const char *s, bool *out)
{
	static const char *const yes[] = { "on", "1", "yes", "true", NULL };
	static const char *const no[] = { "off", "0", "no", "false", NULL };

	if (ucow_parse_enum(s, yes) >= 0) {
		*out = true;
		return 0;
	}
	if (ucow_parse_enum(s, no) >= 0) {
		*out = false;
		return 0;
	}
	return -EINVAL;
}

int ucow_parse_enum(const char *s, const char *const *choices)
{
	for (int i = 0; choices[i]; i++)
		if (strcasecmp(s, choices[i]) == 0)
			return i;
	return -EINVAL;
}

static int size_shift(const char *suffix)
{
	static const char *const units[] = { "", "K", "M", "G", "T", NULL };
	static const char *const iec[] = { "", "KiB", "MiB", "GiB", "TiB", NULL };
	int i = ucow_parse_enum(suffix, units);

	if (i < 0)
		i = ucow_parse_enum(suffix, iec);
	return i < 0 ? -EINVAL : 10 * i;
}

int ucow_parse_size(const char *s, uint64_t *out)
{
	uint64_t v = 0;
	const char *p = s;
	int shift;

	if (!s || *s < '0' || *s > '9')
		return -EINVAL;
	for (; *p >= '0' && *p <= '9'; p++) {
		uint64_t digit = (uint64_t)(*p - '0');

		if (v > (UINT64_MAX - digit) / 10)
			return -ERANGE;
		v = v * 10 + digit;
	}
	shift = size_shift(p);
	if (shift < 0)
		return -EINVAL;
	if (shift && v > (UINT64_MAX >> shift))
		return -ERANGE;
	*out = v << shift;
	return 0;
}

static void describe_accepted(const struct ucow_knob *knob, char *buf, size_t len)
{
	size_t n = 0;

	switch (knob->type) {
	case UCOW_KNOB_BOOL:
		snprintf(buf, len, "on or off");
		return;
	case UCOW_KNOB_SIZE:
		snprintf(buf, len, "a size such as 4096, 64K, 2M or 1G");
		return;
	case UCOW_KNOB_STRING:
		snprintf(buf, len, "a path, or stderr");
		return;
	case UCOW_KNOB_ENUM:
		buf[0] = '\0';
		for (int i = 0; knob->choices[i] && n < len; i++)
			n += snprintf(buf + n, len - n, "%s%s", i == 0 ? "" :
				      knob->choices[i + 1] ? ", " : " or ", knob->choices[i]);
		return;
	}
}

/* Control characters shown as \xNN: a forged value must not start a second line. */
static void printable(const char *value, char *out, size_t len)
{
	size_t n = 0;

	for (const unsigned char *c = (const unsigned char *)value; *c && n + 5 < len; c++) {
		if (*c < 0x20 || *c == 0x7f)
			n += (size_t)snprintf(out + n, len - n, "\\x%02x", *c);
		else
			out[n++] = (char)*c;
	}
	out[n] = '\0';
}

static int knob_error(const struct ucow_knob *knob, const char *value, const char *why,
		      char *err, size_t errlen)
{
	char accepted[128], shown[96];

	printable(value, shown, sizeof(shown));
	describe_accepted(knob, accepted, sizeof(accepted));
	snprintf(err, errlen, "%s='%s' %s: expected %s (see man 7 ucow)", knob->name, shown,
		 why, accepted);
	return -EINVAL;
}

int ucow_knob_set(struct ucow_config *cfg, const struct ucow_knob *knob, const char *value,
		  char *err, size_t errlen)
{
	char *field = (char *)cfg + knob->offset;
	uint64_t size;
	bool b;
	int r;

	switch (knob->type) {
	case UCOW_KNOB_BOOL:
		if (ucow_parse_bool(value, &b) < 0)
			return knob_error(knob, value, "is not valid", err, errlen);
		*(bool *)field = b;
		return 0;
	case UCOW_KNOB_SIZE:
		r = ucow_parse_size(value, &size);
		if (r == -ERANGE)
			return knob_error(knob, value, "is too large", err, errlen);
		if (r < 0)
			return knob_error(knob, value, "is not valid", err, errlen);
		*(uint64_t *)field = size;
		return 0;
	case UCOW_KNOB_ENUM:
		r = ucow_parse_enum(value, knob->choices);
		if (r < 0)
			return knob_error(knob, value, "is not valid", err, errlen);
		*(int *)field = r;
		return 0;
	case UCOW_KNOB_STRING:
		if (value[0] == '\0')
			return knob_error(knob, value, "is empty", err, errlen);
		if (strlen(value) >= UCOW_STATS_PATH_MAX)
			return knob_error(knob, value, "is too long", err, errlen);
		strcpy(field, value);
		return 0;
	}
	return -EINVAL;
}

const struct ucow_knob *ucow_knob_find(const char *name)
{
	for (const struct ucow_knob *k = ucow_knobs; k->name; k++)
		if (strcmp(k->name, name) == 0)
			return k;
	return NULL;
}

const struct ucow_knob *ucow_config_first_bad(ucow_getenv_fn get, const char **value)
{
	struct ucow_config scratch;
	char err[8];

	ucow_config_defaults(&scratch);
	for (const struct ucow_knob *k = ucow_knobs; k->name; k++) {
		const char *v = get(k->name);

		if (v && ucow_knob_set(&scratch, k, v, err, sizeof(err)) < 0) {
			*value = v;
			return k;
		}
	}
	return NULL;
}

void ucow_config_defaults(struct ucow_config *cfg)
{
	char err[8];

	memset(cfg, 0, sizeof(*cfg));
	for (const struct ucow_knob *k = ucow_knobs; k->name; k++)
		if (k->def[0])
			ucow_knob_set(cfg, k, k->def, err, sizeof(err));
}

int ucow_config_parse(struct ucow_config *cfg, ucow_getenv_fn get, char *err, size_t errlen)
{
	ucow_config_defaults(cfg);
	for (const struct ucow_knob *k = ucow_knobs; k->name; k++) {
		const char *v = get(k->name);
		int r;

		if (!v)
			continue;
		r = ucow_knob_set(cfg, k, v, err, errlen);
		if (r < 0)
			return r;
	}
	return 0;
}

/* config.h: ucow's knobs (UCOW_* environment variables), parsed once and strictly. */
#ifndef UCOW_CONFIG_H
#define UCOW_CONFIG_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum ucow_shmem_mode {
	UCOW_SHMEM_ZERO = 0,
	UCOW_SHMEM_WRITE,
	UCOW_SHMEM_OFF,
};

#define UCOW_STATS_PATH_MAX 512

struct ucow_config {
	bool disable;
	int shmem_holes;		/* enum ucow_shmem_mode */
	bool lazy_memset;
	uint64_t lazy_memset_min;	/* bytes */
	uint64_t fault_around;		/* bytes; 0 = one page */
	bool pins;
	bool seccomp;
	bool user_mode_only;
	bool idle_poll;
	bool local_wake;
	char stats[UCOW_STATS_PATH_MAX];	/* "" = off, "stderr", or a path */
	int log_level;			/* enum ucow_log_level */
};

enum ucow_knob_type {
	UCOW_KNOB_BOOL,
	UCOW_KNOB_SIZE,
	UCOW_KNOB_ENUM,
	UCOW_KNOB_STRING,
};

struct ucow_knob {
	const char *name;
	enum ucow_knob_type type;
	size_t offset;			/* into struct ucow_config */
	const char *const *choices;	/* UCOW_KNOB_ENUM: NULL-terminated */
	const char *def;		/* the default, as a user would write it */
	const char *help;
};

/* The table of every knob, NULL-terminated by name. */
extern const struct ucow_knob ucow_knobs[];

/* The process's configuration, filled by ucow_config_load() at start-up. */
extern struct ucow_config ucow_cfg;
/* True once the configuration is valid and UCOW_DISABLE is off (set once, at start-up). */
extern atomic_bool ucow_enabled;

typedef const char *(*ucow_getenv_fn)(const char *name);

void ucow_config_defaults(struct ucow_config *cfg);

/*
 * Parses every knob through @get (getenv in the library). Returns 0, or -EINVAL with a
 * one-line reason in @err naming the knob, the value and what is accepted.
 */
int ucow_config_parse(struct ucow_config *cfg, ucow_getenv_fn get, char *err, size_t errlen);

/* Parses one value of one knob into @cfg; same return as ucow_config_parse(). */
int ucow_knob_set(struct ucow_config *cfg, const struct ucow_knob *knob, const char *value,
		  char *err, size_t errlen);

const struct ucow_knob *ucow_knob_find(const char *name);

/* The first knob whose value in @get does not parse (the one ucow_config_parse reports),
 * with that value in @value, or NULL when all parse. */
const struct ucow_knob *ucow_config_first_bad(ucow_getenv_fn get, const char **value);

/* "4096", "64K", "2M", "1G" (also k/m/g, KiB/MiB/GiB); 0 or -EINVAL / -ERANGE. */
int ucow_parse_size(const char *s, uint64_t *out);

/* on|off, 1|0, yes|no, true|false; 0 or -EINVAL. */
int ucow_parse_bool(const char *s, bool *out);

/* Index of @s in the NULL-terminated @choices, or -EINVAL. */
int ucow_parse_enum(const char *s, const char *const *choices);

#endif

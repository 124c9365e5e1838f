/* init.c: the library's start-up (knobs parsed once, next symbols resolved) and exit
 * (the stats object). Nothing else happens until the first managed region. */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "fork.h"
#include "handler.h"
#include "interpose.h"
#include "live.h"
#include "log.h"
#include "policy.h"
#include "procfs.h"
#include "stats_report.h"

extern char **environ;

static const char *env(const char *name)
{
	return getenv(name);
}

static void warn_unknown_knobs(void)
{
	char name[64];

	for (char **e = environ; e && *e; e++) {
		const char *eq = strchr(*e, '=');
		size_t len = eq ? (size_t)(eq - *e) : strlen(*e);

		if (strncmp(*e, "UCOW_", 5) != 0 || len >= sizeof(name))
			continue;
		memcpy(name, *e, len);
		name[len] = '\0';
		if (!ucow_knob_find(name))
			ucow_warn("config", "unknown knob %s ignored (see man 7 ucow)", name);
	}
}

/*
 * Whether the parent process runs ucow with the same bad value: then it said so already, and
 * a shell script running five programs says it once, not five times. The environment stays
 * the program's (no marker is passed down). A parent whose /proc files this process cannot
 * read (another user) counts as not having said it.
 */
static bool parent_said_it(void)
{
	const struct ucow_knob *k;
	const char *value;

	k = ucow_config_first_bad(env, &value);
	return k && procfs_parent_said("/libucow.so", NULL, k->name, value);
}

__attribute__((constructor)) static void ucow_init(void)
{
	char err[256];

	interpose_resolve();
	fork_init();
	if (ucow_config_parse(&ucow_cfg, env, err, sizeof(err)) < 0) {
		ucow_config_defaults(&ucow_cfg);
		if (!parent_said_it())
			ucow_error("config", "%s; running unmanaged", err);
		return;
	}
	ucow_log_level = ucow_cfg.log_level;
	if (ucow_cfg.disable)
		return;
	warn_unknown_knobs();
	ucow_enabled = true;
	stats_own();
	live_format = stats_format_live;
	/* Before the program can drop privileges: the file stays writable through its mapping. */
	stats_file_start(false);
	for_each_policy(pp)
		if ((*pp)->init)
			(*pp)->init();
}

__attribute__((destructor)) static void ucow_fini(void)
{
	stats_at_exit();
}

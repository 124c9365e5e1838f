/* init.c: the library's start-up (knobs parsed once, next symbols resolved) and exit
 * (the stats object). Nothing else happens until the first managed region. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "engine.h"
#include "handler.h"
#include "interpose.h"
#include "lazy_memset.h"
#include "log.h"
#include "stats.h"
#include "trap.h"

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

__attribute__((constructor)) static void ucow_init(void)
{
	char err[256];

	interpose_resolve();
	fork_init();
	if (ucow_config_parse(&ucow_cfg, env, err, sizeof(err)) < 0) {
		ucow_config_defaults(&ucow_cfg);
		ucow_error("config", "%s; running unmanaged", err);
		return;
	}
	ucow_log_level = ucow_cfg.log_level;
	if (ucow_cfg.disable)
		return;
	warn_unknown_knobs();
	ucow_enabled = true;
	trap_init();
	lazy_memset_init();
}

__attribute__((destructor)) static void ucow_fini(void)
{
	if (!ucow_enabled)
		return;
	/* The last fault's counters are bumped after its thread was woken. */
	handler_barrier();
	engine_account(0, UINTPTR_MAX);
	ucow_stats_write();
}

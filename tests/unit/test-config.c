/* test-config.c: CUnit tests of the knob table and its strict parsers (src/config.c):
 * every class of bad input is refused with a message naming knob, value and what is accepted. */
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "unit.h"

#include "config.h"
#include "log.h"

#define KiB (UINT64_C(1) << 10)
#define MiB (UINT64_C(1) << 20)
#define GiB (UINT64_C(1) << 30)
#define TiB (UINT64_C(1) << 40)

/* Records a check in CUnit with a message that says what went wrong, with values. */
#define CHECK(cond, ...) check_that((cond), __LINE__, __VA_ARGS__)

static void __attribute__((format(printf, 3, 4))) check_that(bool ok, int line,
							      const char *fmt, ...)
{
	char msg[1024];
	va_list ap;

	if (ok) {
		CU_assertImplementation(CU_TRUE, line, "", __FILE__, "", CU_FALSE);
		return;
	}
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	CU_assertImplementation(CU_FALSE, line, msg, __FILE__, "", CU_FALSE);
}

/* @s with control characters made visible, for messages (four rotating buffers). */
static const char *esc(const char *s)
{
	static char bufs[4][1200];
	static int next;
	char *out = bufs[next++ % 4];
	size_t n = 0;

	for (; *s && n < sizeof(bufs[0]) - 5; s++) {
		if ((unsigned char)*s < 0x20)
			n += (size_t)sprintf(out + n, "\\x%02x", (unsigned char)*s);
		else
			out[n++] = *s;
	}
	out[n] = '\0';
	return out;
}

static const char *const bad_sizes[] = {
	"", " ", "abc", "K", "M", "-1", "-0", "+1", " 1", "1 ", "1\n", "1\t", "0x10", "1.5M",
	"1,000", "1e6", "1KB", "1MB", "1Kb", "1KK", "1MK", "1Ki", "1Gi", "1B", "1P", "1PiB",
	"1 K", "1K ", "12Q", "one", "1_000", "１", NULL,
};

static const char *const too_large_sizes[] = {
	"18446744073709551616", "99999999999999999999999", "17179869184G", "16777216T",
	"16777216TiB", "18014398509481984K", "17592186044416M", NULL,
};

static const char *const bad_bools[] = {
	"", " ", "2", "-1", "o", "onn", "of", "offf", " on", "on ", "on\n", "y", "n", "t", "f",
	"enable", "disable", "enabled", "none", "00", "01", "10", "yes please", "truee", NULL,
};

static void test_size_good(void)
{
	static const struct {
		const char *s;
		uint64_t v;
	} cases[] = {
		{ "0", 0 }, { "1", 1 }, { "4096", 4096 }, { "007", 7 },
		{ "64K", 64 * KiB }, { "64k", 64 * KiB }, { "64KiB", 64 * KiB },
		{ "2M", 2 * MiB }, { "2m", 2 * MiB }, { "2MiB", 2 * MiB },
		{ "1G", GiB }, { "1g", GiB }, { "1GiB", GiB }, { "3T", 3 * TiB }, { "3TiB", 3 * TiB },
		{ "0K", 0 }, { "0G", 0 },
		{ "16777215T", UINT64_C(16777215) * TiB },
		{ "17179869183G", UINT64_C(17179869183) * GiB },
		{ "1844674407370955160", UINT64_C(1844674407370955160) },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		uint64_t v = 12345;
		int r = ucow_parse_size(cases[i].s, &v);

		CHECK(r == 0 && v == cases[i].v, "parse_size(\"%s\") = %d, %llu; want 0, %llu",
		      cases[i].s, r, (unsigned long long)v, (unsigned long long)cases[i].v);
	}
}

static void test_size_bad(void)
{
	for (int i = 0; bad_sizes[i]; i++) {
		uint64_t v = 12345;
		int r = ucow_parse_size(bad_sizes[i], &v);

		CHECK(r == -EINVAL, "parse_size(\"%s\") = %d, want -EINVAL", esc(bad_sizes[i]), r);
		CHECK(v == 12345, "parse_size(\"%s\") changed its output", esc(bad_sizes[i]));
	}
	CU_ASSERT_EQUAL(ucow_parse_size(NULL, &(uint64_t){ 0 }), -EINVAL);
}

static void test_size_overflow(void)
{
	for (int i = 0; too_large_sizes[i]; i++) {
		uint64_t v = 12345;
		int r = ucow_parse_size(too_large_sizes[i], &v);

		CHECK(r == -ERANGE, "parse_size(\"%s\") = %d, want -ERANGE", too_large_sizes[i], r);
		CHECK(v == 12345, "parse_size(\"%s\") changed its output", too_large_sizes[i]);
	}
}

static void test_bool(void)
{
	static const char *const yes[] = { "on", "1", "yes", "true", "ON", "On", "YES", "True", NULL };
	static const char *const no[] = { "off", "0", "no", "false", "OFF", "No", "FALSE", NULL };

	for (int i = 0; yes[i]; i++) {
		bool b = false;

		CU_ASSERT_EQUAL(ucow_parse_bool(yes[i], &b), 0);
		CU_ASSERT_TRUE(b);
	}
	for (int i = 0; no[i]; i++) {
		bool b = true;

		CU_ASSERT_EQUAL(ucow_parse_bool(no[i], &b), 0);
		CU_ASSERT_FALSE(b);
	}
	for (int i = 0; bad_bools[i]; i++) {
		bool b = true;
		int r = ucow_parse_bool(bad_bools[i], &b);

		CHECK(r == -EINVAL && b, "parse_bool(\"%s\") = %d, want -EINVAL", esc(bad_bools[i]), r);
	}
}

static void test_enum(void)
{
	static const char *const choices[] = { "zero", "write", "off", NULL };
	static const char *const bad[] = {
		"", " ", "zeros", "zer", "none", "0", "1", "on", "zero ", " zero", "zero,write",
		"write\n", "w", "z", "of", NULL,
	};

	CU_ASSERT_EQUAL(ucow_parse_enum("zero", choices), 0);
	CU_ASSERT_EQUAL(ucow_parse_enum("write", choices), 1);
	CU_ASSERT_EQUAL(ucow_parse_enum("off", choices), 2);
	/* Case is not significant, as for booleans and size units. */
	CU_ASSERT_EQUAL(ucow_parse_enum("ZERO", choices), 0);
	CU_ASSERT_EQUAL(ucow_parse_enum("Write", choices), 1);
	for (int i = 0; bad[i]; i++) {
		int r = ucow_parse_enum(bad[i], choices);

		CHECK(r == -EINVAL, "parse_enum(\"%s\") = %d, want -EINVAL", esc(bad[i]), r);
	}
}

static void test_table(void)
{
	static const char *const design_knobs[] = {
		"UCOW_DISABLE", "UCOW_SHMEM_HOLES", "UCOW_LAZY_MEMSET", "UCOW_LAZY_MEMSET_MIN",
		"UCOW_FAULT_AROUND", "UCOW_PINS", "UCOW_SECCOMP", "UCOW_USER_MODE_ONLY",
		"UCOW_IDLE_POLL", "UCOW_STATS", "UCOW_LOG", NULL,
	};
	int n = 0;

	for (const struct ucow_knob *k = ucow_knobs; k->name; k++, n++) {
		struct ucow_config cfg;
		char err[256] = "";

		CU_ASSERT_EQUAL(strncmp(k->name, "UCOW_", 5), 0);
		CU_ASSERT_PTR_NOT_NULL(k->help);
		CU_ASSERT_PTR_NOT_NULL(k->def);
		if (k->help)
			CU_ASSERT(strlen(k->help) > 0);
		CU_ASSERT_PTR_EQUAL(ucow_knob_find(k->name), k);
		CU_ASSERT_EQUAL(k->type == UCOW_KNOB_ENUM, k->choices != NULL);
		for (const struct ucow_knob *o = k + 1; o->name; o++)
			CU_ASSERT(strcmp(k->name, o->name) != 0);
		/* Every default is itself a valid value (an empty default means "unset"). */
		ucow_config_defaults(&cfg);
		if (k->def && k->def[0]) {
			int r = ucow_knob_set(&cfg, k, k->def, err, sizeof(err));

			CHECK(r == 0, "the default of %s is refused: %s", k->name, err);
		}
	}
	/* The knobs DESIGN.md names are all there. */
	for (int i = 0; design_knobs[i]; i++)
		CU_ASSERT_PTR_NOT_NULL(ucow_knob_find(design_knobs[i]));
	CU_ASSERT(n >= 10);
	CU_ASSERT_PTR_NULL(ucow_knob_find("UCOW_NOPE"));
	CU_ASSERT_PTR_NULL(ucow_knob_find("ucow_disable"));
	CU_ASSERT_PTR_NULL(ucow_knob_find(""));
	CU_ASSERT_PTR_NULL(ucow_knob_find("UCOW_"));
	CU_ASSERT_PTR_NULL(ucow_knob_find("UCOW_DISABLED"));
}

static void test_defaults(void)
{
	struct ucow_config cfg;

	memset(&cfg, 0xa5, sizeof(cfg));
	ucow_config_defaults(&cfg);
	CU_ASSERT_FALSE(cfg.disable);
	CU_ASSERT_EQUAL(cfg.shmem_holes, UCOW_SHMEM_ZERO);
	CU_ASSERT_FALSE(cfg.lazy_memset);
	CU_ASSERT_EQUAL(cfg.lazy_memset_min, MiB);
	CU_ASSERT_EQUAL(cfg.fault_around, 2 * MiB);
	CU_ASSERT_TRUE(cfg.pins);
	CU_ASSERT_FALSE(cfg.seccomp);
	CU_ASSERT_FALSE(cfg.user_mode_only);
	CU_ASSERT_FALSE(cfg.idle_poll);
	CU_ASSERT_STRING_EQUAL(cfg.stats, "");
	CU_ASSERT_EQUAL(cfg.log_level, UCOW_LOG_WARN);
}

/* A fake environment for ucow_config_parse(): a NULL-terminated list of NAME=VALUE. */
static const char *const *fake_env;
static char asked[32][64];
static int n_asked;

static const char *fake_getenv(const char *name)
{
	size_t len = strlen(name);

	if (n_asked < 32)
		snprintf(asked[n_asked++], sizeof(asked[0]), "%s", name);
	for (int i = 0; fake_env && fake_env[i]; i++)
		if (strncmp(fake_env[i], name, len) == 0 && fake_env[i][len] == '=')
			return fake_env[i] + len + 1;
	return NULL;
}

static int parse_env(const char *const *env, struct ucow_config *cfg, char *err, size_t len)
{
	fake_env = env;
	n_asked = 0;
	err[0] = '\0';
	return ucow_config_parse(cfg, fake_getenv, err, len);
}

static void test_parse_empty_env(void)
{
	static const char *const env[] = { "PATH=/bin", "UCOW_UNKNOWN=whatever", NULL };
	struct ucow_config cfg, def;
	char err[256];
	int knobs = 0;

	ucow_config_defaults(&def);
	memset(&cfg, 0x5a, sizeof(cfg));
	CU_ASSERT_EQUAL(parse_env(env, &cfg, err, sizeof(err)), 0);
	CU_ASSERT_EQUAL(memcmp(&cfg, &def, sizeof(cfg)), 0);
	/* Every knob was asked for, once, and nothing else. */
	for (const struct ucow_knob *k = ucow_knobs; k->name; k++) {
		int seen = 0;

		for (int i = 0; i < n_asked; i++)
			seen += strcmp(asked[i], k->name) == 0;
		CU_ASSERT_EQUAL(seen, 1);
		knobs++;
	}
	CU_ASSERT_EQUAL(n_asked, knobs);
}

static void test_parse_all_set(void)
{
	static const char *const env[] = {
		"UCOW_DISABLE=yes", "UCOW_SHMEM_HOLES=write", "UCOW_LAZY_MEMSET=on",
		"UCOW_LAZY_MEMSET_MIN=64K", "UCOW_FAULT_AROUND=0", "UCOW_PINS=off",
		"UCOW_SECCOMP=1", "UCOW_USER_MODE_ONLY=true", "UCOW_IDLE_POLL=on",
		"UCOW_STATS=/tmp/ucow-stats.json", "UCOW_LOG=debug", NULL,
	};
	struct ucow_config cfg;
	char err[256];

	CU_ASSERT_EQUAL(parse_env(env, &cfg, err, sizeof(err)), 0);
	CU_ASSERT_TRUE(cfg.disable);
	CU_ASSERT_EQUAL(cfg.shmem_holes, UCOW_SHMEM_WRITE);
	CU_ASSERT_TRUE(cfg.lazy_memset);
	CU_ASSERT_EQUAL(cfg.lazy_memset_min, 64 * KiB);
	CU_ASSERT_EQUAL(cfg.fault_around, 0);
	CU_ASSERT_FALSE(cfg.pins);
	CU_ASSERT_TRUE(cfg.seccomp);
	CU_ASSERT_TRUE(cfg.user_mode_only);
	CU_ASSERT_TRUE(cfg.idle_poll);
	CU_ASSERT_STRING_EQUAL(cfg.stats, "/tmp/ucow-stats.json");
	CU_ASSERT_EQUAL(cfg.log_level, UCOW_LOG_DEBUG);

	{
		static const char *const env2[] = { "UCOW_SHMEM_HOLES=off", "UCOW_STATS=stderr",
						    "UCOW_LOG=error", NULL };

		CU_ASSERT_EQUAL(parse_env(env2, &cfg, err, sizeof(err)), 0);
		CU_ASSERT_EQUAL(cfg.shmem_holes, UCOW_SHMEM_OFF);
		CU_ASSERT_STRING_EQUAL(cfg.stats, "stderr");
		CU_ASSERT_EQUAL(cfg.log_level, UCOW_LOG_ERROR);
		/* A second parse starts again from the defaults. */
		CU_ASSERT_FALSE(cfg.disable);
		CU_ASSERT_EQUAL(cfg.fault_around, 2 * MiB);
	}
}

/* Checks that @err is one line naming @knob, quoting @value, and saying what is accepted. */
static void check_message(const char *err, const char *knob, const char *value,
			  const char *accepted)
{
	char quoted[1024];

	snprintf(quoted, sizeof(quoted), "%s='%s'", knob, value);
	CHECK(strstr(err, "expected") && strstr(err, accepted),
	      "message \"%s\" should say \"expected\" and \"%s\"", esc(err), accepted);
	/* The value as given (a value may itself hold quotes or control characters, and then
	 * only needs to be recognisable), and never a line break: the line stays one line. */
	if (!strpbrk(value, "\n\r\t\x1b'"))
		CHECK(strncmp(err, quoted, strlen(quoted)) == 0,
		      "message \"%s\" should start with \"%s\"", err, quoted);
	else
		CHECK(strncmp(err, knob, strlen(knob)) == 0,
		      "message \"%s\" should start with %s", esc(err), knob);
	CHECK(!strchr(err, '\n') && !strchr(err, '\r'),
	      "message for %s=\"%s\" is not one line: \"%s\"", knob, esc(value), esc(err));
}

static void expect_refused(const char *knob, const char *value, const char *accepted)
{
	char line[600];
	const char *env[] = { line, NULL };
	struct ucow_config cfg;
	char err[1024];
	int r;

	snprintf(line, sizeof(line), "%s=%s", knob, value);
	r = parse_env(env, &cfg, err, sizeof(err));
	CHECK(r == -EINVAL, "%s accepted (%d)", esc(line), r);
	check_message(err, knob, value, accepted);
}

static void test_parse_bad_values(void)
{
	static const char *const bool_knobs[] = { "UCOW_DISABLE", "UCOW_LAZY_MEMSET", "UCOW_PINS",
						  "UCOW_SECCOMP", "UCOW_USER_MODE_ONLY",
						  "UCOW_IDLE_POLL", NULL };
	static const char *const size_knobs[] = { "UCOW_LAZY_MEMSET_MIN", "UCOW_FAULT_AROUND",
						  NULL };

	for (int k = 0; bool_knobs[k]; k++)
		for (int i = 0; bad_bools[i]; i++)
			expect_refused(bool_knobs[k], bad_bools[i], "on or off");
	for (int k = 0; size_knobs[k]; k++) {
		for (int i = 0; bad_sizes[i]; i++)
			expect_refused(size_knobs[k], bad_sizes[i], "64K");
		for (int i = 0; too_large_sizes[i]; i++)
			expect_refused(size_knobs[k], too_large_sizes[i], "64K");
	}
	expect_refused("UCOW_SHMEM_HOLES", "bogus", "zero, write or off");
	expect_refused("UCOW_SHMEM_HOLES", "", "zero, write or off");
	expect_refused("UCOW_SHMEM_HOLES", "on", "zero, write or off");
	expect_refused("UCOW_SHMEM_HOLES", "zero ", "zero, write or off");
	expect_refused("UCOW_LOG", "loud", "error, warn, info or debug");
	expect_refused("UCOW_LOG", "3", "error, warn, info or debug");
	expect_refused("UCOW_LOG", "warning", "error, warn, info or debug");
	expect_refused("UCOW_STATS", "", "stderr");
}

static void test_parse_too_large_says_so(void)
{
	static const char *const env[] = { "UCOW_FAULT_AROUND=99999999999999999999T", NULL };
	struct ucow_config cfg;
	char err[256];

	CU_ASSERT_EQUAL(parse_env(env, &cfg, err, sizeof(err)), -EINVAL);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "too large"));
}

static void test_parse_long_path(void)
{
	static char line[UCOW_STATS_PATH_MAX + 64];
	const char *env[] = { line, NULL };
	struct ucow_config cfg;
	char err[2048];
	size_t n = strlen("UCOW_STATS=");

	memcpy(line, "UCOW_STATS=", n);
	memset(line + n, 'a', UCOW_STATS_PATH_MAX);
	line[n + UCOW_STATS_PATH_MAX] = '\0';
	CU_ASSERT_EQUAL(parse_env(env, &cfg, err, sizeof(err)), -EINVAL);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "UCOW_STATS="));
	/* One byte shorter fits. */
	line[n + UCOW_STATS_PATH_MAX - 1] = '\0';
	CU_ASSERT_EQUAL(parse_env(env, &cfg, err, sizeof(err)), 0);
	CU_ASSERT_EQUAL(strlen(cfg.stats), UCOW_STATS_PATH_MAX - 1);
}

static void test_parse_first_bad_reported(void)
{
	/* Two bad knobs: one message, about one of them, and a failure. */
	static const char *const env[] = { "UCOW_LOG=loud", "UCOW_SHMEM_HOLES=bogus", NULL };
	struct ucow_config cfg;
	char err[256];

	CU_ASSERT_EQUAL(parse_env(env, &cfg, err, sizeof(err)), -EINVAL);
	CU_ASSERT((strstr(err, "UCOW_LOG='loud'") != NULL) !=
		  (strstr(err, "UCOW_SHMEM_HOLES='bogus'") != NULL));
}

static void test_first_bad_matches_parse(void)
{
	/* The knob ucow_config_first_bad names is the one the parse error names. */
	static const char *const env[] = { "UCOW_LOG=loud", "UCOW_SHMEM_HOLES=bogus", NULL };
	static const char *const good[] = { "UCOW_LOG=info", NULL };
	const struct ucow_knob *k;
	const char *value = NULL;
	struct ucow_config cfg;
	char err[256], want[128];

	CU_ASSERT_EQUAL(parse_env(env, &cfg, err, sizeof(err)), -EINVAL);
	k = ucow_config_first_bad(fake_getenv, &value);
	CU_ASSERT_PTR_NOT_NULL_FATAL(k);
	snprintf(want, sizeof(want), "%s='%s'", k->name, value);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, want));
	fake_env = good;
	CU_ASSERT_PTR_NULL(ucow_config_first_bad(fake_getenv, &value));
}

static void test_small_error_buffer(void)
{
	static const char *const env[] = { "UCOW_SHMEM_HOLES=a-rather-long-bogus-value", NULL };
	struct ucow_config cfg;
	char buf[32];

	/* The message is cut to the buffer, never written past it. */
	memset(buf, 'X', sizeof(buf));
	fake_env = env;
	CU_ASSERT_EQUAL(ucow_config_parse(&cfg, fake_getenv, buf, 16), -EINVAL);
	CU_ASSERT_EQUAL(strlen(buf), 15);
	for (size_t i = 16; i < sizeof(buf); i++)
		CU_ASSERT_EQUAL(buf[i], 'X');
}

static void test_bad_value_leaves_field(void)
{
	struct ucow_config cfg;
	char err[256];

	ucow_config_defaults(&cfg);
	for (const struct ucow_knob *k = ucow_knobs; k->name; k++) {
		struct ucow_config before = cfg;

		CU_ASSERT_EQUAL(ucow_knob_set(&cfg, k, k->type == UCOW_KNOB_STRING ? "" : "bogus!",
					      err, sizeof(err)), -EINVAL);
		CU_ASSERT_EQUAL(memcmp(&before, &cfg, sizeof(cfg)), 0);
	}
}

int main(void)
{
	static const struct unit_test tests[] = {
		{ "sizes: good values and units", test_size_good },
		{ "sizes: garbage, signs, spaces, junk", test_size_bad },
		{ "sizes: overflow", test_size_overflow },
		{ "booleans", test_bool },
		{ "enumerations", test_enum },
		{ "knob table", test_table },
		{ "defaults", test_defaults },
		{ "parse: empty environment", test_parse_empty_env },
		{ "parse: every knob set", test_parse_all_set },
		{ "parse: bad values name knob, value, accepted", test_parse_bad_values },
		{ "parse: too large says so", test_parse_too_large_says_so },
		{ "parse: long stats path", test_parse_long_path },
		{ "parse: first bad knob reported", test_parse_first_bad_reported },
		{ "parse: small error buffer", test_small_error_buffer },
		{ "first bad knob: the one the parse reports", test_first_bad_matches_parse },
		{ "bad value leaves the field", test_bad_value_leaves_field },
	};

	return UNIT_RUN("config", tests);
}

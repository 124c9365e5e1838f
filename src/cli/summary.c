/* summary.c: adds up the one-line JSON objects that UCOW_STATS collects (one per process)
 * and prints the short human summary of `ucow run --stats`. */
#include <errno.h>
#include <inttypes.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "live_abi.h"

/*
 * A small JSON walker, enough for ucow's own stats lines: every scalar is handed to the
 * visitor with its dotted path ("engine.faults"), so key order and unknown keys (later
 * policies) do not matter.
 */
enum json_kind { JSON_STRING, JSON_NUMBER, JSON_BOOL, JSON_NULL };

struct json_scalar {
	enum json_kind kind;
	const char *str;	/* JSON_STRING */
	double num;		/* JSON_NUMBER, and JSON_BOOL as 0 or 1 */
};

typedef void (*json_visit_fn)(void *ctx, const char *path, const struct json_scalar *v);

#define JSON_MAX_DEPTH 8
#define JSON_PATH_MAX 128
#define JSON_STRING_MAX 256

struct json_walk {
	const char *p;
	json_visit_fn visit;
	void *ctx;
	char path[JSON_PATH_MAX];
};

static void skip_space(struct json_walk *w)
{
	while (*w->p == ' ' || *w->p == '\t' || *w->p == '\n' || *w->p == '\r')
		w->p++;
}

/* Copies a string (w->p at its opening quote) into @out, truncating; escapes other than
 * the simple ones become '?', which is all a summary needs. */
static int parse_string(struct json_walk *w, char *out, size_t size)
{
	size_t n = 0;

	if (*w->p != '"')
		return -1;
	for (w->p++; *w->p != '"'; w->p++) {
		char c = *w->p;

		if (c == '\0')
			return -1;
		if (c == '\\') {
			c = *++w->p;
			switch (c) {
			case 'n': c = '\n'; break;
			case 't': c = '\t'; break;
			case '"': case '\\': case '/': break;
			case 'u':
				for (int i = 0; i < 4; i++)
					if (!w->p[1 + i])
						return -1;
				w->p += 4;
				c = '?';
				break;
			case '\0':
				return -1;
			default:
				c = '?';
			}
		}
		if (n + 1 < size)
			out[n++] = c;
	}
	w->p++;
	out[n] = '\0';
	return 0;
}

static int parse_value(struct json_walk *w, int depth);

static int parse_object(struct json_walk *w, int depth)
{
	size_t base = strlen(w->path);
	char key[JSON_PATH_MAX];

	w->p++;
	skip_space(w);
	if (*w->p == '}') {
		w->p++;
		return 0;
	}
	for (;;) {
		skip_space(w);
		if (parse_string(w, key, sizeof(key)) < 0)
			return -1;
		skip_space(w);
		if (*w->p++ != ':')
			return -1;
		snprintf(w->path + base, sizeof(w->path) - base, "%s%s", base ? "." : "", key);
		if (parse_value(w, depth + 1) < 0)
			return -1;
		w->path[base] = '\0';
		skip_space(w);
		if (*w->p == ',') {
			w->p++;
			continue;
		}
		if (*w->p == '}') {
			w->p++;
			return 0;
		}
		return -1;
	}
}

/* Arrays are walked for well-formedness; their elements are not summed. */
static int parse_array(struct json_walk *w, int depth)
{
	json_visit_fn visit = w->visit;
	int r = 0;

	w->visit = NULL;
	w->p++;
	skip_space(w);
	if (*w->p == ']') {
		w->p++;
		goto out;
	}
	for (;;) {
		r = parse_value(w, depth + 1);
		if (r < 0)
			goto out;
		skip_space(w);
		if (*w->p == ',') {
			w->p++;
			continue;
		}
		r = *w->p == ']' ? 0 : -1;
		w->p++;
		goto out;
	}
out:
	w->visit = visit;
	return r;
}

static int parse_value(struct json_walk *w, int depth)
{
	char str[JSON_STRING_MAX];
	struct json_scalar v = { 0 };
	char *end;

	if (depth > JSON_MAX_DEPTH)
		return -1;
	skip_space(w);
	switch (*w->p) {
	case '{':
		return parse_object(w, depth);
	case '[':
		return parse_array(w, depth);
	case '"':
		if (parse_string(w, str, sizeof(str)) < 0)
			return -1;
		v.kind = JSON_STRING;
		v.str = str;
		break;
	case 't':
	case 'f':
	case 'n':
		if (strncmp(w->p, "true", 4) == 0) {
			v = (struct json_scalar){ .kind = JSON_BOOL, .num = 1 };
			w->p += 4;
		} else if (strncmp(w->p, "false", 5) == 0) {
			v = (struct json_scalar){ .kind = JSON_BOOL, .num = 0 };
			w->p += 5;
		} else if (strncmp(w->p, "null", 4) == 0) {
			v.kind = JSON_NULL;
			w->p += 4;
		} else {
			return -1;
		}
		break;
	default:
		v.kind = JSON_NUMBER;
		v.num = strtod(w->p, &end);
		if (end == w->p)
			return -1;
		w->p = end;
	}
	if (w->visit)
		w->visit(w->ctx, w->path, &v);
	return 0;
}

static int json_walk_object(const char *text, json_visit_fn visit, void *ctx)
{
	struct json_walk w = { .p = text, .visit = visit, .ctx = ctx };

	skip_space(&w);
	if (*w.p != '{' || parse_value(&w, 0) < 0)
		return -1;
	skip_space(&w);
	return *w.p == '\0' ? 0 : -1;
}

static uint64_t as_count(const struct json_scalar *v)
{
	return v->kind == JSON_NUMBER && v->num > 0 ? (uint64_t)v->num : 0;
}

struct stats_line {
	struct ucow_stats_total sum;	/* this line alone */
	bool has_pid;
};

static void visit_stats(void *ctx, const char *path, const struct json_scalar *v)
{
	struct stats_line *line = ctx;
	struct ucow_stats_total *t = &line->sum;
	static const struct {
		const char *path;
		size_t offset;
	} counters[] = {
#define COUNTER(p, field) { p, offsetof(struct ucow_stats_total, field) }
		COUNTER("engine.regions", regions),
		COUNTER("engine.register_failed", register_failed),
		COUNTER("engine.faults", faults),
		COUNTER("engine.unknown_faults", unknown_faults),
		COUNTER("engine.poisoned", poisoned),
		COUNTER("engine.fallbacks", fallbacks),
		COUNTER("shmem_holes.regions", shmem_regions),
		COUNTER("shmem_holes.faults_read", shmem_faults_read),
		COUNTER("shmem_holes.faults_write", shmem_faults_write),
		COUNTER("shmem_holes.pages_zero_mapped", pages_zero_mapped),
		COUNTER("shmem_holes.pages_filled_private", pages_filled_private),
		COUNTER("shmem_holes.pagecache_pages_avoided", pagecache_pages_avoided),
		COUNTER("shmem_holes.pagecache_pages_filled", pagecache_pages_filled),
		COUNTER("shmem_holes.bytes_saved", shmem_bytes_saved),
		COUNTER("refpage.regions", refpage_regions),
		COUNTER("refpage.faults_read", refpage_faults),
		COUNTER("refpage.faults_write", refpage_faults),
		COUNTER("refpage.pages_filled", refpage_pages_filled),
		COUNTER("refpage.bytes_filled_eagerly", refpage_eager_bytes),
		COUNTER("lazy_memset.deferred_calls", lazy_deferred_calls),
		COUNTER("lazy_memset.pages_deferred", lazy_pages_deferred),
		COUNTER("lazy_memset.pages_touched", lazy_pages_touched),
		COUNTER("lazy_memset.bytes_saved", lazy_bytes_saved),
		COUNTER("pins.known", pins_known),
		COUNTER("pins.liburing", pins_liburing),
		COUNTER("pins.raw", pins_raw),
		COUNTER("pins.api", pins_api),
		COUNTER("pins.fork_copied_pages", pins_fork_copied_pages),
#undef COUNTER
	};

	if (strcmp(path, "pid") == 0 && v->kind == JSON_NUMBER) {
		t->pid = (long)v->num;
		line->has_pid = true;
	} else if (strcmp(path, "comm") == 0 && v->kind == JSON_STRING) {
		snprintf(t->comm, sizeof(t->comm), "%s", v->str);
	} else if (strcmp(path, "managed") == 0 && v->kind == JSON_BOOL) {
		t->managed = v->num != 0;
	} else if (strcmp(path, "uffd") == 0 && v->kind == JSON_STRING) {
		if (strcmp(v->str, "full") == 0)
			t->uffd_full = 1;
		else if (strcmp(v->str, "user-mode-only") == 0)
			t->uffd_user_only = 1;
		else if (strcmp(v->str, "none") == 0)
			t->uffd_none = 1;
		else
			t->uffd_unused = 1;
	} else if (strcmp(path, "shmem_holes.mode") == 0 && v->kind == JSON_STRING) {
		snprintf(t->shmem_mode, sizeof(t->shmem_mode), "%s", v->str);
	} else if (strcmp(path, "shmem_holes.private_bytes") == 0) {
		t->private_bytes += as_count(v);
	} else if (strcmp(path, "shmem_holes.untouched_bytes") == 0) {
		t->untouched_bytes += as_count(v);
	} else {
		for (size_t i = 0; i < sizeof(counters) / sizeof(counters[0]); i++)
			if (strcmp(path, counters[i].path) == 0)
				*(uint64_t *)((char *)t + counters[i].offset) += as_count(v);
	}
}

int ucow_stats_parse(const char *text, struct ucow_stats_total *one)
{
	struct stats_line line = { 0 };

	if (json_walk_object(text, visit_stats, &line) < 0 || !line.has_pid)
		return -1;
	*one = line.sum;
	return 0;
}

/* The figures of @s added to @t's: the counters, not the process's description. */
static void add_figures(struct ucow_stats_total *t, const struct ucow_stats_total *s)
{
	if (s->shmem_mode[0])
		memcpy(t->shmem_mode, s->shmem_mode, sizeof(t->shmem_mode));
	t->regions += s->regions;
	t->register_failed += s->register_failed;
	t->faults += s->faults;
	t->unknown_faults += s->unknown_faults;
	t->poisoned += s->poisoned;
	t->fallbacks += s->fallbacks;
	t->shmem_regions += s->shmem_regions;
	t->shmem_faults_read += s->shmem_faults_read;
	t->shmem_faults_write += s->shmem_faults_write;
	t->pages_zero_mapped += s->pages_zero_mapped;
	t->pages_filled_private += s->pages_filled_private;
	t->pagecache_pages_avoided += s->pagecache_pages_avoided;
	t->pagecache_pages_filled += s->pagecache_pages_filled;
	t->private_bytes += s->private_bytes;
	t->untouched_bytes += s->untouched_bytes;
	t->shmem_bytes_saved += s->shmem_bytes_saved;
	t->refpage_regions += s->refpage_regions;
	t->refpage_faults += s->refpage_faults;
	t->refpage_pages_filled += s->refpage_pages_filled;
	t->refpage_eager_bytes += s->refpage_eager_bytes;
	t->lazy_deferred_calls += s->lazy_deferred_calls;
	t->lazy_pages_deferred += s->lazy_pages_deferred;
	t->lazy_pages_touched += s->lazy_pages_touched;
	t->lazy_bytes_saved += s->lazy_bytes_saved;
	t->pins_known += s->pins_known;
	t->pins_liburing += s->pins_liburing;
	t->pins_raw += s->pins_raw;
	t->pins_api += s->pins_api;
	t->pins_fork_copied_pages += s->pins_fork_copied_pages;
}

void ucow_stats_add(struct ucow_stats_total *t, const struct ucow_stats_total *s)
{
	/* Name the command itself (exec keeps its pid), else whoever reported first. */
	if (t->processes++ == 0 || (s->pid == t->command_pid && t->pid != t->command_pid)) {
		t->pid = s->pid;
		memcpy(t->comm, s->comm, sizeof(t->comm));
	}
	t->managed += s->managed != 0;
	t->uffd_full += s->uffd_full != 0;
	t->uffd_user_only += s->uffd_user_only != 0;
	t->uffd_none += s->uffd_none != 0;
	t->uffd_unused += s->uffd_unused != 0;
	t->signalled += s->signalled;
	t->running += s->running;
	add_figures(t, s);
}

void ucow_stats_add_image(struct ucow_stats_total *s, const struct ucow_stats_total *later)
{
	unsigned long used = later->uffd_full || later->uffd_user_only || later->uffd_none;

	/* The image that used a userfaultfd (or tried) describes the process best. */
	if (used || !(s->uffd_full || s->uffd_user_only || s->uffd_none)) {
		s->uffd_full = later->uffd_full;
		s->uffd_user_only = later->uffd_user_only;
		s->uffd_none = later->uffd_none;
		s->uffd_unused = later->uffd_unused;
	}
	s->managed = s->managed || later->managed;
	s->pid = later->pid;
	memcpy(s->comm, later->comm, sizeof(s->comm));
	add_figures(s, later);
}

void ucow_stats_add_line(struct ucow_stats_total *t, const char *text)
{
	struct ucow_stats_total one;

	if (ucow_stats_parse(text, &one) < 0) {
		t->malformed++;
		return;
	}
	ucow_stats_add(t, &one);
}

int ucow_stats_read_file(struct ucow_stats_total *t, const char *path)
{
	FILE *f = fopen(path, "re");
	char *line = NULL;
	size_t cap = 0;
	ssize_t n;

	if (!f)
		return -errno;
	while ((n = getline(&line, &cap, f)) >= 0) {
		while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
			line[--n] = '\0';
		if (n > 0)
			ucow_stats_add_line(t, line);
	}
	free(line);
	fclose(f);
	return 0;
}

/* "256.0 MiB", or KiB below one MiB so that small savings do not read as nothing. */
static const char *human(uint64_t bytes, char *buf, size_t size)
{
	if (bytes < 1024 * 1024)
		snprintf(buf, size, "%.1f KiB", (double)bytes / 1024.0);
	else
		snprintf(buf, size, "%.1f MiB", (double)bytes / (1024.0 * 1024.0));
	return buf;
}

static const char *plural(uint64_t n, const char *one, const char *many)
{
	return n == 1 ? one : many;
}

/* The userfaultfd modes seen, such as "full" or "full, none". */
static void describe_uffd(const struct ucow_stats_total *t, char *buf, size_t size)
{
	const struct {
		unsigned long n;
		const char *name;
	} modes[] = {
		{ t->uffd_full, "full" },
		{ t->uffd_user_only, "user-mode-only" },
		{ t->uffd_none, "none" },
		{ t->uffd_unused, "unused" },
	};
	size_t len = 0;

	buf[0] = '\0';
	for (size_t i = 0; i < sizeof(modes) / sizeof(modes[0]); i++) {
		if (!modes[i].n || len >= size)
			continue;
		if (t->processes > 1)
			len += snprintf(buf + len, size - len, "%s%s in %lu", len ? ", " : "",
					modes[i].name, modes[i].n);
		else
			len += snprintf(buf + len, size - len, "%s%s", len ? ", " : "",
					modes[i].name);
	}
	if (!buf[0])
		snprintf(buf, size, "not reported");
}

void ucow_stats_print(const struct ucow_stats_total *t, FILE *out, const char *prefix)
{
	const uint64_t page = (uint64_t)sysconf(_SC_PAGESIZE);
	uint64_t ucow_bytes, kernel_bytes;
	char uffd[128], a[32], b[32];

	if (t->processes == 0) {
		fprintf(out, "%sno process reported statistics (none are written by "
			"a process that is statically linked or setuid, or clears "
			"LD_PRELOAD)%s\n", prefix,
			t->malformed ? "; the stats file held only malformed lines" : "");
		return;
	}
	describe_uffd(t, uffd, sizeof(uffd));
	if (t->processes == 1)
		fprintf(out, "%s%s (pid %ld): %s, userfaultfd %s\n", prefix,
			t->comm[0] ? t->comm : "?", t->pid,
			t->managed ? "managed" : "not managed", uffd);
	else
		fprintf(out, "%s%lu processes (%s, pid %ld, and %lu more), %lu managed; "
			"userfaultfd %s\n", prefix, t->processes, t->comm[0] ? t->comm : "?", t->pid,
			t->processes - 1, t->managed, uffd);
	if (t->malformed)
		fprintf(out, "%s%lu malformed %s ignored\n", prefix, t->malformed,
			plural(t->malformed, "line", "lines"));
	if (t->signalled)
		fprintf(out, "%s%lu %s ended by a signal: %s as of %s last refresh (every "
			"%d ms while managing memory)\n", prefix, t->signalled,
			plural(t->signalled, "process", "processes"),
			plural(t->signalled, "its figures", "their figures"),
			plural(t->signalled, "its", "their"), UCOW_STATS_REFRESH_MS);
	if (t->running)
		fprintf(out, "%s%lu %s still running: %s as of now\n", prefix, t->running,
			plural(t->running, "process", "processes"),
			plural(t->running, "its figures", "their figures"));
	if (t->regions == 0 && t->faults == 0) {
		if (t->uffd_none)
			fprintf(out, "%snothing was managed: no userfaultfd could be "
				"opened ('ucow features' says why and how to fix it)\n", prefix);
		else
			fprintf(out, "%sno memory was managed (ucow manages MAP_PRIVATE "
				"mappings of tmpfs and memfd files, reference pages and, with "
				"UCOW_LAZY_MEMSET=on, large memsets; see man 7 ucow)\n", prefix);
		return;
	}
	fprintf(out, "%s%" PRIu64 " %s managed, %" PRIu64 " %s resolved\n", prefix,
		t->regions, plural(t->regions, "region", "regions"), t->faults,
		plural(t->faults, "fault", "faults"));
	if (t->shmem_regions || t->shmem_faults_read || t->shmem_faults_write)
		fprintf(out, "%sshmem holes (mode %s): %" PRIu64 " %s, %" PRIu64
			" %s; %" PRIu64 " %s zero-mapped, %" PRIu64 " filled privately\n", prefix,
			t->shmem_mode[0] ? t->shmem_mode : "?",
			t->shmem_faults_write, plural(t->shmem_faults_write, "write", "writes"),
			t->shmem_faults_read, plural(t->shmem_faults_read, "read", "reads"),
			t->pages_zero_mapped, plural(t->pages_zero_mapped, "page", "pages"),
			t->pages_filled_private);
	if (t->refpage_regions || t->refpage_faults)
		fprintf(out, "%sreference pages: %" PRIu64 " %s, %" PRIu64 " %s, %" PRIu64
			" pages filled on first touch, %s filled when mapped (no userfaultfd)\n", prefix,
			t->refpage_regions, plural(t->refpage_regions, "region", "regions"),
			t->refpage_faults, plural(t->refpage_faults, "fault", "faults"),
			t->refpage_pages_filled, human(t->refpage_eager_bytes, a, sizeof(a)));
	if (t->lazy_deferred_calls)
		fprintf(out, "%slazy memset: %" PRIu64 " %s deferred over %" PRIu64
			" pages, %" PRIu64 " filled on first touch; %s never written\n", prefix,
			t->lazy_deferred_calls, plural(t->lazy_deferred_calls, "memset", "memsets"),
			t->lazy_pages_deferred, t->lazy_pages_touched,
			human(t->lazy_bytes_saved, a, sizeof(a)));
	if (t->pins_known || t->pins_fork_copied_pages)
		fprintf(out, "%spins: %" PRIu64 " %s known at exit (%" PRIu64
			" liburing, %" PRIu64 " raw io_uring_register, %" PRIu64 " ucow_pin), %"
			PRIu64 " pinned pages copied for fork children\n", prefix, t->pins_known,
			plural(t->pins_known, "range", "ranges"), t->pins_liburing, t->pins_raw,
			t->pins_api, t->pins_fork_copied_pages);
	if (t->register_failed || t->fallbacks || t->poisoned || t->unknown_faults)
		fprintf(out, "%s%" PRIu64 " registrations failed, %" PRIu64
			" ranges handed back to the kernel, %" PRIu64 " pages poisoned, %" PRIu64
			" unknown faults\n", prefix, t->register_failed, t->fallbacks, t->poisoned,
			t->unknown_faults);
	if (!t->shmem_regions)
		return;
	/*
	 * Each page written in a hole costs the kernel a page-cache page and a private copy,
	 * ucow only the copy; a read of a hole costs the kernel a page-cache page, ucow (zero
	 * mode) nothing. Writes to zero pages mapped by fault-around never reach ucow, so its
	 * own memory is what the library measured as each mapping went (private_bytes); the
	 * kernel's has no pages ucow filled ahead that were never touched (untouched_bytes).
	 */
	fprintf(out, "%spage cache avoided: %s", prefix,
		human(t->shmem_bytes_saved, a, sizeof(a)));
	ucow_bytes = t->private_bytes + t->pagecache_pages_filled * page;
	kernel_bytes = ucow_bytes + t->shmem_bytes_saved -
		       (t->untouched_bytes < ucow_bytes ? t->untouched_bytes : ucow_bytes);
	fprintf(out, "; the kernel would have spent %s, ucow %s\n",
		human(kernel_bytes, a, sizeof(a)), human(ucow_bytes, b, sizeof(b)));
}

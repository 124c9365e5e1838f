/* log.h: ucow's one-line diagnostics on stderr, each naming the part of ucow that speaks. */
#ifndef UCOW_LOG_H
#define UCOW_LOG_H

enum ucow_log_level {
	UCOW_LOG_ERROR = 0,
	UCOW_LOG_WARN,
	UCOW_LOG_INFO,
	UCOW_LOG_DEBUG,
};

extern int ucow_log_level;

/* Writes "ucow: PART: message\n" to fd 2 with one write(2); never allocates, so the
 * handler thread may call it. */
void ucow_log(int level, const char *part, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

#define ucow_error(part, ...) ucow_log(UCOW_LOG_ERROR, part, __VA_ARGS__)
#define ucow_warn(part, ...) ucow_log(UCOW_LOG_WARN, part, __VA_ARGS__)
#define ucow_info(part, ...) ucow_log(UCOW_LOG_INFO, part, __VA_ARGS__)
#define ucow_debug(part, ...)                                                  \
	do {                                                                   \
		if (ucow_log_level >= UCOW_LOG_DEBUG)                          \
			ucow_log(UCOW_LOG_DEBUG, part, __VA_ARGS__);           \
	} while (0)

/*
 * Where a line goes: the program's standard error. A thread with a descriptor table of its
 * own (the handler's) borrows the program's descriptor 2 for each line (keeping one would
 * hold the program's pipe open); NULL hooks write to STDERR_FILENO.
 */
struct ucow_log_sink {
	int (*borrow)(void);		/* a descriptor to write to, or -1 */
	void (*give_back)(int fd);
};
extern struct ucow_log_sink ucow_log_sink;

#endif

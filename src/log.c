/* log.c: formats and writes ucow's diagnostic lines without touching malloc or stdio. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "log.h"

int ucow_log_level = UCOW_LOG_WARN;
struct ucow_log_sink ucow_log_sink;

void ucow_log(int level, const char *part, const char *fmt, ...)
{
	char line[512];
	int saved_errno = errno;
	int n, m, fd;
	va_list ap;

	if (level > ucow_log_level)
		return;
	n = snprintf(line, sizeof(line), "ucow: %s: ", part);
	if (n < 0 || n >= (int)sizeof(line))
		goto out;
	va_start(ap, fmt);
	m = vsnprintf(line + n, sizeof(line) - n - 1, fmt, ap);
	va_end(ap);
	if (m < 0)
		goto out;
	n += m;
	if (n > (int)sizeof(line) - 2)
		n = sizeof(line) - 2;
	line[n++] = '\n';
	fd = ucow_log_sink.borrow ? ucow_log_sink.borrow() : STDERR_FILENO;
	if (fd >= 0)
		while (write(fd, line, n) < 0 && errno == EINTR)
			;
	if (ucow_log_sink.give_back)
		ucow_log_sink.give_back(fd);
out:
	errno = saved_errno;
}

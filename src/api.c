/* api.c: the public functions of include/ucow.h that are not a policy's own. */
#include "cancel.h"
#include "stats_report.h"
#include "ucow.h"

#define EXPORT __attribute__((visibility("default")))

EXPORT const char *ucow_version(void)
{
	return PACKAGE_VERSION;
}

EXPORT long ucow_stats_json(char *buf, size_t size)
{
	UCOW_NO_CANCEL;
	return stats_format(buf, size);
}

/* refpage.h: reference pages (ucow_refpage_create): a refpage fd mapped MAP_PRIVATE becomes
 * private anonymous memory whose untouched pages read as the pattern. Its policy row says how. */
#ifndef UCOW_REFPAGE_H
#define UCOW_REFPAGE_H

#include "policy.h"

extern const struct ucow_policy ucow_refpage_policy;

#endif

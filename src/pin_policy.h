/* pin_policy.h: pin-aware COW (UCOW_PINS) as a row of the policy table: pinned pages stay
 * exclusive across fork, mprotect and the other policies' own fills. */
#ifndef UCOW_PIN_POLICY_H
#define UCOW_PIN_POLICY_H

#include "policy.h"

extern const struct ucow_policy ucow_pins_policy;

#endif

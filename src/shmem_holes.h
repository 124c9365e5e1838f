/* shmem_holes.h: MAP_PRIVATE mappings of shmem files (UCOW_SHMEM_HOLES), whose holes ucow fills
 * without filling the file. Everything else about them is in their policy row. */
#ifndef UCOW_SHMEM_HOLES_H
#define UCOW_SHMEM_HOLES_H

#include "policy.h"

extern const struct ucow_policy ucow_shmem_holes_policy;

#endif

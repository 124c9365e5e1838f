/* pace.h: how long the handler thread watches for the next fault after serving some: long
 * enough to catch a program that faults at a steady pace, never on a CPU others want. */
#ifndef UCOW_PACE_H
#define UCOW_PACE_H

#include <stdbool.h>
#include <stdint.h>

/* A batch was served: the gap to the next message starts now. */
void pace_served(void);
/* A message came, watched for or slept on: the gap is noted. */
void pace_message(void);
/* How long to watch now, in nanoseconds. */
uint64_t pace_spin_ns(void);
/*
 * In the watch, between two looks at *@last (sys_now_ns(), updated): whether this thread
 * lost its CPU meanwhile. Then another task wants it, and the watch stops; watches stay
 * short until one goes by undisturbed.
 */
bool pace_preempted(uint64_t *last);
/* A watch ended undisturbed (a message, or the time was up). */
void pace_undisturbed(void);

#endif

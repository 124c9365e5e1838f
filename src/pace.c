/* pace.c: how long the handler thread watches for the next fault after serving some. A
 * sleeping handler costs a wake-up on its CPU and the faulting thread's (tens of
 * microseconds each in a VM without halt polling), so a program that faults at a steady pace
 * is watched for a little longer than its pace; never on a CPU another task wants. Handler
 * thread only. */
#include "pace.h"
#include "sys.h"

#define SPIN_MIN_NS 50000	/* after any batch: a sequential toucher comes back sooner */
#define SPIN_MAX_NS 250000	/* a pace slower than this is not watched for */
#define GAPS 4			/* the pace is the longest of the last few gaps */
/* Two looks at the clock this far apart in a watch: the thread was not running between. */
#define PREEMPTED_NS 20000

static struct {
	uint64_t served_at;	/* 0: no gap being measured */
	uint64_t gaps[GAPS];
	unsigned int n;
	bool contended;		/* the last watch was cut short by another task */
} pace;

void pace_served(void)
{
	pace.served_at = sys_now_ns();
}

void pace_message(void)
{
	if (!pace.served_at)
		return;
	pace.gaps[pace.n++ % GAPS] = sys_now_ns() - pace.served_at;
	pace.served_at = 0;
}

uint64_t pace_spin_ns(void)
{
	uint64_t longest = 0;

	if (pace.contended || pace.n < GAPS)
		return SPIN_MIN_NS;
	for (unsigned int i = 0; i < GAPS; i++)
		if (pace.gaps[i] > longest)
			longest = pace.gaps[i];
	if (longest > SPIN_MAX_NS)
		return SPIN_MIN_NS;
	longest += longest / 2;
	return longest < SPIN_MIN_NS ? SPIN_MIN_NS : longest > SPIN_MAX_NS ? SPIN_MAX_NS : longest;
}

bool pace_preempted(uint64_t *last)
{
	uint64_t now = sys_now_ns();
	bool lost = now - *last > PREEMPTED_NS;

	*last = now;
	if (lost)
		pace.contended = true;
	return lost;
}

void pace_undisturbed(void)
{
	pace.contended = false;
}

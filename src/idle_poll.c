/* idle_poll.c: while a burst of faults is served, a CPU latency request of 0 (PM QoS,
 * /dev/cpu_dma_latency) keeps idle CPUs polling instead of halting (UCOW_IDLE_POLL=on). */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "fdtable.h"
#include "idle_poll.h"
#include "log.h"

/*
 * A thread that faults sleeps in the kernel, and its CPU, idle, halts. In a VM that does not
 * poll before halting, the wake-up after the handler's answer costs the vCPU's exit and
 * re-entry: 14 us of a 16 us round trip here, measured (futex ping-pong across CPUs 30 us,
 * 8 us with the request held). A request of 0 us tells the cpuidle governor that no CPU may
 * take longer than that to wake, so idle CPUs poll and see the woken thread at once. It is
 * the whole machine's request, held only while the handler is awake and watching for the
 * next fault, and dropped before it sleeps: polling CPUs burn their time, and on a host
 * their power.
 */
#define CPU_LATENCY_DEVICE "/dev/cpu_dma_latency"
#define LATENCY_NONE 0			/* us: poll */
#define LATENCY_DEFAULT ((int32_t)-1)	/* PM_QOS_DEFAULT_VALUE: no constraint */

static struct {
	int fd;		/* the request, in the handler's table, or -1 */
	bool held;	/* 0 is written */
	bool warned;	/* a fork child says nothing again */
	bool tried;	/* inherited: a fork child whose parent tried says it at info level */
} poll_req = { .fd = -1 };

static void say_once(const char *why, int err)
{
	if (poll_req.warned)
		return;
	poll_req.warned = true;
	/* A child of a parent that dropped its privileges (a pre-forking server's workers)
	 * would each say what the parent could do: not every one of them on stderr. */
	ucow_log(poll_req.tried ? UCOW_LOG_INFO : UCOW_LOG_WARN, "idle-poll",
		 "UCOW_IDLE_POLL=on: %s%s%s; idle CPUs halt as without it", why, err ? ": " : "",
		 err ? strerror(err) : "");
}

/* The device, opened for the handler; -1 (and said why, once) if it cannot be. */
static int open_request(void)
{
	int fd;

	/* In the program's table, the program could close the number and open a file of its
	 * own under it, which would then get ucow's four bytes. */
	if (atomic_load(&handler_table.shared_table)) {
		say_once("the handler has no descriptor table of its own (seccomp forbids unshare)",
			 0);
		return -1;
	}
	fd = open(CPU_LATENCY_DEVICE, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		say_once(errno == EACCES || errno == EPERM ?
			 "cannot open " CPU_LATENCY_DEVICE " (it is root's)" :
			 "cannot open " CPU_LATENCY_DEVICE, errno);
	return fd;
}

void idle_poll_start(void)
{
	/* A fork child's copy of the parent's number is not in this table: not closed here. */
	poll_req.fd = -1;
	poll_req.held = false;
	if (!ucow_cfg.idle_poll)
		return;
	poll_req.fd = open_request();
	poll_req.tried = true;
}

static void request(int32_t us)
{
	if (write(poll_req.fd, &us, sizeof(us)) == (ssize_t)sizeof(us))
		return;
	say_once("cannot write " CPU_LATENCY_DEVICE, errno);
	close(poll_req.fd);	/* which drops the request, whatever it was */
	poll_req.fd = -1;
	poll_req.held = false;
}

void idle_poll_hold(void)
{
	if (poll_req.fd < 0 || poll_req.held)
		return;
	poll_req.held = true;
	request(LATENCY_NONE);
}

void idle_poll_release(void)
{
	if (poll_req.fd < 0 || !poll_req.held)
		return;
	poll_req.held = false;
	request(LATENCY_DEFAULT);
}

void idle_poll_stop(void)
{
	if (poll_req.fd < 0)
		return;
	close(poll_req.fd);
	poll_req.fd = -1;
	poll_req.held = false;
}

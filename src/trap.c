/* trap.c: the seccomp trap (UCOW_SECCOMP=on). liburing 2.3 issues io_uring_register with its
 * own syscall instruction, and some programs do too: only a filter sees those buffer
 * registrations. The filter raises SIGSYS for them; ucow's handler decodes the trapped call
 * and hands it to the pins (pin_ring.c), which make it (unsharing the buffers first) and learn
 * the pins. */
#include <dlfcn.h>
#include <errno.h>
#include <linux/capability.h>
#include <linux/io_uring.h>
#include <seccomp.h>
#include <signal.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <ucontext.h>
#include <unistd.h>

#include "compat.h"
#include "config.h"
#include "filter_probe.h"
#include "log.h"
#include "pin.h"
#include "pin_counters.h"
#include "pin_ring.h"
#include "trap.h"

/* io_uring, newer than the headers liburing ships (enums there: only a #define helps) */
#ifndef IORING_REGISTER_PBUF_RING
#define IORING_REGISTER_PBUF_RING 22
#define IORING_UNREGISTER_PBUF_RING 23
#endif

enum trap_state {
	TRAP_OFF,
	TRAP_WAITING,
	TRAP_ARMED,
	TRAP_REFUSED,
	TRAP_FAILED,
};

__thread int trap_in_liburing __attribute__((tls_model("initial-exec")));

static atomic_int state;		/* TRAP_OFF until arming was tried */
static atomic_flag arming = ATOMIC_FLAG_INIT;
static struct sigaction previous;
static atomic_bool handler_installed;

/* The register operations that pin or unpin buffers (CLONE_BUFFERS: 6.12). */
static const unsigned int trapped_ops[] = {
	IORING_REGISTER_BUFFERS, IORING_UNREGISTER_BUFFERS, IORING_REGISTER_BUFFERS2,
	IORING_REGISTER_BUFFERS_UPDATE, IORING_REGISTER_PBUF_RING, IORING_UNREGISTER_PBUF_RING,
	PIN_REGISTER_CLONE_BUFFERS,
};

/* The trapped call, made again with ucow's mark (pin_ring.h), which the filter lets through. */
static long register_call(void *ctx, int fd, unsigned int opcode, void *arg, unsigned int nr)
{
	return pin_ring_register_marked(fd, opcode, arg, nr);
}

/* SIGSYS that is not ours: to the handler the program had before, or the default action. */
static void pass_on(int sig, siginfo_t *si, void *uc)
{
	if ((previous.sa_flags & SA_SIGINFO) && previous.sa_sigaction) {
		previous.sa_sigaction(sig, si, uc);
		return;
	}
	if (previous.sa_handler != SIG_DFL && previous.sa_handler != SIG_IGN) {
		previous.sa_handler(sig);
		return;
	}
	/* An ignored SIGSYS stays ignored, unless a filter forced it (the kernel kills then). */
	if (previous.sa_handler == SIG_IGN && si->si_code != SYS_SECCOMP)
		return;
	signal(SIGSYS, SIG_DFL);
	raise(SIGSYS);
}

static void on_sigsys(int sig, siginfo_t *si, void *ucv)
{
	ucontext_t *uc = ucv;
	int saved_errno = errno;
	long ret;

	if (si->si_code != SYS_SECCOMP || si->si_syscall != SYS_io_uring_register) {
		pass_on(sig, si, ucv);
		return;
	}
	pin_count(PIN_TRAPPED, 1);
#if defined(__x86_64__)
	greg_t *r = uc->uc_mcontext.gregs;
	int fd = (int)r[REG_RDI];
	unsigned int op = (unsigned int)r[REG_RSI];
	void *arg = (void *)r[REG_RDX];
	unsigned int nr = (unsigned int)r[REG_R10];
#elif defined(__aarch64__)
	unsigned long long *r = uc->uc_mcontext.regs;
	int fd = (int)r[0];
	unsigned int op = (unsigned int)r[1];
	void *arg = (void *)r[2];
	unsigned int nr = (unsigned int)r[3];
#endif
	if (trap_in_liburing)	/* the interposed liburing function learns it */
		ret = pin_ring_register_marked(fd, op, arg, nr);
	else
		ret = pin_io_uring_register(fd, op, arg, nr, register_call, NULL, PIN_RAW);
#if defined(__x86_64__)
	r[REG_RAX] = ret;
#elif defined(__aarch64__)
	r[0] = (unsigned long long)ret;
#endif
	errno = saved_errno;
}

static int install_handler(void)
{
	struct sigaction sa;

	if (handler_installed)
		return 0;
	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = on_sigsys;
	sa.sa_flags = SA_SIGINFO | SA_RESTART;
	sigemptyset(&sa.sa_mask);
	if (sigaction(SIGSYS, &sa, &previous) < 0)
		return -errno;
	handler_installed = true;
	return 0;
}

static bool has_cap_sys_admin(void)
{
	struct __user_cap_header_struct hdr = { .version = _LINUX_CAPABILITY_VERSION_3 };
	struct __user_cap_data_struct data[2];

	if (syscall(SYS_capget, &hdr, data) < 0)
		return false;
	return data[CAP_SYS_ADMIN / 32].effective & (1u << (CAP_SYS_ADMIN % 32));
}

/* libseccomp, opened only when a trap is armed: a program that never arms one never loads it. */
static struct {
	scmp_filter_ctx (*init)(uint32_t def_action);
	int (*attr_set)(scmp_filter_ctx ctx, enum scmp_filter_attr attr, uint32_t value);
	int (*rule_add)(scmp_filter_ctx ctx, uint32_t action, int syscall, unsigned int arg_cnt, ...);
	int (*load)(scmp_filter_ctx ctx);
	void (*release)(scmp_filter_ctx ctx);
} scmp;

static int open_libseccomp(void)
{
	void *lib = dlopen("libseccomp.so.2", RTLD_NOW | RTLD_LOCAL);

	if (!lib)
		return -ELIBACC;	/* "cannot access a needed shared library" */
	scmp.init = (scmp_filter_ctx (*)(uint32_t))dlsym(lib, "seccomp_init");
	scmp.attr_set = (int (*)(scmp_filter_ctx, enum scmp_filter_attr, uint32_t))
			dlsym(lib, "seccomp_attr_set");
	scmp.rule_add = (int (*)(scmp_filter_ctx, uint32_t, int, unsigned int, ...))
			dlsym(lib, "seccomp_rule_add");
	scmp.load = (int (*)(scmp_filter_ctx))dlsym(lib, "seccomp_load");
	scmp.release = (void (*)(scmp_filter_ctx))dlsym(lib, "seccomp_release");
	if (!scmp.init || !scmp.attr_set || !scmp.rule_add || !scmp.load || !scmp.release)
		return -ELIBACC;	/* "cannot access a needed shared library" */
	return 0;
}

/*
 * Traps io_uring_register buffer operations not carrying ucow's mark; everything else,
 * other architectures' calls included, is allowed. Applies to every thread.
 */
static int load_filter(void)
{
	scmp_filter_ctx ctx;
	int ret = open_libseccomp();

	if (ret < 0)
		return ret;
	ctx = scmp.init(SCMP_ACT_ALLOW);

	if (!ctx)
		return -ENOMEM;
	/* Without CAP_SYS_ADMIN the kernel wants no_new_privs, which the caller checked. */
	ret = scmp.attr_set(ctx, SCMP_FLTATR_CTL_NNP, 0);
	if (ret == 0)
		ret = scmp.attr_set(ctx, SCMP_FLTATR_CTL_TSYNC, 1);
	if (ret == 0)
		ret = scmp.attr_set(ctx, SCMP_FLTATR_ACT_BADARCH, SCMP_ACT_ALLOW);
	for (size_t i = 0; ret == 0 && i < sizeof(trapped_ops) / sizeof(trapped_ops[0]); i++)
		ret = scmp.rule_add(ctx, SCMP_ACT_TRAP, SCMP_SYS(io_uring_register), 2,
				       SCMP_A1(SCMP_CMP_MASKED_EQ, 0x7fffffffu, trapped_ops[i]),
				       SCMP_A4(SCMP_CMP_NE, PIN_RING_OWN_CALL));
	if (ret == 0)
		ret = scmp.load(ctx);
	scmp.release(ctx);
	return ret;
}

/* The first call of the trap's own that the program's seccomp filter kills on, or -1. */
static int refused_by_filter(void)
{
	static const enum ucow_syscall used[] = {
		UCOW_SYS_CAPGET, UCOW_SYS_PRCTL, UCOW_SYS_RT_SIGACTION, UCOW_SYS_SECCOMP,
	};

	for (size_t i = 0; i < sizeof(used) / sizeof(used[0]); i++)
		if (!filter_allows(used[i]))
			return (int)used[i];
	return -1;
}

static void arm(void)
{
	int ret, sc = refused_by_filter();

	if (sc >= 0) {
		atomic_store(&state, TRAP_REFUSED);
		ucow_warn("seccomp", "UCOW_SECCOMP=on: not installing the trap: this process's "
			  "seccomp filter kills on %s, which it needs",
			  filter_syscall_name((enum ucow_syscall)sc));
		return;
	}
	if (!has_cap_sys_admin() && prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0) != 1) {
		atomic_store(&state, TRAP_REFUSED);
		ucow_warn("seccomp", "UCOW_SECCOMP=on: not installing the trap: without "
			  "CAP_SYS_ADMIN a filter needs no_new_privs, which would outlive exec and "
			  "strip set-user-ID programs of their privileges");
		return;
	}
#if !defined(__x86_64__) && !defined(__aarch64__)
	atomic_store(&state, TRAP_FAILED);
	ucow_warn("seccomp", "UCOW_SECCOMP=on: the trap is not implemented on this architecture");
	return;
#endif
	ret = install_handler();
	if (ret == 0)
		ret = load_filter();
	if (ret < 0) {
		atomic_store(&state, TRAP_FAILED);
		ucow_warn("seccomp", "UCOW_SECCOMP=on: cannot install the trap: %s; raw "
			  "io_uring_register calls stay unknown", strerror(-ret));
		return;
	}
	filter_note_own();
	atomic_store(&state, TRAP_ARMED);
	ucow_debug("seccomp", "trap armed on io_uring_register buffer operations");
}

void trap_arm(void)
{
	if (atomic_load_explicit(&state, memory_order_acquire) != TRAP_OFF)
		return;
	if (!ucow_cfg.seccomp || !pins_active() || atomic_flag_test_and_set(&arming))
		return;
	arm();
}

void trap_init(void)
{
	int filters;

	/*
	 * A filter left by an image before exec traps this one's calls from the start. Asked
	 * of /proc rather than prctl(PR_GET_SECCOMP): that filter may kill on prctl.
	 */
	if (ucow_cfg.seccomp && pins_active() && filter_mode(&filters) == 2)
		install_handler();
}

bool trap_may_signal(void)
{
	return handler_installed;
}

const char *trap_state(void)
{
	static const char *const names[] = { "off", "waiting", "armed", "refused", "failed" };
	int s = atomic_load_explicit(&state, memory_order_relaxed);

	if (s == TRAP_OFF && ucow_cfg.seccomp && pins_active())
		s = TRAP_WAITING;
	return names[s];
}

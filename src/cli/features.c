/* features.c: `ucow features`: can ucow manage memory here, and if not, why and how to
 * fix it. It asks the kernel the same questions the library asks at its first region. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "config.h"
#include "filter_probe.h"
#include "uffd.h"
#include "cli.h"

static const char features_usage[] =
	"Usage: ucow features\n"
	"Say whether ucow can manage memory on this machine, for this user and environment,\n"
	"and if not, why and how to fix it. Exit status 0 if it can, 1 if not.\n";

#define CAP_SYS_PTRACE_BIT 19

/* A one-line file such as a sysctl, without its newline; "" if it cannot be read. */
static void read_line(const char *path, char *buf, size_t size)
{
	FILE *f = fopen(path, "re");

	buf[0] = '\0';
	if (!f)
		return;
	if (fgets(buf, (int)size, f))
		buf[strcspn(buf, "\n")] = '\0';
	fclose(f);
}

static bool has_cap_sys_ptrace(void)
{
	FILE *f = fopen("/proc/self/status", "re");
	unsigned long long caps = 0;
	char line[256];

	if (!f)
		return false;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "CapEff: %llx", &caps) == 1)
			break;
	fclose(f);
	return caps & (1ULL << CAP_SYS_PTRACE_BIT);
}

static void show_syscall_access(void)
{
	int fd = filter_allows(UCOW_SYS_USERFAULTFD) ? (int)syscall(SYS_userfaultfd, O_CLOEXEC) : -2;
	char sysctl[32];

	if (fd == -2) {
		printf("  userfaultfd(2):       this process's seccomp filter kills on it\n");
	} else if (fd >= 0) {
		close(fd);
		printf("  userfaultfd(2):       permitted\n");
	} else {
		printf("  userfaultfd(2):       %s\n", strerror(errno));
	}
	read_line("/proc/sys/vm/unprivileged_userfaultfd", sysctl, sizeof(sysctl));
	printf("  vm.unprivileged_userfaultfd = %s (%s)\n", sysctl[0] ? sysctl : "?",
	       strcmp(sysctl, "1") == 0 ? "anyone may call userfaultfd(2)" :
	       strcmp(sysctl, "0") == 0 ? "only root or CAP_SYS_PTRACE may call userfaultfd(2)" :
	       "unknown");
	printf("  this process:         uid %u, CAP_SYS_PTRACE %s\n", (unsigned)geteuid(),
	       has_cap_sys_ptrace() ? "yes" : "no");
}

static void show_dev_access(void)
{
	struct stat st;
	int fd;

	if (stat("/dev/userfaultfd", &st) != 0) {
		printf("  /dev/userfaultfd:     absent (kernels before 6.1 have none)\n");
		return;
	}
	fd = open("/dev/userfaultfd", O_RDWR | O_CLOEXEC);
	if (fd >= 0)
		close(fd);
	printf("  /dev/userfaultfd:     mode %04o, owner %u, group %u; %s%s\n",
	       (unsigned)(st.st_mode & 07777), (unsigned)st.st_uid, (unsigned)st.st_gid,
	       fd >= 0 ? "this user can open it" : "this user cannot open it: ",
	       fd >= 0 ? "" : strerror(errno));
}

static bool is_required(uint64_t bit)
{
	return (UCOW_UFFD_REQUIRED & bit) != 0;
}

static void show_kernel_features(uint64_t features, bool known)
{
	printf("Kernel userfaultfd features%s:\n",
	       known ? "" : " (unknown: no userfaultfd could be opened at all)");
	if (!known)
		return;
	for (const struct ucow_uffd_feature *f = ucow_uffd_features; f->name; f++)
		printf("  %-16s %-9s %s%s\n", f->name,
		       features & f->bit ? "available" : "missing", f->use,
		       is_required(f->bit) ? " (required)" : "");
}

static void list_missing(uint64_t features, char *buf, size_t size)
{
	size_t n = 0;

	buf[0] = '\0';
	for (const struct ucow_uffd_feature *f = ucow_uffd_features; f->name && n < size; f++)
		if (is_required(f->bit) && !(features & f->bit))
			n += snprintf(buf + n, size - n, "%s%s", n ? ", " : "", f->name);
}

static void show_seccomp(void)
{
	char actions[256];
	int mode = prctl(PR_GET_SECCOMP, 0, 0, 0, 0);

	if (mode < 0 && errno == EINVAL) {
		printf("Seccomp: not in this kernel (CONFIG_SECCOMP); only UCOW_SECCOMP=on needs it\n");
		return;
	}
	read_line("/proc/sys/kernel/seccomp/actions_avail", actions, sizeof(actions));
	printf("Seccomp: available; this process %s; actions: %s\n",
	       mode == 0 ? "has no filter" : mode == 2 ? "already runs under a filter" :
	       "is in strict mode", actions[0] ? actions : "unknown");
	printf("  used only with UCOW_SECCOMP=on (raw io_uring_register calls)%s\n",
	       actions[0] && !strstr(actions, "trap") ? ", which needs the trap action" : "");
}

/* The machine's CPU latency request now (the smallest any process holds), if readable. */
static bool cpu_latency(int32_t *us)
{
	int fd = open("/dev/cpu_dma_latency", O_RDONLY | O_CLOEXEC);
	bool ok = fd >= 0 && read(fd, us, sizeof(*us)) == (ssize_t)sizeof(*us);

	if (fd >= 0)
		close(fd);
	return ok;
}

/*
 * What UCOW_IDLE_POLL would change here: how idle CPUs wait (a cpuidle governor that polls a
 * while before halting makes it moot) and whether this user may make the request.
 */
static void show_idle_cpus(bool asked)
{
	char driver[64], poll_ns[32], latency[16];
	int fd = open("/dev/cpu_dma_latency", O_WRONLY | O_CLOEXEC), open_errno = errno;
	int32_t held;

	read_line("/sys/devices/system/cpu/cpuidle/current_driver", driver, sizeof(driver));
	read_line("/sys/module/haltpoll/parameters/guest_halt_poll_ns", poll_ns, sizeof(poll_ns));
	printf("Idle CPUs: cpuidle driver %s", driver[0] ? driver : "none (the architecture's halt)");
	if (poll_ns[0])
		printf(", guest halt polling %s", strcmp(poll_ns, "0") ? "on" : "off");
	if (cpu_latency(&held))
		snprintf(latency, sizeof(latency), held == 2000000000 ? "none" : "%d us", (int)held);
	else
		snprintf(latency, sizeof(latency), "unknown");
	printf("; CPU latency request now: %s\n", latency);
	printf("  UCOW_IDLE_POLL=on (%s): %s\n", asked ? "set" : "not set",
	       fd >= 0 ? "this user may make the request" :
	       open_errno == ENOENT ? "no /dev/cpu_dma_latency in this kernel" :
	       "this user may not make the request (/dev/cpu_dma_latency is root's)");
	if (fd >= 0)
		close(fd);
}

static const char *env_get(const char *name)
{
	return getenv(name);
}

int ucow_cmd_features(int argc, char **argv)
{
	struct ucow_config cfg;
	enum ucow_uffd_mode mode = UCOW_UFFD_NONE;
	char why[512], err[256], lib[PATH_MAX], missing[256];
	const char *verdict = NULL;
	uint64_t features = 0;
	struct utsname uts;
	bool config_ok;
	int r;

	if (argc > 1) {
		if (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0) {
			fputs(features_usage, stdout);
			return 0;
		}
		fprintf(stderr, "ucow: features: unexpected argument '%s'; try 'ucow features "
			"--help'\n", argv[1]);
		return UCOW_EXIT_USAGE;
	}

	/* The library reads its knobs from the environment; so does this check. */
	config_ok = ucow_config_parse(&cfg, env_get, err, sizeof(err)) == 0;
	if (!config_ok)
		ucow_config_defaults(&cfg);

	if (uname(&uts) == 0)
		printf("ucow %s on Linux %s (%s)\n\n", PACKAGE_VERSION, uts.release, uts.machine);

	why[0] = '\0';
	/* Under a filter, learn first which calls are safe to try (says so on stderr if not). */
	filter_probe();
	r = uffd_probe(cfg.user_mode_only, &mode, &features, why, sizeof(why));
	printf("Userfaultfd: %s\n", mode == UCOW_UFFD_FULL ? "full" :
	       mode == UCOW_UFFD_USER_ONLY ? "user-mode-only" : "none");
	if (mode == UCOW_UFFD_USER_ONLY)
		printf("  managing with UCOW_USER_MODE_ONLY=on: a syscall that reads or writes "
		       "an untouched managed page fails with EFAULT\n");
	show_syscall_access();
	show_dev_access();
	putchar('\n');
	show_kernel_features(features, features != 0 || r == 0);
	list_missing(features, missing, sizeof(missing));
	if (features || r == 0)
		printf("  required features: %s%s\n", missing[0] ? "missing " : "all available",
		       missing);
	putchar('\n');
	show_seccomp();
	show_idle_cpus(config_ok && cfg.idle_poll);

	if (ucow_find_library(lib, sizeof(lib)) == 0)
		printf("Library: %s\n", lib);
	else
		printf("Library: libucow.so not found (looked in %s): 'ucow run' cannot work "
		       "until it is built or installed\n", lib);
	printf("Configuration: %s\n", !config_ok ? err :
	       cfg.disable ? "UCOW_DISABLE is on: the library does nothing" :
	       "the UCOW_* environment is valid");
	putchar('\n');

	if (!config_ok)
		verdict = "a UCOW_* variable is not valid (see above); programs would run "
			  "unmanaged. Fix or unset it";
	else if (cfg.disable)
		verdict = "UCOW_DISABLE is on. Unset it";
	else if (mode == UCOW_UFFD_NONE && r == -ENOSYS)
		verdict = "this kernel has no userfaultfd. Use a kernel built with "
			  "CONFIG_USERFAULTFD (5.11 or later for tmpfs and memfd)";
	else if (mode == UCOW_UFFD_NONE)
		verdict = why[0] ? why : "no userfaultfd could be opened";
	else if (r < 0)
		verdict = "the userfaultfd handshake (UFFDIO_API) failed";
	else if (missing[0])
		verdict = "the kernel lacks a required userfaultfd feature (see above). "
			  "Use Linux 5.11 or later";

	if (verdict) {
		printf("ucow cannot manage memory here: %s.\n", verdict);
		return 1;
	}
	printf("ucow can manage memory here%s.\n", mode == UCOW_UFFD_USER_ONLY ?
	       ", in user-mode-only mode (see the EFAULT note above)" : "");
	return 0;
}

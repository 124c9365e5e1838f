/* seccomp-run.c: runs a command as a container's seccomp profile would: system calls made to
 * fail with EPERM, as Docker's default profile does for userfaultfd (and, since 2023, for
 * io_uring). The filter outlives exec, so the command and its children live under it.
 *
 * usage: seccomp-run [--no-uffd] [--no-io-uring] [--deny NAME]... -- COMMAND [ARGS]
 *   --no-uffd      userfaultfd(2), and USERFAULTFD_IOC_NEW on /dev/userfaultfd
 *   --no-io-uring  io_uring_setup, io_uring_enter, io_uring_register
 * Exit: the command's; 125 bad usage or the filter could not be loaded; 127 exec failed.
 */
#include <errno.h>
#include <sys/ioctl.h>
#include <linux/userfaultfd.h>
#include <seccomp.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static int deny(scmp_filter_ctx ctx, const char *name)
{
	int nr = seccomp_syscall_resolve_name(name);

	if (nr == __NR_SCMP_ERROR) {
		fprintf(stderr, "seccomp-run: unknown system call '%s'\n", name);
		return -1;
	}
	return seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), nr, 0);
}

int main(int argc, char **argv)
{
	scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_ALLOW);
	int i, ret = 0;

	if (!ctx)
		return 125;
	for (i = 1; i < argc && ret == 0; i++) {
		if (!strcmp(argv[i], "--")) {
			i++;
			break;
		} else if (!strcmp(argv[i], "--no-uffd")) {
			ret = deny(ctx, "userfaultfd");
			if (ret == 0)
				ret = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), SCMP_SYS(ioctl), 1,
						       SCMP_A1(SCMP_CMP_EQ, USERFAULTFD_IOC_NEW));
		} else if (!strcmp(argv[i], "--no-io-uring")) {
			ret = deny(ctx, "io_uring_setup");
			if (ret == 0)
				ret = deny(ctx, "io_uring_enter");
			if (ret == 0)
				ret = deny(ctx, "io_uring_register");
		} else if (!strcmp(argv[i], "--deny") && i + 1 < argc) {
			ret = deny(ctx, argv[++i]);
		} else {
			ret = -1;
		}
	}
	if (ret < 0 || i >= argc) {
		fprintf(stderr, "usage: seccomp-run [--no-uffd] [--no-io-uring] [--deny NAME]... "
			"-- COMMAND [ARGS]\n");
		return 125;
	}
	ret = seccomp_load(ctx);
	seccomp_release(ctx);
	if (ret < 0) {
		fprintf(stderr, "seccomp-run: cannot load the filter: %s\n", strerror(-ret));
		return 125;
	}
	execvp(argv[i], argv + i);
	fprintf(stderr, "seccomp-run: %s: %s\n", argv[i], strerror(errno));
	return 127;
}

/* ucow.c: the ucow command: runs programs under libucow.so (`ucow run`), shows a running
 * one's live statistics (`ucow stat`), says whether ucow can work here (`ucow features`)
 * and lists its knobs (`ucow knobs`). */
#include <stdio.h>
#include <string.h>

#include "config.h"
#include "cli.h"

static const char usage[] =
	"Usage: ucow run [OPTIONS] [--] COMMAND [ARGS]\n"
	"       ucow stat [--json] [--watch SECONDS] PID...\n"
	"       ucow features\n"
	"       ucow knobs\n"
	"       ucow --help | --version\n"
	"\n"
	"ucow is a userland copy-on-write shim: it manages the memory of unmodified programs\n"
	"with userfaultfd, e.g. so that writing a MAP_PRIVATE memfd or tmpfs mapping costs\n"
	"one page per page written instead of two.\n"
	"\n"
	"  run       run COMMAND with libucow.so preloaded ('ucow run --help' for options)\n"
	"  stat      show what ucow saves in running processes, measured now\n"
	"  features  say whether ucow can manage memory here, and if not, how to fix it\n"
	"  knobs     list the UCOW_* environment variables with their defaults\n"
	"\n"
	"See ucow(1) and ucow(7).\n";

static int print_knobs(int argc, char **argv)
{
	if (argc > 1) {
		fprintf(stderr, "ucow: knobs: unexpected argument '%s'; try 'ucow --help'\n",
			argv[1]);
		return UCOW_EXIT_USAGE;
	}
	printf("%-22s %-8s %s\n", "KNOB", "DEFAULT", "MEANING");
	for (const struct ucow_knob *k = ucow_knobs; k->name; k++)
		printf("%-22s %-8s %s\n", k->name, k->def[0] ? k->def : "(unset)", k->help);
	printf("\nSet them in the environment or with 'ucow run' options; see ucow(7).\n");
	return 0;
}

static int finish(int status)
{
	/* A full disk or closed stdout must not pass for success. */
	if (fflush(stdout) != 0 || ferror(stdout)) {
		fprintf(stderr, "ucow: cannot write the output: %m\n");
		return status ? status : UCOW_EXIT_USAGE;
	}
	return status;
}

int main(int argc, char **argv)
{
	const char *cmd = argc > 1 ? argv[1] : NULL;

	if (!cmd) {
		fprintf(stderr, "ucow: no command given; try 'ucow --help'\n");
		return UCOW_EXIT_USAGE;
	}
	if (strcmp(cmd, "run") == 0)
		return ucow_cmd_run(argc - 1, argv + 1);
	if (strcmp(cmd, "stat") == 0)
		return finish(ucow_cmd_stat(argc - 1, argv + 1));
	if (strcmp(cmd, "features") == 0)
		return finish(ucow_cmd_features(argc - 1, argv + 1));
	if (strcmp(cmd, "knobs") == 0)
		return finish(print_knobs(argc - 1, argv + 1));
	if (strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0 || strcmp(cmd, "help") == 0) {
		fputs(usage, stdout);
		return finish(0);
	}
	if (strcmp(cmd, "--version") == 0 || strcmp(cmd, "-V") == 0) {
		printf("ucow %s\n", PACKAGE_VERSION);	/* build.h, included by the build */
		return finish(0);
	}
	if (cmd[0] == '-')
		fprintf(stderr, "ucow: unknown option '%s'; try 'ucow --help'\n", cmd);
	else
		fprintf(stderr, "ucow: unknown command '%s'; try 'ucow --help'\n", cmd);
	return UCOW_EXIT_USAGE;
}

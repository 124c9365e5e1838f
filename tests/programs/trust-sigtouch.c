/* trust-sigtouch.c: a 50 us interval timer whose SIGALRM handler reads a table in private
 * memory (trust-kinds.h: memfd, data, refpage or lazy), a new page each time, while the main
 * thread maps, touches and unmaps small memfd mappings, or forks, in a loop. Knows nothing
 * of ucow (test program).
 *
 * usage: trust-sigtouch KIND mapunmap|fork [-n ITERATIONS]
 * Prints one line; exit 0, 1 on a wrong byte, 2 on a setup error. */
#include <signal.h>
#include <sys/time.h>
#include <sys/wait.h>

#include "trust-kinds.h"

static int kind;
static unsigned char *table;
static size_t npages;
static volatile sig_atomic_t ticks;
static volatile sig_atomic_t wrong;

static void on_alarm(int sig)
{
	size_t pg = (size_t)ticks * 4099 % npages;
	int saved = errno;

	(void)sig;
	ticks++;
	if (table[pg * TK_PAGE + (size_t)ticks % TK_PAGE] != tk_expect(kind, pg))
		wrong++;
	errno = saved;
}

int main(int argc, char **argv)
{
	struct itimerval it = { { 0, 50 }, { 0, 50 } }, off = { { 0, 0 }, { 0, 0 } };
	struct sigaction sa = { .sa_handler = on_alarm, .sa_flags = SA_RESTART };
	int iterations = 2000, fork_mode, fd, small, c;
	size_t size;

	while ((c = getopt(argc, argv, "n:")) != -1) {
		if (c != 'n')
			return 2;
		iterations = atoi(optarg);
	}
	if (argc - optind != 2) {
		fprintf(stderr, "usage: trust-sigtouch KIND mapunmap|fork [-n N]\n");
		return 2;
	}
	kind = tk_parse(argv[optind]);
	fork_mode = strcmp(argv[optind + 1], "fork") == 0;
	if (!fork_mode && strcmp(argv[optind + 1], "mapunmap") != 0)
		return 2;
	size = kind == TK_LAZY ? 64UL << 20 : 256UL << 20;
	npages = size / TK_PAGE;
	fd = tk_fd(kind, size);
	table = tk_map(kind, fd, size);
	small = memfd_create("trust-sigtouch-small", MFD_CLOEXEC);
	if (table == MAP_FAILED || small < 0 || ftruncate(small, 16 * TK_PAGE) < 0) {
		perror("trust-sigtouch: setup");
		return 2;
	}
	sigemptyset(&sa.sa_mask);
	if (sigaction(SIGALRM, &sa, NULL) < 0 || setitimer(ITIMER_REAL, &it, NULL) < 0) {
		perror("trust-sigtouch: timer");
		return 2;
	}
	for (int i = 0; i < iterations; i++) {
		if (fork_mode) {
			pid_t pid = fork(), w;
			int status;

			if (pid == 0)
				_exit(table[(size_t)i % npages * TK_PAGE] == tk_expect(kind, (size_t)i % npages) ? 0 : 1);
			if (pid < 0) {
				perror("trust-sigtouch: fork");
				return 2;
			}
			while ((w = waitpid(pid, &status, 0)) < 0 && errno == EINTR)
				;
			if (w < 0 || !WIFEXITED(status) || WEXITSTATUS(status))
				wrong++;
		} else {
			unsigned char *p = mmap(NULL, 16 * TK_PAGE, PROT_READ | PROT_WRITE,
						MAP_PRIVATE, small, 0);

			if (p == MAP_FAILED) {
				perror("trust-sigtouch: mmap");
				return 2;
			}
			if (p[(size_t)i % 16 * TK_PAGE] != 0)
				wrong++;
			p[(size_t)(i + 7) % 16 * TK_PAGE] = 1;
			munmap(p, 16 * TK_PAGE);
		}
	}
	setitimer(ITIMER_REAL, &off, NULL);
	printf("sigtouch %s %s: %d iterations, %s\n", tk_names[kind], argv[optind + 1], iterations,
	       wrong ? "wrong bytes" : "0 wrong bytes");
	return wrong ? 1 : 0;
}

/* trust-clone.c: a child made with glibc's clone() and a new address space (as container
 * tools make them) reads the memory its parent memset or mapped from a reference page:
 * ucow has no call in such a child, so it must get the bytes before (issue 11, item 2). */
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#define LEN (32UL << 20)
#define STACK (256 << 10)

static unsigned char *mem;

static int child(void *arg)
{
	size_t wrong = 0;

	for (size_t i = 0; i < LEN; i += 4096)
		wrong += mem[i] != 0x5a || mem[i + 4095] != 0x5a;
	printf("clone child: %zu wrong pages\n", wrong);
	fflush(stdout);
	return wrong ? 1 : 0;
}

int main(void)
{
	char *stack = malloc(STACK);
	int status;
	pid_t pid;

	mem = mmap(NULL, LEN, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (mem == MAP_FAILED || !stack)
		return 2;
	memset(mem, 0x5a, LEN);
	mem[0] = 0x5a;
	pid = clone(child, stack + STACK, SIGCHLD, NULL);
	if (pid < 0 || waitpid(pid, &status, 0) != pid)
		return 2;
	printf("child exit %d\n", WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status));
	return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : 1;
}

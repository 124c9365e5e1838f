/* remap-race.c: threads map, check and unmap pattern memory as fast as they can, unmapping
 * with the raw system call, so that address ranges are reused while the kernel's unmap
 * notices are still on their way. Every fresh mapping must read its pattern.
 *
 * usage: remap-race [-t THREADS] [-r ROUNDS]
 * The pattern comes from ucow_refpage_create when the process has it (found with dlsym, as
 * under LD_PRELOAD=libucow.so), else from a memfd filled with it: the output is the same.
 * Output: "ok" and exit 0, or the first wrong byte and exit 1.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "pattern-source.h"

#define PAGE 4096UL
#define PAGES 16
#define PATTERN 0xa5

static int rounds = 2000;
static int pattern_fd;

static void *churn(void *arg)
{
	long id = (long)arg;

	for (int i = 0; i < rounds; i++) {
		volatile unsigned char *p = mmap(NULL, PAGES * PAGE, PROT_READ | PROT_WRITE,
						 MAP_PRIVATE, pattern_fd, 0);
		size_t at = (size_t)((i * 7 + id) % PAGES) * PAGE;

		if (p == MAP_FAILED) {
			perror("remap-race: mmap");
			exit(2);
		}
		if (p[at] != PATTERN || p[at + PAGE - 1] != PATTERN) {
			printf("thread %ld round %d: page %zu reads %#x, want %#x\n", id, i,
			       at / PAGE, p[at], PATTERN);
			exit(1);
		}
		p[at] = 0;	/* a private copy: the next mapping must not see it */
		syscall(SYS_munmap, (void *)p, PAGES * PAGE);
	}
	return NULL;
}

int main(int argc, char **argv)
{
	pthread_t tid[16];
	int threads = 4, opt;

	while ((opt = getopt(argc, argv, "t:r:")) != -1) {
		if (opt == 't')
			threads = atoi(optarg);
		else if (opt == 'r')
			rounds = atoi(optarg);
		else
			return 2;
	}
	if (threads < 1 || threads > 16 || rounds < 1)
		return 2;
	pattern_fd = pattern_source(PATTERN, PAGES, "remap-race");
	if (pattern_fd < 0) {
		perror("remap-race: pattern");
		return 2;
	}
	for (long t = 0; t < threads; t++)
		pthread_create(&tid[t], NULL, churn, (void *)t);
	for (int t = 0; t < threads; t++)
		pthread_join(tid[t], NULL);
	printf("ok\n");
	return 0;
}

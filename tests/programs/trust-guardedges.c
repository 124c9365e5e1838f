/* trust-guardedges.c: advice at the edges, over private anonymous memory memset to 0x5A and
 * barely touched (what lazy memset defers): process_madvise(2) guard installs with a bad
 * vector entry and with PIDFD_SELF, madvise guard installs that fail partway (over an
 * unmapped page, over a locked one), MADV_WIPEONFORK through process_madvise then fork, and
 * MADV_DONTFORK over pages made PROT_NONE. Prints what each leaves; knows nothing of ucow
 * (test program). Exit 0 (the output is the check), 2 on a setup error, 77 without guards. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

#define P 4096UL
#define PAGES 400UL
#define GUARD_INSTALL 102
#define GUARD_REMOVE 103
#define PIDFD_SELF_THREAD (-10000)
#define PIDFD_SELF_THREAD_GROUP (-10001)

static void *(*volatile do_memset)(void *, int, size_t) = memset;

static unsigned char *fresh(void)
{
	unsigned char *m = mmap(NULL, PAGES * P, PROT_READ | PROT_WRITE,
				MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (m == MAP_FAILED) {
		perror("trust-guardedges: mmap");
		_exit(2);
	}
	do_memset(m, 0x5a, PAGES * P);
	m[0] = 1;
	return m;
}

int main(void)
{
	int self = (int)syscall(SYS_pidfd_open, getpid(), 0), ret, err;
	unsigned char *m = fresh();
	struct iovec v[3];
	ssize_t r;
	pid_t child;

	setvbuf(stdout, NULL, _IONBF, 0);
	if (madvise(m + P, P, GUARD_INSTALL) < 0) {
		printf("no guard pages here (%s)\n", strerror(errno));
		return 77;
	}
	v[0] = (struct iovec){ m + 10 * P, 3 * P };
	v[1] = (struct iovec){ m + 50 * P + 8, 2 * P };	/* misaligned: the kernel stops */
	v[2] = (struct iovec){ m + 100 * P, P };
	r = process_madvise(self, v, 3, GUARD_INSTALL, 0);
	madvise(m + 10 * P, 3 * P, GUARD_REMOVE);
	madvise(m + 100 * P, P, GUARD_REMOVE);
	printf("bad vector entry: %zd; pages 10 and 100 read %d %d\n", r, m[10 * P], m[100 * P]);
	for (int pidfd = PIDFD_SELF_THREAD; pidfd >= PIDFD_SELF_THREAD_GROUP; pidfd--) {
		m = fresh();
		v[0] = (struct iovec){ m + 20 * P, 2 * P };
		r = process_madvise(pidfd, v, 1, GUARD_INSTALL, 0);
		madvise(m + 20 * P, 2 * P, GUARD_REMOVE);
		printf("pidfd %d: %zd; pages 20 and 22 read %d %d\n", pidfd, r, m[20 * P],
		       m[22 * P]);
	}
	m = fresh();
	munmap(m + 200 * P, P);
	ret = madvise(m + 190 * P, 20 * P, GUARD_INSTALL);
	err = errno;
	madvise(m + 190 * P, 10 * P, GUARD_REMOVE);
	madvise(m + 201 * P, 9 * P, GUARD_REMOVE);
	printf("install over a hole: %d (%s); pages 190, 201, 210 read %d %d %d\n", ret,
	       ret ? strerror(err) : "ok", m[190 * P], m[201 * P], m[210 * P]);
	m = fresh();
	mlock(m + 200 * P, P);
	ret = madvise(m + 190 * P, 20 * P, GUARD_INSTALL);
	err = errno;
	madvise(m + 190 * P, 10 * P, GUARD_REMOVE);
	printf("install over a locked page: %d (%s); pages 190, 199, 201 read %d %d %d\n", ret,
	       ret ? strerror(err) : "ok", m[190 * P], m[199 * P], m[201 * P]);
	m = fresh();
	v[0] = (struct iovec){ m, PAGES * P };
	r = process_madvise(self, v, 1, MADV_WIPEONFORK, 0);
	child = fork();
	if (child == 0) {
		printf("wipe-on-fork child: pages 5 and 300 read %d %d\n", m[5 * P], m[300 * P]);
		_exit(0);
	}
	waitpid(child, NULL, 0);
	printf("wipe-on-fork through process_madvise: %zd; the parent's page 5 reads %d\n", r,
	       m[5 * P]);
	m = fresh();
	mprotect(m + 200 * P, 4 * P, PROT_NONE);
	ret = madvise(m, PAGES * P, MADV_DONTFORK);
	mprotect(m + 200 * P, 4 * P, PROT_READ);
	printf("don't-fork over PROT_NONE pages: %d; pages 150 and 201 read %d %d\n", ret,
	       m[150 * P], m[201 * P]);
	return 0;
}

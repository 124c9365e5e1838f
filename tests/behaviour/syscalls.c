/* syscalls.c: system calls reading and writing each kind of memory before it was touched. */
#include <errno.h>
#include <linux/futex.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "kinds.h"

#define PAGES (KSIZE / KPAGE)

/* Bytes of the mapping that are wrong: [@off, @off + @len) must be @c (a syscall wrote it),
 * the rest what the kernel gives. */
static size_t check_written(const struct mem *m, size_t off, size_t len, unsigned char c,
			    const char *what)
{
	size_t wrong = 0;

	for (size_t i = 0; i < m->size; i++) {
		unsigned char w = i >= off && i < off + len ? c : mem_expect(m, i / KPAGE);
		unsigned char got = ((const volatile unsigned char *)m->p)[i];

		if (got == w)
			continue;
		if (!wrong)
			fprintf(stderr, "syscalls: %s: %s: byte %zu (page %zu) is 0x%02x, want 0x%02x\n",
				m->kind->name, what, i, i / KPAGE, got, w);
		wrong++;
	}
	return wrong;
}

/* Bytes among @len at @buf that are not those of the mapping at @off. */
static size_t check_copy(const struct mem *m, const unsigned char *buf, size_t off, size_t len,
			 const char *what)
{
	size_t wrong = 0;

	for (size_t i = 0; i < len; i++) {
		unsigned char w = mem_expect(m, (off + i) / KPAGE);

		if (buf[i] == w)
			continue;
		if (!wrong)
			fprintf(stderr, "syscalls: %s: %s: byte %zu is 0x%02x, want 0x%02x\n",
				m->kind->name, what, off + i, buf[i], w);
		wrong++;
	}
	return wrong;
}

/* A memfd of @len bytes of @c (0: empty, to be written). */
static int file_of(unsigned char c, size_t len)
{
	static unsigned char page[KPAGE];
	int fd = memfd_create("syscalls-io", MFD_CLOEXEC);

	fill(page, c, KPAGE);
	for (size_t off = 0; fd >= 0 && c && off < len; off += KPAGE)
		if (write(fd, page, len - off < KPAGE ? len - off : KPAGE) < 0)
			return -1;
	return fd;
}

static size_t file_check(const struct mem *m, int fd, size_t off, size_t len, const char *what)
{
	unsigned char *buf = malloc(len);
	size_t wrong;

	if (!buf || pread(fd, buf, len, 0) != (ssize_t)len) {
		free(buf);
		return 1;
	}
	wrong = check_copy(m, buf, off, len, what);
	free(buf);
	return wrong;
}

/* write(2), pwrite(2), writev(2) and send(2) from untouched memory. */
static void from_memory(const struct kind *k)
{
	struct mem m;
	struct iovec iov[3];
	unsigned char buf[5 * KPAGE];
	size_t wrong;
	int fd, sv[2];
	ssize_t n;

	if (setup(&m, k, KSIZE, "from-memory") < 0)
		return;
	fd = file_of(0, 0);
	n = write(fd, m.p, KSIZE);
	report(k->name, "write(2) from untouched memory", n != (ssize_t)KSIZE ? 1 :
	       file_check(&m, fd, 0, KSIZE, "write"));
	close(fd);

	fd = file_of(0, 0);
	n = pwrite(fd, m.p + 5 * KPAGE + 123, 3 * KPAGE, 0);
	report(k->name, "pwrite(2) from untouched memory, unaligned", n != (ssize_t)(3 * KPAGE) ? 1 :
	       file_check(&m, fd, 5 * KPAGE + 123, 3 * KPAGE, "pwrite"));
	close(fd);

	fd = file_of(0, 0);
	iov[0] = (struct iovec){ m.p + 20 * KPAGE + 7, 100 };
	iov[1] = (struct iovec){ m.p + 20 * KPAGE + 107, 2 * KPAGE };
	iov[2] = (struct iovec){ m.p + 20 * KPAGE + 107 + 2 * KPAGE, 900 };
	n = writev(fd, iov, 3);
	report(k->name, "writev(2) from untouched memory", n != (ssize_t)(2 * KPAGE + 1000) ? 1 :
	       file_check(&m, fd, 20 * KPAGE + 7, 2 * KPAGE + 1000, "writev"));
	close(fd);

	wrong = 1;
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == 0) {
		if (send(sv[0], m.p + 40 * KPAGE + 1, sizeof(buf), 0) == (ssize_t)sizeof(buf) &&
		    recv(sv[1], buf, sizeof(buf), MSG_WAITALL) == (ssize_t)sizeof(buf))
			wrong = check_copy(&m, buf, 40 * KPAGE + 1, sizeof(buf), "send");
		close(sv[0]);
		close(sv[1]);
	}
	report(k->name, "send(2) from untouched memory", wrong);
	/* None of that changed the memory. */
	report(k->name, "memory unchanged by reads from it",
	       check_written(&m, 0, 0, 0, "after the syscalls read it"));
	mem_unmap(&m);
}

/* read(2), pread(2), readv(2), recv(2) and fstat(2) into parts of untouched pages: the part
 * written has the syscall's bytes, the rest of each page what the kernel gives. */
static void into_memory(const struct kind *k)
{
	const unsigned char r = 'r';
	struct iovec iov[2];
	struct mem m;
	struct stat st, *sp;
	size_t wrong;
	int fd, sv[2];
	ssize_t n;

	fd = file_of(r, 3 * KPAGE);
	if (fd < 0 || setup(&m, k, KSIZE, "into-memory") < 0)
		return;
	n = pread(fd, m.p + 2 * KPAGE + 100, 5000, 0);
	report(k->name, "pread(2) into untouched memory, part pages", n != 5000 ? 1 :
	       check_written(&m, 2 * KPAGE + 100, 5000, r, "pread"));
	mem_unmap(&m);

	if (setup(&m, k, KSIZE, "into-memory") < 0)
		return;
	lseek(fd, 0, SEEK_SET);
	n = read(fd, m.p + 9 * KPAGE - 10, 20);
	report(k->name, "read(2) into untouched memory across a page boundary", n != 20 ? 1 :
	       check_written(&m, 9 * KPAGE - 10, 20, r, "read"));
	mem_unmap(&m);

	if (setup(&m, k, KSIZE, "into-memory") < 0)
		return;
	iov[0] = (struct iovec){ m.p + 30 * KPAGE + 1, 10 };
	iov[1] = (struct iovec){ m.p + 30 * KPAGE + 11, KPAGE };
	n = preadv(fd, iov, 2, 0);
	report(k->name, "preadv(2) into untouched memory", n != (ssize_t)KPAGE + 10 ? 1 :
	       check_written(&m, 30 * KPAGE + 1, KPAGE + 10, r, "preadv"));
	mem_unmap(&m);

	if (setup(&m, k, KSIZE, "into-memory") < 0)
		return;
	wrong = 1;
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == 0) {
		unsigned char buf[300];

		fill(buf, r, sizeof(buf));
		if (send(sv[0], buf, sizeof(buf), 0) == (ssize_t)sizeof(buf) &&
		    recv(sv[1], m.p + 50 * KPAGE + 3000, sizeof(buf), MSG_WAITALL) ==
		    (ssize_t)sizeof(buf))
			wrong = check_written(&m, 50 * KPAGE + 3000, sizeof(buf), r, "recv");
		close(sv[0]);
		close(sv[1]);
	}
	report(k->name, "recv(2) into untouched memory", wrong);
	mem_unmap(&m);

	/* fstat writes a struct: compare with one written to ordinary memory. */
	if (setup(&m, k, KSIZE, "into-memory") < 0)
		return;
	sp = (struct stat *)(m.p + 60 * KPAGE + 64);
	wrong = fstat(fd, &st) < 0 || fstat(fd, sp) < 0 || memcmp(&st, sp, sizeof(st)) != 0;
	for (size_t i = 0; i < KPAGE; i++)
		if ((i < 64 || i >= 64 + sizeof(st)) && m.p[60 * KPAGE + i] != mem_expect(&m, 60))
			wrong++;
	report(k->name, "fstat(2) into untouched memory", wrong);
	mem_unmap(&m);
	close(fd);
}

/* process_vm_readv/writev on this process, and process_vm_readv by a child of this process
 * (its parent's memory never touched). */
static void vm_calls(const struct kind *k)
{
	unsigned char buf[3 * KPAGE], src[700];
	struct iovec local, remote;
	struct mem m;
	pid_t pid;

	if (setup(&m, k, KSIZE, "process-vm") < 0)
		return;
	local = (struct iovec){ buf, sizeof(buf) };
	remote = (struct iovec){ m.p + 70 * KPAGE + 5, sizeof(buf) };
	report(k->name, "process_vm_readv(2) of untouched memory",
	       process_vm_readv(getpid(), &local, 1, &remote, 1, 0) != (ssize_t)sizeof(buf) ? 1 :
	       check_copy(&m, buf, 70 * KPAGE + 5, sizeof(buf), "process_vm_readv"));

	fill(src, 'v', sizeof(src));
	local = (struct iovec){ src, sizeof(src) };
	remote = (struct iovec){ m.p + 80 * KPAGE + 3800, sizeof(src) };
	report(k->name, "process_vm_writev(2) into untouched memory",
	       process_vm_writev(getpid(), &local, 1, &remote, 1, 0) != (ssize_t)sizeof(src) ? 1 :
	       check_written(&m, 80 * KPAGE + 3800, sizeof(src), 'v', "process_vm_writev"));

	pid = fork();
	if (pid == 0) {
		local = (struct iovec){ buf, sizeof(buf) };
		remote = (struct iovec){ m.p + 90 * KPAGE + 1, sizeof(buf) };
		if (process_vm_readv(getppid(), &local, 1, &remote, 1, 0) != (ssize_t)sizeof(buf))
			_exit(2);
		_exit(check_copy(&m, buf, 90 * KPAGE + 1, sizeof(buf), "child's process_vm_readv") ?
		      1 : 0);
	}
	report(k->name, "process_vm_readv(2) of the parent's untouched memory by its child",
	       child_status(pid) != 0);
	mem_unmap(&m);
}

/* FUTEX_WAIT reads a word of untouched memory: a wrong value fails with EAGAIN, the right
 * one waits (until a timeout). */
static void futex(const struct kind *k)
{
	struct timespec ts = { 0, 1000000 };
	uint32_t *word, right;
	struct mem m;
	size_t wrong = 0;

	if (setup(&m, k, KSIZE, "futex") < 0)
		return;
	fill((unsigned char *)&right, mem_expect(&m, 100), sizeof(right));
	word = (uint32_t *)(m.p + 100 * KPAGE + 40);
	if (syscall(SYS_futex, word, FUTEX_WAIT_PRIVATE, right ^ 1, &ts, NULL, 0) != -1 ||
	    errno != EAGAIN)
		wrong++;
	word = (uint32_t *)(m.p + 101 * KPAGE + 40);
	fill((unsigned char *)&right, mem_expect(&m, 101), sizeof(right));
	if (syscall(SYS_futex, word, FUTEX_WAIT_PRIVATE, right, &ts, NULL, 0) != -1 ||
	    errno != ETIMEDOUT)
		wrong++;
	wrong += check_written(&m, 0, 0, 0, "after futex");
	report(k->name, "FUTEX_WAIT on untouched memory", wrong);
	mem_unmap(&m);
}

static void run(const struct kind *k)
{
	from_memory(k);
	into_memory(k);
	vm_calls(k);
	futex(k);
}

int main(int argc, char **argv)
{
	return kinds_main(argc, argv, "syscalls", run);
}

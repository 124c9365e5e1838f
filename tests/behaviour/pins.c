/* pins.c: io_uring fixed buffers over each kind of memory: the device's view and the program's. */
#include <errno.h>
#include <liburing.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

#include "kinds.h"

#define SIZE (2UL << 20)	/* a fixed buffer at most 1 GiB; above lazy memset's minimum */
#define PAGES (SIZE / KPAGE)

static struct io_uring ring;

/* A memfd of SIZE bytes, every byte @c (zero: all holes). */
static int file_of(unsigned char c)
{
	static unsigned char page[KPAGE];
	int fd = memfd_create("pins-io", MFD_CLOEXEC);

	if (fd < 0 || ftruncate(fd, SIZE) < 0)
		return -1;
	fill(page, c, KPAGE);
	for (size_t off = 0; c && off < SIZE; off += KPAGE)
		if (pwrite(fd, page, KPAGE, (off_t)off) != (ssize_t)KPAGE)
			return -1;
	return fd;
}

/* One READ_FIXED (@write 0) or WRITE_FIXED of the whole buffer at @fd offset 0. */
static int fixed_io(unsigned char *buf, int fd, int write)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(&ring);
	struct io_uring_cqe *cqe;
	int res;

	if (!sqe)
		return -1;
	if (write)
		io_uring_prep_write_fixed(sqe, fd, buf, SIZE, 0, 0);
	else
		io_uring_prep_read_fixed(sqe, fd, buf, SIZE, 0, 0);
	if (io_uring_submit(&ring) != 1 || io_uring_wait_cqe(&ring, &cqe) < 0)
		return -1;
	res = cqe->res;
	io_uring_cqe_seen(&ring, cqe);
	if (res != (int)SIZE) {
		fprintf(stderr, "pins: fixed %s: %d\n", write ? "write" : "read", res);
		return -1;
	}
	return 0;
}

/* Pages of the file @fd that are not all want(arg, page). */
static size_t file_wrong(int fd, unsigned char (*want)(const void *, size_t), const void *arg,
			 const char *what)
{
	static unsigned char page[KPAGE];
	size_t wrong = 0;

	for (size_t pg = 0; pg < PAGES; pg++) {
		if (pread(fd, page, KPAGE, (off_t)(pg * KPAGE)) != (ssize_t)KPAGE)
			return PAGES;
		wrong += check_pages(page, pg, 1, want, arg, what);
	}
	return wrong;
}

static unsigned char want_model(const void *arg, size_t page)
{
	return mem_model(arg, page);
}

static unsigned char want_byte(const void *arg, size_t page)
{
	(void)page;
	return *(const unsigned char *)arg;
}

/* Registers @m as fixed buffer 0: 0, 1 when the kernel refuses (reported skipped), -1. */
static int pin(struct mem *m, const char *what)
{
	struct iovec iov = { m->p, SIZE };
	int ret = io_uring_register_buffers(&ring, &iov, 1);

	if (ret == -ENOMEM || ret == -EPERM) {
		report_skip(m->kind->name, what, "cannot register a fixed buffer this big here");
		return 1;
	}
	if (ret < 0) {
		fprintf(stderr, "pins: %s: io_uring_register_buffers: %s\n", m->kind->name,
			strerror(-ret));
		report(m->kind->name, what, 1);
		return -1;
	}
	return 0;
}

/* Pinned after touching some pages: the device reads what the program sees (also the
 * untouched pages), and what the device writes the program sees. */
static void device_view(const struct kind *k)
{
	const unsigned char r = 'R';
	struct mem m;
	int out, in;

	if (setup(&m, k, SIZE, "device-view") < 0)
		return;
	mem_touch(&m);
	if (pin(&m, "device-view")) {
		mem_unmap(&m);
		return;
	}
	out = file_of(0);
	in = file_of(r);
	report(k->name, "pinned: the device reads the program's bytes",
	       fixed_io(m.p, out, 1) < 0 ? 1 : file_wrong(out, want_model, &m, "WRITE_FIXED"));
	report(k->name, "pinned: the program sees what the device writes",
	       fixed_io(m.p, in, 0) < 0 ? 1 : check_pages(m.p, 0, PAGES, want_byte, &r,
							  "after READ_FIXED"));
	io_uring_unregister_buffers(&ring);
	close(out);
	close(in);
	mem_unmap(&m);
}

/* Pinned, then fork: the parent keeps the pinned pages (the device's writes reach it), the
 * child has its fork-time bytes and its writes stay its own. */
static void pinned_fork(const struct kind *k)
{
	const unsigned char r = 'R', p = 'P';
	int go[2], done[2];
	struct mem m;
	pid_t pid;
	int out, in, status;
	char c = 0;

	if (setup(&m, k, SIZE, "fork") < 0)
		return;
	mem_touch(&m);
	if (pin(&m, "fork")) {
		mem_unmap(&m);
		return;
	}
	out = file_of(0);
	in = file_of(r);
	if (pipe(go) < 0 || pipe(done) < 0) {
		report(k->name, "fork: pipe", 1);
		return;
	}
	pid = fork();
	if (pid == 0) {
		size_t wrong;

		if (read(go[0], &c, 1) != 1)
			_exit(3);
		wrong = check_model(&m, m.p, 0, PAGES, "child after the device wrote");
		fill(m.p, 'C', SIZE);
		_exit(wrong ? 1 : 0);
	}
	report(k->name, "pinned, forked: the device's writes reach the parent",
	       fixed_io(m.p, in, 0) < 0 ? 1 : check_pages(m.p, 0, PAGES, want_byte, &r,
							  "parent after READ_FIXED"));
	if (write(go[1], "g", 1) != 1 || pid < 0 || waitpid(pid, &status, 0) != pid)
		status = -1;
	report(k->name, "pinned, forked: the child has its fork-time bytes",
	       !WIFEXITED(status) || WEXITSTATUS(status) != 0);
	report(k->name, "pinned, forked: the child's writes stay its own",
	       check_pages(m.p, 0, PAGES, want_byte, &r, "parent after the child wrote"));
	fill(m.p, p, SIZE);
	report(k->name, "pinned, forked: the device reads the parent's later writes",
	       fixed_io(m.p, out, 1) < 0 ? 1 : file_wrong(out, want_byte, &p, "WRITE_FIXED"));
	io_uring_unregister_buffers(&ring);
	close(go[0]);
	close(go[1]);
	close(done[0]);
	close(done[1]);
	close(out);
	close(in);
	mem_unmap(&m);
}

/* Pinned, read-only, writable again, written: the device reads the writes. */
static void pinned_mprotect(const struct kind *k)
{
	const unsigned char w = 'W';
	struct mem m;
	int out;

	if (setup(&m, k, SIZE, "mprotect") < 0)
		return;
	if (pin(&m, "mprotect")) {
		mem_unmap(&m);
		return;
	}
	out = file_of(0);
	if (mprotect(m.p, SIZE, PROT_READ) < 0 || mprotect(m.p, SIZE, PROT_READ | PROT_WRITE) < 0) {
		report(k->name, "pinned, mprotect", 1);
	} else {
		report(k->name, "pinned, read-only and back: the bytes stay",
		       check_model(&m, m.p, 0, PAGES, "after mprotect"));
		fill(m.p, w, SIZE);
		report(k->name, "pinned, read-only and back: the device reads later writes",
		       fixed_io(m.p, out, 1) < 0 ? 1 : file_wrong(out, want_byte, &w,
								   "WRITE_FIXED"));
	}
	io_uring_unregister_buffers(&ring);
	close(out);
	mem_unmap(&m);
}

/* A big memset (one call: lazy memset must write pinned memory for real) over the pinned
 * buffer, untouched before: the device reads the value. */
static void pinned_memset(const struct kind *k)
{
	const unsigned char v = 0x33;
	struct mem m;
	int out;

	if (setup(&m, k, SIZE, "memset") < 0)
		return;
	if (pin(&m, "memset")) {
		mem_unmap(&m);
		return;
	}
	out = file_of(0);
	big_memset(m.p, v, SIZE);
	report(k->name, "pinned, then memset: the program reads the value",
	       check_pages(m.p, 0, PAGES, want_byte, &v, "after memset"));
	report(k->name, "pinned, then memset: the device reads the value",
	       fixed_io(m.p, out, 1) < 0 ? 1 : file_wrong(out, want_byte, &v, "WRITE_FIXED"));
	io_uring_unregister_buffers(&ring);
	close(out);
	mem_unmap(&m);
}

static void run(const struct kind *k)
{
	device_view(k);
	pinned_fork(k);
	pinned_mprotect(k);
	pinned_memset(k);
}

int main(int argc, char **argv)
{
	int ret;

	if (argc == 2 && !strcmp(argv[1], "--list"))
		return kinds_main(argc, argv, "pins", run);
	ret = io_uring_queue_init(8, &ring, 0);
	if (ret < 0) {
		printf("io_uring is not available here: %s\n", strerror(-ret));
		return 77;
	}
	return kinds_main(argc, argv, "pins", run);
}

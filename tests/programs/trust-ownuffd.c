/* trust-ownuffd.c: a program with its own userfaultfd (as QEMU's postcopy migration): it
 * registers private memory of a kind (trust-kinds.h: memfd, data or lazy) for missing
 * faults and serves them itself with UFFDIO_COPY from a thread, filling 0xC3. For "lazy"
 * the second half of the memset range is first dropped with MADV_DONTNEED. Knows nothing
 * of ucow (test program).
 *
 * usage: trust-ownuffd KIND
 * Prints one line; exit 0, 1 on a wrong byte, 2 on a setup error (a failed ioctl included),
 * 77 when this process may not use userfaultfd. */
#include <fcntl.h>
#include <linux/userfaultfd.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>

#include "trust-kinds.h"

#define SIZE (16UL << 20)
#define OWN 0xC3

static int uffd;
static atomic_int stop;
static atomic_ulong faults;

static void *serve(void *arg)
{
	static unsigned char page[TK_PAGE] __attribute__((aligned(4096)));

	(void)arg;
	tk_memset(page, OWN, sizeof(page));
	while (!atomic_load(&stop)) {
		struct pollfd pfd = { .fd = uffd, .events = POLLIN };
		struct uffd_msg msg;

		if (poll(&pfd, 1, 50) <= 0)
			continue;
		if (read(uffd, &msg, sizeof(msg)) != sizeof(msg))
			continue;
		if (msg.event != UFFD_EVENT_PAGEFAULT)
			continue;
		struct uffdio_copy copy = {
			.dst = msg.arg.pagefault.address & ~(TK_PAGE - 1),
			.src = (uintptr_t)page, .len = TK_PAGE,
		};
		if (ioctl(uffd, UFFDIO_COPY, &copy) < 0 && errno != EEXIST) {
			perror("trust-ownuffd: UFFDIO_COPY");
			exit(2);
		}
		atomic_fetch_add(&faults, 1);
	}
	return NULL;
}

int main(int argc, char **argv)
{
	struct uffdio_api api = { .api = UFFD_API };
	struct uffdio_register reg = { .mode = UFFDIO_REGISTER_MODE_MISSING };
	size_t n = SIZE / TK_PAGE, wrong = 0, holes = 0;
	unsigned char *p;
	pthread_t th;
	int kind, fd;

	if (argc != 2)
		return 2;
	kind = tk_parse(argv[1]);
	if (kind != TK_MEMFD && kind != TK_DATA && kind != TK_LAZY)
		return 2;
	uffd = (int)syscall(SYS_userfaultfd, O_CLOEXEC | O_NONBLOCK);
	if (uffd < 0) {
		int dev = open("/dev/userfaultfd", O_RDWR | O_CLOEXEC);

		uffd = dev < 0 ? -1 : ioctl(dev, USERFAULTFD_IOC_NEW, O_CLOEXEC | O_NONBLOCK);
	}
	if (uffd < 0) {
		printf("userfaultfd is not available to this process: %s\n", strerror(errno));
		return 77;
	}
	if (ioctl(uffd, UFFDIO_API, &api) < 0) {
		perror("trust-ownuffd: UFFDIO_API");
		return 2;
	}
	fd = tk_fd(kind, SIZE);
	p = tk_map(kind, fd, SIZE);
	if (p == MAP_FAILED)
		return 2;
	if (kind == TK_LAZY && madvise(p + SIZE / 2, SIZE / 2, MADV_DONTNEED) < 0)
		return 2;
	reg.range.start = (uintptr_t)p;
	reg.range.len = SIZE;
	if (ioctl(uffd, UFFDIO_REGISTER, &reg) < 0) {
		printf("ownuffd %s: UFFDIO_REGISTER: %s\n", tk_names[kind], strerror(errno));
		return 2;
	}
	if (pthread_create(&th, NULL, serve, NULL) != 0)
		return 2;
	for (size_t pg = 0; pg < n; pg++) {
		unsigned char want = tk_expect(kind, pg);

		if (kind == TK_LAZY ? pg >= n / 2 : want == 0)
			want = OWN, holes++;
		for (size_t i = 0; i < TK_PAGE; i += 512)
			if (p[pg * TK_PAGE + i] != want && wrong++ == 0)
				fprintf(stderr, "ownuffd %s: page %zu reads 0x%02x, want 0x%02x\n",
					tk_names[kind], pg, p[pg * TK_PAGE + i], want);
	}
	atomic_store(&stop, 1);
	pthread_join(th, NULL);
	printf("ownuffd %s: registered, %zu pages served by the program (%lu faults), %zu wrong bytes\n",
	       tk_names[kind], holes, atomic_load(&faults), wrong);
	return wrong ? 1 : 0;
}

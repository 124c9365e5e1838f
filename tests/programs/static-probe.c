/* static-probe.c: a statically linked program for exec tests: it touches some memory and,
 * with "register", registers it as an io_uring fixed buffer with raw system calls, as a
 * program that knows nothing of ucow (or of liburing) would. Prints what it did.
 *
 * usage: static-probe [register]
 * Exit: 0 ok, 1 registration failed for a reason other than io_uring being unavailable.
 */
#include <errno.h>
#include <linux/io_uring.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	size_t len = 64 * 4096;
	char *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	struct io_uring_params params;
	struct iovec iov = { p, len };
	int ring;

	if (p == MAP_FAILED)
		return 2;
	memset(p, 's', len);
	printf("static-probe: touched %zu bytes\n", len);
	if (argc < 2 || strcmp(argv[1], "register") != 0)
		return 0;
	memset(&params, 0, sizeof(params));
	ring = (int)syscall(SYS_io_uring_setup, 4, &params);
	if (ring < 0) {
		printf("static-probe: io_uring unavailable\n");
		return 0;
	}
	if (syscall(SYS_io_uring_register, ring, IORING_REGISTER_BUFFERS, &iov, 1) < 0) {
		printf("static-probe: register failed: %s\n", strerror(errno));
		return errno == ENOMEM || errno == EPERM ? 0 : 1;
	}
	printf("static-probe: registered a fixed buffer\n");
	return 0;
}

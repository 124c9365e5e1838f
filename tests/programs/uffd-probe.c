/* uffd-probe.c: says whether this process may use userfaultfd on shmem here (exit 0), or
 * why not (exit 77, one line); the integration tests skip what cannot work. */
#include <errno.h>
#include <fcntl.h>
#include <linux/userfaultfd.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <unistd.h>

int main(void)
{
	struct uffdio_api api = { .api = UFFD_API };
	int fd = (int)syscall(SYS_userfaultfd, O_CLOEXEC | O_NONBLOCK);

	if (fd < 0 && (errno == EPERM || errno == EACCES)) {
		fd = open("/dev/userfaultfd", O_RDWR | O_CLOEXEC);
		if (fd >= 0) {
			int ufd = ioctl(fd, USERFAULTFD_IOC_NEW, O_CLOEXEC | O_NONBLOCK);

			close(fd);
			fd = ufd;
		}
	}
	if (fd < 0) {
		printf("userfaultfd is not available to this process: %s\n", strerror(errno));
		return 77;
	}
	if (ioctl(fd, UFFDIO_API, &api) < 0) {
		printf("UFFDIO_API failed: %s\n", strerror(errno));
		return 77;
	}
	if (!(api.features & UFFD_FEATURE_MISSING_SHMEM)) {
		printf("this kernel's userfaultfd cannot handle shmem (no UFFD_FEATURE_MISSING_SHMEM)\n");
		return 77;
	}
	close(fd);
	return 0;
}

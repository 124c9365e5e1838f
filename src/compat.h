/* compat.h: system call numbers and flags of kernels newer than the system headers (6.1);
 * whether the running kernel has them is learnt at run time, never assumed. */
#ifndef UCOW_COMPAT_H
#define UCOW_COMPAT_H

#include <fcntl.h>
#include <sys/syscall.h>

#ifndef SYS_clone3
#define SYS_clone3 435
#endif
#ifndef SYS_pidfd_open
#define SYS_pidfd_open 434
#endif
#ifndef SYS_pidfd_getfd
#define SYS_pidfd_getfd 438
#endif
#ifndef SYS_close_range
#define SYS_close_range 436
#endif
#ifndef PIDFD_THREAD
#define PIDFD_THREAD O_EXCL		/* 6.9: a pidfd for one thread, not its process */
#endif
#ifndef USERFAULTFD_IOC_NEW
#define USERFAULTFD_IOC_NEW _IO(0xAA, 0x00)	/* 6.1: /dev/userfaultfd */
#endif

#endif

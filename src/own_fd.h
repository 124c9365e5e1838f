/* own_fd.h: a descriptor ucow opens for a moment in the program's table. The program may take
 * its number meanwhile (dup2 onto it, or close and open), so what is read through it counts
 * only while it is still ucow's file, and ucow closes it only then. */
#ifndef UCOW_OWN_FD_H
#define UCOW_OWN_FD_H

#include <fcntl.h>
#include <stdbool.h>
#include <sys/stat.h>
#include <unistd.h>

struct own_fd {
	int fd;
	dev_t dev;
	ino_t ino;
};

static inline bool own_fd_still(const struct own_fd *o)
{
	struct stat st;

	return o->fd >= 0 && fstat(o->fd, &st) == 0 && st.st_dev == o->dev && st.st_ino == o->ino;
}

/* Opens @path read-only: the descriptor, or -1. The file is known by its path, so that a
 * number the program took at once is not taken for ucow's (and not closed). */
static inline int own_fd_open(struct own_fd *o, const char *path)
{
	struct stat want;

	o->fd = open(path, O_RDONLY | O_CLOEXEC);
	if (o->fd < 0)
		return -1;
	if (stat(path, &want) < 0) {
		close(o->fd);
		o->fd = -1;
		return -1;
	}
	o->dev = want.st_dev;
	o->ino = want.st_ino;
	if (!own_fd_still(o))
		o->fd = -1;
	return o->fd;
}

/* Closes it if it is still ucow's: otherwise the number is the program's now. */
static inline void own_fd_close(struct own_fd *o)
{
	if (own_fd_still(o))
		close(o->fd);
	o->fd = -1;
}

#endif

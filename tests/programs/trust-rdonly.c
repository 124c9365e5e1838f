/* trust-rdonly.c: the usual way to map a file for private use: open it O_RDONLY and map it
 * MAP_PRIVATE, PROT_READ|PROT_WRITE. A tmpfs file (in DIR, default /dev/shm) with data
 * pages among holes (trust-kinds.h "data" layout); reads every page, writes to every
 * fourth page (holes and data), reads all again. Knows nothing of ucow (test program).
 *
 * usage: trust-rdonly [DIR]
 * Prints one line; exit 0, 1 on a wrong byte, 2 on a setup error. */
#include <fcntl.h>

#include "trust-kinds.h"

#define SIZE (8UL << 20)

int main(int argc, char **argv)
{
	char path[4096];
	unsigned char page[TK_PAGE], *p;
	size_t n = SIZE / TK_PAGE, wrong = 0;
	int fd;

	snprintf(path, sizeof(path), "%s/trust-rdonly.XXXXXX", argc > 1 ? argv[1] : "/dev/shm");
	fd = mkstemp(path);
	if (fd < 0 || ftruncate(fd, SIZE) < 0) {
		perror("trust-rdonly: file");
		return 2;
	}
	for (size_t pg = 1; pg < n; pg += 4) {
		tk_memset(page, tk_data_byte(pg), sizeof(page));
		if (pwrite(fd, page, sizeof(page), (off_t)(pg * TK_PAGE)) != (ssize_t)sizeof(page))
			return 2;
	}
	close(fd);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	unlink(path);
	if (fd < 0)
		return 2;
	p = mmap(NULL, SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
	if (p == MAP_FAILED) {
		perror("trust-rdonly: mmap");
		return 2;
	}
	wrong += tk_check(TK_DATA, p, 0, n / 2, "read");
	for (size_t pg = 0; pg < n; pg += 3)
		p[pg * TK_PAGE + 17] = 0x11;
	for (size_t pg = 0; pg < n; pg++)
		for (size_t i = 0; i < TK_PAGE; i++) {
			unsigned char want = pg % 3 == 0 && i == 17 ? 0x11 : tk_expect(TK_DATA, pg);

			if (p[pg * TK_PAGE + i] != want && wrong++ == 0)
				fprintf(stderr, "trust-rdonly: page %zu byte %zu is 0x%02x, want 0x%02x\n",
					pg, i, p[pg * TK_PAGE + i], want);
		}
	printf("rdonly: %zu pages, %zu wrong bytes\n", n, wrong);
	return wrong ? 1 : 0;
}

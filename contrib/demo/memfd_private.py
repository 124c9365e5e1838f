#!/usr/bin/env python3
# memfd_private.py: the README demo, an unmodified program that knows nothing of ucow:
# it writes one byte per page of a MAP_PRIVATE mapping of a 256 MiB memfd that is all hole.
# The kernel fills a page-cache page in the file AND an anonymous copy for every page
# written; under ucow only the anonymous page is allocated and the file stays empty.
import mmap
import os
import sys

SIZE = 256 << 20


def main():
    size = int(sys.argv[1]) << 20 if len(sys.argv) > 1 else SIZE
    page = mmap.PAGESIZE
    fd = os.memfd_create("ucow-demo")
    os.ftruncate(fd, size)
    m = mmap.mmap(fd, size, flags=mmap.MAP_PRIVATE,
                  prot=mmap.PROT_READ | mmap.PROT_WRITE)

    for off in range(0, size, page):
        m[off] = (off // page) % 251 + 1
    bad = sum(1 for off in range(0, size, page)
              if m[off] != (off // page) % 251 + 1 or m[off + 1] != 0)

    # What the file itself holds now: the private writes must not have reached it.
    file_bytes = os.fstat(fd).st_blocks * 512
    m.close()
    os.close(fd)
    pages = size // page
    print(f"memfd_private: wrote and checked {pages} pages ({size >> 20} MiB) of a "
          f"MAP_PRIVATE memfd: {'OK' if bad == 0 else f'{bad} pages WRONG'}; "
          f"the memfd holds {file_bytes / (1 << 20):.1f} MiB")
    return 0 if bad == 0 else 1


if __name__ == "__main__":
    sys.exit(main())

# python-memfd.py: writes every other page of a MAP_PRIVATE memfd mapping through the mmap
# module; prints a digest of the mapping and the file's size on disk (a "mem:" line).
import hashlib
import mmap
import os
import sys

size = int(sys.argv[1]) if len(sys.argv) > 1 else 64 << 20
fd = os.memfd_create("python-memfd")
os.ftruncate(fd, size)
m = mmap.mmap(fd, size, flags=mmap.MAP_PRIVATE, prot=mmap.PROT_READ | mmap.PROT_WRITE)
for off in range(0, size, 2 * mmap.PAGESIZE):
    m[off] = (off // mmap.PAGESIZE) % 251 + 1
file_kb = os.fstat(fd).st_blocks // 2
print("pages written:", size // (2 * mmap.PAGESIZE))
print("sha256:", hashlib.sha256(m).hexdigest())
print("mem: file_kb=%d" % file_kb)
m.close()
os.close(fd)

# python-memfd.py: python3's own mmap module on a MAP_PRIVATE mapping of a tmpfs file: a new
# memfd (all holes), or a file given with --path (data pages among holes, made by the test).
# Writes every other page and a slice across data and holes, finds the data, grows the
# mapping with resize() (ftruncate and mremap underneath). Prints digests of the mapping,
# and on "mem:" lines the file's size on disk and the mapping's smaps Anonymous.
import argparse
import ctypes
import hashlib
import mmap
import os

ap = argparse.ArgumentParser()
ap.add_argument("size", nargs="?", type=int, default=64 << 20)
ap.add_argument("--path")
args = ap.parse_args()

PAGE = mmap.PAGESIZE
if args.path:
    fd = os.open(args.path, os.O_RDWR)
    size = os.fstat(fd).st_size
else:
    fd = os.memfd_create("python-memfd")
    size = args.size
    os.ftruncate(fd, size)


def file_kb():
    return os.fstat(fd).st_blocks // 2


def anon_kb(m):
    """Anonymous: of the mapping's VMA in /proc/self/smaps (pages privately written)."""
    addr = ctypes.addressof(ctypes.c_char.from_buffer(m))
    inside = False
    with open("/proc/self/smaps") as f:
        for line in f:
            head = line.split(" ", 1)[0]
            if "-" in head and ":" not in head:
                lo, hi = (int(x, 16) for x in head.split("-"))
                inside = lo <= addr < hi
            elif inside and line.startswith("Anonymous:"):
                return int(line.split()[1])
    return -1


before = file_kb()
m = mmap.mmap(fd, size, flags=mmap.MAP_PRIVATE, prot=mmap.PROT_READ | mmap.PROT_WRITE)
# Writes first: the file's size on disk then shows what writing alone costs.
for off in range(0, size, 2 * PAGE):
    m[off] = (off // PAGE) % 251 + 1
m[98 * PAGE - 10:104 * PAGE + 10] = b"\x5a" * (6 * PAGE + 20)
print("pages written:", size // (2 * PAGE))
print("mem: file_kb_before=%d file_kb=%d anon_kb=%d" % (before, file_kb(), anon_kb(m)))
print("first data at:", m.find(b"ucow"))
print("data pages left:", sum(1 for off in range(0, size, PAGE) if m[off + 4:off + 8] == b"ucow"))
print("sha256:", hashlib.sha256(m).hexdigest())
m.resize(size + (1 << 20))
print("resized to:", len(m), "file size:", os.fstat(fd).st_size)
print("new part zero:", m[size:size + (1 << 20)].count(0) == (1 << 20))
for off in range(size, len(m), 3 * PAGE):
    m[off + 1] = 7
print("sha256 after resize:", hashlib.sha256(m).hexdigest())
print("mem: file_kb_end=%d" % file_kb())
m.close()
os.close(fd)

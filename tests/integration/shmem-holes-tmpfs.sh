# shmem-holes-tmpfs.sh: the shmem-holes table (shmem-matrix.sh) on a tmpfs this test mounts
# itself, as QEMU's -mem-path or a VM template directory would be; and on one with huge
# pages, where only the bytes and an upper bound on the file are comparable.
. "$UCOWTEST_SRCDIR/tests/integration/lib.sh"
. "$UCOWTEST_SRCDIR/tests/integration/shmem-matrix.sh"
require_lib
require_uffd
require_root "mounting a tmpfs"

mkdir -p "$T/mnt" "$T/huge" || exit 1
mount -t tmpfs -o size=64m,huge=never ucow-test "$T/mnt" 2>"$T/mount.err" ||
	skip "cannot mount a tmpfs here: $(head -n 1 "$T/mount.err")"
trap 'umount "$T/mnt" 2>/dev/null; umount "$T/huge" 2>/dev/null' EXIT
matrix_run "dir:$T/mnt" managed

if mount -t tmpfs -o size=64m,huge=always ucow-test-huge "$T/huge" 2>"$T/mount.err"; then
	# Data in two 2 MiB extents of four, the others holes (a page of data there brings
	# the whole extent into the file).
	MATRIX_LAYOUTS="-d,1024"
	matrix_run "dir:$T/huge" thp
else
	say "note: no huge-page tmpfs ($(head -n 1 "$T/mount.err")): that part is left out"
fi
say "$matrix_cases runs compared"
finish

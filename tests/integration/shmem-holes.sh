# shmem-holes.sh: MAP_PRIVATE mappings of a memfd and of a /dev/shm file with data pages among
# holes, in every access pattern, with and without ucow in each mode (shmem-matrix.sh): same
# bytes, same exit status; under ucow a written hole never grows the file and zero-mode
# reads neither. A file on a regular filesystem is left to the kernel. (A tmpfs mounted by
# the test: shmem-holes-tmpfs.sh.)
. "$UCOWTEST_SRCDIR/tests/integration/lib.sh"
. "$UCOWTEST_SRCDIR/tests/integration/shmem-matrix.sh"
require_lib
require_uffd

matrix_run memfd managed
matrix_run shm managed
# A directory on a regular filesystem: not managed, must behave exactly as the kernel.
if ! on_tmpfs "$UCOWTEST_BUILDDIR"; then
	MATRIX_LAYOUTS="-d,4"
	matrix_run "dir:$UCOWTEST_BUILDDIR" unmanaged 2M
else
	say "note: the build directory is on tmpfs: no regular-filesystem control"
fi

# A larger file written once, with the default fault-around window.
run k-big "$PROGS/shmem-hole" -s 64M -d 64 -p seq-write
run_ucow u-big "$PROGS/shmem-hole" -s 64M -d 64 -p seq-write
same_output "64M seq-write" k-big u-big
no_stderr "64M seq-write" u-big
equal "64M seq-write" "file kB" "$(mem u-big file_kb)" "$(mem u-big file_kb_before)"
equal "64M seq-write" "anonymous kB" "$(mem u-big anon_kb)" 65536
matrix_cases=$((matrix_cases + 2))

# Beyond EOF is SIGBUS, as without ucow: map more than the file holds.
run k-eof "$PROGS/shmem-hole" -s 1M -p read -e
equal "beyond EOF" "kernel's exit status (SIGBUS)" "$(rc_of k-eof)" 135
for mode in zero write; do
	run_ucow u-eof UCOW_SHMEM_HOLES=$mode "$PROGS/shmem-hole" -s 1M -p read -e
	same_output "beyond EOF mode=$mode" k-eof u-eof
	matrix_cases=$((matrix_cases + 1))
done
say "$matrix_cases runs compared"
finish

# shmem-holes.sh: MAP_PRIVATE mappings of a memfd and of a /dev/shm file with data pages among
# holes, in every access pattern, with and without ucow in each mode (shmem-matrix.sh): same
# bytes, same exit status; under ucow a written hole never grows the file and zero-mode
# reads neither. A file on a regular filesystem is left to the kernel. MADV_HUGEPAGE
# mappings, whose writes fill whole windows. (A tmpfs mounted by the test:
# shmem-holes-tmpfs.sh.)
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

# A writer that earned windows filled ahead and turns strided (man 7 ucow: measured again
# every 17th window) holds at most 17 windows of 2 MiB more than it writes, not every
# page of the rest of the mapping (224 MiB for 112 written).
run k-turn "$PROGS/shmem-hole" -s 256M -d 64 -p turn-stride2
run_ucow u-turn "$PROGS/shmem-hole" -s 256M -d 64 -p turn-stride2
same_output "256M turn-stride2" k-turn u-turn
no_stderr "256M turn-stride2" u-turn
equal "256M turn-stride2" "file kB (untouched: managed)" "$(mem u-turn file_kb)" \
	"$(mem u-turn file_kb_before)"
anon_within "256M turn-stride2" "$(mem u-turn anon_kb)" "$(($(mem k-turn written) * 4))" \
	$((17 * 2048))
matrix_cases=$((matrix_cases + 2))

# Beyond EOF is SIGBUS, as without ucow: map more than the file holds.
run k-eof "$PROGS/shmem-hole" -s 1M -p read -e
equal "beyond EOF" "kernel's exit status (SIGBUS)" "$(rc_of k-eof)" 135
for mode in zero write; do
	run_ucow u-eof UCOW_SHMEM_HOLES=$mode "$PROGS/shmem-hole" -s 1M -p read -e
	same_output "beyond EOF mode=$mode" k-eof u-eof
	matrix_cases=$((matrix_cases + 1))
done
# MADV_HUGEPAGE in zero mode: a write fills every hole of its fault-around window with a
# private page at once, as an anonymous huge page would; MADV_NOHUGEPAGE takes that back.
# The same bytes (data pages never hidden), nothing added to the file either way.
for layout in "-d 0" "-d 4" "-r 7 -t 100"; do
	for pattern in sparse rand-write read-write; do
		for advice in huge huge-then-no; do
			c="MADV_HUGEPAGE $layout $pattern -a $advice"
			run k-adv "$PROGS/shmem-hole" $layout -p $pattern -a $advice
			run_ucow u-adv UCOW_FAULT_AROUND=16K "$PROGS/shmem-hole" $layout \
				-p $pattern -a $advice
			matrix_cases=$((matrix_cases + 2))
			same_output "$c" k-adv u-adv
			no_stderr "$c" u-adv
			equal "$c" "file kB (untouched)" "$(mem u-adv file_kb)" \
				"$(mem u-adv file_kb_before)"
			written_kb=$(($(mem k-adv written) * 4))
			anon=$(mem u-adv anon_kb)
			if [ $advice = huge-then-no ]; then
				equal "$c" "anonymous kB (pages written x 4)" "$anon" "$written_kb"
			elif [ "$anon" -lt "$written_kb" ] || [ "$anon" -gt 8192 ]; then
				bad "$c: anonymous kB is $anon, want $written_kb to 8192"
			fi
		done
	done
done
# Exactly the holes of the windows written: every 16th page of 8M, no data.
for window in 16K:2048 2M:8192; do
	run_ucow u-adv UCOW_FAULT_AROUND=${window%:*} "$PROGS/shmem-hole" -d 0 -p sparse -a huge
	equal "MADV_HUGEPAGE sparse, window ${window%:*}" "anonymous kB" "$(mem u-adv anon_kb)" \
		"${window#*:}"
	matrix_cases=$((matrix_cases + 1))
done
say "$matrix_cases runs compared"
finish

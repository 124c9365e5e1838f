# munmap-race.sh: threads fault across a managed mapping while the main thread unmaps parts
# of it (munmap, and MAP_FIXED over it); nothing hangs, no wrong byte, same output.
. "$UCOWTEST_SRCDIR/tests/integration/lib.sh"
require_lib
require_uffd

run k "$PROGS/munmap-race" -r 10
equal "munmap-race (kernel)" "exit status" "$(rc_of k)" 0
for mode in zero write; do
	for size in 16M 4M; do
		c="munmap-race -s $size mode=$mode"
		rm -f "$T/u.stats"
		run_ucow u UCOW_SHMEM_HOLES=$mode UCOW_FAULT_AROUND=0 UCOW_STATS="$T/u.stats" \
			"$PROGS/munmap-race" -s $size -r 10
		hung u && bad "$c: hung (killed after 60 s)"
		same_output "$c" k u
		no_stderr "$c" u
		require_managed "$c" "$T/u.stats"
		c="$c fault-around=default"
		rm -f "$T/u.stats"
		run_ucow u UCOW_SHMEM_HOLES=$mode UCOW_STATS="$T/u.stats" "$PROGS/munmap-race" -s $size -r 10
		hung u && bad "$c: hung (killed after 60 s)"
		same_output "$c" k u
		no_stderr "$c" u
		require_managed "$c" "$T/u.stats"
	done
done
# Ranges unmapped with the raw system call and mapped again at once by other threads: a
# late unmap notice must not make ucow forget the new mapping (its pattern would read 0).
run k "$PROGS/remap-race" -t 4 -r 2000
equal "remap-race (kernel)" "exit status" "$(rc_of k)" 0
rm -f "$T/u.stats"
run_ucow u UCOW_STATS="$T/u.stats" "$PROGS/remap-race" -t 4 -r 2000
same_output "remap-race (refpages)" k u
no_stderr "remap-race (refpages)" u
require_managed "remap-race (refpages)" "$T/u.stats"
finish

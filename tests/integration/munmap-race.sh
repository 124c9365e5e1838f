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
		run_ucow u UCOW_SHMEM_HOLES=$mode UCOW_FAULT_AROUND=0 "$PROGS/munmap-race" -s $size -r 10
		[ "$(rc_of u)" = 124 ] && bad "$c: hung (killed after 60 s)"
		same_output "$c" k u
		no_stderr "$c" u
		c="$c fault-around=default"
		run_ucow u UCOW_SHMEM_HOLES=$mode "$PROGS/munmap-race" -s $size -r 10
		[ "$(rc_of u)" = 124 ] && bad "$c: hung (killed after 60 s)"
		same_output "$c" k u
		no_stderr "$c" u
	done
done
# Ranges unmapped with the raw system call and mapped again at once by other threads: a
# late unmap notice must not make ucow forget the new mapping (its pattern would read 0).
run k "$PROGS/remap-race" -t 4 -r 2000
equal "remap-race (kernel)" "exit status" "$(rc_of k)" 0
run_ucow u "$PROGS/remap-race" -t 4 -r 2000
same_output "remap-race (refpages)" k u
no_stderr "remap-race (refpages)" u
finish

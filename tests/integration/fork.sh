# fork.sh: a multi-threaded parent with a managed mapping forks; the child and a grandchild
# check they see fork-time bytes and nobody sees the others' later writes; exit statuses
# travel up the tree unchanged.
. "$UCOWTEST_SRCDIR/tests/integration/lib.sh"
require_lib
require_uffd

for args in "-t 3" "-t 0" "-t 3 -g 5" "-t 8 -s 32M"; do
	run k "$PROGS/fork-check" $args
	equal "fork-check $args (kernel)" "stdout" "$(cat "$T/k.out" | tr '\n' ' ')" \
		"grandchild: ok child: ok parent: ok "
	for mode in zero write; do
		# Several times: the threads and the three processes race differently each run.
		for i in 1 2 3 4 5; do
			c="fork-check $args mode=$mode run $i"
			rm -f "$T/u.stats"
			run_ucow u UCOW_SHMEM_HOLES=$mode UCOW_STATS="$T/u.stats" "$PROGS/fork-check" $args
			same_output "$c" k u
			no_stderr "$c" u
			require_managed "$c" "$T/u.stats"
			[ "$(rc_of u)" = "$(rc_of k)" ] || break
		done
	done
done
equal "fork-check -g 5" "kernel's exit status" "$(run k "$PROGS/fork-check" -g 5; rc_of k)" 5

# The program's own atfork handlers read untouched pattern memory (refpages under ucow): the
# prepare handler must not hang against ucow's fork, the child handler must see the pattern.
run k "$PROGS/atfork-touch"
equal "atfork-touch (kernel)" "exit status" "$(rc_of k)" 0
rm -f "$T/u.stats"
run_ucow u UCOW_STATS="$T/u.stats" "$PROGS/atfork-touch"
same_output "atfork-touch (refpages)" k u
no_stderr "atfork-touch (refpages)" u
require_managed "atfork-touch (refpages)" "$T/u.stats"
finish

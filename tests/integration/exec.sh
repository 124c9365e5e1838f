# exec.sh: a managed process (after faults and a fork) that execs another program leaks no
# file descriptor into it: the new image sees the same fds with and without ucow.
. "$UCOWTEST_SRCDIR/tests/integration/lib.sh"
require_lib
require_uffd

run k "$PROGS/exec-fds"
equal "exec (kernel)" "exit status" "$(rc_of k)" 0
for mode in zero write; do
	c="exec mode=$mode"
	rm -f "$T/stats.json"
	run_ucow u UCOW_SHMEM_HOLES=$mode UCOW_STATS="$T/stats.json" "$PROGS/exec-fds"
	same_output "$c" k u
	no_stderr "$c" u
	# Not vacuous: the fork child (which exits normally) managed the mapping, and the exec'd
	# image loaded ucow again (its own line, with nothing managed: it maps nothing).
	require_managed "$c" "$T/stats.json"
	equal "$c" "stats lines (fork child, exec'd image)" "$(grep -c '"ucow"' "$T/stats.json")" 2
	equal "$c" "exec'd image's line" "$(grep -c '"managed":false' "$T/stats.json")" 1
	if grep -q 'userfaultfd\|memfd\|anon_inode' "$T/u.out"; then
		bad "$c: the exec'd program inherited ucow's fds"
		sed 's/^/    /' "$T/u.out"
	fi
done
finish

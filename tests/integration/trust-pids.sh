# trust-pids.sh (issue 11, item 2): a fork child under a pids cgroup limit that leaves room
# for the child but for no thread in it (ucow's handler cannot start there) must still see
# the fork-time bytes of lazily memset memory and of a refpage.
. "$UCOWTEST_SRCDIR/tests/integration/lib.sh"
require_lib
require_uffd
require_root "creates a cgroup"
RUN_TIMEOUT=20

# A pids controller we may write: cgroup v2 (the root's subtree_control must offer pids),
# else v1's pids hierarchy (hybrid layout).
cg=
for base in /sys/fs/cgroup /sys/fs/cgroup/unified /sys/fs/cgroup/pids; do
	[ -d "$base" ] || continue
	if [ -f "$base/cgroup.subtree_control" ]; then
		grep -qw pids "$base/cgroup.subtree_control" 2>/dev/null ||
			echo +pids >"$base/cgroup.subtree_control" 2>/dev/null || continue
	fi
	d=$base/ucow-test.$$
	mkdir "$d" 2>/dev/null || continue
	if [ -f "$d/pids.max" ] && [ -w "$d/cgroup.procs" ]; then
		cg=$d
		break
	fi
	rmdir "$d" 2>/dev/null
done
[ -n "$cg" ] || skip "no writable pids cgroup (v2 with the pids controller, or v1 pids) here"
trap 'rmdir "$cg" 2>/dev/null' EXIT

for kind in lazy refpage data; do
	VERSUS_UCOW_LINES_OK=1 versus "pids-limited child, $kind" UCOW_LAZY_MEMSET=on \
		"$PROGS/trust-forkchild" $kind "pids:$cg"
	[ "$(ucow_lines u)" -le 1 ] || bad "pids-limited child, $kind: $(ucow_lines u) ucow: lines"
	hung u || require_managed "pids-limited child, $kind" "$T/u.stats"
done
finish

# stats-family.sh: `ucow run --stats` counts every process and sums its savings: a child that
# ends with _exit, one killed by SIGKILL (its figures as of its last refresh), one that drops
# its privileges to nobody before it exits (as root), and one that execs (both images, one
# process). Each writes one 1 MiB hole-only memfd, the exec'd one two. An image that execs a
# program without ucow; a stats directory on a full file system.
. "$UCOWTEST_SRCDIR/tests/integration/lib.sh"
require_lib
require_uffd
require_ucow_command

# 2.5 s: the killed child and the exec'd one live through two refreshes (every second).
run fam "$UCOW" run --stats -- "$PROGS/stats-family" 2500
equal "stats-family" "exit status" "$(rc_of fam)" 0
if [ "$(id -u)" -eq 0 ]; then
	procs=5 mib=6.0
else
	procs=4 mib=5.0
fi
grep -q "^ucow: stats: $procs processes (stats-family, pid [0-9]*, and $((procs - 1)) more), $procs managed;" \
	"$T/fam.err" || bad "summary: not $procs processes, all managed: $(head -1 "$T/fam.err")"
grep -q "^ucow: stats: 1 process ended by a signal" "$T/fam.err" ||
	bad "summary: the killed child is not said: $(sed -n 2p "$T/fam.err")"
grep -q "^ucow: stats: page cache avoided: $mib MiB" "$T/fam.err" ||
	bad "summary: $(grep avoided "$T/fam.err")"

# An image that execs a program without ucow (LD_PRELOAD taken out, as for a setuid program)
# ended: its figures are counted, and it is not taken for one killed; after an exec that
# failed, once.
for how in "" fail; do
	run out "$UCOW" run --stats -- "$PROGS/stats-family" exec-out $how
	equal "exec out $how" "exit status" "$(rc_of out)" 0
	grep -q "^ucow: stats: page cache avoided: 1.0 MiB" "$T/out.err" ||
		bad "exec out $how: $(grep -e avoided -e 'no memory' "$T/out.err")"
	! grep -q "ended by a signal" "$T/out.err" || bad "exec out $how: taken for killed"
done

# A stats directory on a full file system: one line, and the program runs on, its exit status
# untouched (the file's blocks are written when it is made, never later through the mapping).
full=$T/full
if [ "$(id -u)" -eq 0 ] && mkdir -p "$full" && mount -t tmpfs -o size=64k tmpfs "$full" 2>/dev/null; then
	mkdir "$full/d"
	dd if=/dev/zero of="$full/fill" bs=4k count=64 2>/dev/null
	run nospace env UCOW_STATS="$full/d/" LD_PRELOAD="$LIB" "$PROGS/shmem-hole" -s 1M -x 3
	equal "full stats directory" "exit status" "$(rc_of nospace)" 3
	equal "full stats directory" "ucow: lines" "$(grep -c '^ucow: stats: cannot create' "$T/nospace.err")" 1
	umount "$full"
else
	say "note: no tmpfs mounted (not root): the full-directory case is not checked"
fi
[ "$(id -u)" -eq 0 ] || { [ "$failures" -eq 0 ] && skip "the privilege-drop child needs root"; }
finish

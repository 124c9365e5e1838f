# exec.sh: fork + exec and posix_spawn of a child that maps and checks each kind of memory,
# plainly and under ucow (tests/behaviour/exec.c, behave.sh): the exec'd image inherits the
# shim through LD_PRELOAD, and manages its memory itself.
. "$UCOWTEST_SRCDIR/tests/behaviour/behave.sh"

# Every exec'd image (comm "exe": /proc/self/exe) loaded ucow; for a managed kind, each
# managed its memory.
exec_check() {
	n=$(grep -c "^mem: exec'd ucow=yes" "$T/u.out")
	[ "$n" -ge 2 ] || bad "exec $1: $n exec'd images found ucow loaded, want 2 or more"
	grep -q "^mem: exec'd ucow=no" "$T/u.out" && bad "exec $1: an exec'd image ran without ucow"
	# Each exec'd image writes its line, and so does the fork child it makes (at _exit).
	lines=$(grep -c '"comm":"exe"' "$T/u.stats")
	[ "$lines" -eq $((2 * n)) ] ||
		bad "exec $1: $lines exec'd stats lines, $n exec'd images (and as many fork children)"
	if [ "$2" = managed ]; then
		managed=$(grep '"comm":"exe"' "$T/u.stats" | grep -c '"managed":true')
		equal "exec $1" "exec'd images that managed memory" "$managed" "$lines"
	fi
}
behave exec exec_check

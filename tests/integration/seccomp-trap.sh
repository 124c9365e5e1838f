# seccomp-trap.sh: UCOW_SECCOMP. With the trap on, a raw io_uring_register (no liburing) on
# managed memory is known to ucow and the program's results do not change. Exec from a
# managed process: with the trap off (the default) every image — with ucow, without it,
# static, env -i — runs as without ucow; with it on, the same holds except for an image
# without ucow that registers buffers itself, which the inherited filter kills with SIGSYS:
# the reason the trap is off by default (man 7 ucow).
. "$UCOWTEST_SRCDIR/tests/integration/lib.sh"
require_lib
require_uffd

run k "$PROGS/pin-cow" memfd raw
[ "$(rc_of k)" = 77 ] && skip "$(tail -n 1 "$T/k.out")"

stats_run() {
	tag=$1
	shift
	rm -f "$T/$tag.stats"
	run_ucow "$tag" UCOW_LAZY_MEMSET=on UCOW_STATS="$T/$tag.stats" "$@"
}

# Default: no filter at all, and a raw registration is not known.
stats_run u "$PROGS/pin-cow" memfd raw
same_output "raw, trap off" k u
equal "raw, trap off" "trap" "$(stats_of u pins trap)" '"off"'
grep -q '^Seccomp:[[:space:]]*0' /proc/self/status ||
	say "note: this shell already runs under a seccomp filter"

stats_run u UCOW_SECCOMP=on "$PROGS/pin-cow" memfd raw
# The feature is built (this library has a trap): it must arm, never SKIP. Only a kernel or
# a process that refuses the filter (no CAP_SYS_ADMIN nor no_new_privs allowed) is a skip.
case $(stats_of u pins trap) in
'"armed"') ;;
'"refused"')
	[ "$(id -u)" -eq 0 ] && { bad "the trap was refused to root: $(head -n 2 "$T/u.err")"; finish; }
	skip "the trap needs CAP_SYS_ADMIN here: $(cat "$T/u.err")" ;;
*)
	bad "UCOW_SECCOMP=on on managed memory: the trap is $(stats_of u pins trap), not armed"
	finish ;;
esac

# Every kind this library manages; a symbol nm cannot find is a failure, not a smaller list.
command -v nm >/dev/null 2>&1 || { bad "nm is missing: cannot check the library's symbols"; finish; }
kinds="memfd memset refpage"
nm -D "$MEMSET_LIB" | grep -q ' [Ti] memset$' || bad "nm finds no memset in $MEMSET_LIB (lazy memset)"
nm -D "$LIB" | grep -q ' T ucow_refpage_create$' || bad "nm finds no ucow_refpage_create in $LIB"
for kind in $kinds; do
	c="raw register on $kind, trap on"
	run k "$PROGS/pin-cow" $kind raw
	stats_run u UCOW_SECCOMP=on "$PROGS/pin-cow" $kind raw
	same_output "$c" k u
	no_stderr "$c" u
	equal "$c" "trap" "$(stats_of u pins trap)" '"armed"'
	equal "$c" "raw pins known at exit" "$(stats_of u pins raw)" 1
	equal "$c" "fdinfo mismatches" "$(stats_of u pins fdinfo_mismatches)" 0
	# Through liburing, a trapped call is learnt once, as liburing's.
	stats_run u UCOW_SECCOMP=on "$PROGS/pin-cow" $kind fork
	equal "$kind fork, trap on" "exit status" "$(rc_of u)" 0
	equal "$kind fork, trap on" "liburing pins known" "$(stats_of u pins liburing)" 1
	equal "$kind fork, trap on" "raw pins known" "$(stats_of u pins raw)" 0
	# A thread that blocks SIGSYS registers through liburing: not killed by the trap.
	c="$kind liburing register with signals blocked, trap on"
	run k "$PROGS/pin-cow" $kind sigblock
	stats_run u UCOW_SECCOMP=on "$PROGS/pin-cow" $kind sigblock
	same_output "$c" k u
	equal "$c" "exit status" "$(rc_of u)" 0
	equal "$c" "liburing pins known" "$(stats_of u pins liburing)" 1
done

# Exec from a managed process that holds a registered buffer: each image's output and exit
# status are those of the same exec without ucow.
S="$PROGS/static-probe"
readelf -l "$S" 2>/dev/null | grep -q INTERP && say "note: $S is not static here"
n=0
for trap in off on; do
	while IFS='|' read -r want image; do
		n=$((n + 1))
		c="exec, trap $trap: $image"
		run k "$PROGS/pin-cow" memfd exec $image
		run_ucow u UCOW_SECCOMP=$trap "$PROGS/pin-cow" memfd exec $image
		if [ $trap = on ] && [ "$want" = killed ]; then
			# The documented hazard: SIGSYS (128 + 31) where the kernel alone runs it.
			equal "$c" "exit status (killed by the inherited filter)" "$(rc_of u)" 159
			continue
		fi
		same_output "$c" k u
	done <<EOF
safe|$S
killed|$S register
safe|/usr/bin/env -i $S
killed|/usr/bin/env -i $S register
killed|/usr/bin/env -i $PROGS/pin-cow anon raw
safe|$PROGS/pin-cow anon raw
safe|$PROGS/pin-cow memfd fork
EOF
done
say "$n exec cases"
finish

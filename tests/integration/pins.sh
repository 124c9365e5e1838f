# pins.sh: pinned memory (io_uring fixed buffers, ucow_pin) through fork, mprotect and
# vmsplice, on every kind of managed memory and on plain anonymous memory: each scenario runs
# with and without ucow and both must agree (tests/programs/pin-cow.c lists the checks).
. "$UCOWTEST_SRCDIR/tests/integration/lib.sh"
require_lib
require_uffd

run k "$PROGS/pin-cow" anon fork
[ "$(rc_of k)" = 77 ] && skip "$(tail -n 1 "$T/k.out")"

# kind_ready KIND: whether ucow has the policy that makes KIND managed memory (else why not).
# Every kind is built into this library: one nm cannot confirm is a failure, never dropped.
command -v nm >/dev/null 2>&1 || { bad "nm is missing: cannot check the library's symbols"; finish; }
kind_ready() {
	case $1 in
	refpage) nm -D "$LIB" | grep -q ' T ucow_refpage_create$' ||
		{ echo "nm finds no ucow_refpage_create in $LIB"; return 1; } ;;
	memset) nm -D "$MEMSET_LIB" | grep -q ' [Ti] memset$' ||
		{ echo "nm finds no memset in $MEMSET_LIB"; return 1; } ;;
	esac
	return 0
}

kinds_done=
for kind in anon memfd refpage memset; do
	if ! why=$(kind_ready $kind); then
		bad "kind $kind: $why"
		continue
	fi
	for scenario in fork mprotect mprotect-fork vmsplice pin; do
		c="$kind $scenario"
		run k "$PROGS/pin-cow" $kind $scenario
		rm -f "$T/u.stats"
		run_ucow u UCOW_LAZY_MEMSET=on UCOW_STATS="$T/u.stats" "$PROGS/pin-cow" $kind $scenario
		equal "$c (kernel)" "exit status" "$(rc_of k)" 0
		same_output "$c" k u
		no_stderr "$c" u
		# Not vacuous: the kind is memory ucow manages (anonymous memory is the control).
		[ $kind = anon ] || equal "$c" "managed" "$(sed -n 's/.*"managed":\([a-z]*\).*/\1/p' \
			"$T/u.stats" | tail -n 1)" true
		case $scenario in
		fork | mprotect*)
			# The buffer is still registered at exit: the stats list it, as fdinfo does.
			equal "$c" "pins known at exit" "$(stats_of u pins known)" 1
			equal "$c" "pins from liburing" "$(stats_of u pins liburing)" 1
			equal "$c" "fdinfo mismatches" "$(stats_of u pins fdinfo_mismatches)" 0 ;;
		pin)
			equal "$c" "ucow_pin made a kernel pin" "$(stats_of u pins kernel_pins)" 1
			equal "$c" "pins known at exit (unpinned)" "$(stats_of u pins known)" 0 ;;
		esac
	done
	kinds_done="$kinds_done $kind"
done
say "kinds checked:$kinds_done"
equal "kinds checked" "list" "$kinds_done" " anon memfd refpage memset"
finish

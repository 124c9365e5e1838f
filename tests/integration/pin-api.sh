# pin-api.sh: ucow_pin on every kind of memory. The parent that writes after fork keeps its
# pages (pagemap frames, as root) and the child has the fork-time bytes, whether ucow makes a
# kernel pin (its own io_uring ring) or, with io_uring blocked as in a container, copies the
# range for the child itself; without any pin the frames change (the control). Without ucow
# the program pins with io_uring itself: both must agree.
. "$UCOWTEST_SRCDIR/tests/integration/lib.sh"
require_lib
require_uffd

run k "$PROGS/pin-cow" anon pin
[ "$(rc_of k)" = 77 ] && skip "$(tail -n 1 "$T/k.out")"
[ "$(id -u)" -eq 0 ] || say "not root: frames are not checked (pagemap hides them)"

# stats_run TAG [VAR=VALUE...] COMMAND...: run_ucow with UCOW_STATS in $T/TAG.stats.
stats_run() {
	tag=$1
	shift
	rm -f "$T/$tag.stats"
	run_ucow "$tag" UCOW_LAZY_MEMSET=on UCOW_STATS="$T/$tag.stats" "$@"
}

for kind in anon memfd refpage memset; do
	case $kind in
	refpage) nm -D "$LIB" | grep -q ' T ucow_refpage_create$' ||
		{ say "kind refpage skipped: the refpage policy is not in this library yet"; continue; } ;;
	memset) nm -D "$MEMSET_LIB" | grep -q ' [Ti] memset$' ||
		{ say "kind memset skipped: the lazy memset policy is not in this library yet"; continue; } ;;
	esac
	run k "$PROGS/pin-cow" $kind pin
	equal "$kind pin (kernel, io_uring pin)" "exit status" "$(rc_of k)" 0

	c="$kind ucow_pin, kernel pin"
	stats_run u "$PROGS/pin-cow" $kind pin
	same_output "$c" k u
	no_stderr "$c" u
	equal "$c" "kernel pins" "$(stats_of u pins kernel_pins)" 1
	equal "$c" "pages copied by ucow" "$(stats_of u pins fork_copied_pages)" 0

	equal "$c" "file blocks after the fork" "$(mem u file_blocks_after_fork)" \
		"$(mem u file_blocks_pinned)"

	c="$kind ucow_pin, io_uring blocked: ucow copies for the child"
	stats_run u "$PROGS/seccomp-run" --no-io-uring -- "$PROGS/pin-cow" $kind pin
	same_output "$c" k u
	no_stderr "$c" u
	equal "$c" "kernel pins" "$(stats_of u pins kernel_pins)" 0
	equal "$c" "pages copied by ucow" "$(stats_of u pins fork_copied_pages)" 512
	equal "$c" "file blocks after the fork" "$(mem u file_blocks_after_fork)" \
		"$(mem u file_blocks_pinned)"

	c="$kind ucow_pin API"
	stats_run u "$PROGS/pin-cow" $kind api
	equal "$c" "exit status" "$(rc_of u)" 0
	no_stderr "$c" u
	equal "$c" "pins known at exit" "$(stats_of u pins known)" 0

	c="$kind ucow_pin API, io_uring blocked"
	stats_run u "$PROGS/seccomp-run" --no-io-uring -- "$PROGS/pin-cow" $kind api
	equal "$c" "exit status" "$(rc_of u)" 0
	no_stderr "$c" u

	c="$kind without a pin (control)"
	run k "$PROGS/pin-cow" $kind nopin
	run_ucow u UCOW_LAZY_MEMSET=on "$PROGS/pin-cow" $kind nopin
	equal "$c (kernel)" "exit status" "$(rc_of k)" 0
	same_output "$c" k u
done

# UCOW_PINS=off: ucow learns nothing and ucow_pin says so.
run_ucow u UCOW_PINS=off "$PROGS/pin-cow" anon pin
equal "UCOW_PINS=off" "exit status" "$(rc_of u)" 2
grep -q 'ucow_pin: Operation not supported' "$T/u.err" ||
	bad "UCOW_PINS=off: ucow_pin did not fail with EOPNOTSUPP: $(cat "$T/u.err")"
finish

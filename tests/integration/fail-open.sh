# fail-open.sh: run as if userfaultfd were blocked, as Docker's default seccomp profile does
# (tests/programs/seccomp-run, libseccomp): ucow prints exactly one "ucow:" line, the program
# gets the kernel's results and keeps its exit status; pins are still learnt and ucow_pin
# still works. With io_uring blocked too, ucow_pin copies pinned ranges for children itself.
. "$UCOWTEST_SRCDIR/tests/integration/lib.sh"
require_lib

SR="$PROGS/seccomp-run"
run p "$SR" --no-uffd -- "$PROGS/uffd-probe"
equal "the harness blocks userfaultfd" "uffd-probe's exit status" "$(rc_of p)" 77

json() {
	sed -n "s/.*\"$2\":\([0-9a-z\"]*\).*/\1/p" "$T/$1.stats" | tail -n 1
}

# one_line CASE TAG: exactly one line on stderr, and it is ucow's.
one_line() {
	if [ "$(wc -l <"$T/$2.err")" -ne 1 ] || [ "$(ucow_lines "$2")" -ne 1 ]; then
		bad "$1: want exactly one 'ucow:' line on stderr, got:"
		head -n 5 "$T/$2.err" | sed 's/^/    /'
	fi
}

while IFS='|' read -r name want_rc cmd; do
	for extra in "" "--no-io-uring"; do
		c="$name${extra:+ $extra}"
		run k "$SR" $extra -- $cmd
		rm -f "$T/u.stats"
		run u "$SR" --no-uffd $extra -- env LD_PRELOAD="$LIB:$MEMSET_LIB" \
			UCOW_STATS="$T/u.stats" UCOW_LAZY_MEMSET=on $cmd
		[ "$(rc_of k)" = 77 ] && { say "$c: skipped ($(tail -n 1 "$T/k.out"))"; continue; }
		equal "$c (kernel)" "exit status" "$(rc_of k)" "$want_rc"
		same_output "$c" k u
		one_line "$c" u
		equal "$c" "managed" "$(json u managed)" false
	done
done <<EOF
shmem-hole seq-write|3|$PROGS/shmem-hole -p seq-write -x 3
shmem-hole read|3|$PROGS/shmem-hole -p read -x 3
fork-check, exit status from a grandchild|5|$PROGS/fork-check -g 5
pin-cow memfd fork|0|$PROGS/pin-cow memfd fork
pin-cow memset mprotect-fork|0|$PROGS/pin-cow memset mprotect-fork
EOF

# ucow_pin needs no userfaultfd.
c="ucow_pin without userfaultfd"
run k "$PROGS/pin-cow" memfd pin
rm -f "$T/u.stats"
run u "$SR" --no-uffd -- env LD_PRELOAD="$LIB" UCOW_STATS="$T/u.stats" "$PROGS/pin-cow" memfd pin
same_output "$c" k u
one_line "$c" u
equal "$c" "kernel pins" "$(json u kernel_pins)" 1
finish

# lib.sh: helpers the integration tests source: run a command with and without the shim,
# read the counters test programs print, and record failures without stopping at the first.
# Set by tests/run-tests.sh: UCOWTEST_SRCDIR, UCOWTEST_BUILDDIR, UCOWTEST_LIB,
# UCOWTEST_PROGRAMS, UCOWTEST_TMPDIR.

set -u

: "${UCOWTEST_BUILDDIR:?run me through tests/run-tests.sh (make check)}"
LIB=$UCOWTEST_LIB
PROGS=$UCOWTEST_PROGRAMS
T=${UCOWTEST_TMPDIR:-$(mktemp -d)}
PYTHON=/usr/bin/python3
failures=0

say() {
	echo "$*"
}

# Records a failure and goes on, so one run shows every failing case.
bad() {
	echo "FAILED: $*"
	failures=$((failures + 1))
}

skip() {
	echo "$*"
	exit 77
}

# The last line: exit 0 or 1.
finish() {
	if [ "$failures" -ne 0 ]; then
		echo "$failures check(s) failed"
		exit 1
	fi
	echo "all checks passed"
	exit 0
}

require_lib() {
	[ -f "$LIB" ] || { echo "the library was not built: $LIB"; exit 1; }
}

require_root() {
	[ "$(id -u)" -eq 0 ] || skip "needs root: $*"
}

# Skips unless this process may use userfaultfd on shmem (ucow would run unmanaged).
require_uffd() {
	out=$("$PROGS/uffd-probe" 2>&1)
	rc=$?
	[ $rc -eq 77 ] && skip "$out"
	[ $rc -eq 0 ] || { echo "uffd-probe failed ($rc): $out"; exit 1; }
}

# run TAG [VAR=VALUE...] COMMAND [ARGS...]: runs with stdout in $T/TAG.out, stderr in
# $T/TAG.err and the exit status in $T/TAG.rc; a run over 60 s counts as a hang (124).
run() {
	tag=$1
	shift
	timeout -k 5 60 env "$@" >"$T/$tag.out" 2>"$T/$tag.err" </dev/null
	echo $? >"$T/$tag.rc"
}

# run_ucow TAG [VAR=VALUE...] COMMAND...: the same with the shim preloaded.
run_ucow() {
	tag=$1
	shift
	run "$tag" LD_PRELOAD="$LIB" "$@"
}

rc_of() {
	cat "$T/$1.rc"
}

# The part of a run's stdout that must not change under ucow (all but "mem:" lines).
stable() {
	grep -v '^mem: ' "$T/$1.out"
}

# mem TAG KEY: a counter from the "mem: key=value ..." line, or from "key=value" anywhere.
mem() {
	sed -n "s/.*[ :]$2=\([0-9-]*\).*/\1/p; s/^$2=\([0-9-]*\).*/\1/p" "$T/$1.out" | head -n 1
}

ucow_lines() {
	grep -c '^ucow:' "$T/$1.err"
}

# same_output CASE KERNEL_TAG UCOW_TAG: stable stdout and exit status are identical.
same_output() {
	if ! stable "$2" >"$T/$2.stable" || ! stable "$3" >"$T/$3.stable" ||
	   ! cmp -s "$T/$2.stable" "$T/$3.stable"; then
		bad "$1: stdout differs from the kernel's"
		diff "$T/$2.stable" "$T/$3.stable" | head -n 10 | sed 's/^/    /'
	fi
	if [ "$(rc_of "$2")" != "$(rc_of "$3")" ]; then
		bad "$1: exit status $(rc_of "$3"), the kernel's run $(rc_of "$2")"
		sed 's/^/    stderr: /' "$T/$3.err" | head -n 10
	fi
}

# no_stderr CASE TAG: the run printed nothing on stderr.
no_stderr() {
	if [ -s "$T/$2.err" ]; then
		bad "$1: unexpected stderr"
		head -n 10 "$T/$2.err" | sed 's/^/    /'
	fi
}

# near CASE WHAT GOT WANT TOLERANCE
near() {
	d=$(($3 - $4))
	[ $d -lt 0 ] && d=$((-d))
	[ $d -le "$5" ] || bad "$1: $2 is $3, want $4 (+-$5)"
}

# equal CASE WHAT GOT WANT
equal() {
	[ "$3" = "$4" ] || bad "$1: $2 is '$3', want '$4'"
}

# Whether directory $1 is on tmpfs (so ucow manages MAP_PRIVATE mappings of its files).
on_tmpfs() {
	[ "$(stat -f -c %T "$1" 2>/dev/null)" = tmpfs ]
}

# lib.sh: helpers the integration tests source: run a command with and without the shim,
# read the counters test programs print, and record failures without stopping at the first.
# Set by make check (tests/Makefile.inc and tests/run-test.sh): UCOWTEST_SRCDIR,
# UCOWTEST_BUILDDIR, UCOWTEST_LIB, UCOWTEST_PROGRAMS, UCOWTEST_TMPDIR.

set -u

: "${UCOWTEST_BUILDDIR:?run me through make check (tests/run-test.sh)}"
LIB=$UCOWTEST_LIB
# libucow-memset.so, built next to libucow.so: lazy memset needs both preloaded.
MEMSET_LIB=${UCOWTEST_MEMSET_LIB:-${LIB%/*}/libucow-memset.so}
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

# require_ucow_command: sets UCOW to the built ucow command, or fails the test.
require_ucow_command() {
	UCOW=
	for c in "$UCOWTEST_BUILDDIR/ucow" "$UCOWTEST_BUILDDIR/src/cli/ucow"; do
		[ -x "$c" ] && { UCOW=$c; break; }
	done
	[ -n "$UCOW" ] || { echo "the ucow command was not built"; exit 1; }
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
# $T/TAG.err and the exit status in $T/TAG.rc; a run over $RUN_TIMEOUT s (default 60)
# counts as a hang (124, or 137 when it had to be killed: a hung process may block SIGTERM).
RUN_TIMEOUT=${RUN_TIMEOUT:-60}
run() {
	tag=$1
	shift
	timeout -k 3 "$RUN_TIMEOUT" env "$@" >"$T/$tag.out" 2>"$T/$tag.err" </dev/null
	echo $? >"$T/$tag.rc"
}

# hung TAG: whether run TAG was stopped by its timeout.
hung() {
	case $(rc_of "$1") in 124 | 137) return 0 ;; esac
	return 1
}

# preload_for [VAR=VALUE...] COMMAND...: the LD_PRELOAD list for such a run: libucow.so,
# then libucow-memset.so when UCOW_LAZY_MEMSET=on is among the settings.
preload_for() {
	for a in "$@"; do
		case $a in
		UCOW_LAZY_MEMSET=on) echo "$LIB:$MEMSET_LIB"; return ;;
		*=*) ;;
		*) break ;;
		esac
	done
	echo "$LIB"
}

# unprivileged_ready PROGRAM...: whether setpriv can run a command as nobody keeping only
# CAP_SYS_PTRACE (userfaultfd allowed, nothing else of root's). If so, copies the library and
# the named test programs into $UNPRIV_DIR, which nobody can enter (the build tree may be
# under a directory it cannot), beside a "stats" file anyone may write; removed at exit.
unprivileged_ready() {
	command -v setpriv >/dev/null &&
		setpriv --reuid=nobody --regid=nogroup --clear-groups --inh-caps=+sys_ptrace \
			--ambient-caps=+sys_ptrace true 2>/dev/null || return 1
	UNPRIV_DIR=$(mktemp -d /tmp/ucow-unpriv.XXXXXX) || return 1
	trap 'rm -rf "$UNPRIV_DIR"' EXIT
	cp "$LIB" "$UNPRIV_DIR/libucow.so" || return 1
	for p in "$@"; do
		cp "$PROGS/$p" "$UNPRIV_DIR/" || return 1
	done
	: >"$UNPRIV_DIR/stats"
	chmod 755 "$UNPRIV_DIR" "$UNPRIV_DIR"/* && chmod 666 "$UNPRIV_DIR/stats"
}

# run_unprivileged TAG "VAR=VALUE ..." PROGRAM [ARGS...]: run_ucow of the copy of PROGRAM, as
# nobody with CAP_SYS_PTRACE, with the copied library and the settings (no spaces in values).
run_unprivileged() {
	ru_tag=$1
	ru_env=$2
	ru_prog=$3
	shift 3
	ru_lib=$LIB
	LIB=$UNPRIV_DIR/libucow.so
	# shellcheck disable=SC2086 # the settings are words
	run_ucow "$ru_tag" $ru_env setpriv --reuid=nobody --regid=nogroup --clear-groups \
		--inh-caps=+sys_ptrace --ambient-caps=+sys_ptrace "$UNPRIV_DIR/$ru_prog" "$@"
	LIB=$ru_lib
}

# run_ucow TAG [VAR=VALUE...] COMMAND...: the same with the shim preloaded (and its memset,
# for UCOW_LAZY_MEMSET=on).
run_ucow() {
	tag=$1
	shift
	run "$tag" LD_PRELOAD="$(preload_for "$@")" "$@"
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

# stats_of TAG GROUP KEY: a value of GROUP's KEY in the UCOW_STATS file $T/TAG.stats, from the
# line of the run's main process: the last one, as it exits after the children it waits for
# (they write theirs at _exit).
stats_of() {
	sed -n "s/.*\"$2\":{[^}]*\"$3\":\([0-9a-z\"]*\).*/\1/p" "$T/$1.stats" | tail -n 1
}

# require_managed CASE STATSFILE: a comparison with the kernel proves nothing unless ucow
# managed something in that run: the UCOW_STATS file (one JSON line per process) must show a
# process with "managed":true and at least one registered region.
require_managed() {
	if [ ! -s "$2" ]; then
		bad "$1: no UCOW_STATS output in $2: cannot tell whether ucow managed anything"
		return 1
	fi
	if ! grep -q '"managed":true' "$2" ||
	   ! grep -q '"engine":{"regions":[1-9]' "$2"; then
		bad "$1: ucow managed nothing (UCOW_STATS shows no registered region)"
		head -n 3 "$2" | cut -c 1-300 | sed 's/^/    /'
		return 1
	fi
	return 0
}

ucow_lines() {
	grep '^ucow:' "$T/$1.err" | grep -vc '^ucow: stats:'
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

# versus CASE [VAR=VALUE...] COMMAND [ARGS...]: runs COMMAND plainly (tag k) and under the
# shim (tag u, with UCOW_STATS=$T/u.stats) with the same environment; records a failure for
# a hang, a different exit status or stdout, or a "ucow:" line on stderr (unless
# VERSUS_UCOW_LINES_OK is set). Returns 1 when ucow's run hung, else 0.
versus() {
	vc=$1
	shift
	run k "$@"
	# Writable by anyone: a process that dropped its privileges writes its line too.
	rm -f "$T/u.stats"
	: >"$T/u.stats"
	chmod 666 "$T/u.stats"
	run_ucow u UCOW_STATS="$T/u.stats" "$@"
	if hung k; then
		bad "$vc: the kernel's run hung"
		return 0
	fi
	if hung u; then
		bad "$vc: hung under ucow (stopped after ${RUN_TIMEOUT} s)"
		# What it printed before: a wrong byte may come first.
		stable k | diff - "$T/u.out" | head -n 6 | sed 's/^/    so far: /'
		return 1
	fi
	same_output "$vc" k u
	# (Not the stats line's own complaint: a program that used every descriptor leaves
	# none for UCOW_STATS, which is this test's, not the program's.)
	if [ -z "${VERSUS_UCOW_LINES_OK:-}" ] && grep '^ucow:' "$T/u.err" | grep -qv '^ucow: stats:'; then
		bad "$vc: ucow wrote on stderr"
		grep '^ucow:' "$T/u.err" | head -n 3 | cut -c 1-300 | sed 's/^/    /'
	fi
	return 0
}

# versus_rounds CASE ROUNDS [VAR=VALUE...] COMMAND [ARGS...]: versus, ROUNDS times (a race
# may show only now and then), each ucow run proving it managed memory; stops at the first
# round that fails.
versus_rounds() {
	vr_case=$1
	vr_rounds=$2
	shift 2
	for vr_round in $(seq "$vr_rounds"); do
		versus "$vr_case, round $vr_round" "$@"
		hung u || require_managed "$vr_case" "$T/u.stats" || return 0
		[ "$(rc_of u)" = 0 ] || return 0
	done
}

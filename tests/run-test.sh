#!/bin/sh
# run-test.sh: automake's LOG_COMPILER for every test: runs one test program or script with
# none of the caller's UCOW_* knobs nor LD_PRELOAD, in a fresh temporary directory, under a
# time limit (UCOWTEST_TIMEOUT seconds, default 120).
#
# usage: run-test.sh [INTERPRETER] TEST     (from `make check`; environment: UCOWTEST_*)
#
# Integration tests measure hangs and timing on a 2-CPU machine, so they run one at a time
# even under `make -j`: each holds the build tree's tests/ directory locked while it runs
# (unit tests share that lock with each other). UCOWTEST_PARALLEL=yes drops the lock.

set -u

: "${UCOWTEST_BUILDDIR:?run me through make check}"
timeout_s=${UCOWTEST_TIMEOUT:-120}

# The test's path, made absolute: it runs from its temporary directory.
abs() {
	case $1 in
	/*) echo "$1" ;;
	*) echo "$(pwd)/$1" ;;
	esac
}
if [ $# -ge 2 ]; then
	interp=$1
	test=$(abs "$2")
	set -- "$interp" "$test"
	lock=-x
else
	test=$(abs "$1")
	set -- "$test"
	lock=-s
fi

# Tests must see neither the caller's knobs nor a preloaded library.
# (Our own variables are UCOWTEST_*: the library warns about unknown UCOW_* names.)
for v in $(env | sed -n 's/^\(UCOW_[A-Za-z0-9_]*\)=.*/\1/p'); do
	unset "$v"
done
unset LD_PRELOAD

tmp=$(mktemp -d "${TMPDIR:-/tmp}/ucow-test.XXXXXX") || exit 99
export UCOWTEST_TMPDIR="$tmp"

# The lock is taken before the clock starts: waiting for another test is not this one's time.
if [ "${UCOWTEST_PARALLEL:-no}" != yes ] && command -v flock >/dev/null 2>&1 &&
   [ -d "$UCOWTEST_BUILDDIR/tests" ]; then
	set -- flock "$lock" "$UCOWTEST_BUILDDIR/tests" timeout -k 5 "$timeout_s" "$@"
else
	set -- timeout -k 5 "$timeout_s" "$@"
fi
(cd "$tmp" && exec "$@") </dev/null
rc=$?
rm -rf "$tmp"

case $rc in
124 | 137) echo "run-test.sh: timed out after ${timeout_s}s (UCOWTEST_TIMEOUT)" ;;
esac
exit $rc

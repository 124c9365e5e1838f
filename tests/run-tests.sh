#!/bin/sh
# run-tests.sh: runs ucow's unit and integration tests, each under a timeout, and ends with
# the line "N passed, N failed". A test passes (0), fails (other), or skips (77, its last
# line of output saying why).
#
# usage: run-tests.sh --srcdir DIR --builddir DIR --unit "PROG ..." --integration "SCRIPT ..."
#                     [--only "NAME ..."]
# Names are unit/NAME and integration/NAME (test- and .sh stripped); --only accepts either
# the full name or the part after the slash.

set -u

srcdir=.
builddir=.
unit=
integration=
only=
while [ $# -gt 0 ]; do
	case $1 in
	--srcdir) srcdir=$2; shift ;;
	--builddir) builddir=$2; shift ;;
	--unit) unit=$2; shift ;;
	--integration) integration=$2; shift ;;
	--only) only=$2; shift ;;
	*) echo "run-tests.sh: unknown argument '$1'" >&2; exit 2 ;;
	esac
	shift
done

srcdir=$(cd "$srcdir" && pwd) || exit 2
builddir=$(cd "$builddir" && pwd) || exit 2
timeout_s=${UCOWTEST_TIMEOUT:-120}
logdir=$builddir/tests/logs
mkdir -p "$logdir" || exit 2

# Tests must see neither the caller's knobs nor a preloaded library.
# (Our own variables are UCOWTEST_*: the library warns about unknown UCOW_* names.)
for v in $(env | sed -n 's/^\(UCOW_[A-Za-z0-9_]*\)=.*/\1/p'); do
	unset "$v"
done
unset LD_PRELOAD
export UCOWTEST_SRCDIR="$srcdir" UCOWTEST_BUILDDIR="$builddir"
export UCOWTEST_LIB="$builddir/src/.libs/libucow.so"
export UCOWTEST_PROGRAMS="$builddir/tests/programs"

name_of() {
	case $1 in
	*/unit/*) n=${1##*/}; echo "unit/${n#test-}" ;;
	*) n=${1##*/}; echo "integration/${n%.sh}" ;;
	esac
}

selected() {
	[ -z "$only" ] && return 0
	for o in $only; do
		[ "$o" = "$1" ] || [ "$o" = "${1#*/}" ] && return 0
	done
	return 1
}

passed=0
failed=0
skipped=0
seen=

run_one() {	# run_one NAME COMMAND...
	name=$1
	shift
	seen="$seen $name ${name#*/} "
	selected "$name" || return 0
	log=$logdir/$(echo "$name" | tr / -).log
	tmp=$(mktemp -d "${TMPDIR:-/tmp}/ucow-test.XXXXXX") || exit 2
	(cd "$tmp" && UCOWTEST_TMPDIR=$tmp exec timeout -k 5 "$timeout_s" "$@") \
		</dev/null >"$log" 2>&1
	rc=$?
	rm -rf "$tmp"
	case $rc in
	0)
		echo "PASS: $name"
		passed=$((passed + 1)) ;;
	77)
		reason=$(grep -v '^[[:space:]]*$' "$log" | tail -n 1)
		echo "SKIP: $name (${reason:-no reason given})"
		skipped=$((skipped + 1)) ;;
	*)
		if [ $rc -eq 124 ] || [ $rc -eq 137 ]; then
			echo "FAIL: $name (timed out after ${timeout_s}s)"
		else
			echo "FAIL: $name (exit status $rc; log: $log)"
		fi
		tail -n 40 "$log" | sed 's/^/    /'
		failed=$((failed + 1)) ;;
	esac
}

for t in $unit; do
	run_one "$(name_of "$t")" "$builddir/$t"
done
for t in $integration; do
	run_one "$(name_of "$t")" /bin/sh "$srcdir/$t"
done

# A name asked for that is no test is a failure, not silence.
for o in $only; do
	case $seen in
	*" $o "*) ;;
	*) echo "FAIL: $o (no such test)"; failed=$((failed + 1)) ;;
	esac
done

echo "$skipped skipped"
echo "$passed passed, $failed failed"
[ $failed -eq 0 ]

#!/bin/sh
# policy-row.sh: proves that a policy is one file and one table row. Builds a test copy of libucow.so
# with tests/policy-row/fixed_byte.c added and one row (and its declaration) added to
# src/policies.c, nothing else, then checks that MAP_STACK memory reads 0xC3 under it, 0 on the
# plain kernel and 0 under the shipped library. Exit 0 pass, 1 fail, 77 skip.
#
# usage: policy-row.sh [SRCDIR BUILDDIR "LIBRARY SOURCES" "EXTRA CFLAGS"]
# (make check passes them in UCOWTEST_SRCDIR, UCOWTEST_BUILDDIR, UCOWTEST_LIB_SOURCES and
# UCOWTEST_LIB_CFLAGS)
set -u
srcdir=${1:-$UCOWTEST_SRCDIR} builddir=${2:-$UCOWTEST_BUILDDIR}
sources=${3:-$UCOWTEST_LIB_SOURCES} cflags=${4:-${UCOWTEST_LIB_CFLAGS:-}}
CC=${CC:-cc}
tmp=$(mktemp -d) || exit 2
trap 'rm -rf "$tmp"' EXIT

say() { printf 'policy-row: %s\n' "$*"; }

# The table with the new row: a declaration and one entry before the NULL that ends it.
sed -e 's|^const struct ucow_policy \*const ucow_policies\[\] = {|extern const struct ucow_policy fixed_byte_policy;\n&|' \
    -e 's|^\tNULL,$|\t\&fixed_byte_policy,\n\tNULL,|' "$srcdir/src/policies.c" >"$tmp/policies.c"
say "the change to the table:"
diff -u "$srcdir/src/policies.c" "$tmp/policies.c" | sed -n '3,$p'
[ "$(diff "$srcdir/src/policies.c" "$tmp/policies.c" | grep -c '^>')" = 2 ] || {
	say "FAIL: the table row could not be added"; exit 1; }

files=
for s in $sources; do
	case $s in
	*.c) [ "$s" = src/policies.c ] && files="$files $tmp/policies.c" || files="$files $srcdir/$s" ;;
	esac
done
# shellcheck disable=SC2086
if ! $CC -shared -fPIC -O2 -pthread -fvisibility=hidden -include "$builddir/build.h" \
	-I"$srcdir/include" -I"$srcdir/src" -I"$builddir" $cflags $files \
	"$srcdir/tests/policy-row/fixed_byte.c" -Wl,--version-script="$srcdir/src/libucow.map" \
	-ldl -lpthread -o "$tmp/libucow.so" 2>"$tmp/cc.log"; then
	cat "$tmp/cc.log"
	say "FAIL: the library with the new policy does not build"
	exit 1
fi
$CC -O2 -o "$tmp/check" "$srcdir/tests/policy-row/fixed-byte-check.c" || exit 2

fail=0
"$tmp/check" 0 >"$tmp/plain.out" || { say "FAIL: the plain kernel's MAP_STACK memory does not read 0"; fail=1; }
LD_PRELOAD="$builddir/src/.libs/libucow.so" "$tmp/check" 0 >"$tmp/shipped.out" ||
	{ say "FAIL: the shipped library changed MAP_STACK memory"; fail=1; }
UCOW_STATS="$tmp/stats" LD_PRELOAD="$tmp/libucow.so" "$tmp/check" 0xC3 >"$tmp/row.out" 2>"$tmp/row.err"
rc=$?
if grep -q '"regions":0,' "$tmp/stats" 2>/dev/null && grep -q 'userfaultfd' "$tmp/row.err"; then
	say "no userfaultfd here: $(head -1 "$tmp/row.err")"
	exit 77
fi
if [ $rc != 0 ]; then
	cat "$tmp/row.out" "$tmp/row.err"
	say "FAIL: with the new row, MAP_STACK memory does not read 0xC3"
	fail=1
fi
grep -q '"managed":true' "$tmp/stats" 2>/dev/null || { say "FAIL: the new policy managed nothing"; fail=1; }
[ $fail = 0 ] && say "PASS: one new file and one table row made a fourth policy (0xC3 pages, fork included)"
exit $fail

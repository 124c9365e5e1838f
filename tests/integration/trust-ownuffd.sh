# trust-ownuffd.sh (issue 11, item 7): a program registers memory it owns with its own
# userfaultfd (QEMU postcopy) and serves the faults itself: a memfd MAP_PRIVATE mapping
# (default settings: ucow manages it), one with data pages, and lazily memset memory. ucow
# must step aside: no EBUSY, the program's own UFFDIO_COPY fills what it reads.
. "$UCOWTEST_SRCDIR/tests/integration/lib.sh"
require_lib
require_uffd
RUN_TIMEOUT=20

run k "$PROGS/trust-ownuffd" memfd
[ "$(rc_of k)" = 77 ] && skip "$(tail -n 1 "$T/k.out")"
for kind in memfd data lazy; do
	versus "ownuffd $kind" UCOW_LAZY_MEMSET=on "$PROGS/trust-ownuffd" $kind
	grep -q 'Device or resource busy' "$T/u.out" && bad "ownuffd $kind: UFFDIO_REGISTER got EBUSY"
	hung u || require_managed "ownuffd $kind" "$T/u.stats"
done
finish

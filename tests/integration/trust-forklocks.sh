# trust-forklocks.sh (issue 11, fork): a thread forks in a loop while another allocates from
# heap memory that was memset lazily. glibc holds its malloc locks across fork; the fault a
# lock holder takes must be served while the fork waits, so nothing may hang.
. "$UCOWTEST_SRCDIR/tests/integration/lib.sh"
require_lib
require_uffd
RUN_TIMEOUT=20

for round in 1 2; do
	versus "forklocks round $round" UCOW_LAZY_MEMSET=on "$PROGS/trust-forklocks" 3 || break
	hung u || require_managed "forklocks round $round" "$T/u.stats"
done
finish

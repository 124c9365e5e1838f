# trust-lazythreads.sh: lazy memset in threads that map, memset, check and unmap blocks while
# another thread acts on the same addresses. A block another thread had just unmapped took
# over the dead mapping's entry in place, and the notice of that unmap then forgot it by its
# birth: pages read zero. Advice (MADV_COLLAPSE, MADV_HUGEPAGE, PR_SET_MEMORY_MERGE) filled and
# forgot ranges from a look taken before another thread unmapped and managed them again:
# pages read an old value, or zero.
. "$UCOWTEST_SRCDIR/tests/integration/lib.sh"
require_lib
require_uffd
RUN_TIMEOUT=60

for c in reuse collapse hugepage merge; do
	versus_rounds "$c" 3 UCOW_LAZY_MEMSET=on "$PROGS/trust-lazythreads" $c
done
finish

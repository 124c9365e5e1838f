# trust-lazysplit.sh: mremap of a whole mapping that lazy memset registered only in part (a
# memset that starts inside its first page, a discarded middle, a growth). Registration split
# the VMA, and mremap, which wants the old range in one VMA, failed with EFAULT where the
# kernel alone moves it. A mapping the program split itself (mprotect) must still fail.
. "$UCOWTEST_SRCDIR/tests/integration/lib.sh"
require_lib
require_uffd
RUN_TIMEOUT=30

versus "lazysplit" UCOW_LAZY_MEMSET=on "$PROGS/trust-lazysplit"
hung u || require_managed "lazysplit" "$T/u.stats"
finish

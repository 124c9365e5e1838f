# trust-lazyremap.sh: mremap of a lazily memset block while another thread reads where the call
# makes new anonymous memory (the old range MREMAP_DONTUNMAP leaves, the part a growth adds).
# ucow extended the block's region over it for a moment before forgetting it there: a fault
# in that moment got the memset value for good, where the kernel gives zeroes.
. "$UCOWTEST_SRCDIR/tests/integration/lib.sh"
require_lib
require_uffd
RUN_TIMEOUT=60

for c in dontunmap grow; do
	versus_rounds "$c" 2 UCOW_LAZY_MEMSET=on "$PROGS/trust-lazyremap" $c
done
finish

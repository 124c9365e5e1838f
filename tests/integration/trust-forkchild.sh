# trust-forkchild.sh (issue 11, item 2): a fork child that cannot be managed (it lost the
# privilege to open a userfaultfd: the parent, root, called setuid(65534) before fork) must
# still see the fork-time bytes of lazily memset memory and of a refpage; every byte of
# 64 MiB is checked in the child and the parent. (trust-pids.sh: a child without a thread.)
. "$UCOWTEST_SRCDIR/tests/integration/lib.sh"
require_lib
require_uffd
require_root "the parent drops from root to uid 65534"
RUN_TIMEOUT=20

for kind in lazy refpage data; do
	versus "forkchild $kind setuid" UCOW_LAZY_MEMSET=on "$PROGS/trust-forkchild" $kind setuid
	# The parent managed the memory before the drop (else this proves nothing).
	hung u || require_managed "forkchild $kind setuid" "$T/u.stats"
done
# The same, with the child dropping after fork (the parent stays managed): control.
finish

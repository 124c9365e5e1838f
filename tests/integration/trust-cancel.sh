# trust-cancel.sh: pthread_cancel of a thread that maps, uses and unmaps managed memory
# (lazy memset, shmem holes). Its only cancellation point is pthread_testcancel(); the open,
# close and msync ucow made inside the interposed calls were cancellation points too, and the
# thread ended there with ucow's locks held and every signal blocked: the process then hung
# in the next mmap or memset, deaf to SIGTERM.
. "$UCOWTEST_SRCDIR/tests/integration/lib.sh"
require_lib
require_uffd
RUN_TIMEOUT=30

versus "memset, lazy memset on" UCOW_LAZY_MEMSET=on "$PROGS/trust-cancel" memset
hung u || require_managed "memset" "$T/u.stats"
versus "memfd, shmem holes" "$PROGS/trust-cancel" memfd
hung u || require_managed "memfd" "$T/u.stats"
finish

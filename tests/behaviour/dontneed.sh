# dontneed.sh: MADV_DONTNEED, MADV_REMOVE and MADV_FREE on each kind of memory: what reads back,
# plainly and under ucow (tests/behaviour/dontneed.c, behave.sh).
. "$UCOWTEST_SRCDIR/tests/behaviour/behave.sh"
behave dontneed

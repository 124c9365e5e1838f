# dontneed.sh: what each kind of memory reads after MADV_DONTNEED, MADV_REMOVE, MADV_FREE,
# plainly and under ucow (tests/behaviour/dontneed.c; behave.sh runs it).
. "$UCOWTEST_SRCDIR/tests/behaviour/behave.sh"
behave dontneed

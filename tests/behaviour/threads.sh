# threads.sh: threads racing first touches of the same pages of each kind of memory,
# plainly and under ucow (tests/behaviour/threads.c; behave.sh runs it).
. "$UCOWTEST_SRCDIR/tests/behaviour/behave.sh"
behave threads

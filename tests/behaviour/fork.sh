# fork.sh: parent and child read and write each kind of memory after fork,
# plainly and under ucow (tests/behaviour/fork.c; behave.sh runs it).
. "$UCOWTEST_SRCDIR/tests/behaviour/behave.sh"
behave fork

# fork.sh: parent and child read and write each kind of memory after fork (also from a threaded parent),
# plainly and under ucow (tests/behaviour/fork.c, behave.sh).
. "$UCOWTEST_SRCDIR/tests/behaviour/behave.sh"
behave fork

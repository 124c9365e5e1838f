# syscalls.sh: system calls reading and writing each kind of memory before it was touched,
# plainly and under ucow (tests/behaviour/syscalls.c; behave.sh runs it).
. "$UCOWTEST_SRCDIR/tests/behaviour/behave.sh"
behave syscalls

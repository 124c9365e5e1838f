# syscalls.sh: system calls reading from and writing into each kind of memory never touched before,
# plainly and under ucow (tests/behaviour/syscalls.c, behave.sh).
. "$UCOWTEST_SRCDIR/tests/behaviour/behave.sh"
behave syscalls

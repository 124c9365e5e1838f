# mprotect.sh: each kind of memory made PROT_NONE or read-only and back,
# plainly and under ucow (tests/behaviour/mprotect.c; behave.sh runs it).
. "$UCOWTEST_SRCDIR/tests/behaviour/behave.sh"
behave mprotect

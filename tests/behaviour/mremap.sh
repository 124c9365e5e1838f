# mremap.sh: each kind of memory moved, grown, shrunk, kept (DONTUNMAP), moved over another,
# plainly and under ucow (tests/behaviour/mremap.c; behave.sh runs it).
. "$UCOWTEST_SRCDIR/tests/behaviour/behave.sh"
behave mremap

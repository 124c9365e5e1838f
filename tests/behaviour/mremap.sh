# mremap.sh: each kind of memory moved, grown, shrunk, kept with MREMAP_DONTUNMAP, moved over another mapping,
# plainly and under ucow (tests/behaviour/mremap.c, behave.sh).
. "$UCOWTEST_SRCDIR/tests/behaviour/behave.sh"
behave mremap

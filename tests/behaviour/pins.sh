# pins.sh: io_uring fixed buffers over each kind of memory, through fork and mprotect,
# plainly and under ucow (tests/behaviour/pins.c; behave.sh runs it).
. "$UCOWTEST_SRCDIR/tests/behaviour/behave.sh"
behave pins

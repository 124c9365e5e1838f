# pins.sh: io_uring fixed buffers over each kind of memory through fork and mprotect (skips without io_uring),
# plainly and under ucow (tests/behaviour/pins.c, behave.sh).
. "$UCOWTEST_SRCDIR/tests/behaviour/behave.sh"
behave pins

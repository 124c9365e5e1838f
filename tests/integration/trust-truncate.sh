# trust-truncate.sh: a MAP_PRIVATE memfd read (shmem holes) while another thread truncates
# the file and extends it again. A fault taken before a truncation and answered after it got
# EFAULT from the fill: ucow printed a warning and handed the whole mapping back to the
# kernel. Now the thread faults again, and the kernel gives it SIGBUS beyond the end, with
# nothing on stderr; the mapping stays managed.
. "$UCOWTEST_SRCDIR/tests/integration/lib.sh"
require_lib
require_uffd
RUN_TIMEOUT=60

versus_rounds "truncate" 3 "$PROGS/trust-truncate" 20000
hung u || grep -q '"fallbacks":0' "$T/u.stats" || bad "truncate: ucow handed the mapping back"
finish

# trust-misc.sh (issue 11, item 9): the smaller differences. mremap with a fifth argument
# the kernel checks though MREMAP_FIXED is not set (MREMAP_DONTUNMAP, misaligned
# new_address: EINVAL) fails the same way under ucow; a bad knob inherited by a shell script
# that runs 5 processes is reported once, not once per process; a child of glibc's clone()
# without CLONE_VM reads what its parent memset.
. "$UCOWTEST_SRCDIR/tests/integration/lib.sh"
require_lib
require_uffd
RUN_TIMEOUT=20

versus "mremap" UCOW_LAZY_MEMSET=on "$PROGS/trust-mremap"
require_managed "mremap" "$T/u.stats"

# glibc's clone() without CLONE_VM: a child ucow never hears of reads the fork-time bytes.
versus "clone" UCOW_LAZY_MEMSET=on "$PROGS/trust-clone"
require_managed "clone" "$T/u.stats"

# fork edges: the program's POSIX locks survive it, MADV_DONTFORK on part of a reference
# page leaves the rest to the child, a raw fork child maps memory without a stall.
for c in locks dontfork rawfork; do
	versus "fork edge $c" "$PROGS/trust-forkedges" $c
	require_managed "fork edge $c" "$T/u.stats"
done

run_ucow u UCOW_SHMEM_HOLES=bogus /bin/sh -c 'for i in 1 2 3 4 5; do /bin/true; done'
equal "bad knob in a script of 5 processes" "exit status" "$(rc_of u)" 0
equal "bad knob in a script of 5 processes" "ucow: lines" "$(ucow_lines u)" 1
grep -q 'UCOW_SHMEM_HOLES' "$T/u.err" || bad "bad knob: the line does not name UCOW_SHMEM_HOLES"
finish

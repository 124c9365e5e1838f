# trust-fds.sh (issue 11, item 3): the program's descriptor table is the program's. After a
# fault on managed memory it dup2s a pipe or /dev/null onto fd 1000, calls close_range(3, ~0U),
# or (under RLIMIT_NOFILE 64) dup2s onto every number it did not open; then it reads all of
# the memory. And 900 mappings of one file must not cost 900 descriptors.
. "$UCOWTEST_SRCDIR/tests/integration/lib.sh"
require_lib
require_uffd
RUN_TIMEOUT=10

for kind in memfd data refpage lazy; do
	for case in dup2pipe dup2null closerange ulimit64; do
		versus "fds $kind $case" UCOW_LAZY_MEMSET=on "$PROGS/trust-fds" $kind $case
	done
done
# write mode keeps using its own copy of the file's descriptor for every hole it fills.
for case in dup2null closerange ulimit64; do
	versus "fds data $case, write mode" UCOW_SHMEM_HOLES=write "$PROGS/trust-fds" data $case
done
# (Its stats line may not find a descriptor when ucow took them all: proof of management
# comes from the refpage run below.)
for kind in memfd data; do
	versus "fds $kind manymaps" "$PROGS/trust-fds" $kind manymaps
done
versus "fds refpage dup2null (managed?)" "$PROGS/trust-fds" refpage dup2null &&
	require_managed "fds refpage" "$T/u.stats"
finish

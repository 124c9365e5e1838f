# trust-rdonly.sh (issue 11, item 8): UCOW_SHMEM_HOLES=write on a tmpfs file opened O_RDONLY
# and mapped MAP_PRIVATE read-write: same bytes, and no "cannot resolve" line (the mapping
# must stay managed).
. "$UCOWTEST_SRCDIR/tests/integration/lib.sh"
require_lib
require_uffd
on_tmpfs /dev/shm || skip "/dev/shm is not tmpfs here"
RUN_TIMEOUT=20

for mode in write zero; do
	versus "rdonly mode=$mode" UCOW_SHMEM_HOLES=$mode "$PROGS/trust-rdonly" /dev/shm
	hung u || require_managed "rdonly mode=$mode" "$T/u.stats"
	grep -q '"fallbacks":[1-9]' "$T/u.stats" 2>/dev/null &&
		bad "rdonly mode=$mode: the mapping fell back to the kernel"
done
finish

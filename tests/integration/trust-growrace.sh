# trust-growrace.sh: threads growing their own mappings with mremap at once, so that each
# move or growth in place lands where another thread's mapping has just been. ucow followed a
# move after the kernel had queued another thread's event about the same range, and forgot
# the old range's regions after another mapping had been recorded there: pages of a
# reference page read zero. Every kind, the refpage three times (the race shows now and then).
. "$UCOWTEST_SRCDIR/tests/integration/lib.sh"
require_lib
require_uffd
RUN_TIMEOUT=60

versus_rounds "growrace refpage" 3 "$PROGS/trust-growrace" refpage -t 2 -r 60
for kind in memfd data anon; do
	versus "growrace $kind" "$PROGS/trust-growrace" $kind -t 2 -r 20
done
versus_rounds "growrace lazy" 1 UCOW_LAZY_MEMSET=on "$PROGS/trust-growrace" lazy -t 2 -r 20
finish

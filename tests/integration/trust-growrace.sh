# trust-growrace.sh: threads growing their own mappings with mremap at once, so that each
# move or growth in place lands where another thread's mapping has just been. ucow followed a
# move after the kernel had queued another thread's event about the same range, and forgot
# the old range's regions after another mapping had been recorded there: pages of a
# reference page read zero. The same with forks meanwhile (the handler's changes wait in a
# queue during each), and one mapping moved back and forth by two threads (the regions ucow
# found at the old address were the same mapping's, moved back). Every kind; the refpage
# cases three times (the races show now and then).
. "$UCOWTEST_SRCDIR/tests/integration/lib.sh"
require_lib
require_uffd
RUN_TIMEOUT=60

versus_rounds "growrace refpage" 3 "$PROGS/trust-growrace" refpage -t 2 -r 60
versus_rounds "growrace refpage, forking" 3 "$PROGS/trust-growrace" refpage -t 2 -r 30 -f
versus_rounds "growrace refpage, one mapping" 3 "$PROGS/trust-growrace" refpage -p -r 100
for kind in memfd data anon; do
	versus "growrace $kind" "$PROGS/trust-growrace" $kind -t 2 -r 20
	versus "growrace $kind, one mapping" "$PROGS/trust-growrace" $kind -p -r 50
done
versus_rounds "growrace lazy" 1 UCOW_LAZY_MEMSET=on "$PROGS/trust-growrace" lazy -t 2 -r 20
versus_rounds "growrace lazy, forking" 1 UCOW_LAZY_MEMSET=on "$PROGS/trust-growrace" lazy -t 2 \
	-r 20 -f
versus_rounds "growrace lazy, one mapping" 2 UCOW_LAZY_MEMSET=on "$PROGS/trust-growrace" lazy -p \
	-r 100
finish

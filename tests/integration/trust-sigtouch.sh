# trust-sigtouch.sh (issue 11, item 5): a 50 us interval timer whose handler reads managed
# memory (a new page each tick) while the main thread maps and unmaps small memfd mappings,
# or forks, in a loop. Nothing may hang (the handler thread must never wait for a lock the
# interrupted thread holds).
. "$UCOWTEST_SRCDIR/tests/integration/lib.sh"
require_lib
require_uffd
RUN_TIMEOUT=15

hangs=0
for kind in memfd data refpage lazy; do
	for mode in mapunmap fork; do
		[ $hangs -ge 3 ] && { say "stopped after $hangs hangs"; break 2; }
		n=4000
		[ $mode = fork ] && n=300
		versus "sigtouch $kind $mode" UCOW_LAZY_MEMSET=on "$PROGS/trust-sigtouch" $kind $mode -n $n ||
			hangs=$((hangs + 1))
		hung u || require_managed "sigtouch $kind $mode" "$T/u.stats"
	done
done
finish

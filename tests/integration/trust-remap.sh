# trust-remap.sh (issue 11, item 4): a file mapping re-mapped with MAP_FIXED over itself
# while other threads read it: a reader must never see a byte the kernel would not give
# (the refpage's zero page before ucow registers the new mapping), nor wait for ever (a
# reader going down gets windows below its fault, cut short by the remap: it must be woken
# all the same). memfd and data are controls (their holes read zero either way). Readers
# going up through 8 MiB of memfd get windows mapped ahead of their faults, which the remap
# cuts short too: no reader may wait for ever there either. Nor one going up while another
# thread discards the mapping 2 MiB at a time in a loop (a window mapped around each fault was
# undone before the faulting page's turn came, again and again: it waited for ever).
. "$UCOWTEST_SRCDIR/tests/integration/lib.sh"
require_lib
require_uffd
RUN_TIMEOUT=20

for kind in refpage data memfd; do
	runs="1 2 3"
	[ $kind = refpage ] || runs=1	# memfd and data are controls
	for threads in 1 2; do
		for i in $runs; do
			versus "remap $kind -t $threads run $i" "$PROGS/trust-remap" $kind -r 2000 -t $threads
			[ "$(rc_of u)" = 0 ] || break
		done
	done
	hung u || require_managed "remap $kind" "$T/u.stats"
done
for i in 1 2 3; do
	versus "remap refpage, reader going down, run $i" "$PROGS/trust-remap" refpage -r 2000 -t 1 -d
	[ "$(rc_of u)" = 0 ] || break
done
for kind in memfd data; do
	versus "remap $kind, readers going up through 8 MiB" "$PROGS/trust-remap" $kind -r 1000 \
		-t 2 -u -p 2048
	hung u || require_managed "remap $kind going up" "$T/u.stats"
done
for kind in memfd data; do
	versus "discard $kind, a reader going up" "$PROGS/trust-remap" $kind -r 20000 -t 1 -u \
		-p 5000 -D
	hung u || require_managed "discard $kind" "$T/u.stats"
done
finish

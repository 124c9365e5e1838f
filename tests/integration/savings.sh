# savings.sh: "page cache avoided" (UCOW_STATS) against the page cache a plain run really
# holds: tests/programs/savings writes or reads a MAP_PRIVATE memfd or /dev/shm file, with
# data pages among holes, and prints its st_blocks at the peak; the figure must agree
# within 5%, and the managed run's file must not grow. A reader that stops at a window's end
# (read-half) is not counted for the window mapped ahead of it; two readers going up together
# (read-2) are counted once.
. "$UCOWTEST_SRCDIR/tests/integration/lib.sh"
require_lib
require_uffd

TOLERANCE=5	# percent
cases=0
for kind in memfd shm; do
	for layout in "" "-d 5" "-H" "-H -d 9"; do
		for pattern in seq-write rand-write read read-half read-2 sparse-write read-write; do
			c="$kind $layout $pattern"
			args="-k $kind $layout $pattern"
			run k-sav "$PROGS/savings" $args
			rm -f "$T/u-sav.stats"
			run_ucow u-sav UCOW_STATS="$T/u-sav.stats" "$PROGS/savings" $args
			cases=$((cases + 1))
			same_output "$c" k-sav u-sav
			require_managed "$c" "$T/u-sav.stats" || continue
			plain=$(($(mem k-sav blocks_peak) - $(mem k-sav blocks_before)))
			avoided=$(stats_of u-sav shmem_holes pagecache_pages_avoided)
			equal "$c" "managed file's pages at peak" "$(mem u-sav blocks_peak)" \
				"$(mem u-sav blocks_before)"
			diff=$((avoided - plain))
			[ $diff -lt 0 ] && diff=$((-diff))
			if [ $((diff * 100)) -gt $((plain * TOLERANCE)) ]; then
				bad "$c: page cache avoided $avoided pages, plain st_blocks grew by" \
					"$plain pages: more than $TOLERANCE% apart"
			else
				say "$c: avoided $avoided pages, plain file grew $plain pages"
			fi
		done
	done
done
say "$cases cases"
finish

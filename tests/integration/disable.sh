# disable.sh: UCOW_DISABLE=on (or 1, yes, true) makes the library inert: the kernel's
# behaviour and memory use exactly, nothing printed, no stats written.
. "$UCOWTEST_SRCDIR/tests/integration/lib.sh"
require_lib

for pattern in seq-write read; do
	run k "$PROGS/shmem-hole" -p $pattern -x 3
	for v in on 1 yes true ON; do
		c="UCOW_DISABLE=$v $pattern"
		rm -f "$T/stats.json"
		run_ucow u UCOW_DISABLE=$v UCOW_STATS="$T/stats.json" "$PROGS/shmem-hole" -p $pattern -x 3
		same_output "$c" k u
		no_stderr "$c" u
		equal "$c" "file kB (as the kernel)" "$(mem u file_kb)" "$(mem k file_kb)"
		equal "$c" "anonymous kB (as the kernel)" "$(mem u anon_kb)" "$(mem k anon_kb)"
		[ -e "$T/stats.json" ] && bad "$c: stats were written"
	done
done
# Inert also means no file descriptors and no thread left behind.
run k-exec "$PROGS/exec-fds"
run_ucow u-exec UCOW_DISABLE=on "$PROGS/exec-fds"
same_output "UCOW_DISABLE=on exec" k-exec u-exec
finish

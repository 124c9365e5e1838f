# trust-privdrop.sh (issue 11, item 1): set*id with the ids the process already has, after a
# fault on managed memory, then munmap and exit: glibc signals every thread (SIGSETXID),
# ucow's included; nothing may hang. Each kind, each call, with and without extra threads,
# several runs each (the hang is a race: about half the runs on the code of issue 11).
. "$UCOWTEST_SRCDIR/tests/integration/lib.sh"
require_lib
require_uffd
RUN_TIMEOUT=5

runs=0
hangs=0
for kind in memfd data refpage lazy; do
	for op in setgid setuid setgroups all; do
		for threads in 0 3; do
			for i in 1 2; do
				[ $hangs -ge 4 ] && break 4
				runs=$((runs + 1))
				versus "privdrop $kind $op -t $threads run $i" UCOW_LAZY_MEMSET=on \
					"$PROGS/trust-privdrop" $kind $op -n 4 -t $threads ||
					{ hangs=$((hangs + 1)); break; }
			done
		done
	done
done
[ $hangs -ge 4 ] && say "stopped after $hangs hangs"
say "$runs runs under ucow, $hangs hung"
versus "privdrop memfd setgid (managed?)" "$PROGS/trust-privdrop" memfd setgid &&
	require_managed "privdrop memfd setgid" "$T/u.stats"
finish

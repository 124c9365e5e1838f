# trust-lazyfault.sh: lazy memset over memory where the program's own memset would take a
# signal it catches: a guard page (MADV_GUARD_INSTALL), or the program's own userfaultfd in
# SIGBUS mode (registered through ioctl(3) or a raw system call). ucow wrote such memory with
# every signal blocked: the program was killed (SIGSEGV, SIGBUS) where the kernel lets its
# handler run, and memset 0 skipped pages the program's handler fills with other bytes.
. "$UCOWTEST_SRCDIR/tests/integration/lib.sh"
require_lib
require_uffd
RUN_TIMEOUT=20

for c in guard sigbus sigbus-raw sigbus-zero; do
	run k "$PROGS/trust-lazyfault" $c
	if [ "$(rc_of k)" = 77 ]; then
		say "$c: $(tail -n 1 "$T/k.out"): not run"
		continue
	fi
	equal "$c (kernel)" "exit status" "$(rc_of k)" 0
	for lazy in on off; do
		versus "$c, lazy memset $lazy" UCOW_LAZY_MEMSET=$lazy "$PROGS/trust-lazyfault" $c
		equal "$c, lazy memset $lazy" "exit status" "$(rc_of u)" "$(rc_of k)"
		# The memset before the guard page is deferred; over the program's own
		# userfaultfd ucow steps aside and manages nothing.
		[ $c = guard ] && [ $lazy = on ] && ! hung u &&
			require_managed "$c, lazy memset on" "$T/u.stats"
	done
done
finish

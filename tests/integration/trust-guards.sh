# trust-guards.sh: guard pages (MADV_GUARD_INSTALL) in every kind of memory ucow manages,
# then sweeps, advice and fork around them. The kernel's UFFDIO_COPY replaces a guard marker
# as if the page were missing: ucow's windows, its fill before MADV_HUGEPAGE or MADV_DONTFORK
# and its fill before fork made guards of lazily memset memory vanish (or crashed in ucow).
# A removed guard reads what the kernel gives there: zero, not a value deferred under it.
. "$UCOWTEST_SRCDIR/tests/integration/lib.sh"
require_lib
require_uffd
RUN_TIMEOUT=30

run k "$PROGS/trust-guards" anon read
[ "$(rc_of k)" = 77 ] && skip "$(tail -n 1 "$T/k.out")"
for kind in memfd data refpage lazy anon; do
	for what in read write hugepage dontfork fork remove pidfd emfile; do
		versus "guards $kind $what" UCOW_LAZY_MEMSET=on "$PROGS/trust-guards" $kind $what
		# (anon: plain anonymous memory, the control, is not ucow's; emfile leaves no
		# descriptor for the stats file)
		[ $kind = anon ] || [ $what = emfile ] || hung u ||
			require_managed "guards $kind $what" "$T/u.stats"
		equal "guards $kind $what" "exit status" "$(rc_of u)" "$(rc_of k)"
		equal "guards $kind $what (kernel)" "exit status" "$(rc_of k)" 0
	done
done
# Advice at the edges over deferred memory: process_madvise (a bad vector entry, PIDFD_SELF,
# MADV_WIPEONFORK), guard installs that fail partway, MADV_DONTFORK over PROT_NONE pages.
versus "guard edges" UCOW_LAZY_MEMSET=on "$PROGS/trust-guardedges"
equal "guard edges" "exit status" "$(rc_of u)" "$(rc_of k)"
hung u || require_managed "guard edges" "$T/u.stats"
finish

# trust-lazyadvice.sh: advice that needs a memset's pages to be there, given after lazy memset
# deferred them: KSM merged nothing (MADV_MERGEABLE, prctl(PR_SET_MEMORY_MERGE)) and
# MADV_COLLAPSE failed with EINVAL (the kernel refuses a registered range with pages missing),
# where the kernel merges the block's pages and makes a huge page of it.
. "$UCOWTEST_SRCDIR/tests/integration/lib.sh"
require_lib
require_uffd
RUN_TIMEOUT=60

for c in merge-after merge-before merge-prctl collapse; do
	run k "$PROGS/trust-lazyadvice" $c
	if [ "$(rc_of k)" = 77 ]; then
		say "$c: $(tail -n 1 "$T/k.out"): not run"
		continue
	fi
	equal "$c (kernel)" "exit status" "$(rc_of k)" 0
	versus "$c" UCOW_LAZY_MEMSET=on "$PROGS/trust-lazyadvice" $c
	# Advice given first: the memset is the kernel's, nothing to manage.
	[ $c != merge-before ] && ! hung u && require_managed "$c" "$T/u.stats"
done
finish

# trust-forkchild.sh (issue 11, item 2): a fork child that cannot be managed (it lost the
# privilege to open a userfaultfd: the parent, root, called setuid(65534) before fork) must
# still see the fork-time bytes of lazily memset memory and of a refpage; every byte of
# 64 MiB is checked in the child and the parent. (trust-pids.sh: a child without a thread.)
. "$UCOWTEST_SRCDIR/tests/integration/lib.sh"
require_lib
require_uffd
require_root "the parent drops from root to uid 65534"
RUN_TIMEOUT=20
chmod 711 "$T"	# uid 65534 writes its UCOW_STATS line in it

# rawsetuid: the forking thread alone drops (raw system calls, no SIGSETXID to ucow's
# thread, so trust-privdrop's hang cannot hide this); setuid: glibc's, every thread.
# One fail-open line is allowed (the child cannot open a userfaultfd), wrong bytes are not.
for how in rawsetuid setuid; do
	for kind in lazy refpage data; do
		VERSUS_UCOW_LINES_OK=1 versus "forkchild $kind $how" UCOW_LAZY_MEMSET=on \
			"$PROGS/trust-forkchild" $kind $how
		[ "$(ucow_lines u)" -le 1 ] || bad "forkchild $kind $how: $(ucow_lines u) ucow: lines"
		# The parent managed the memory before the drop (else this proves nothing).
		hung u || require_managed "forkchild $kind $how" "$T/u.stats"
	done
done
finish

# trust-seccomp.sh (issue 11, items 6 and 9): the program installs its own seccomp filter
# against userfaultfd(2) before it maps memory: SECCOMP_RET_KILL_PROCESS (systemd's default
# for SystemCallFilter=), ENOSYS or EPERM. Under ucow it must run to completion exactly as
# plainly (not die with SIGSYS). With ENOSYS or EPERM from userfaultfd(2) but a usable
# /dev/userfaultfd, ucow must not claim the kernel has no userfaultfd, and must manage.
. "$UCOWTEST_SRCDIR/tests/integration/lib.sh"
require_lib
require_uffd
grep -q '^Seccomp:' /proc/self/status || skip "this kernel has no seccomp"
RUN_TIMEOUT=20

run k "$PROGS/trust-seccomp" none
[ "$(rc_of k)" = 0 ] || { bad "trust-seccomp none (kernel): exit $(rc_of k)"; finish; }
dev_ok=
[ -r /dev/userfaultfd ] && [ -w /dev/userfaultfd ] && dev_ok=1

# kill: one fail-open line is allowed (Law 3), a SIGSYS is not.
VERSUS_UCOW_LINES_OK=1 versus "seccomp kill" UCOW_LAZY_MEMSET=on "$PROGS/trust-seccomp" kill
[ "$(rc_of u)" = 159 ] && bad "seccomp kill: killed by SIGSYS under ucow"
[ "$(ucow_lines u)" -le 1 ] || bad "seccomp kill: $(ucow_lines u) ucow: lines"
for how in enosys eperm; do
	VERSUS_UCOW_LINES_OK=1 versus "seccomp $how" UCOW_LAZY_MEMSET=on "$PROGS/trust-seccomp" $how
	if grep -q 'no userfaultfd\|CONFIG_USERFAULTFD' "$T/u.err"; then
		bad "seccomp $how: ucow blames the kernel, whose userfaultfd works"
		grep '^ucow:' "$T/u.err" | head -n 2 | sed 's/^/    /'
	fi
	if [ -n "$dev_ok" ]; then
		require_managed "seccomp $how (/dev/userfaultfd is usable)" "$T/u.stats"
		[ "$(ucow_lines u)" = 0 ] || bad "seccomp $how: ucow wrote on stderr though it can manage"
	fi
done
versus "seccomp none" UCOW_LAZY_MEMSET=on "$PROGS/trust-seccomp" none
require_managed "seccomp none" "$T/u.stats"
finish

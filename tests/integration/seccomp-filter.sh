# seccomp-filter.sh: a program under a seccomp filter that kills, traps or fails one of the
# system calls ucow makes (tests/programs/seccomp-kill, raw BPF, as systemd's
# SystemCallFilter= does) runs under ucow exactly as without it: same output, same exit
# status. When the filter kills a call ucow cannot do without, ucow says so in one "ucow:"
# line and runs unmanaged; when it kills one ucow can do without, ucow still manages.
. "$UCOWTEST_SRCDIR/tests/integration/lib.sh"
require_lib
require_uffd

SK="$PROGS/seccomp-kill"

json() {	# json TAG KEY: the first value named KEY in TAG's stats
	grep -o "\"$2\":[0-9a-z\"]*" "$T/$1.stats" | head -n 1 | cut -d: -f2
}

# pair CASE ARGS...: the program plainly (k) and under ucow (u), same output and status.
pair() {
	c=$1
	shift
	run k "$SK" "$@"
	rm -f "$T/u.stats"
	run_ucow u UCOW_STATS="$T/u.stats" "$SK" "$@"
	same_output "$c" k u
}

# unmanaged CASE WHAT ARGS...: one "ucow: seccomp:" or "ucow: uffd:" line naming WHAT, and
# nothing managed.
unmanaged() {
	c=$1
	what=$2
	shift 2
	pair "$c" "$@"
	equal "$c (kernel)" "exit status" "$(rc_of k)" 0
	if [ "$(wc -l <"$T/u.err")" -ne 1 ] || ! grep -qi "^ucow: .*$what" "$T/u.err"; then
		bad "$c: want exactly one 'ucow:' line about $what on stderr, got:"
		head -n 5 "$T/u.err" | sed 's/^/    /'
	fi
	equal "$c" "managed" "$(json u managed)" false
}

# managed CASE ARGS...: no line on stderr, and ucow managed the mapping (regions > 0).
managed() {
	c=$1
	shift
	pair "$c" "$@"
	equal "$c (kernel)" "exit status" "$(rc_of k)" 0
	no_stderr "$c" u
	equal "$c" "managed" "$(json u managed)" true
	r=$(json u regions)
	[ "${r:-0}" -gt 0 ] || bad "$c: regions is '$r', want > 0"
}

# Without a filter worth the name (an unrelated call), ucow manages, and this proves the
# program's mapping is one it manages.
managed "filter on an unrelated call" -a kill-process -s kcmp

# userfaultfd: the syscall and /dev/userfaultfd both refused, by each kind of action.
for a in kill-process kill-thread trap; do
	unmanaged "$a on userfaultfd and USERFAULTFD_IOC_NEW" "seccomp filter .* on userfaultfd" \
		-a "$a" -s userfaultfd -s userfaultfd_ioc_new
done
unmanaged "eperm on userfaultfd and USERFAULTFD_IOC_NEW" "userfaultfd" \
	-a eperm -s userfaultfd -s userfaultfd_ioc_new
# ENOSYS from a filter does not mean the kernel has no userfaultfd (issue 11, item 9).
unmanaged "enosys on userfaultfd and USERFAULTFD_IOC_NEW" "seccomp filter refuses userfaultfd" \
	-a enosys -s userfaultfd -s userfaultfd_ioc_new
grep -q "kernel has no userfaultfd" "$T/u.err" && bad "enosys: ucow blames the kernel"

# Only the syscall refused: /dev/userfaultfd is another way in (root may open it).
if [ -w /dev/userfaultfd ]; then
	for a in kill-process kill-thread trap enosys eperm; do
		managed "$a on userfaultfd(2) only: /dev/userfaultfd" -a "$a" -s userfaultfd
	done
fi

# The uffd ioctls and the calls the engine cannot do without: unmanaged, one line.
for s in uffdio_api uffdio_register uffdio_copy uffdio_zeropage uffdio_wake uffdio_unregister \
	 clone3 futex poll rt_sigprocmask rt_sigaction gettid sched_yield madvise mremap msync mincore fcntl \
	 lseek; do
	unmanaged "kill-process on $s" "seccomp filter .* on .*$s" -a kill-process -s "$s"
done
unmanaged "kill-thread on clone3" "seccomp filter .* on clone3" -a kill-thread -s clone3
unmanaged "trap on uffdio_api" "seccomp filter .* on .*uffdio_api" -a trap -s uffdio_api
# clone: the program's own fork dies of it, with ucow or without (nothing on stdout, which
# same_output does not take).
c="kill-process on clone"
run k "$SK" -a kill-process -s clone
run_ucow u "$SK" -a kill-process -s clone
equal "$c" "exit status" "$(rc_of u)" "$(rc_of k)"
equal "$c" "stdout" "$(cat "$T/u.out")" "$(cat "$T/k.out")"

# Calls ucow can do without: still managed, nothing said (at the default log level).
for s in uffdio_poison unshare pidfd_open pidfd_getfd kcmp close_range sched_getaffinity \
	 sched_setaffinity process_vm_readv io_uring_setup capget seccomp prctl \
	 fallocate ppoll; do
	managed "kill-process on $s" -a kill-process -s "$s"
done
managed "trap on pidfd_open" -a trap -s pidfd_open
managed "kill-thread on sched_setaffinity" -a kill-thread -s sched_setaffinity
# An errno, even on a call ucow cannot do without, is an answer, not a death.
managed "eperm on pidfd_open" -a eperm -s pidfd_open
managed "enosys on clone3 (glibc falls back to clone)" -a enosys -s clone3
managed "eperm on uffdio_poison" -a eperm -s uffdio_poison
finish

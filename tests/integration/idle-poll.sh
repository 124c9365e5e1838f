# idle-poll.sh: with UCOW_IDLE_POLL=on, ucow holds a CPU latency request of 0 (idle CPUs poll
# rather than halt) while it serves a burst of faults, and drops it when its handler goes to
# sleep and when the program exits; off (the default) never makes one. A user who may not
# open the device gets one "ucow:" line, and the program's output and status are untouched.
. "$UCOWTEST_SRCDIR/tests/integration/lib.sh"
require_lib
require_uffd
require_root "the CPU latency device is root's"
DEV=/dev/cpu_dma_latency
[ -r $DEV ] || skip "no $DEV: this kernel has no CPU latency QoS"

# The machine's current request: the smallest any process holds (2000000000 when none).
latency() {
	od -An -td4 -N4 $DEV | tr -d ' '
}
base=$(latency)
[ "$base" != 0 ] || skip "another process holds the CPU latency at 0 already"

# sample TAG KNOB: fault-pace under ucow with UCOW_IDLE_POLL=KNOB, one page a fault; the
# request is read every 20 ms while it faults ($T/TAG.faulting), five times once it has
# slept 300 ms ($T/TAG.sleeping), and after it exits ($T/TAG.after).
sample() {
	tag=$1
	run_ucow "$tag" UCOW_IDLE_POLL="$2" UCOW_FAULT_AROUND=0 "$PROGS/fault-pace" -f 1500 -s 1500 &
	pid=$!
	: >"$T/$tag.faulting"
	: >"$T/$tag.sleeping"
	while ! grep -q sleeping "$T/$tag.out" 2>/dev/null && kill -0 $pid 2>/dev/null; do
		latency >>"$T/$tag.faulting"
		sleep 0.02
	done
	sleep 0.3
	for i in 1 2 3 4 5; do
		latency >>"$T/$tag.sleeping"
		sleep 0.05
	done
	wait $pid
	latency >"$T/$tag.after"
}

# ran CASE TAG: the program ran as without ucow.
ran() {
	equal "$1" "exit status" "$(rc_of "$2")" 0
	grep -q '^passes=[1-9][0-9]* sum=0$' "$T/$2.out" || bad "$1: output: $(tail -n 1 "$T/$2.out")"
}

sample on on
ran "on" on
no_stderr "on" on
zeros=$(grep -c '^0$' "$T/on.faulting")
say "on: the request was 0 in $zeros of $(wc -l <"$T/on.faulting") reads while faulting"
[ "$zeros" -gt 0 ] || bad "on: the request was never 0 while the program faulted"
grep -qv "^$base\$" "$T/on.sleeping" &&
	bad "on: the request stayed while the program slept: $(tr '\n' ' ' <"$T/on.sleeping")"
equal "on, after exit" "request" "$(cat "$T/on.after")" "$base"

sample off off
ran "off" off
no_stderr "off" off
grep -q '^0$' "$T/off.faulting" && bad "off: a request of 0 was made without UCOW_IDLE_POLL"

# Not root, but allowed userfaultfd (CAP_SYS_PTRACE): the device stays closed to it.
if unprivileged_ready fault-pace; then
	run_unprivileged user "UCOW_IDLE_POLL=on UCOW_FAULT_AROUND=0" fault-pace -f 200 -s 10
	ran "not root" user
	equal "not root" "lines on stderr" "$(wc -l <"$T/user.err")" 1
	grep -q "^ucow: idle-poll: UCOW_IDLE_POLL=on: cannot open $DEV" "$T/user.err" ||
		bad "not root: stderr: $(cat "$T/user.err")"
else
	say "setpriv cannot keep CAP_SYS_PTRACE for nobody here: the unprivileged case is not run"
fi
finish

# local-wake.sh: UCOW_LOCAL_WAKE (on by default): a thread of ucow's, ucow-waker, spins at
# SCHED_IDLE and takes the wakes of faulting threads while the handler serves a burst, and
# sleeps at SCHED_OTHER, on every CPU, when the handler does; off, without CAP_SYS_NICE, or
# under a filter that refuses SCHED_IDLE, there is no such thread and nothing else changes. Threads that fault beside CPU-bound ones, with one spinning on
# managed memory, read the kernel's bytes and never hang.
. "$UCOWTEST_SRCDIR/tests/integration/lib.sh"
require_lib
require_uffd
[ "$(nproc)" -ge 2 ] || skip "one CPU: a waker only helps a thread on another CPU than the handler's"

# waker_of PID: the TID of PID's thread named ucow-waker, or nothing.
waker_of() {
	for task in /proc/"$1"/task/*; do
		[ "$(cat "$task/comm" 2>/dev/null)" = ucow-waker ] && { echo "${task##*/}"; return; }
	done
}

# stat_field PID TID N: field N of the thread's stat file (after the command name).
stat_field() {
	sed 's/.*) //' "/proc/$1/task/$2/stat" | cut -d' ' -f$(($3 - 2))
}

# pace TAG KNOB: fault-pace under ucow (one page a fault), UCOW_LOCAL_WAKE=KNOB; once it
# sleeps, records its waker's TID, policy (field 41), CPU time (14 + 15) now and 0.3 s later,
# and whether its CPU mask is the program's.
pace() {
	rm -f "$T/$1.stats"
	run_ucow "$1" UCOW_LOCAL_WAKE="$2" UCOW_FAULT_AROUND=0 UCOW_STATS="$T/$1.stats" \
		"$PROGS/fault-pace" -f 1200 -s 800 &
	pid=$!
	while ! grep -q sleeping "$T/$1.out" 2>/dev/null && kill -0 $pid 2>/dev/null; do
		sleep 0.05
	done
	: >"$T/$1.waker"
	prog=$(pgrep -n -x fault-pace)
	tid=$(waker_of "$prog")
	if [ -n "$tid" ]; then
		t0=$(( $(stat_field "$prog" "$tid" 14) + $(stat_field "$prog" "$tid" 15) ))
		policy=$(stat_field "$prog" "$tid" 41)
		sleep 0.3
		t1=$(( $(stat_field "$prog" "$tid" 14) + $(stat_field "$prog" "$tid" 15) ))
		mask=same
		[ "$(grep Cpus_allowed_list "/proc/$prog/task/$tid/status")" = \
		  "$(grep Cpus_allowed_list "/proc/$prog/status")" ] || mask=pinned
		echo "$tid $policy $((t1 - t0)) $mask" >"$T/$1.waker"
	fi
	wait $pid
}

ran() {
	equal "$1" "exit status" "$(rc_of "$2")" 0
	grep -q '^passes=[1-9][0-9]* sum=0$' "$T/$2.out" || bad "$1: output: $(tail -n 1 "$T/$2.out")"
	no_stderr "$1" "$2"
}

# On: the waker exists, sleeps with the handler at SCHED_OTHER (0) with the program's CPU
# mask, uses no CPU then, and takes wakes.
handed=0
for try in 1 2 3; do
	pace on on
	ran "on" on
	require_managed "on" "$T/on.stats" || break
	read -r tid policy spent mask <"$T/on.waker" ||
		bad "on: no ucow-waker thread while the program ran"
	equal "on" "the sleeping waker's scheduling policy" "${policy:-}" 0
	equal "on" "the sleeping waker's CPU mask" "${mask:-}" same
	[ "${spent:-1}" -le 2 ] ||
		bad "on: the waker used $spent ticks of CPU time in 0.3 s while the handler slept"
	handed=$(stats_of on engine wakes_handed)
	say "on, try $try: wakes handed $handed, missed $(stats_of on engine wakes_missed)"
	[ "${handed:-0}" -gt 0 ] && break
done
if [ "${handed:-0}" -eq 0 ]; then
	load=$(cut -d' ' -f1 /proc/loadavg)
	# The handler's CPU shared with other work keeps the waker resting (by design).
	if awk -v l="$load" -v n="$(nproc)" 'BEGIN { exit !(l < n - 0.5) }'; then
		bad "on: the waker took no wake in 3 runs (load $load)"
	else
		say "on: the waker took no wake in 3 runs, with the machine busy (load $load)"
	fi
fi

# Off: no waker thread, no hand-off.
pace off off
ran "off" off
[ -s "$T/off.waker" ] && bad "off: a ucow-waker thread ran: $(cat "$T/off.waker")"
equal "off" "wakes handed" "$(stats_of off engine wakes_handed)" 0

# A filter that refuses sched_setscheduler: no waker, no "ucow:" line, the program as before.
if [ -x "$PROGS/seccomp-run" ]; then
	rm -f "$T/f.stats"
	run_ucow f UCOW_STATS="$T/f.stats" UCOW_FAULT_AROUND=0 "$PROGS/seccomp-run" \
		--deny sched_setscheduler -- "$PROGS/fault-pace" -f 300 -s 10
	ran "filtered" f
	require_managed "filtered" "$T/f.stats" &&
		equal "filtered" "wakes handed" "$(stats_of f engine wakes_handed)" 0
fi

# Not root, allowed userfaultfd (CAP_SYS_PTRACE) but not CAP_SYS_NICE: no waker, no "ucow:".
if unprivileged_ready fault-pace; then
	run_unprivileged user "UCOW_FAULT_AROUND=0 UCOW_STATS=$UNPRIV_DIR/stats" fault-pace \
		-f 300 -s 10
	ran "not root" user
	cp "$UNPRIV_DIR/stats" "$T/user.stats"
	require_managed "not root" "$T/user.stats" &&
		equal "not root" "wakes handed" "$(stats_of user engine wakes_handed)" 0
else
	say "setpriv cannot keep CAP_SYS_PTRACE for nobody here: the unprivileged case is not run"
fi

# set*id() signals every thread and waits for each: ucow's threads must not sit on the CPU
# of a thread that spins there (SCHED_FIFO as root) when the program asks (the kernel's run:
# well under a millisecond a call; pinned there, ucow's threads took up to a second).
for how in "" -m; do
	run k "$PROGS/setxid-pinned" $how
	run_ucow u UCOW_STATS="$T/sx.stats" "$PROGS/setxid-pinned" $how
	equal "set*id $how" "exit status" "$(rc_of k) $(rc_of u)" "0 0"
	worst=$(mem u max_ms)
	say "set*id $how: slowest pair ${worst:-?} ms under ucow, $(mem k max_ms) ms plain ($(tail -n 1 "$T/u.out"))"
	[ "${worst:-1000}" -lt 100 ] || bad "set*id $how: a pair took ${worst:-?} ms under ucow"
done

# Faulting threads alone (the waker takes most wakes), then beside CPU-bound ones and one
# that spins on managed memory; one page a fault, and in windows.
versus_rounds "1 thread" 2 UCOW_FAULT_AROUND=0 "$PROGS/wake-race" -t 1 -r 16
versus_rounds "2 threads" 2 UCOW_FAULT_AROUND=0 "$PROGS/wake-race" -t 2 -r 8
versus_rounds "4 threads, a spinner, a watcher" 2 UCOW_FAULT_AROUND=0 "$PROGS/wake-race" \
	-t 4 -b 1 -w -r 8
versus_rounds "2 threads, 2 spinners" 2 UCOW_FAULT_AROUND=0 "$PROGS/wake-race" -t 2 -b 2 -r 8
versus_rounds "3 threads, a watcher, windows" 2 "$PROGS/wake-race" -t 3 -w -r 20
finish

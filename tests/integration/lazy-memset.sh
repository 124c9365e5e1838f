# lazy-memset.sh: UCOW_LAZY_MEMSET=on defers large memsets of untouched private anonymous
# memory and the program cannot tell: every case of tests/programs/lazy-memset gives the
# kernel's output on memory from mmap, glibc malloc above its mmap threshold and the brk heap
# (and from jemalloc when libjemalloc2 is installed), while ucow's counters show it deferred.
. "$UCOWTEST_SRCDIR/tests/integration/lib.sh"
require_lib
require_uffd

prog=$PROGS/lazy-memset
# Every case but proc-mem, a documented difference checked on its own below. remap-fork
# unmaps and maps again behind ucow's back (raw syscalls, as libc's own calls do) and forks
# before the handler has applied the unmap event: the child must not see the old value.
# remap-advise does the same and advises the new mapping instead: it must stay untouched.
cases="read write syscall-write syscall-read send-recv vm-readv dontneed free mremap-move
mremap-grow munmap-partial mprotect fork second-memset overlap zero realloc calloc reuse
threads signal hugepage not-anonymous advice-after remap-fork remap-advise"
jemalloc=/usr/lib/x86_64-linux-gnu/libjemalloc.so.2

# lazy_stats CASE FILE CONDITION...: python conditions over the last stats object j.
lazy_stats() {
	c=$1
	f=$2
	shift 2
	"$PYTHON" - "$f" "$@" >"$T/json.out" 2>&1 <<'PY'
import json, sys
lines = [l for l in open(sys.argv[1]).read().split("\n") if l.strip()]
j = json.loads(lines[-1])
lm, eng = j["lazy_memset"], j["engine"]
bad = [e for e in sys.argv[2:] if not eval(e)]
for e in bad:
    print("does not hold: " + e)
if bad:
    print("lazy_memset: %s\nengine: %s" % (lm, eng))
sys.exit(1 if bad else 0)
PY
	if [ $? -ne 0 ]; then
		bad "$c: stats"
		sed 's/^/    /' "$T/json.out"
	fi
}

# check_source NAME [PRELOAD-FIRST]: the whole table on one source, kernel vs ucow.
check_source() {
	src=$1
	pre=${2:+$2:}
	name=$src${2:+-jemalloc}
	# shellcheck disable=SC2086
	run k-$name ${2:+LD_PRELOAD=$2} "$prog" -m "$src" $cases
	equal "$name (kernel)" "exit status" "$(rc_of k-$name)" 0
	for i in 1 2; do
		rm -f "$T/s.json"
		# shellcheck disable=SC2086
		run u-$name LD_PRELOAD="$pre$LIB:$MEMSET_LIB" UCOW_LAZY_MEMSET=on UCOW_STATS="$T/s.json" \
			"$prog" -m "$src" $cases
		same_output "$name run $i" k-$name u-$name
		no_stderr "$name run $i" u-$name
		lazy_stats "$name run $i" "$T/s.json" 'lm["enabled"]' 'lm["deferred_calls"] >= 20' \
			'lm["pages_deferred"] > 10000' 'lm["pages_zero_skipped"] > 0' \
			'lm["discards"] >= 1' 'eng["poisoned"] == 0' 'eng["fallbacks"] == 0' \
			'eng["unknown_faults"] == 0'
	done
}

for src in mmap malloc brk; do
	check_source $src
done
if [ -f "$jemalloc" ]; then
	check_source malloc "$jemalloc"
else
	say "libjemalloc2 is not installed: the second allocator is not checked"
fi

# Off by default, and nothing below UCOW_LAZY_MEMSET_MIN is deferred.
rm -f "$T/s.json"
run k-off "$prog" read zero
run_ucow off UCOW_STATS="$T/s.json" "$prog" read zero
same_output "default (off)" k-off off
lazy_stats "default (off)" "$T/s.json" 'not lm["enabled"]' 'lm["calls"] == 0' \
	'eng["regions"] == 0'
rm -f "$T/s.json"
run_ucow min UCOW_LAZY_MEMSET=on UCOW_LAZY_MEMSET_MIN=16M UCOW_STATS="$T/s.json" "$prog" \
	-s 8M read zero
equal "UCOW_LAZY_MEMSET_MIN=16M" "exit status" "$(rc_of min)" 0
lazy_stats "UCOW_LAZY_MEMSET_MIN=16M" "$T/s.json" 'lm["min"] == 16 << 20' 'lm["calls"] == 0'

# Racing threads, several times: they meet differently each run.
for i in 1 2 3 4 5; do
	run_ucow race UCOW_LAZY_MEMSET=on "$prog" -s 4M threads signal fork
	equal "threads/signal/fork run $i" "stdout" "$(grep -c ': ok$' "$T/race.out")" 3
	no_stderr "threads/signal/fork run $i" race
done

# /proc/PID/mem cannot read a deferred page nobody touched yet: the kernel gives the reader
# EIO there (its page walk may not wait for userfaultfd). A documented difference.
run k-mem "$prog" proc-mem
equal "proc-mem (kernel)" "stdout" "$(cat "$T/k-mem.out")" "proc-mem/mmap: ok"
run_ucow u-mem UCOW_LAZY_MEMSET=on "$prog" proc-mem
if ! grep -q 'proc-mem/mmap: ok' "$T/u-mem.out" &&
   ! grep -q 'Input/output error\|short' "$T/u-mem.out"; then
	bad "proc-mem: neither the kernel's bytes nor the documented EIO"
	sed 's/^/    /' "$T/u-mem.out"
fi

# An unmodified system program: same output, a fraction of the peak RSS.
script='import resource
x = b"\xff" * (1 << 30)
print(x[12345], len(x))
print("mem: maxrss_kb=%d" % resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)'
if [ -x "$PYTHON" ]; then
	run k-py "$PYTHON" -c "$script"
	run_ucow u-py UCOW_LAZY_MEMSET=on "$PYTHON" -c "$script"
	same_output "python3" k-py u-py
	no_stderr "python3" u-py
	k_kb=$(mem k-py maxrss_kb)
	u_kb=$(mem u-py maxrss_kb)
	say "python3 peak RSS: kernel ${k_kb} kB, ucow ${u_kb} kB"
	[ "${u_kb:-0}" -gt 0 ] && [ "$u_kb" -lt $((k_kb / 8)) ] ||
		bad "python3: peak RSS under ucow is ${u_kb} kB, the kernel's ${k_kb} kB: want < 1/8"
fi
finish

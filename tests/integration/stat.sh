# stat.sh: `ucow stat` reads the live figures of a running managed program: they grow as it
# writes, --json is one object a line, the program keeps no descriptor and no thread more,
# nothing is counted twice at exit; a process without ucow, or managing nothing, gets one
# "ucow:" line and status 1; the same unprivileged user may ask, another may not.
. "$UCOWTEST_SRCDIR/tests/integration/lib.sh"
require_lib
require_uffd
require_ucow_command

# wait_file PATH: until PATH has something in it, up to 30 s.
wait_file() {
	i=0
	while [ ! -s "$1" ] && [ $i -lt 300 ]; do
		sleep 0.1
		i=$((i + 1))
	done
	[ -s "$1" ] || { bad "$1 never appeared"; return 1; }
}

# saved TAG: shmem_holes.bytes_saved of the one object in $T/TAG.out, checked for its pid.
saved() {
	"$PYTHON" - "$T/$1.out" "$2" <<'PY'
import json, sys
lines = [l for l in open(sys.argv[1]) if l.strip()]
assert len(lines) == 1, "%d lines" % len(lines)
j = json.loads(lines[0])
assert j["pid"] == int(sys.argv[2]) and j["managed"] is True, lines[0][:200]
print(j["shmem_holes"]["bytes_saved"])
PY
}

steps=$T/stat-steps
rm -rf "$steps" "$T/writer.stats"
mkdir -p "$steps"
# 8 MiB in 3 parts of 682 pages (the last one 684). A sequential writer gets the holes ahead
# of it filled privately too: live figures are at least the pages written, at most all 8 MiB.
env LD_PRELOAD="$LIB" UCOW_STATS="$T/writer.stats" "$PROGS/stat-writer" "$steps" 3 8 \
	>"$T/writer.out" 2>"$T/writer.err" </dev/null &
writer=$!
wait_file "$steps/step.1"
run s1 "$UCOW" stat "$writer"
run j1 "$UCOW" stat --json "$writer"
equal "stat, part 1" "exit status" "$(rc_of s1) $(rc_of j1)" "0 0"
b1=$(saved j1 $writer)
[ "${b1:-0}" -ge $((682 * 4096)) ] && [ "$b1" -le $((2048 * 4096)) ] ||
	bad "stat --json, part 1: $b1 bytes saved, not 682 to 2048 pages"
grep -q "^stat-writer (pid $writer): managed, userfaultfd" "$T/s1.out" ||
	bad "stat, part 1: no summary line: $(head -1 "$T/s1.out")"
grep -q "^page cache avoided: $(echo "$b1" | awk '{ printf "%.1f", $1 / 1048576 }') MiB" \
	"$T/s1.out" || bad "stat, part 1 ($b1 bytes): $(grep avoided "$T/s1.out")"
# Asked; nothing of it in the program's descriptor table (the doorbell and pagemap are in the
# handler's), no thread but the handler (and its waker, UCOW_LOCAL_WAKE).
fds=$(ls -l "/proc/$writer/fd" 2>/dev/null | grep -c -e eventfd -e ucow-stats -e pagemap)
equal "stat" "ucow descriptors in the program's table" "$fds" 0
names=$(cat /proc/"$writer"/task/*/comm 2>/dev/null | grep -v '^ucow-waker$' | sort | tr '\n' ' ')
equal "stat" "threads (the program's and the handler)" "$names" "stat-writer ucow-handler "
grep -q "/memfd:ucow-stats (deleted)" "/proc/$writer/maps" || bad "stat: no stats page in maps"

touch "$steps/go.1"
wait_file "$steps/step.2"
run s2 "$UCOW" stat "$writer"
run j2 "$UCOW" stat --json "$writer"
b2=$(saved j2 $writer)
[ "${b2:-0}" -ge $((1364 * 4096)) ] && [ "$b2" -gt "${b1:-0}" ] ||
	bad "stat --json, part 2: $b2 bytes saved, not more than part 1's $b1 and 1364 pages"
grep -q "^page cache avoided: " "$T/s2.out" || bad "stat, part 2: $(cat "$T/s2.out")"

# One process fine, one without ucow: its figures, one line for the other, status 1.
run mixed "$UCOW" stat --json "$writer" $$
equal "stat PID NOT-UCOW" "exit status" "$(rc_of mixed)" 1
equal "stat PID NOT-UCOW" "objects printed" "$(grep -c '"pid":' "$T/mixed.out")" 1
equal "stat PID NOT-UCOW" "lines on stderr" "$(wc -l <"$T/mixed.err")" 1
grep -q "^ucow: stat: $$: .*not running ucow" "$T/mixed.err" ||
	bad "stat PID NOT-UCOW: $(cat "$T/mixed.err")"

# --watch: asks again until the process ends.
touch "$steps/go.2"
wait_file "$steps/step.3"
timeout 20 "$UCOW" stat --json --watch 0.2 "$writer" >"$T/watch.out" 2>"$T/watch.err" &
watcher=$!
sleep 1
touch "$steps/go.3"
wait "$writer"
equal "writer" "exit status" $? 0
wait "$watcher"
equal "stat --watch" "exit status (the process ended)" $? 1
[ "$(grep -c '"pid":' "$T/watch.out")" -ge 2 ] ||
	bad "stat --watch: $(grep -c '"pid":' "$T/watch.out") objects in 1 s"
grep -q "^ucow: stat: $writer: " "$T/watch.err" || bad "stat --watch: $(cat "$T/watch.err")"
# At exit, the object counts every page once, however often it was asked.
equal "exit after stat" "bytes saved" "$(stats_of writer shmem_holes bytes_saved)" $((2048 * 4096))

# ucow loaded, nothing managed.
env LD_PRELOAD="$LIB" sleep 30 &
idle=$!
sleep 0.3
run idle "$UCOW" stat "$idle"
kill "$idle"
equal "stat (nothing managed)" "exit status" "$(rc_of idle)" 1
grep -q "^ucow: stat: $idle: sleep runs ucow but manages no memory" "$T/idle.err" ||
	bad "stat (nothing managed): $(cat "$T/idle.err")"
run gone "$UCOW" stat 0x
equal "stat (not a pid)" "exit status" "$(rc_of gone)" 125

# A forged page (a process without ucow naming another process's thread, and a pipe of that
# process as the doorbell): ucow stat writes nothing anywhere, says so, and exits 1.
"$PROGS/stat-forged" 4 >"$T/forged.out" 2>&1 &
wait_file "$T/forged.out"
forged=$(head -n 1 "$T/forged.out")
run forged "$UCOW" stat "$forged"
equal "stat of a forged page" "exit status" "$(rc_of forged)" 1
grep -q "^ucow: stat: $forged: its stats page names thread [0-9]*, which is not one of its own" \
	"$T/forged.err" || bad "stat of a forged page: $(cat "$T/forged.err")"
wait
grep -q "^victim: 0 bytes" "$T/forged.out" ||
	bad "stat of a forged page wrote into another process: $(tail -n 1 "$T/forged.out")"

# The same unprivileged user may ask (ptrace rules); another may not.
if [ "$(id -u)" -ne 0 ] || ! id nobody >/dev/null 2>&1 ||
   ! su -s /bin/sh nobody -c true >/dev/null 2>&1; then
	say "skipped: stat as nobody needs root, a user nobody and su"
	finish
fi
dir=$(mktemp -d /tmp/ucow-stat.XXXXXX) || exit 1
trap 'rm -rf "$dir"' EXIT
cp "$LIB" "$dir/libucow.so" && cp "$UCOW" "$PROGS/stat-writer" "$dir/" || exit 1
mkdir "$dir/steps"
chmod 755 "$dir" "$dir"/* && chmod 777 "$dir/steps"
# Unprivileged userfaultfd is off here: a user-mode-only one manages nobody's memory.
timeout 60 su -s /bin/sh nobody -c "cd '$dir' && exec env UCOW_USER_MODE_ONLY=on \
	LD_PRELOAD='$dir/libucow.so' ./stat-writer '$dir/steps' 1 4" >"$T/nw.out" 2>&1 &
wait_file "$dir/steps/step.1"
npid=$(cat "$dir/steps/step.1")
timeout 10 su -s /bin/sh nobody -c "'$dir/ucow' stat --json $npid" >"$T/nj.out" 2>"$T/nj.err"
equal "nobody: stat of its own process" "exit status" $? 0
equal "nobody: stat --json" "bytes saved" "$(saved nj "$npid")" $((1024 * 4096))
timeout 10 su -s /bin/sh nobody -c "'$dir/ucow' stat $$" >"$T/nr.out" 2>"$T/nr.err"
equal "nobody: stat of root's process" "exit status" $? 1
equal "nobody: stat of root's process" "lines on stderr" "$(grep -c '^ucow: stat:' "$T/nr.err")" 1
touch "$dir/steps/go.1"
wait
finish

# stats.sh: UCOW_STATS=PATH appends one valid JSON object per run with counters that match
# what the program did; UCOW_STATS=stderr writes it to stderr.
. "$UCOWTEST_SRCDIR/tests/integration/lib.sh"
require_lib
require_uffd

# check_json CASE FILE PYTHON-EXPRESSIONS...: each expression, over the last object j, holds.
check_json() {
	c=$1
	f=$2
	shift 2
	"$PYTHON" - "$f" "$@" >"$T/json.out" 2>&1 <<'PY'
import json, sys
lines = [l for l in open(sys.argv[1]).read().split("\n") if l.strip()]
j = json.loads(lines[-1])
bad = 0
for e in sys.argv[2:]:
    try:
        ok = eval(e, {"j": j, "lines": lines, "json": json})
    except Exception as x:
        ok = False
        e += " (%r)" % x
    if not ok:
        print("does not hold: " + e)
        bad += 1
if bad:
    print("object: " + lines[-1])
sys.exit(1 if bad else 0)
PY
	if [ $? -ne 0 ]; then
		bad "$c: stats"
		sed 's/^/    /' "$T/json.out"
	fi
}

common='j["ucow"] == "0.1.0"
isinstance(j["pid"], int) and j["pid"] > 0
isinstance(j["comm"], str)
j["uffd"] == "full"
j["managed"] is True
j["engine"]["regions"] >= 1
j["engine"]["unknown_faults"] == 0
j["engine"]["poisoned"] == 0
j["engine"]["register_failed"] == 0
all(isinstance(v, int) for v in j["engine"].values())'

# One page per fault, so every counter is exact.
run_ucow w UCOW_STATS="$T/w.json" UCOW_FAULT_AROUND=0 "$PROGS/shmem-hole" -s 4M -p seq-write
equal "write stats" "exit status" "$(rc_of w)" 0
no_stderr "write stats" w
h=$(mem w holes_written)
equal "write stats" "lines in the file" "$(grep -c . "$T/w.json")" 1
IFS='
'
check_json "seq-write, zero mode" "$T/w.json" $common \
	'j["comm"] == "shmem-hole"' \
	'j["shmem_holes"]["mode"] == "zero"' \
	'j["shmem_holes"]["regions"] == 1' \
	"j['shmem_holes']['faults_write'] == $h" \
	'j["shmem_holes"]["faults_read"] == 0' \
	"j['shmem_holes']['pages_filled_private'] == $h" \
	'j["shmem_holes"]["pages_zero_mapped"] == 0' \
	"j['shmem_holes']['pagecache_pages_avoided'] == $h" \
	'j["shmem_holes"]["pagecache_pages_filled"] == 0' \
	"j['shmem_holes']['bytes_saved'] == $h * 4096" \
	"j['engine']['faults'] >= $h"
unset IFS

run_ucow r UCOW_STATS="$T/r.json" UCOW_FAULT_AROUND=0 "$PROGS/shmem-hole" -s 4M -p read
holes=$(($(mem r pages) - $(mem r data_pages)))
IFS='
'
check_json "read, zero mode" "$T/r.json" $common \
	"j['shmem_holes']['faults_read'] == $holes" \
	'j["shmem_holes"]["faults_write"] == 0' \
	"j['shmem_holes']['pages_zero_mapped'] == $holes" \
	'j["shmem_holes"]["pages_filled_private"] == 0' \
	'j["shmem_holes"]["pagecache_pages_filled"] == 0'
unset IFS

# Appending: a second run adds a second line.
run_ucow w2 UCOW_STATS="$T/w.json" UCOW_FAULT_AROUND=0 "$PROGS/shmem-hole" -s 4M -p seq-write
equal "append" "lines in the file" "$(grep -c . "$T/w.json")" 2
"$PYTHON" -c 'import json,sys; [json.loads(l) for l in open(sys.argv[1]) if l.strip()]' "$T/w.json" ||
	bad "append: not one JSON object per line"

# With fault-around (the default) the counters still add up.
run_ucow fa UCOW_STATS="$T/fa.json" "$PROGS/shmem-hole" -s 8M -p seq-write
h=$(mem fa holes_written)
IFS='
'
check_json "seq-write, default fault-around" "$T/fa.json" $common \
	"j['shmem_holes']['pages_filled_private'] + j['shmem_holes']['pages_zero_mapped'] >= 1" \
	"j['shmem_holes']['pages_filled_private'] <= $h" \
	'j["shmem_holes"]["pagecache_pages_filled"] == 0'
unset IFS

# UCOW_STATS=stderr: the only line on stderr is the object.
run_ucow e UCOW_STATS=stderr "$PROGS/shmem-hole" -s 1M -p seq-write
equal "stderr" "lines on stderr" "$(grep -c . "$T/e.err")" 1
IFS='
'
check_json "UCOW_STATS=stderr" "$T/e.err" $common
unset IFS

# A process that never managed anything says so.
run_ucow n UCOW_STATS="$T/n.json" /bin/true
if [ -s "$T/n.json" ]; then
	check_json "nothing managed" "$T/n.json" 'j["managed"] is False' 'j["uffd"] == "unused"'
fi
finish

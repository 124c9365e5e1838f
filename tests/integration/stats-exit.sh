# stats-exit.sh: UCOW_STATS holds one object for every process that managed memory, however it
# ended: fork children that end with _exit, _Exit or exit each write theirs (with their own
# faults), a vfork child writes none, and `ucow run --stats` counts them all.
. "$UCOWTEST_SRCDIR/tests/integration/lib.sh"
require_lib
require_uffd
require_ucow_command

# objects FILE: "LINES MANAGED WRITERS", WRITERS the objects with shmem-hole write faults.
objects() {
	"$PYTHON" - "$1" <<'PY'
import json, sys
lines = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
managed = sum(1 for j in lines if j["managed"])
writers = sum(1 for j in lines if j["shmem_holes"]["faults_write"] > 0)
print(len(lines), managed, writers)
PY
}

for how in _exit _Exit exit; do
	rm -f "$T/$how.jsonl"
	run_ucow "$how" "UCOW_STATS=$T/$how.jsonl" "$PROGS/exit-child" "$how" 2
	equal "$how" "exit status" "$(rc_of "$how")" 0
	equal "$how: parent and 2 children" "objects, managed, with write faults" \
		"$(objects "$T/$how.jsonl")" "3 3 3"
done

rm -f "$T/vfork.jsonl"
run_ucow vfork "UCOW_STATS=$T/vfork.jsonl" "$PROGS/exit-child" vfork 3
equal vfork "exit status" "$(rc_of vfork)" 0
equal "vfork: the parent alone" "objects, managed, with write faults" \
	"$(objects "$T/vfork.jsonl")" "1 1 1"

run sum "$UCOW" run --stats -- "$PROGS/exit-child" _exit 2
equal "ucow run --stats" "exit status" "$(rc_of sum)" 0
grep -q "3 processes (.*), 3 managed" "$T/sum.err" ||
	bad "ucow run --stats: the summary does not count the 2 children: $(head -2 "$T/sum.err")"
finish

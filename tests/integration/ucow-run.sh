# ucow-run.sh: the command `ucow run -- PROGRAM` preloads the library and sets knobs; the
# program's exit status comes back unchanged, 127 for a command not found, 126 for one that
# cannot be executed.
. "$UCOWTEST_SRCDIR/tests/integration/lib.sh"
require_lib
require_ucow_command

run v "$UCOW" --version
equal "ucow --version" "exit status" "$(rc_of v)" 0
grep -q '0\.1\.0' "$T/v.out" || bad "ucow --version does not say 0.1.0"
run h "$UCOW" --help
equal "ucow --help" "exit status" "$(rc_of h)" 0
require_uffd
run f "$UCOW" features
equal "ucow features" "exit status" "$(rc_of f)" 0

run k "$PROGS/shmem-hole" -p seq-write -x 3
run u "$UCOW" run -- "$PROGS/shmem-hole" -p seq-write -x 3
same_output "ucow run" k u
no_stderr "ucow run" u
equal "ucow run" "file kB (managed)" "$(mem u file_kb)" "$(mem u file_kb_before)"

run u-off "$UCOW" run --shmem-holes=off -- "$PROGS/shmem-hole" -p seq-write -x 3
same_output "ucow run --shmem-holes=off" k u-off
equal "ucow run --shmem-holes=off" "file kB (as the kernel)" "$(mem u-off file_kb)" \
	"$(mem k file_kb)"

# The SONAMEs: a runtime-only install (Debian's libucow0) has no unversioned libucow.so.
run pre "$UCOW" run --lazy-memset -- sh -c 'echo "$LD_PRELOAD"'
case $(cat "$T/pre.out") in
*/libucow.so.0:*/libucow-memset.so.0 | */libucow.so.0:*/libucow-memset.so.0:*) ;;
*) bad "ucow run --lazy-memset: LD_PRELOAD is '$(cat "$T/pre.out")', not the two SONAMEs" ;;
esac
run u-lm "$UCOW" run --lazy-memset -- "$PROGS/shmem-hole" -p seq-write -x 3
same_output "ucow run --lazy-memset" k u-lm
no_stderr "ucow run --lazy-memset" u-lm

run u-stats "$UCOW" run --stats="$T/s.json" -- "$PROGS/shmem-hole" -p seq-write
equal "ucow run --stats=PATH" "exit status" "$(rc_of u-stats)" 0
"$PYTHON" -c 'import json,sys; j=json.loads(open(sys.argv[1]).readline()); assert j["managed"]' \
	"$T/s.json" 2>"$T/json.err" || bad "ucow run --stats=PATH: no valid JSON with managed true"

run u-sum "$UCOW" run --stats -- "$PROGS/shmem-hole" -p seq-write
equal "ucow run --stats" "exit status" "$(rc_of u-sum)" 0
[ -s "$T/u-sum.err" ] || bad "ucow run --stats printed no summary on stderr"

run nf "$UCOW" run -- "$T/no-such-program"
equal "ucow run (not found)" "exit status" "$(rc_of nf)" 127
printf '#!/bin/sh\nexit 0\n' >"$T/not-executable"
chmod 644 "$T/not-executable"
run ne "$UCOW" run -- "$T/not-executable"
equal "ucow run (not executable)" "exit status" "$(rc_of ne)" 126
run bad "$UCOW" --no-such-option
equal "ucow --no-such-option" "exit status" "$(rc_of bad)" 125
finish

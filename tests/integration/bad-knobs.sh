# bad-knobs.sh: a bad knob value prints exactly one "ucow: config:" line naming the knob and
# the value, and the program runs unmanaged: same output, same exit status (here 3).
. "$UCOWTEST_SRCDIR/tests/integration/lib.sh"
require_lib

run k "$PROGS/shmem-hole" -p seq-write -x 3
equal "kernel run" "exit status" "$(rc_of k)" 3

check_bad_knob() {	# check_bad_knob VAR VALUE
	c="$1='$2'"
	run_ucow u "$1=$2" "$PROGS/shmem-hole" -p seq-write -x 3
	same_output "$c" k u
	equal "$c" "file kB (unmanaged, as the kernel)" "$(mem u file_kb)" "$(mem k file_kb)"
	equal "$c" "lines on stderr" "$(grep -c . "$T/u.err")" 1
	line=$(head -n 1 "$T/u.err")
	case $line in
	"ucow: config: $1='$2'"*expected*) ;;
	*) bad "$c: stderr is '$line', want one line 'ucow: config: $1='$2' ... expected ...'" ;;
	esac
}

check_bad_knob UCOW_SHMEM_HOLES bogus
check_bad_knob UCOW_SHMEM_HOLES zer0
check_bad_knob UCOW_SHMEM_HOLES ""
check_bad_knob UCOW_FAULT_AROUND 12Q
check_bad_knob UCOW_FAULT_AROUND -1
check_bad_knob UCOW_FAULT_AROUND 2MB
check_bad_knob UCOW_FAULT_AROUND 99999999999999999999999
check_bad_knob UCOW_FAULT_AROUND "2M junk"
check_bad_knob UCOW_LAZY_MEMSET maybe
check_bad_knob UCOW_LAZY_MEMSET_MIN 1.5M
check_bad_knob UCOW_PINS 2
check_bad_knob UCOW_SECCOMP enable
check_bad_knob UCOW_USER_MODE_ONLY yess
check_bad_knob UCOW_IDLE_POLL always
check_bad_knob UCOW_LOCAL_WAKE sometimes
check_bad_knob UCOW_LOG loud
check_bad_knob UCOW_DISABLE perhaps

# A value with a line break in it: still one line, so that logs stay one line per event.
nl_value=$(printf 'zero\nucow: forged line')
run_ucow u UCOW_SHMEM_HOLES="$nl_value" "$PROGS/shmem-hole" -p seq-write -x 3
same_output "value with a newline" k u
equal "value with a newline" "lines on stderr" "$(grep -c . "$T/u.err")" 1
case $(head -n 1 "$T/u.err") in
"ucow: config: UCOW_SHMEM_HOLES="*) ;;
*) bad "value with a newline: stderr does not start with 'ucow: config: UCOW_SHMEM_HOLES='" ;;
esac

# Two bad knobs: still one line.
run_ucow u UCOW_LOG=loud UCOW_SHMEM_HOLES=bogus "$PROGS/shmem-hole" -p seq-write -x 3
same_output "two bad knobs" k u
equal "two bad knobs" "lines on stderr" "$(grep -c . "$T/u.err")" 1
grep -q '^ucow: config: ' "$T/u.err" || bad "two bad knobs: no 'ucow: config:' line"

# A forking program: one line for the whole tree, statuses untouched.
run k-fork "$PROGS/fork-check" -t 2 -g 3
run_ucow u-fork UCOW_SHMEM_HOLES=nope "$PROGS/fork-check" -t 2 -g 3
same_output "bad knob, forking program" k-fork u-fork
equal "bad knob, forking program" "lines on stderr" "$(grep -c . "$T/u-fork.err")" 1

# A program that never maps anything managed: its status, and no more than one line.
run_ucow u-sh UCOW_SHMEM_HOLES=bogus /bin/sh -c 'echo hello; exit 3'
equal "bad knob, sh -c" "exit status" "$(rc_of u-sh)" 3
equal "bad knob, sh -c" "stdout" "$(cat "$T/u-sh.out")" hello
[ "$(grep -c . "$T/u-sh.err")" -le 1 ] || bad "bad knob, sh -c: more than one line on stderr"

# A script running five programs: one line for the whole tree, not one per process; the
# programs' environment is left as it was (they see the same UCOW_SHMEM_HOLES).
P5="$PROGS/shmem-hole -p seq-write"
script="$P5; $P5; $P5; $P5; $P5; echo \$UCOW_SHMEM_HOLES"
run k-sh5 UCOW_SHMEM_HOLES=bogus /bin/sh -c "$script"
run_ucow u-sh5 UCOW_SHMEM_HOLES=bogus /bin/sh -c "$script"
same_output "bad knob, sh -c running 5 programs" k-sh5 u-sh5
equal "bad knob, sh -c running 5 programs" "'ucow:' lines on stderr" "$(ucow_lines u-sh5)" 1
equal "bad knob, sh -c running 5 programs" "lines on stderr" "$(grep -c . "$T/u-sh5.err")" 1
equal "bad knob, sh -c running 5 programs" "the value the programs see" \
	"$(tail -n 1 "$T/u-sh5.out")" bogus

# A child given another bad value says so itself: the parent said something else.
run_ucow u-other UCOW_SHMEM_HOLES=bogus /bin/sh -c \
	"UCOW_SHMEM_HOLES=other $P5 >/dev/null; $P5 >/dev/null"
equal "a child's own bad value" "'ucow:' lines on stderr" "$(ucow_lines u-other)" 2
grep -q "UCOW_SHMEM_HOLES='other'" "$T/u-other.err" ||
	bad "a child's own bad value: no line about UCOW_SHMEM_HOLES='other'"
finish

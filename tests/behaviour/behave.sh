# behave.sh: sourced by tests/behaviour/<behaviour>.sh: runs tests/behaviour/<behaviour> over
# every kind of memory it lists (kinds.c), plainly and under ucow with the knobs the kind needs;
# each comparison counts only when ucow managed that kind's memory in that run (the anon
# control: when ucow managed nothing).
. "$UCOWTEST_SRCDIR/tests/integration/lib.sh"
B=$UCOWTEST_BUILDDIR/tests/behaviour
RUN_TIMEOUT=${RUN_TIMEOUT_BEHAVIOUR:-30}

# Known ucow bugs: cases kept as tests, disabled here (BEHAVIOUR/KIND/CASE words, as the
# programs' setup() names them); UCOWTEST_BEHAVIOUR_BUGS=run runs them.
# None now (mremap/refpage/dontunmap was one: the old range read 0x00, fixed in interpose.c).
KNOWN_BUGS=""
if [ "${UCOWTEST_BEHAVIOUR_BUGS:-}" = run ]; then
	disable=
else
	disable=$KNOWN_BUGS
fi

# require_unmanaged CASE STATSFILE: ucow registered nothing in any process of the run.
require_unmanaged() {
	if [ ! -s "$2" ]; then
		bad "$1: no UCOW_STATS output in $2: cannot tell whether ucow managed anything"
		return 1
	fi
	if grep -q '"managed":true' "$2" || grep -q '"engine":{"regions":[1-9]' "$2"; then
		bad "$1: ucow managed memory in the control run"
		head -n 3 "$2" | cut -c 1-300 | sed 's/^/    /'
		return 1
	fi
	return 0
}

# require_kind CASE KIND STATSFILE: the policy that makes KIND managed memory registered it.
require_kind() {
	case $2 in
	memfd | shm | data) pat='"shmem_holes":{"mode":"[a-z]*","regions":[1-9]' ;;
	refpage) pat='"refpage":{"fds_created":[1-9][0-9]*,"regions":[1-9]' ;;
	lazy) pat='"lazy_memset":{[^}]*"deferred_calls":[1-9]' ;;
	*) return 0 ;;
	esac
	grep -q "$pat" "$3" || bad "$1: ucow's stats show no $2 memory managed"
}

# behave BEHAVIOUR [CHECK]: every kind; CHECK KIND CLASS, when given, runs after each
# comparison (the runs' files are $T/k.* and $T/u.*).
behave() {
	name=$1
	check=${2:-}
	prog=$B/$name
	require_lib
	require_uffd
	[ -x "$prog" ] || { echo "not built: $prog"; exit 1; }
	"$prog" --list >"$T/kinds" || { echo "$prog --list failed"; exit 1; }
	for b in $disable; do
		case $b in
		"$name"/*) say "known ucow bug, disabled (UCOWTEST_BEHAVIOUR_BUGS=run runs it): $b" ;;
		esac
	done
	while read -r kind class knobs; do
		c="$name $kind"
		# shellcheck disable=SC2086 # knobs are VAR=VALUE words
		versus "$c" UCOWTEST_BEHAVIOUR_DISABLE="$disable" $knobs "$prog" "$kind"
		[ "$(rc_of k)" = 77 ] && skip "$(tail -n 1 "$T/k.out")"
		sed "s/^/    /" "$T/u.out"
		equal "$c (kernel)" "exit status" "$(rc_of k)" 0
		if [ "$(rc_of k)" != 0 ]; then
			sed 's/^/    kernel stderr: /' "$T/k.err" | head -n 5
		fi
		if [ "$(rc_of u)" != 0 ]; then
			sed 's/^/    ucow stderr: /' "$T/u.err" | head -n 5
		fi
		hung u && continue
		if [ "$class" = managed ]; then
			require_managed "$c" "$T/u.stats" && require_kind "$c" "$kind" "$T/u.stats"
		else
			require_unmanaged "$c" "$T/u.stats"
		fi
		[ -n "$check" ] && $check "$kind" "$class"
	done <"$T/kinds"
	finish
}

# fd-table.sh: the program's descriptor table is the program's (DESIGN.md law 8). dup2 of a
# pipe or /dev/null onto 1000 and onto every number the program does not use, close_range
# and a closefrom loop after managing mappings, a 64-descriptor limit, 900 mappings of one
# memfd, write mode on an O_RDONLY file; each then fork. Same bytes and exit status as the
# kernel, never a hang, no false message, and ucow demonstrably managing each run.
. "$UCOWTEST_SRCDIR/tests/integration/lib.sh"
require_lib
require_uffd

P="$PROGS/fd-table"

# managed CASE TAG: the run's hole reads left the file as it was (zero mode: ucow, not the
# kernel, served them) and its stats count faults and no fallback.
managed() {
	equal "$1" "file kB grown by reading holes (ucow's zero pages)" "$(mem "$2" grew_kb)" 0
	stats_managed "$1" "$2"
}

stats_managed() {
	grep -q '"faults":[1-9]' "$T/$2.stats" 2>/dev/null ||
		bad "$1: ucow served no fault (stats: $(head -c 300 "$T/$2.stats" 2>/dev/null))"
	grep -q '"fallbacks":0' "$T/$2.stats" 2>/dev/null ||
		bad "$1: ucow handed ranges back to the kernel"
}

# one CASE LIMIT [FORK]: the kernel's run against ucow's, each under ulimit -n LIMIT.
one() {
	c="$1 (ulimit -n $2${3:+, fork})"
	sh -c "ulimit -n $2 && exec \"\$@\"" sh timeout -k 5 60 "$P" $1 ${3:-} \
		>"$T/k.out" 2>"$T/k.err" </dev/null
	echo $? >"$T/k.rc"
	rm -f "$T/u.stats"
	sh -c "ulimit -n $2 && exec \"\$@\"" sh timeout -k 5 60 env LD_PRELOAD="$LIB" \
		UCOW_STATS="$T/u.stats" UCOW_SHMEM_HOLES=$MODE "$P" $1 ${3:-} \
		>"$T/u.out" 2>"$T/u.err" </dev/null
	echo $? >"$T/u.rc"
	equal "$c" "kernel's exit status" "$(rc_of k)" 0
	same_output "$c" k u
	no_stderr "$c" u
	if [ "$MODE" = zero ]; then
		managed "$c" u
	else
		stats_managed "$c" u
		# Write mode reads holes into the page cache as the kernel does.
		equal "$c" "file kB grown by reading holes" "$(mem u grew_kb)" "$(mem k grew_kb)"
	fi
	cases=$((cases + 1))
}

cases=0
MODE=zero
for fork in "" -f; do
	for c in pipe1000 null1000 pipe-all null-all close-range closefrom many; do
		one $c 1024 $fork
	done
	# Under a low limit ucow's copy sits at the top, and dup2 onto all of them.
	for c in pipe-all null-all close-range closefrom; do
		one $c 64 $fork
	done
	# Above 1000 descriptors, where ucow used to keep its own.
	one pipe1000 4096 $fork
	one null1000 4096 $fork
	MODE=write
	one rdonly 1024 $fork
	MODE=zero
done
# 900 mappings of one memfd cost the program no descriptor.
one many 1024
equal "900 mappings" "opens after them" "$(mem u opens)" 500
say "$cases cases"
finish

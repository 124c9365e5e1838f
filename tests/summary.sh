#!/bin/sh
# summary.sh: the end of `make check`: which tests were skipped and why, which failed and
# where their logs are, then the last line, "N passed, N failed" (skips count as neither).
# Exit status 1 when a test failed or did not run.
#
# usage: summary.sh BASE...      (BASE: a test's .log/.trs path without the extension)

set -u

passed=0
failed=0
skipped=0
skips=
fails=
nl='
'
for b in "$@"; do
	# test-driver ends each log with "RESULT NAME (exit status: N)".
	last=$(grep -E '^[A-Z]+ .* \(exit status: [0-9]+\)$' "$b.log" 2>/dev/null | tail -n 1)
	name=$(echo "$last" | sed -n 's/^[A-Z]* \(.*\) (exit status: [0-9]*)$/\1/p')
	name=${name:-$b}
	if [ -f "$b.trs" ]; then
		results=$(sed -n 's/^:test-result: *//p' "$b.trs")
	else
		results=ERROR
	fi
	case $results in
	*FAIL* | *XPASS* | *ERROR*)
		failed=$((failed + 1))
		why=$(sed -n 's/^run-test.sh: //p' "$b.log" 2>/dev/null | tail -n 1)
		[ -z "$why" ] && why=$(echo "$last" | sed -n 's/.*(\(exit status: [0-9]*\))$/\1/p')
		fails="$fails${nl}FAILED: $name (${why:-did not run}; log: $b.log)" ;;
	*SKIP*)
		skipped=$((skipped + 1))
		why=$(grep -v -e '^[[:space:]]*$' -e '^run-test.sh: ' "$b.log" 2>/dev/null |
			grep -v -x -F "$last" | tail -n 1)
		skips="$skips${nl}SKIP: $name (${why:-no reason given})" ;;
	*)
		passed=$((passed + 1)) ;;
	esac
done

[ -n "$skips" ] && echo "${skips#$nl}"
echo "$skipped skipped"
[ -n "$fails" ] && echo "${fails#$nl}"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]

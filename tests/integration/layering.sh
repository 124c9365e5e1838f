#!/bin/sh
# layering.sh: checks the source layout rules of src/: no file over 600 lines, every file
# opens with "/* NAME: what it is for", and no include cycle between modules (foo.c and
# foo.h are module foo; foo -> bar when either includes "bar.h"). tests/layering.allow lists
# the offenders known today; anything else fails, and allowances no longer needed are named.
#
# usage: sh tests/integration/layering.sh [--dot]     (from the source tree, or make check)
#   --dot: print the module graph for graphviz instead (dot -Tsvg), allowed edges dashed.

set -u

MAX_LINES=600
srcdir=${UCOWTEST_SRCDIR:-$(cd "$(dirname "$0")/../.." && pwd)}
cd "$srcdir" || exit 99
[ -d src ] || { echo "layering.sh: no src/ in $srcdir"; exit 99; }
allow_file=tests/layering.allow
dot=no
[ "${1:-}" = --dot ] && dot=yes

W=$(mktemp -d "${TMPDIR:-/tmp}/ucow-layering.XXXXXX") || exit 99
trap 'rm -rf "$W"' EXIT

# The allow-list, without comments: "long FILE" and "edge FROM TO" lines.
if [ -f "$allow_file" ]; then
	sed -e 's/#.*//' -e '/^[[:space:]]*$/d' "$allow_file" >"$W/allow"
else
	: >"$W/allow"
fi
awk '$1 == "long" { print $2 }' "$W/allow" | sort -u >"$W/allow.long"
awk '$1 == "edge" { print $2, $3 }' "$W/allow" | sort -u >"$W/allow.edges"
awk '$1 != "long" && $1 != "edge" { print "layering.allow: not understood: " $0 }' \
	"$W/allow" >"$W/allow.bad"

find src -name '*.[ch]' | LC_ALL=C sort >"$W/files"

# The module graph: "FROM TO" per include of another module's header.
while read -r f; do
	stem=${f##*/}
	stem=${stem%.*}
	sed -n 's/^[[:space:]]*#[[:space:]]*include[[:space:]]*"\([^"]*\)\.h".*/\1/p' "$f" |
		sed 's|.*/||' | while read -r to; do
			[ "$to" != "$stem" ] && echo "$stem $to"
		done
done <"$W/files" | LC_ALL=C sort -u >"$W/includes"
sed 's|.*/||; s|\.[ch]$||' "$W/files" | LC_ALL=C sort -u >"$W/modules"
# Only headers of src/ make edges (not build.h, not system headers).
awk 'NR == FNR { m[$1] = 1; next } ($2 in m)' "$W/modules" "$W/includes" >"$W/edges"

if [ $dot = yes ]; then
	echo "digraph ucow_modules {"
	echo "	rankdir=LR; node [shape=box, fontname=monospace];"
	sed 's/.*/	"&";/' "$W/modules"
	awk 'NR == FNR { a[$1 " " $2] = 1; next }
	     { printf "\t\"%s\" -> \"%s\"%s;\n", $1, $2, ($0 in a) ? " [style=dashed]" : "" }' \
		"$W/allow.edges" "$W/edges"
	echo "}"
	exit 0
fi

failures=0
fail() {
	echo "FAILED: $*"
	failures=$((failures + 1))
}

cat "$W/allow.bad"
[ -s "$W/allow.bad" ] && failures=$((failures + 1))

echo "src: $(wc -l <"$W/files") files, $(wc -l <"$W/modules") modules, $(wc -l <"$W/edges") include edges"

# (a) size.
while read -r f; do
	n=$(wc -l <"$f")
	[ "$n" -le $MAX_LINES ] && continue
	if grep -qxF "$f" "$W/allow.long"; then
		echo "allowed: $f has $n lines (over $MAX_LINES)"
	else
		fail "$f has $n lines (over $MAX_LINES): split it by concern"
	fi
done <"$W/files"

# (b) the opening comment names the file and says what it is for.
while read -r f; do
	name=${f##*/}
	first=$(head -n 1 "$f")
	case $first in
	"/* $name: "?*) ;;
	*) fail "$f does not open with '/* $name: what it is for': '$first'" ;;
	esac
done <"$W/files"

# (c) no cycle once the allowed edges are taken out; tsort names the loops it finds.
LC_ALL=C comm -12 "$W/edges" "$W/allow.edges" | sed 's/^/allowed: edge /'
LC_ALL=C comm -23 "$W/edges" "$W/allow.edges" >"$W/checked"
if ! tsort <"$W/checked" >/dev/null 2>"$W/tsort"; then
	fail "include cycle between modules (A -> B: A.c or A.h includes \"B.h\"):"
	# tsort lists each loop's modules in edge order, one "tsort: NAME" line each.
	awk '/input contains a loop/ { if (loop != "") print "    " loop " -> " first; loop = ""; next }
	     { sub(/^tsort: /, ""); if (loop == "") { loop = $0; first = $0 } else loop = loop " -> " $0 }
	     END { if (loop != "") print "    " loop " -> " first }' "$W/tsort"
fi

# Allowances no longer needed: say so, so that the list only shrinks.
while read -r f; do
	if [ ! -f "$f" ] || [ "$(wc -l <"$f")" -le $MAX_LINES ]; then
		echo "note: $allow_file: 'long $f' is no longer needed: remove it"
	fi
done <"$W/allow.long"
LC_ALL=C comm -13 "$W/edges" "$W/allow.edges" |
	sed "s|^|note: $allow_file: no longer needed, remove it: edge |"

if [ $failures -ne 0 ]; then
	echo "$failures layering rule(s) broken"
	exit 1
fi
echo "layering rules kept"
exit 0

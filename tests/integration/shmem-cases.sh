# shmem-cases.sh: managed MAP_PRIVATE tmpfs mappings through what changes them — the fd
# closed, MAP_FIXED over a reservation and over part of a mapping, mremap grow/move/shrink/
# DONTUNMAP, partial munmap, fork, threads, the end of the file, truncation, hole punching,
# growth, another process writing the file — in every mode (the table of shmem-matrix.sh):
# every line the kernel's, except the documented zero-mode difference, checked line by line.
. "$UCOWTEST_SRCDIR/tests/integration/lib.sh"
. "$UCOWTEST_SRCDIR/tests/integration/shmem-matrix.sh"
require_lib
require_uffd

CASES="closed-fd fixed-reserve fixed-over-managed two-maps mremap-grow mremap-move
partial-munmap fork threads eof truncate punch growth external"

# Case "external": what the plain kernel shows (asserted, so the differences below mean
# something): data another process or a shared mapping wrote into holes after this private
# mapping read them, wrote next to them, or never touched them.
EXTERNAL_KERNEL='read-hole pagemap: F
read-hole: E0
neighbour: E0
far: E0
after-written: 3*E0
ahead-of-written: E0
shared-read: shared!
shared-untouched: shared!'
# ... and the lines zero mode changes, by mode: where the zero page was mapped (the page read
# and the fault-around window around any fault) the new data does not show. Write and off
# modes must show exactly the kernel's lines.
EXTERNAL_ZERO='zero|read-hole pagemap|Z
zero|read-hole|.0
zero|neighbour|.0
zero|after-written|3*.0
zero|ahead-of-written|.0
zero|shared-read|
zero|shared-untouched|
zero-fa0|read-hole pagemap|Z
zero-fa0|read-hole|.0
zero-fa0|shared-read|
zero-fa16k|read-hole pagemap|Z
zero-fa16k|read-hole|.0
zero-fa16k|neighbour|.0
zero-fa16k|shared-read|
zero-fa16k|shared-untouched|'

# external_expect MODE KERNEL_TAG: the kernel's stable output with MODE's documented lines.
external_expect() {
	stable "$2" | awk -F'|' -v mode="$1" -v table="$EXTERNAL_ZERO" '
		BEGIN {
			n = split(table, rows, "\n")
			for (i = 1; i <= n; i++) {
				split(rows[i], f, "|")
				if (f[1] == mode)
					want[f[2]] = f[3]
			}
		}
		{
			label = $0
			sub(/: .*/, "", label)
			if (label in want)
				print label ": " want[label]
			else
				print
		}'
}

kinds="memfd shm"
if [ "$(id -u)" -eq 0 ] && mkdir -p "$T/mnt" &&
   mount -t tmpfs -o size=64m,huge=never ucow-cases "$T/mnt" 2>"$T/mount.err"; then
	trap 'umount "$T/mnt" 2>/dev/null' EXIT
	kinds="$kinds dir:$T/mnt"
else
	say "note: no tmpfs of our own (not root, or: $(cat "$T/mount.err" 2>/dev/null));" \
		"that kind is left out"
fi

cases=0
for kind in $kinds; do
	for case in $CASES; do
		k=k-$case
		kc="$kind $case (kernel)"
		run "$k" "$PROGS/shmem-cases" -k "$kind" "$case"
		cases=$((cases + 1))
		equal "$kc" "exit status" "$(rc_of "$k")" 0
		equal "$kc" "last line" "$(tail -n 1 "$T/$k.out")" "done"
		no_stderr "$kc" "$k"
		if [ "$case" = external ]; then
			echo "$EXTERNAL_KERNEL" | while IFS= read -r line; do
				grep -qxF "$line" "$T/$k.out" || echo "$line"
			done >"$T/missing"
			[ -s "$T/missing" ] && bad "$kc: the kernel did not show: $(cat "$T/missing")"
		fi
		while read -r mode knobs; do
			u=u-$mode-$case
			c="$kind $case mode=$mode"
			run_ucow "$u" $knobs "$PROGS/shmem-cases" -k "$kind" "$case"
			cases=$((cases + 1))
			no_stderr "$c" "$u"
			case $case/$mode in
			external/zero*)
				external_expect "$mode" "$k" >"$T/$u.want"
				stable "$u" >"$T/$u.stable"
				if ! cmp -s "$T/$u.want" "$T/$u.stable"; then
					bad "$c: not the kernel's output with the documented differences"
					diff "$T/$u.want" "$T/$u.stable" | head -n 20 | sed 's/^/    /'
				fi
				equal "$c" "exit status" "$(rc_of "$u")" "$(rc_of "$k")" ;;
			*)
				same_output "$c" "$k" "$u" ;;
			esac
			ua=$(sed -n 's/^mem: after writes st_blocks=//p' "$T/$u.out")
			case $case/$mode in
			closed-fd/zero*)
				# Neither the writes nor the reads of holes reach the file.
				equal "$c" "file blocks after the writes" "$ua" \
					"$(sed -n 's/^mem: before st_blocks=//p' "$T/$u.out")" ;;
			closed-fd/write)
				# The reads do, the writes do not.
				ka=$(sed -n 's/^mem: after writes st_blocks=//p' "$T/$k.out")
				[ "${ua:-999999}" -lt "$ka" ] ||
					bad "$c: the file grew as much as the kernel's ($ua blocks)" ;;
			esac
		done <<EOF
$MATRIX_MODES
EOF
		if [ "$case" = closed-fd ]; then
			kb=$(sed -n 's/^mem: before st_blocks=//p' "$T/$k.out")
			ka=$(sed -n 's/^mem: after writes st_blocks=//p' "$T/$k.out")
			[ "${ka:-0}" -gt "${kb:-0}" ] ||
				bad "$kc: the kernel's file did not grow ($kb -> $ka blocks)"
		fi
	done
done
say "$cases runs compared"
finish

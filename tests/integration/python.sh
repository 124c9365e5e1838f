# python.sh: an unmodified system program, python3 (its mmap module), on MAP_PRIVATE mappings
# of a memfd and of tmpfs files with data pages among holes laid by dd: the same output with
# and without ucow, the same private memory (smaps Anonymous), and under ucow the file gains
# no blocks from what python writes (nor, in zero mode, from what it reads).
. "$UCOWTEST_SRCDIR/tests/integration/lib.sh"
require_lib
require_uffd
[ -x "$PYTHON" ] || skip "$PYTHON is not installed"

script=$UCOWTEST_SRCDIR/tests/integration/python-memfd.py
DATA_PAGES="3 4 5 100 101 777 2000 4095"	# of 4096 (16 MiB)

# A fresh 16 MiB file at $1 with "ucow..." pages at DATA_PAGES, the rest holes.
lay_file() {
	rm -f "$1"
	truncate -s 16M "$1" || return 1
	for p in $DATA_PAGES; do
		dd if="$T/page" of="$1" bs=4096 seek="$p" conv=notrunc status=none || return 1
	done
}
yes ucow | tr -d '\n' | head -c 4096 >"$T/page"

# check CASE TAG-PREFIX [ARGS...]: kernel, zero, write and off runs of the script.
check() {
	c=$1
	t=$2
	shift 2
	for mode in kernel zero write off; do
		[ -n "$path" ] && { lay_file "$path" || { bad "$c: cannot lay out $path"; return; }; }
		if [ $mode = kernel ]; then
			run "$t-$mode" "$PYTHON" "$script" "$@"
		else
			run_ucow "$t-$mode" UCOW_SHMEM_HOLES=$mode "$PYTHON" "$script" "$@"
		fi
	done
	k=$t-kernel
	equal "$c (kernel)" "exit status" "$(rc_of "$k")" 0
	no_stderr "$c (kernel)" "$k"
	before=$(mem "$k" file_kb_before)
	[ "$(mem "$k" file_kb)" -gt "$before" ] ||
		bad "$c (kernel): the file did not grow ($before -> $(mem "$k" file_kb) kB)"
	for mode in zero write off; do
		u=$t-$mode
		same_output "$c mode=$mode" "$k" "$u"
		no_stderr "$c mode=$mode" "$u"
		equal "$c mode=$mode" "file kB before" "$(mem "$u" file_kb_before)" "$before"
		# Private memory: one page per page python wrote, as with the kernel.
		equal "$c mode=$mode" "smaps Anonymous kB" "$(mem "$u" anon_kb)" "$(mem "$k" anon_kb)"
		case $mode in
		zero)
			equal "$c mode=$mode" "file kB after writing" "$(mem "$u" file_kb)" "$before"
			equal "$c mode=$mode" "file kB after reading all" "$(mem "$u" file_kb_end)" \
				"$before" ;;
		write)
			equal "$c mode=$mode" "file kB after writing" "$(mem "$u" file_kb)" "$before" ;;
		off)
			equal "$c mode=$mode" "file kB after writing" "$(mem "$u" file_kb)" \
				"$(mem "$k" file_kb)" ;;
		esac
	done
	say "$c: file kB after writing: kernel $(mem "$k" file_kb)," \
		"zero $(mem "$t-zero" file_kb), write $(mem "$t-write" file_kb)"
}

path=
check "python3 memfd" memfd

path=/dev/shm/ucow-python.$$
check "python3 /dev/shm file" shm --path "$path"
equal "python3 /dev/shm file" "first data" "$(sed -n 's/^first data at: //p' "$T/shm-kernel.out")" \
	$((3 * 4096))
# Of the 8 data pages, the slice written over pages 98..103 covers 100 and 101.
equal "python3 /dev/shm file" "data pages" "$(sed -n 's/^data pages left: //p' "$T/shm-kernel.out")" 6
rm -f "$path"

if [ "$(id -u)" -eq 0 ] && mkdir -p "$T/mnt" &&
   mount -t tmpfs -o size=64m,huge=never ucow-python "$T/mnt" 2>"$T/mount.err"; then
	trap 'umount "$T/mnt" 2>/dev/null' EXIT
	path=$T/mnt/file
	check "python3 tmpfs file" tmpfs --path "$path"
	umount "$T/mnt"
else
	say "note: no tmpfs of our own (not root, or: $(cat "$T/mount.err" 2>/dev/null));" \
		"that part is left out"
fi
finish

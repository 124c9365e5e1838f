# shmem-holes.sh: MAP_PRIVATE mappings of tmpfs files with holes, written and read in several
# patterns, with and without ucow in each mode: same bytes, same exit status; under ucow a
# hole written never grows the file, and reads of holes in zero mode allocate nothing.
. "$UCOWTEST_SRCDIR/tests/integration/lib.sh"
require_lib
require_uffd

SIZE=8M
kinds="memfd shm"

# A tmpfs of our own, when we may mount one.
mnt=
if [ "$(id -u)" -eq 0 ] && mkdir -p "$T/mnt" &&
   mount -t tmpfs -o size=64m ucow-test "$T/mnt" 2>"$T/mount.err"; then
	mnt=$T/mnt
	trap 'umount "$mnt" 2>/dev/null' EXIT
	kinds="$kinds dir:$mnt"
else
	say "note: no tmpfs of our own (not root, or mount failed: $(cat "$T/mount.err" 2>/dev/null)); skipping that kind"
fi
# A directory on a regular filesystem: not managed, must behave exactly as the kernel.
regular=
if ! on_tmpfs "$UCOWTEST_BUILDDIR"; then
	regular=$UCOWTEST_BUILDDIR
	kinds="$kinds dir:$regular"
fi

for kind in $kinds; do
	managed=yes
	case $kind in dir:"$regular") [ -n "$regular" ] && managed=no ;; esac
	for pattern in seq-write rand-write read read-write sparse; do
		k=k-$pattern
		run "$k" "$PROGS/shmem-hole" -k "$kind" -s $SIZE -p "$pattern"
		case_k="$kind $pattern (kernel)"
		equal "$case_k" "exit status" "$(rc_of "$k")" 0
		grep -q '^verify=ok' "$T/$k.out" || bad "$case_k: the program's own checks failed"
		before=$(mem "$k" file_kb_before)
		k_file=$(mem "$k" file_kb)
		k_anon=$(mem "$k" anon_kb)
		written=$(mem "$k" written)
		holes_written=$(mem "$k" holes_written)
		pages=$(mem "$k" pages)
		data_pages=$(mem "$k" data_pages)
		want_anon=$((written * 4))
		tol=$((want_anon / 100 + 16))
		if [ $managed = yes ] && [ "$holes_written" -gt 0 ] && [ "$k_file" -le "$before" ]; then
			say "note: $case_k: the kernel did not fill the written holes ($before -> $k_file kB)"
		fi

		for mode in zero write off; do
			u=u-$mode-$pattern
			c="$kind $pattern mode=$mode"
			run_ucow "$u" UCOW_SHMEM_HOLES=$mode "$PROGS/shmem-hole" -k "$kind" -s $SIZE \
				-p "$pattern"
			same_output "$c" "$k" "$u"
			no_stderr "$c" "$u"
			u_file=$(mem "$u" file_kb)
			u_anon=$(mem "$u" anon_kb)
			[ -n "$u_file" ] || { bad "$c: no counters"; continue; }
			equal "$c" "file kB before mapping" "$(mem "$u" file_kb_before)" "$before"
			if [ $managed = no ] || [ $mode = off ]; then
				equal "$c" "file kB" "$u_file" "$k_file"
				near "$c" "anonymous kB" "$u_anon" "$k_anon" "$tol"
				continue
			fi
			near "$c" "anonymous kB (pages written x 4)" "$u_anon" "$want_anon" "$tol"
			case $mode/$pattern in
			write/read|write/read-write)
				# Reads of holes fill the page cache, as the kernel does.
				equal "$c" "file kB" "$u_file" "$k_file" ;;
			*)
				# Written holes never reach the file; zero-mode reads neither.
				equal "$c" "file kB (file untouched)" "$u_file" "$before" ;;
			esac
		done
	done
done

# A larger file written once, with the default fault-around window.
run k-big "$PROGS/shmem-hole" -s 64M -d 64 -p seq-write
run_ucow u-big "$PROGS/shmem-hole" -s 64M -d 64 -p seq-write
same_output "64M seq-write" k-big u-big
no_stderr "64M seq-write" u-big
equal "64M seq-write" "file kB" "$(mem u-big file_kb)" "$(mem u-big file_kb_before)"
near "64M seq-write" "anonymous kB" "$(mem u-big anon_kb)" 65536 700

# Beyond EOF is SIGBUS, as without ucow: map more than the file holds.
for mode in zero write; do
	run k-eof "$PROGS/shmem-hole" -s 1M -p read -e
	run_ucow u-eof UCOW_SHMEM_HOLES=$mode "$PROGS/shmem-hole" -s 1M -p read -e
	same_output "beyond EOF mode=$mode" k-eof u-eof
	equal "beyond EOF mode=$mode" "kernel's exit status (SIGBUS)" "$(rc_of k-eof)" 135
done
finish

# nobody.sh: run as an unprivileged user, where userfaultfd is not permitted: exactly one
# "ucow: uffd:" line, the right result, the program's own exit status, unmanaged memory.
. "$UCOWTEST_SRCDIR/tests/integration/lib.sh"
require_lib
require_root "to run a program as nobody with su"
command -v su >/dev/null 2>&1 || skip "su is not installed"
id nobody >/dev/null 2>&1 || skip "there is no user nobody"

# The build tree may be under a directory nobody cannot enter: copy what we run.
dir=$(mktemp -d /tmp/ucow-nobody.XXXXXX) || exit 1
trap 'rm -rf "$dir"' EXIT
cp "$LIB" "$dir/libucow.so" && cp "$PROGS/shmem-hole" "$PROGS/fork-check" "$dir/" || exit 1
chmod 755 "$dir" "$dir"/*
su -s /bin/sh nobody -c "true" >/dev/null 2>&1 || skip "su to nobody does not work here"

managed=no
[ "$(sysctl -n vm.unprivileged_userfaultfd 2>/dev/null)" = 1 ] && managed=yes
say "vm.unprivileged_userfaultfd: managed as nobody: $managed"

# as_nobody TAG [VAR=VALUE...] PROGRAM ARGS: like run, as nobody, in $dir.
as_nobody() {
	tag=$1
	shift
	cmd="cd '$dir' && exec env"
	for a in "$@"; do
		cmd="$cmd '$a'"
	done
	timeout -k 5 60 su -s /bin/sh nobody -c "$cmd" >"$T/$tag.out" 2>"$T/$tag.err" </dev/null
	echo $? >"$T/$tag.rc"
}

for pattern in seq-write read; do
	c="nobody $pattern"
	as_nobody k ./shmem-hole -p $pattern -x 3
	as_nobody u LD_PRELOAD="$dir/libucow.so" ./shmem-hole -p $pattern -x 3
	equal "$c (kernel)" "exit status" "$(rc_of k)" 3
	same_output "$c" k u
	if [ $managed = yes ]; then
		no_stderr "$c" u
		equal "$c" "file kB (managed)" "$(mem u file_kb)" "$(mem u file_kb_before)"
		continue
	fi
	equal "$c" "file kB (unmanaged, as the kernel)" "$(mem u file_kb)" "$(mem k file_kb)"
	equal "$c" "lines on stderr" "$(grep -c . "$T/u.err")" 1
	case $(head -n 1 "$T/u.err") in
	"ucow: uffd: "*) ;;
	*) bad "$c: stderr is '$(head -n 1 "$T/u.err")', want one 'ucow: uffd: ' line" ;;
	esac
done

# A forking program: one line for the whole process tree.
as_nobody k ./fork-check -t 2 -g 4
as_nobody u LD_PRELOAD="$dir/libucow.so" ./fork-check -t 2 -g 4
same_output "nobody fork-check" k u
equal "nobody fork-check" "exit status" "$(rc_of u)" 4
if [ $managed = no ]; then
	equal "nobody fork-check" "lines on stderr" "$(grep -c . "$T/u.err")" 1
	grep -q '^ucow: uffd: ' "$T/u.err" || bad "nobody fork-check: no 'ucow: uffd:' line"
fi
finish

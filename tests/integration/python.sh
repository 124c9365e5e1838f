# python.sh: an unmodified system program, python3, writing a MAP_PRIVATE memfd mapping:
# the same output with and without ucow, and the file gains no blocks under ucow.
. "$UCOWTEST_SRCDIR/tests/integration/lib.sh"
require_lib
require_uffd
[ -x "$PYTHON" ] || skip "$PYTHON is not installed"

script=$UCOWTEST_SRCDIR/tests/integration/python-memfd.py
run k "$PYTHON" "$script"
equal "python3 (kernel)" "exit status" "$(rc_of k)" 0
run_ucow u "$PYTHON" "$script"
same_output "python3" k u
no_stderr "python3" u
k_kb=$(mem k file_kb)
u_kb=$(mem u file_kb)
say "file kB: kernel $k_kb, ucow $u_kb"
[ "${u_kb:-1}" -lt "${k_kb:-0}" ] || bad "python3: ucow's file has $u_kb kB, the kernel's $k_kb kB: want fewer"
equal "python3" "file kB under ucow" "$u_kb" 0
run_ucow u-write UCOW_SHMEM_HOLES=write "$PYTHON" "$script"
same_output "python3 mode=write" k u-write
equal "python3 mode=write" "file kB under ucow" "$(mem u-write file_kb)" 0
finish

# quiet-load.sh: preloading ucow prints nothing of its own at load time, also where libraries
# bind memset before libucow.so is relocated (LD_BIND_NOW, or libraries linked -z now, as
# most of Debian's are): an IFUNC memset made glibc print "Relink `LIB' with `libucow.so' for
# IFUNC symbol `memset'" for each of them, for every program, lazy memset on or off.
. "$UCOWTEST_SRCDIR/tests/integration/lib.sh"
require_lib

# Programs that load libraries besides libc (python3: libz, libexpat; ls: libselinux).
progs=""
[ -x "$PYTHON" ] && progs="python3"
command -v ls >/dev/null && progs="$progs ls"
command -v bash >/dev/null && progs="$progs bash"
[ -n "$progs" ] || skip "neither python3, ls nor bash is installed"
mkdir -p "$T/dir" && touch "$T/dir/a" "$T/dir/b"

for prog in $progs; do
	case $prog in
	python3) cmd="$PYTHON -c print(sum(range(10)))" ;;
	ls) cmd="ls $T/dir" ;;
	bash) cmd="bash --version" ;;
	esac
	for bind in "" LD_BIND_NOW=1; do
		c="$prog ${bind:-lazy binding}"
		run k $bind $cmd
		for lazy in off on; do
			run_ucow u $bind UCOW_LAZY_MEMSET=$lazy $cmd
			same_output "$c, lazy memset $lazy" k u
			no_stderr "$c, lazy memset $lazy" u
		done
	done
done
finish

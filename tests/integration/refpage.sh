# refpage.sh: reference pages (ucow_refpage_create). refpage-check runs every case (patterns
# of 1..4096 bytes, bad arguments, MAP_SHARED, MADV_DONTNEED/FREE, mremap, mprotect, partial
# munmap, MAP_FIXED, fork, exec with an inherited fd, threads, syscalls) and checks each byte;
# here it runs found by dlsym under LD_PRELOAD, built with <ucow.h> and pkg-config ucow from
# a DESTDIR install (no LD_PRELOAD), with one-page windows, disabled, and as nobody (no
# userfaultfd: filled eagerly, same bytes, one line).
. "$UCOWTEST_SRCDIR/tests/integration/lib.sh"
require_lib
CHECK=$PROGS/refpage-check
NCASES=$("$CHECK" -l | wc -l)

# Whether this process may use userfaultfd: managed (lazy) or filled eagerly.
managed=yes
"$PROGS/uffd-probe" >/dev/null 2>&1 || managed=no
say "userfaultfd here: managed=$managed; $NCASES cases per run"

# check_run CASE TAG: every case passed, the exit status is 0.
check_run() {
	if [ "$(rc_of "$2")" != 0 ] || ! grep -q "^$NCASES cases, 0 failed" "$T/$2.out"; then
		bad "$1: exit status $(rc_of "$2")"
		grep -v '^ok ' "$T/$2.out" | head -n 10 | sed 's/^/    /'
		head -n 5 "$T/$2.err" | sed 's/^/    stderr: /'
	fi
}

# stat_of FILE GROUP KEY: a counter from the last UCOW_STATS line of FILE.
stat_of() {
	tail -n 1 "$1" | sed -n "s/.*\"$2\":{[^}]*\"$3\":\([0-9]*\).*/\1/p"
}

# Without ucow the function does not exist: the program says so and skips.
run plain "$CHECK"
equal "without ucow" "exit status" "$(rc_of plain)" 77

# Found with dlsym under LD_PRELOAD.
rm -f "$T/stats.json"
run_ucow u UCOW_STATS="$T/stats.json" UCOW_LOG=info "$CHECK"
check_run "dlsym" u
grep -q '^ok exec (inherited fd)$' "$T/u.out" ||
	bad "exec: the exec'd program did not map the inherited fd"
grep -q '^ok exec (inherited fd) without ucow$' "$T/u.out" ||
	bad "exec: without ucow the inherited fd is not the one-page pattern file"
sparse=$(mem u sparse_resident_pages)
if [ $managed = yes ]; then
	no_stderr "dlsym (UCOW_LOG=info)" u
	[ "$sparse" -le 16 ] ||
		bad "one page read in 64 MiB left $sparse pages resident, want <= 16 (lazy)"
	[ "$(stat_of "$T/stats.json" refpage regions)" -gt 20 ] ||
		bad "stats: refpage.regions is '$(stat_of "$T/stats.json" refpage regions)'"
	[ "$(stat_of "$T/stats.json" refpage faults_read)" -gt 0 ] ||
		bad "stats: no refpage read faults"
	equal "stats" "engine.poisoned" "$(stat_of "$T/stats.json" engine poisoned)" 0
	equal "stats" "engine.unknown_faults" "$(stat_of "$T/stats.json" engine unknown_faults)" 0
fi

# One page per fault: the window is no part of correctness.
run_ucow w UCOW_FAULT_AROUND=0 "$CHECK"
check_run "UCOW_FAULT_AROUND=0" w
no_stderr "UCOW_FAULT_AROUND=0" w

# Disabled: the library does nothing, the call says ENOSYS.
run_ucow d UCOW_DISABLE=on "$CHECK" --disabled
equal "UCOW_DISABLE=on" "exit status" "$(rc_of d)" 0
no_stderr "UCOW_DISABLE=on" d

# Built against the header and the pkg-config file of an install (DESTDIR), linked -lucow,
# run without LD_PRELOAD.
dest=$T/inst
prefix_libdir=$(sed -n 's/^libdir=//p' "$UCOWTEST_BUILDDIR/ucow.pc")
if ! command -v pkg-config >/dev/null 2>&1; then
	say "note: no pkg-config: the linked build is not checked"
elif ! make -C "$UCOWTEST_BUILDDIR" DESTDIR="$dest" install-libLTLIBRARIES \
		install-includeHEADERS install-pkgconfigDATA >"$T/install.log" 2>&1; then
	bad "make install DESTDIR (library, header, ucow.pc) failed"
	tail -n 5 "$T/install.log" | sed 's/^/    /'
else
	pcdir=$(find "$dest" -name ucow.pc -printf '%h\n' | head -n 1)
	flags=$(PKG_CONFIG_PATH= PKG_CONFIG_LIBDIR=$pcdir PKG_CONFIG_SYSROOT_DIR=$dest \
		pkg-config --cflags --libs ucow)
	libdir=$(PKG_CONFIG_PATH= PKG_CONFIG_LIBDIR=$pcdir PKG_CONFIG_SYSROOT_DIR=$dest \
		pkg-config --libs-only-L ucow | sed 's/^ *-L//; s/ *$//')
	say "pkg-config ucow: $flags (libdir in the .pc: $prefix_libdir)"
	# shellcheck disable=SC2086
	if ! ${CC:-cc} -D_GNU_SOURCE -DREFPAGE_LINKED -o "$T/refpage-linked" \
			"$UCOWTEST_SRCDIR/tests/programs/refpage-check.c" $flags -lpthread \
			>"$T/cc.log" 2>&1; then
		bad "cannot build refpage-check with pkg-config ucow"
		head -n 10 "$T/cc.log" | sed 's/^/    /'
	else
		readelf -d "$T/refpage-linked" 2>/dev/null | grep -q 'NEEDED.*libucow\.so' ||
			bad "the linked program does not need libucow.so"
		run l LD_LIBRARY_PATH="$libdir" UCOW_LOG=info "$T/refpage-linked"
		check_run "linked -lucow (no LD_PRELOAD)" l
		grep -q '^ok exec (inherited fd)$' "$T/l.out" ||
			bad "linked: the exec'd program did not map the inherited fd"
		[ $managed = yes ] && no_stderr "linked -lucow" l
		run ld LD_LIBRARY_PATH="$libdir" UCOW_DISABLE=on "$T/refpage-linked" --disabled
		equal "linked, UCOW_DISABLE=on" "exit status" "$(rc_of ld)" 0
	fi
fi

# As nobody: no userfaultfd (unless the sysctl allows it), so every mapping is filled when
# made: the same checks pass, with one "ucow: uffd:" line, and at info level one
# "ucow: refpage:" line more.
if [ "$(id -u)" -ne 0 ] || ! command -v su >/dev/null 2>&1 || ! id nobody >/dev/null 2>&1 ||
   ! su -s /bin/sh nobody -c true >/dev/null 2>&1; then
	say "note: not root, or no su/nobody: the unprivileged (eager) run is not checked"
	finish
fi
dir=$(mktemp -d /tmp/ucow-refpage.XXXXXX) || exit 1
trap 'rm -rf "$dir"' EXIT
cp "$LIB" "$dir/libucow.so" && cp "$CHECK" "$dir/" && chmod 755 "$dir" "$dir"/* || exit 1
nobody_managed=no
[ "$(sysctl -n vm.unprivileged_userfaultfd 2>/dev/null)" = 1 ] && nobody_managed=yes
say "as nobody: managed=$nobody_managed"

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

cases=$("$CHECK" -l | grep -v '^exec$' | tr '\n' ' ')
NCASES_ALL=$NCASES
NCASES=$(($(echo $cases | wc -w)))
# shellcheck disable=SC2086
as_nobody n LD_PRELOAD="$dir/libucow.so" ./refpage-check $cases
check_run "nobody" n
# shellcheck disable=SC2086
as_nobody ni LD_PRELOAD="$dir/libucow.so" UCOW_LOG=info ./refpage-check $cases
check_run "nobody, UCOW_LOG=info" ni
if [ $nobody_managed = no ]; then
	equal "nobody" "resident pages after one page read in 64 MiB (eager)" \
		"$(mem n sparse_resident_pages)" 16384
	equal "nobody" "lines on stderr" "$(grep -c . "$T/n.err")" 1
	grep -q '^ucow: uffd: ' "$T/n.err" || bad "nobody: no 'ucow: uffd:' line"
	equal "nobody, UCOW_LOG=info" "'ucow: refpage:' lines" \
		"$(grep -c '^ucow: refpage: ' "$T/ni.err")" 1
	equal "nobody, UCOW_LOG=info" "lines on stderr" "$(grep -c . "$T/ni.err")" 2
fi
# fork + exec as nobody: each image (the exec'd one loads ucow too) says it once.
NCASES=1
as_nobody ne LD_PRELOAD="$dir/libucow.so" ./refpage-check exec
check_run "nobody exec" ne
NCASES=$NCASES_ALL
finish

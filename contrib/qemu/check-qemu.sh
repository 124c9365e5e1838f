#!/bin/sh
# check-qemu.sh: `make check-qemu` — boots a small real guest (Debian's cloud kernel and a
# busybox initramfs) with its RAM in a private memfd, plainly and under ucow, and compares.
#
# usage: check-qemu.sh SRCDIR BUILDDIR
# Needs root (it installs qemu-system-x86, linux-image-cloud-amd64, busybox-static and cpio
# with apt-get when missing); without root or the packages it exits 77 and says why.
# Checks: the guest ran (its marker on the serial console); under ucow the memfd holds no
# page cache for the guest RAM written; ucow's "page cache avoided" agrees within 5% with
# the page cache the plain run's memfd holds (st_blocks, read through /proc/QEMUPID/fd
# while the guest runs); `ucow stat` reports the running guest (when ucow has `stat`).

set -u
srcdir=${1:?usage: check-qemu.sh SRCDIR BUILDDIR}
builddir=${2:?usage: check-qemu.sh SRCDIR BUILDDIR}
UCOW=$builddir/ucow
WRAPPER=$srcdir/contrib/qemu/ucow-qemu
MEM=${CHECK_QEMU_MEM:-1024}		# guest RAM, MiB
FILL=${CHECK_QEMU_FILL:-640}		# what the guest writes into its tmpfs, MiB: most of its RAM,
				# so that what its boot touches (tens of MiB, and not the
				# same from boot to boot) stays well inside the tolerance
TOLERANCE=5				# percent
failures=0

say() {
	echo "check-qemu: $*"
}

skip() {
	say "SKIP: $*"
	exit 77
}

bad() {
	say "FAILED: $*"
	failures=$((failures + 1))
}

[ "$(id -u)" -eq 0 ] || skip "needs root (it installs packages and boots a guest)"
[ -x "$UCOW" ] || { say "FAILED: no $UCOW: run make first"; exit 1; }

# The packages, from Debian, when missing.
PKGS="qemu-system-x86 linux-image-cloud-amd64 busybox-static cpio"
missing=
for p in $PKGS; do
	dpkg -s "$p" >/dev/null 2>&1 || missing="$missing $p"
done
if [ -n "$missing" ]; then
	say "installing$missing"
	export DEBIAN_FRONTEND=noninteractive
	apt-get install -s --no-install-recommends $missing >/dev/null 2>&1 ||
		{ apt-get update -qq >/dev/null 2>&1; }
	apt-get install -s --no-install-recommends $missing >/dev/null 2>&1 ||
		skip "apt-get cannot install$missing here"
	apt-get install -y -qq --no-install-recommends $missing >/dev/null 2>&1 ||
		skip "apt-get install$missing failed"
fi
QEMU=$(command -v qemu-system-x86_64) || skip "no qemu-system-x86_64 after installing"
KERNEL=$(ls /boot/vmlinuz-*-cloud-amd64 2>/dev/null | sort -V | tail -n 1)
[ -n "$KERNEL" ] || skip "no /boot/vmlinuz-*-cloud-amd64 after installing"
BUSYBOX=$(command -v busybox) || skip "no busybox after installing"

W=$(mktemp -d "${TMPDIR:-/tmp}/ucow-check-qemu.XXXXXX") || exit 99
trap 'rm -rf "$W"' EXIT

# The initramfs: busybox, and an init that writes $FILL MiB into a tmpfs, prints the
# marker, waits for the host to look (a few seconds), and powers the guest off.
mkdir -p "$W/root/bin" "$W/root/proc" "$W/root/dev" "$W/root/t"
cp "$BUSYBOX" "$W/root/bin/busybox"
cat >"$W/root/init" <<INIT
#!/bin/busybox sh
/bin/busybox --install -s /bin
mount -t proc proc /proc
mount -t devtmpfs dev /dev
mount -t tmpfs -o size=$((FILL + 32))m tmpfs /t
dd if=/dev/zero of=/t/fill bs=1M count=$FILL 2>/dev/null && sync
echo "UCOW-GUEST-WROTE $FILL MiB"
sleep 4
echo "UCOW-GUEST-DONE"
poweroff -f
INIT
chmod +x "$W/root/init"
(cd "$W/root" && find . | cpio -o -H newc 2>/dev/null | gzip -1 >"$W/initrd.gz") ||
	{ say "FAILED: cannot build the initramfs"; exit 1; }

# KVM when the host offers working virtualisation, else TCG (a few seconds either way).
ACCEL=tcg
if [ -w /dev/kvm ] && grep -qwE 'vmx|svm' /proc/cpuinfo; then
	ACCEL=kvm
fi
STAT=no
if "$UCOW" stat --help >/dev/null 2>&1; then
	STAT=yes
fi
say "kernel $KERNEL, $QEMU ($("$QEMU" -version | head -n 1)), accel $ACCEL, guest ${MEM} MiB"

# boot TAG EMULATOR...: boots the guest; sets $T.serial, $T.blocks (the memfd's st_blocks
# when the guest said it wrote), $T.rc; runs ucow stat on the guest when asked.
boot() {
	tag=$1
	shift
	T=$W/$tag
	: >"$T.serial"
	"$@" -name "ucow-check-$tag" -nodefaults -nographic -no-reboot -display none \
		-serial "file:$T.serial" -m "$MEM" -accel "$ACCEL" \
		-object "memory-backend-memfd,id=ucowram,size=${MEM}M,share=off" \
		-machine "q35,memory-backend=ucowram" -kernel "$KERNEL" -initrd "$W/initrd.gz" \
		-append "console=ttyS0 quiet panic=-1" >"$T.out" 2>"$T.err" </dev/null &
	pid=$!
	echo 0 >"$T.blocks"
	n=0
	while kill -0 "$pid" 2>/dev/null && [ $n -lt 1200 ]; do
		if grep -q UCOW-GUEST-WROTE "$T.serial"; then
			for f in /proc/$pid/fd/*; do
				case $(readlink "$f" 2>/dev/null) in
				/memfd:memory-backend-memfd*) stat -L -c %b "$f" >"$T.blocks" ;;
				esac
			done
			if [ "$tag" = ucow ] && [ $STAT = yes ]; then
				"$UCOW" stat "$pid" >"$T.stat" 2>&1
				echo $? >"$T.statrc"
				"$UCOW" stat --json "$pid" >"$T.statjson" 2>&1
			fi
			break
		fi
		sleep 0.1
		n=$((n + 1))
	done
	timeout 120 tail --pid="$pid" -f /dev/null
	wait "$pid"
	echo $? >"$T.rc"
}

boot plain "$QEMU"
boot ucow env UCOW="$UCOW" QEMU_EMULATOR="$QEMU" UCOW_STATS="$W/ucow.stats" "$WRAPPER"

for tag in plain ucow; do
	T=$W/$tag
	if grep -q UCOW-GUEST-WROTE "$T.serial" && grep -q UCOW-GUEST-DONE "$T.serial"; then
		say "$tag: the guest ran: $(grep -a -o 'UCOW-GUEST-WROTE.*' "$T.serial" | tr -d '\r')"
	else
		bad "$tag: no marker on the guest's serial console (exit status $(cat "$T.rc"))"
		tail -n 5 "$T.serial" "$T.err" | sed 's/^/    /'
	fi
	[ "$(cat "$T.rc")" = 0 ] || bad "$tag: QEMU exited with status $(cat "$T.rc")"
done
grep '^ucow:' "$W/ucow.err" | sed 's/^/    stderr: /'

plain_kib=$(($(cat "$W/plain.blocks") / 2))
ucow_kib=$(($(cat "$W/ucow.blocks") / 2))
avoided=$(sed -n 's/.*"pagecache_pages_avoided":\([0-9]*\).*/\1/p' "$W/ucow.stats" 2>/dev/null |
	tail -n 1)
avoided_kib=$((${avoided:-0} * 4))
say "plain: the memfd holds $plain_kib KiB of page cache (st_blocks) after the guest wrote"
say "ucow:  the memfd holds $ucow_kib KiB; ucow says page cache avoided: $avoided_kib KiB"
if ! grep -q '"managed":true' "$W/ucow.stats" 2>/dev/null; then
	bad "ucow did not manage the guest's RAM (UCOW_STATS: $(head -c 300 "$W/ucow.stats" 2>&1))"
fi
[ "$plain_kib" -gt $((FILL * 1024)) ] ||
	bad "plain: the memfd holds $plain_kib KiB, less than the $FILL MiB the guest wrote"
[ "$ucow_kib" -le $((plain_kib / 100)) ] ||
	bad "ucow: the memfd holds $ucow_kib KiB: page cache for written guest RAM"
# within WHAT KIB: WHAT (KIB KiB) is within TOLERANCE% of the plain run's st_blocks.
within() {
	diff=$(($2 - plain_kib))
	[ $diff -lt 0 ] && diff=$((-diff))
	pct=$((diff * 1000 / (plain_kib ? plain_kib : 1)))
	say "$1 vs plain st_blocks: $2 vs $plain_kib KiB," \
		"off by $((pct / 10)).$((pct % 10))% (at most $TOLERANCE%)"
	[ "$pct" -le $((TOLERANCE * 10)) ] ||
		bad "$1 $2 KiB is not within $TOLERANCE% of $plain_kib KiB"
}
within "page cache avoided" "$avoided_kib"

if [ $STAT = yes ]; then
	say "ucow stat on the running guest (exit status $(cat "$W/ucow.statrc" 2>/dev/null)):"
	sed 's/^/    /' "$W/ucow.stat" 2>/dev/null
	sed 's/^/    /' "$W/ucow.statjson" 2>/dev/null
	[ "$(cat "$W/ucow.statrc" 2>/dev/null)" = 0 ] && [ -s "$W/ucow.stat" ] ||
		bad "ucow stat did not report the running guest"
	# Live, as at exit: the figure while the guest ran, against the plain memfd at the
	# same point (both taken when the guest said it had written).
	live=$(sed -n 's/.*"pagecache_pages_avoided":\([0-9]*\).*/\1/p' "$W/ucow.statjson" |
		tail -n 1)
	within "live page cache avoided" $((${live:-0} * 4))
else
	say "note: this ucow has no 'ucow stat' (ucow stat --help fails): live figures not checked"
fi

if [ $failures -ne 0 ]; then
	say "FAIL: $failures check(s) failed"
	exit 1
fi
say "PASS: the guest ran under ucow; its memfd held no page cache; the savings figure matches"
exit 0

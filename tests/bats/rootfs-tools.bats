#!/usr/bin/env bats
# rootfs-tools: guest-kernel, mkinitramfs, mkrootfs and the guest init (its command-line
# parsing and its steps, run under busybox sh with the system's commands mocked). Booting what
# they make is tests/linux's job. The kernel package is fetched once into build/linux-kernel;
# the tests that need it skip (saying so) only when Debian's mirror cannot be reached.

setup_file() {
	export KDIR=build/linux-kernel
	rootfs-tools/guest-kernel "$KDIR" >/dev/null 2>"$BATS_FILE_TMPDIR/guest-kernel.err" ||
		echo $? >"$BATS_FILE_TMPDIR/guest-kernel.status"
}

setup() {
	TMP=$(mktemp -d)
	T=rootfs-tools
}

teardown() {
	rm -rf "$TMP"
}

# The kernel tests need guest-kernel's output: a mirror that cannot be reached skips them, any
# other failure of guest-kernel fails them.
need_kernel() {
	[ -e "$BATS_FILE_TMPDIR/guest-kernel.status" ] || return 0
	local err
	err=$(cat "$BATS_FILE_TMPDIR/guest-kernel.err")
	case $err in
	*"apt-get download"*failed* | *"no package"*) skip "Debian's cloud kernel cannot be fetched: $err" ;;
	esac
	echo "guest-kernel failed: $err"
	return 1
}

@test "guest-kernel: vmlinuz, an ELF vmlinux, config, modules with modules.dep; the second run is cached" {
	need_kernel
	[ "$(od -An -c -j 0x202 -N4 "$KDIR/vmlinuz" | tr -d ' ')" = HdrS ]
	cmp "$KDIR/vmlinuz" "$KDIR/bzImage"
	[ "$(od -An -c -N4 "$KDIR/vmlinux" | tr -d ' ')" = '177ELF' ]
	file -b "$KDIR/vmlinux" | grep -q 'ELF 64-bit LSB executable, x86-64'
	grep -qx 'CONFIG_VIRTIO_MMIO=m' "$KDIR/config"
	grep -q '^linux-image-[0-9].*-cloud-amd64$' "$KDIR/VERSION"
	[ -d "$KDIR/modules/kernel" ]
	[ -e "$KDIR/modules/kernel/drivers/virtio/virtio_mmio.ko" ]
	grep -q '^kernel/drivers/net/virtio_net.ko: .*net_failover.ko' "$KDIR/modules/modules.dep"
	grep -q "^kernel/fs/ext4/ext4.ko$" "$KDIR/modules/modules.builtin" # modules/ is lib/modules/$ver
	run "$T/guest-kernel" "$KDIR"
	[ "$status" -eq 0 ]
	[[ "$output" == *"already (cached)"* ]]
	[ -z "$(ls -A "$KDIR" | grep '^\.guest-kernel')" ] # no staging left behind
	run "$T/guest-kernel"
	[ "$status" -eq 1 ]
	[ "$output" = "guest-kernel: usage: guest-kernel OUTDIR [PACKAGE]" ]
}

@test "mkinitramfs: busybox, /init, the virtio modules with their dependencies first; byte-identical twice; -z, --add" {
	need_kernel
	"$T/mkinitramfs" -k "$KDIR" -o "$TMP/a.cpio" 2>/dev/null
	sleep 1 # nothing of the time of the run may show
	"$T/mkinitramfs" -k "$KDIR" -o "$TMP/b.cpio" 2>/dev/null
	cmp "$TMP/a.cpio" "$TMP/b.cpio"
	[ "$(head -c 6 "$TMP/a.cpio")" = 070701 ] # newc, uncompressed
	cpio -t <"$TMP/a.cpio" >"$TMP/list" 2>/dev/null
	diff <(LC_ALL=C sort "$TMP/list") "$TMP/list" # sorted entries
	for f in init bin/busybox bin/sh bin/devmem bin/switch_root bin/insmod bin/ip bin/poweroff \
		etc/wisp-initramfs lib/modules/load-order dev proc sys newroot; do
		grep -qx "$f" "$TMP/list" || { echo "no $f"; return 1; }
	done
	cpio -tv <"$TMP/a.cpio" 2>/dev/null | grep -E ' init$' | grep -q '^-rwxr-xr-x .* root *root .* 1970 init$'
	(cd "$TMP" && cpio -id --quiet init lib/modules/load-order <a.cpio)
	cmp "$TMP/init" "$T/init"
	order=$TMP/lib/modules/load-order
	# every module in the list is in the archive, once
	while read -r m; do grep -qx "lib/modules/$m" "$TMP/list" || { echo "$m missing"; return 1; }; done <"$order"
	[ "$(sort "$order" | uniq -d)" = "" ]
	for m in virtio_mmio virtio_blk virtio_net; do grep -q "/$m.ko$" "$order"; done
	# each module after everything modules.dep says it needs
	while read -r m; do
		for dep in $(sed -n "s#^$m: *##p" "$KDIR/modules/modules.dep"); do
			[ "$(grep -nx "$dep" "$order" | cut -d: -f1)" -lt "$(grep -nx "$m" "$order" | cut -d: -f1)" ] ||
				{ echo "$dep is not before $m"; return 1; }
		done
	done <"$order"
	pos() { grep -n "/$1$" "$order" | cut -d: -f1; }
	[ "$(pos virtio_ring.ko)" -lt "$(pos virtio_mmio.ko)" ]
	[ "$(pos failover.ko)" -lt "$(pos net_failover.ko)" ]
	[ "$(pos net_failover.ko)" -lt "$(pos virtio_net.ko)" ]
	# -m adds a module with its dependencies (names with - or _); a built-in one is fine
	"$T/mkinitramfs" -k "$KDIR" -o "$TMP/c.cpio" -m tun -m kvm-amd -m ext4 2>/dev/null
	cpio -t <"$TMP/c.cpio" 2>/dev/null >"$TMP/clist"
	grep -q '/tun.ko$' "$TMP/clist"
	grep -q '/kvm-amd.ko$' "$TMP/clist"
	grep -q '/irqbypass.ko$' "$TMP/clist"
	# -z: the same archive, gzipped; --add SRC:DEST puts a file or a directory there
	"$T/mkinitramfs" -k "$KDIR" -o "$TMP/z.cpio.gz" -z 2>/dev/null
	gzip -dc "$TMP/z.cpio.gz" | cmp - "$TMP/a.cpio"
	mkdir -p "$TMP/app/data"
	echo hello >"$TMP/app/data/x.txt"
	printf '#!/bin/sh\necho fn\n' >"$TMP/fn.sh"
	chmod +x "$TMP/fn.sh"
	"$T/mkinitramfs" -k "$KDIR" -o "$TMP/add.cpio" --add "$TMP/fn.sh:/fn.sh" --add "$TMP/app:/srv/app" 2>/dev/null
	cpio -t <"$TMP/add.cpio" 2>/dev/null | grep -qx fn.sh
	cpio -t <"$TMP/add.cpio" 2>/dev/null | grep -qx srv/app/data/x.txt
}

@test "mkinitramfs: a missing module or input is one error naming it, and no output file" {
	need_kernel
	run "$T/mkinitramfs" -k "$KDIR" -o "$TMP/x.cpio" -m no_such_module
	[ "$status" -eq 1 ]
	[ "$output" = "mkinitramfs: module no_such_module: not in $KDIR/modules/modules.dep" ]
	[ ! -e "$TMP/x.cpio" ]
	run "$T/mkinitramfs" -k "$TMP/nokernel" -o "$TMP/x.cpio"
	[ "$status" -eq 1 ]
	[[ "$output" == *"modules.dep missing"* ]]
	run "$T/mkinitramfs" -k "$KDIR" -o "$TMP/x.cpio" --add "$TMP/nofile:/x"
	[ "$status" -eq 1 ]
	[[ "$output" == *"$TMP/nofile missing"* ]]
	run "$T/mkinitramfs" -k "$KDIR" -o "$TMP/x.cpio" --init "$TMP/noinit"
	[ "$status" -eq 1 ]
	[[ "$output" == *"$TMP/noinit missing"* ]]
	run "$T/mkinitramfs" -k "$KDIR" -o
	[ "$status" -eq 1 ]
	[ "$output" = "mkinitramfs: -o needs a value" ]
	[ -z "$(ls -A "$TMP")" ] # nothing written, no staging left behind
}

# A container image as `docker export` writes it (no leading ./), with owners, a setuid file,
# read-only directories, device nodes in and outside /dev, a fifo, a symlink and a hard link.
make_image_tar() { # OUT
	python3 - "$1" <<'PY'
import io, sys, tarfile
t = tarfile.open(sys.argv[1], 'w')
def add(name, kind=tarfile.REGTYPE, mode=0o644, uid=0, gid=0, data=b'', **kw):
    i = tarfile.TarInfo(name)
    i.type, i.mode, i.uid, i.gid, i.mtime = kind, mode, uid, gid, 1700000000
    for k, v in kw.items():
        setattr(i, k, v)
    if kind == tarfile.REGTYPE:
        i.size = len(data)
        t.addfile(i, io.BytesIO(data))
    else:
        t.addfile(i)
D = tarfile.DIRTYPE
add('.dockerenv')
add('bin', D, 0o755)
add('bin/fn', data=b'#!/bin/sh\necho fn\n', mode=0o755)
add('bin/su', data=b'x', mode=0o4755)
add('bin/sh', tarfile.SYMTYPE, 0o777, linkname='fn')
add('bin/hard', tarfile.LNKTYPE, 0o755, linkname='bin/fn')
add('dev', D, 0o755)
add('dev/console', tarfile.CHRTYPE, 0o600, devmajor=5, devminor=1)
add('etc', D, 0o755)
add('etc/shadow', data=b's', mode=0o640, gid=42)
add('home', D, 0o755)
add('home/u', D, 0o700, uid=1000, gid=1000)
add('home/u/f', data=b'u', mode=0o600, uid=1000, gid=1000)
add('proc', D, 0o555)
add('ro', D, 0o555)
add('ro/inside', data=b'i', mode=0o444)
add('var', D, 0o755)
add('var/null', tarfile.CHRTYPE, 0o666, devmajor=1, devminor=3)
add('var/fifo', tarfile.FIFOTYPE, 0o644)
t.close()
PY
}

# stat_line IMAGE PATH: "MODE UID GID" of PATH in IMAGE.
stat_line() {
	debugfs -R "stat $2" "$1" 2>/dev/null |
		sed -n 's/.*Mode: *\([0-7]*\).*/\1/p; s/^User: *\([0-9]*\) *Group: *\([0-9]*\).*/\1 \2/p' | tr '\n' ' '
}

@test "mkrootfs: ext4 from busybox, a directory and a container tarball, each byte-identical twice; owners and modes" {
	mkdir -p "$TMP/dir/app" "$TMP/in"
	echo hello >"$TMP/dir/app/hello.txt"
	make_image_tar "$TMP/in/image.tar"
	kinds="busybox dir tar"
	args() {
		case $1 in
		busybox) echo --busybox ;;
		dir) echo --dir "$TMP/dir" ;;
		tar) echo --tar "$TMP/in/image.tar" ;;
		esac
	}
	for kind in $kinds; do "$T/mkrootfs" -o "$TMP/$kind-1.ext4" $(args $kind) 2>/dev/null; done
	sleep 1 # nothing of the time of the run may show (mke2fs copies ctimes; they are reset)
	touch "$TMP/dir/app/hello.txt"
	for kind in $kinds; do
		"$T/mkrootfs" -o "$TMP/$kind-2.ext4" $(args $kind) 2>/dev/null
		cmp "$TMP/$kind-1.ext4" "$TMP/$kind-2.ext4"
		img=$TMP/$kind-1.ext4
		e2fsck -fn "$img" >/dev/null 2>&1
		dumpe2fs -h "$img" 2>/dev/null | grep -q 'Filesystem features:.*extent'
		dumpe2fs -h "$img" 2>/dev/null | grep -q 'Filesystem UUID: *6f0c0f3a-7d2e-4b9e-9a51-5f3c2d1e0b7a'
		debugfs -R 'ls -l /' "$img" 2>/dev/null >"$TMP/ls"
		for d in init sbin proc sys dev tmp; do grep -qw "$d" "$TMP/ls" || { echo "$kind: no /$d"; return 1; }; done
		[ "$(stat_line "$img" /init)" = "0755 0 0 " ]
		[ "$(debugfs -R 'cat /init' "$img" 2>/dev/null | cmp - "$T/init" && echo same)" = same ]
		[ "$(debugfs -R 'stat /init' "$img" 2>/dev/null | grep -c 'ctime: 0x00000000:')" -eq 1 ]
	done
	# busybox: applets, /sbin/init -> /init
	debugfs -R 'ls /bin' "$TMP/busybox-1.ext4" 2>/dev/null | grep -qw busybox
	debugfs -R 'stat /bin/devmem' "$TMP/busybox-1.ext4" 2>/dev/null | grep -q 'Fast link dest: "busybox"'
	debugfs -R 'stat /sbin/init' "$TMP/busybox-1.ext4" 2>/dev/null | grep -q 'Fast link dest: "/init"'
	[ "$(stat_line "$TMP/busybox-1.ext4" /tmp)" = "01777 0 0 " ]
	# dir: the contents, owned by root
	[ "$(debugfs -R 'cat /app/hello.txt' "$TMP/dir-1.ext4" 2>/dev/null)" = hello ]
	[ "$(stat_line "$TMP/dir-1.ext4" /app/hello.txt)" = "0644 0 0 " ]
	# tar: owners and modes as in the tar, device nodes skipped, the rest there
	img=$TMP/tar-1.ext4
	[ "$(debugfs -R 'cat /bin/fn' "$img" 2>/dev/null | head -n 1)" = '#!/bin/sh' ]
	[ "$(stat_line "$img" /bin/su)" = "04755 0 0 " ]
	[ "$(stat_line "$img" /etc/shadow)" = "0640 0 42 " ]
	[ "$(stat_line "$img" /home/u)" = "0700 1000 1000 " ]
	[ "$(stat_line "$img" /home/u/f)" = "0600 1000 1000 " ]
	[ "$(stat_line "$img" /ro)" = "0555 0 0 " ]
	[ "$(stat_line "$img" /proc)" = "0555 0 0 " ]
	debugfs -R 'stat /bin/hard' "$img" 2>/dev/null | grep -q 'Links: 2'
	debugfs -R 'stat /var/fifo' "$img" 2>/dev/null | grep -q 'Type: FIFO'
	! debugfs -R 'ls /var' "$img" 2>/dev/null | grep -qw null || return 1
	! debugfs -R 'ls /dev' "$img" 2>/dev/null | grep -qw console || return 1
	# as a normal user, byte for byte what root makes
	if [ "$(id -u)" -eq 0 ] && command -v setpriv >/dev/null; then
		chmod 0711 "$TMP"
		chmod 0777 "$TMP/in"
		setpriv --reuid=65534 --regid=65534 --clear-groups \
			"$T/mkrootfs" -o "$TMP/in/user.ext4" --tar "$TMP/in/image.tar" 2>/dev/null
		cmp "$TMP/in/user.ext4" "$img"
	fi
	# --add overlays a directory (its files keep their own metadata); -s sets the size
	"$T/mkrootfs" -o "$TMP/added.ext4" -s 40 --tar "$TMP/in/image.tar" --add "$TMP/dir" 2>/dev/null
	[ "$(debugfs -R 'cat /app/hello.txt' "$TMP/added.ext4" 2>/dev/null)" = hello ]
	[ "$(stat -c %s "$TMP/added.ext4")" -eq $((40 << 20)) ]
	# --init replaces the init
	printf '#!/bin/sh\necho mine\n' >"$TMP/myinit"
	"$T/mkrootfs" -o "$TMP/myinit.ext4" --busybox --init "$TMP/myinit" 2>/dev/null
	[ "$(debugfs -R 'cat /init' "$TMP/myinit.ext4" 2>/dev/null | tail -n 1)" = "echo mine" ]
	[ -z "$(ls -A "$TMP" | grep mkrootfs)" ] # no staging left behind
}

@test "mkrootfs: a missing directory, a file that is not a tar, a size too small: one error, no image" {
	run "$T/mkrootfs" -o "$TMP/x.ext4" --dir "$TMP/nodir"
	[ "$status" -eq 1 ]
	[ "$output" = "mkrootfs: --dir $TMP/nodir: not a directory" ]
	run "$T/mkrootfs" -o "$TMP/x.ext4" --tar "$TMP/no.tar"
	[ "$status" -eq 1 ]
	[ "$output" = "mkrootfs: --tar $TMP/no.tar: no such file" ]
	head -c 4096 /dev/urandom >"$TMP/junk.tar"
	run "$T/mkrootfs" -o "$TMP/x.ext4" --tar "$TMP/junk.tar"
	[ "$status" -eq 1 ]
	[ "$output" = "mkrootfs: --tar $TMP/junk.tar: not a tar archive" ]
	run "$T/mkrootfs" -o "$TMP/x.ext4" -s 1 --busybox
	[ "$status" -eq 1 ]
	[[ "$output" == "mkrootfs: -s 1: the contents need at least "*" MiB" ]]
	run "$T/mkrootfs" -o "$TMP/x.ext4" -s big --busybox
	[ "$status" -eq 1 ]
	[ "$output" = "mkrootfs: -s big: not a size in MiB" ]
	run "$T/mkrootfs" -o "$TMP/x.ext4" --busybox --add "$TMP/nodir"
	[ "$status" -eq 1 ]
	[ "$output" = "mkrootfs: --add $TMP/nodir: not a directory" ]
	run "$T/mkrootfs" -o "$TMP/x.ext4" --busybox --dir "$TMP"
	[ "$status" -eq 1 ]
	run "$T/mkrootfs" -o "$TMP/nodir/x.ext4" --busybox
	[ "$status" -eq 1 ]
	[[ "$output" == *"no directory $TMP/nodir"* ]]
	rm "$TMP/junk.tar"
	[ -z "$(ls -A "$TMP")" ] # no image, no staging left behind
}

@test "init: parses root=, ro/rw, ip= and the other words before '--' of the kernel command line" {
	sh -n "$T/init"
	busybox sh -n "$T/init"
	out=$(busybox sh -c '
		WISP_INIT_LIB=1 . rootfs-tools/init
		cmdline="console=ttyS0 root=/dev/vdb ro rw ro wisp.root=/dev/vdc ip=10.0.0.2::10.0.0.1:255.255.255.0:fn:eth1:off -- /app root=/x rw"
		echo "root=$(param root)"
		echo "wisp.root=$(param wisp.root)"
		echo "mode=$(last_word ro rw)"
		echo "ip=$(param ip)"
		param nothere || echo "nothere absent"
		param console
		for m in 255.255.255.0 255.255.255.252 255.255.0.0 255.128.0.0 0.0.0.0 255.255.255.255 16 ""; do
			echo "prefix $m $(prefix_len "$m")"
		done
		prefix_len 255.0.255.1 || echo "bad mask refused"
		prefix_len 33 || echo "bad length refused"
		ip() { echo "ip $*"; }
		hostname() { echo "hostname $*"; }
		net_up "$(param ip)"
		net_up "192.168.1.5:::24::eth0:off" && echo "no gw ok"
		net_up "off" && net_up "dhcp" && net_up "" && echo "nothing for off"
		net_up "10.0.0.2::10.0.0.1:255.0.255.0::eth0:off" || echo "bad netmask fails"')
	line() { grep -qxF "$1" <<<"$out" || { echo "no line '$1' in: $out"; return 1; }; }
	line "root=/dev/vdb" # root=/x after -- is an argument of the init's command
	line "wisp.root=/dev/vdc"
	line "mode=ro"
	line "ip=10.0.0.2::10.0.0.1:255.255.255.0:fn:eth1:off"
	line "nothere absent"
	line "ttyS0"
	[[ "$out" == *"prefix 255.255.255.0 24"* ]]
	[[ "$out" == *"prefix 255.255.255.252 30"* ]]
	[[ "$out" == *"prefix 255.255.0.0 16"* ]]
	[[ "$out" == *"prefix 255.128.0.0 9"* ]]
	[[ "$out" == *"prefix 0.0.0.0 0"* ]]
	[[ "$out" == *"prefix 255.255.255.255 32"* ]]
	[[ "$out" == *"prefix 16 16"* ]]
	[[ "$out" == *"prefix  24"* ]]
	[[ "$out" == *"bad mask refused"* ]]
	[[ "$out" == *"bad length refused"* ]]
	[[ "$out" == *"hostname fn"$'\n'"ip addr add 10.0.0.2/24 dev eth1"$'\n'"ip link set eth1 up"$'\n'"ip route add default via 10.0.0.1 dev eth1"* ]]
	[[ "$out" == *"ip addr add 192.168.1.5/24 dev eth0"$'\n'"ip link set eth0 up"$'\n'"no gw ok"* ]]
	[[ "$out" == *"nothing for off"* ]]
	[[ "$out" == *"bad netmask fails"* ]]
}

# The init's main steps under busybox sh with mount, insmod, ip, devmem, sync, poweroff and
# reboot mocked (they print what they were asked), the command line given, not read.
write_mocks() {
	cat >"$TMP/mock.sh" <<'SH'
WISP_INIT_LIB=1 . rootfs-tools/init
exec 9>&1 # the log of mocked commands, also from inside init's $(...)
mount() { echo "mount $*" >&9; [ -z "${MOUNT_FAILS:-}" ] || { echo "mount: bad superblock" >&2; return 1; }; }
insmod() {
	echo "insmod $*" >>"$TMP/insmod.log"
	case $1 in
	*in-use*) echo "insmod: can't insert '$1': File exists" >&2; return 1 ;;
	*broken*) echo "insmod: can't insert '$1': invalid module format" >&2; return 1 ;;
	esac
}
ip() { echo "ip $*"; }
hostname() { echo "hostname $*"; }
devmem() { echo "devmem $*"; }
sync() { echo sync; }
poweroff() { echo "poweroff $*"; [ -z "${child:-}" ] || kill "$child" 2>/dev/null; exit 0; }
reboot() { echo "reboot $*"; [ -z "${child:-}" ] || kill "$child" 2>/dev/null; exit 0; }
can_power_off() { [ -z "${NO_ACPI:-}" ]; }
read_cmdline() { cmdline=$CMDLINE; }
find_root() { echo "/dev/vda"; }
do_switch_root() { echo "switch_root $*"; exit 0; }
CONSOLE=/dev/null
LOAD_ORDER=$TMP/load-order
INITRAMFS_MARK=$TMP/mark
NEWROOT=$TMP/newroot
SH
}

@test "init: loads the modules in order, configures eth0, writes the boot timer, runs the command, prints its status, powers off" {
	write_mocks
	# has TEXT / ends TEXT: the output holds / ends with TEXT (else both are shown)
	has() { [[ "$out" == *"$1"* ]] || { printf 'expected:\n%s\ngot:\n%s\n' "$1" "$out"; return 1; }; }
	ends() { [[ "$out" == *"$1" ]] || { printf 'expected at the end:\n%s\ngot:\n%s\n' "$1" "$out"; return 1; }; }
	printf 'kernel/a/first.ko\nkernel/b/in-use.ko\nkernel/c/broken.ko\nkernel/d/last.ko\n' >"$TMP/load-order"
	out=$(TMP=$TMP CMDLINE="console=ttyS0 reboot=k ip=172.16.0.2::172.16.0.1:255.255.255.252::eth0:off -- ip=10.9.9.9::::::" \
		busybox sh -c '. "$TMP/mock.sh"; main sh -c "echo workload \$0 \$1; exit 3" x y' 2>&1)
	expected="mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
wisp-init: WARNING insmod kernel/c/broken.ko: insmod: can't insert '/lib/modules/kernel/c/broken.ko': invalid module format
ip link set lo up
ip addr add 172.16.0.2/30 dev eth0
ip link set eth0 up
ip route add default via 172.16.0.1 dev eth0
devmem 0xcffff000 8 123
wisp-init: up
workload x y
wisp-init: exit status 3
sync
poweroff -f"
	[ "$out" = "$expected" ] || { diff <(echo "$expected") <(echo "$out"); return 1; }
	[ "$(cat "$TMP/insmod.log")" = "insmod /lib/modules/kernel/a/first.ko
insmod /lib/modules/kernel/b/in-use.ko
insmod /lib/modules/kernel/c/broken.ko
insmod /lib/modules/kernel/d/last.ko" ]
	# without ACPI Linux cannot power off: reboot (reboot=k ends wisp just as well)
	out=$(TMP=$TMP NO_ACPI=1 CMDLINE="console=ttyS0" busybox sh -c '. "$TMP/mock.sh"; main true' 2>&1)
	ends "wisp-init: exit status 0"$'\n'"sync"$'\n'"reboot -f"
	# from the initramfs with root=: mount it, move /proc /sys /dev, switch_root with the arguments
	touch "$TMP/mark"
	mkdir -p "$TMP/newroot"
	printf '#!/bin/sh\n' >"$TMP/newroot/init"
	chmod +x "$TMP/newroot/init"
	out=$(TMP=$TMP CMDLINE="console=ttyS0 root=/dev/vda rw ro -- /app a" busybox sh -c '. "$TMP/mock.sh"; main /app a' 2>&1)
	ends "mount -t ext4 -o ro /dev/vda $TMP/newroot"$'\n'"mount --move /proc $TMP/newroot/proc"$'\n'"mount --move /sys $TMP/newroot/sys"$'\n'"mount --move /dev $TMP/newroot/dev"$'\n'"switch_root $TMP/newroot /init /app a"
	[[ "$out" != *"wisp-init: up"* ]]
	out=$(TMP=$TMP CMDLINE="root=/dev/vda rootfstype=xfs init=/sbin/init" MOUNT_FAILS=1 \
		busybox sh -c '. "$TMP/mock.sh"; main' 2>&1)
	ends "wisp-init: ERROR cannot mount /dev/vda as xfs: mount: bad superblock"$'\n'"sync"$'\n'"poweroff -f"
	# a root without the init to run
	out=$(TMP=$TMP CMDLINE="root=/dev/vda init=/sbin/init" busybox sh -c '. "$TMP/mock.sh"; main' 2>&1)
	has "wisp-init: ERROR /dev/vda has no executable /sbin/init"
	# outside the initramfs root= is the kernel's business: the command runs
	rm "$TMP/mark"
	out=$(TMP=$TMP CMDLINE="root=/dev/vda" busybox sh -c '. "$TMP/mock.sh"; main true' 2>&1)
	has "wisp-init: up"
	ends "wisp-init: exit status 0"$'\n'"sync"$'\n'"poweroff -f"
	[[ "$out" != *"switch_root"* ]]
}

@test "init: halt, poweroff and reboot without -f (SIGUSR1, SIGUSR2, SIGTERM to init) sync and end the machine" {
	write_mocks
	for sig in USR1:poweroff USR2:poweroff TERM:reboot; do
		TMP=$TMP CMDLINE="console=ttyS0" busybox sh -c '. "$TMP/mock.sh"; main sleep 20' >"$TMP/out" 2>&1 &
		pid=$!
		for _ in $(seq 1 100); do grep -q 'wisp-init: up' "$TMP/out" && break; sleep 0.05; done
		kill -"${sig%%:*}" "$pid"
		wait "$pid"
		[[ "$(cat "$TMP/out")" == *"wisp-init: up"$'\n'"sync"$'\n'"${sig#*:} -f" ]] ||
			{ echo "$sig:"; cat "$TMP/out"; return 1; }
	done
}

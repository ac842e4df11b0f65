#!/usr/bin/env bats
# rootfs-tools: guest-kernel, mkinitramfs, mkrootfs and the guest init's command-line parsing.
# Booting what they make is tests/linux's job. The kernel package is fetched once into
# build/linux-kernel (Debian's mirror is needed, as for the nested suite).

setup_file() {
	export KDIR=build/linux-kernel
	rootfs-tools/guest-kernel "$KDIR" >/dev/null 2>&1
}

setup() {
	TMP=$(mktemp -d)
	T=rootfs-tools
}

teardown() {
	rm -rf "$TMP"
}

@test "guest-kernel: vmlinuz, an ELF vmlinux, modules with modules.dep; the second run is cached" {
	[ -s "$KDIR/vmlinuz" ]
	[ "$(head -c 4 "$KDIR/vmlinux" | od -An -c | tr -d ' ')" = '177ELF' ]
	[ "$(od -An -c -j 0x202 -N4 "$KDIR/vmlinuz" | tr -d ' ')" = HdrS ]
	grep -q 'virtio_mmio.ko:' "$KDIR/modules/modules.dep"
	grep -q '^linux-image-' "$KDIR/VERSION"
	run "$T/guest-kernel" "$KDIR"
	[ "$status" -eq 0 ]
	[[ "$output" == *cached* ]]
}

@test "mkinitramfs: busybox, /init, the virtio modules with their dependencies first; byte-identical twice" {
	"$T/mkinitramfs" -k "$KDIR" -o "$TMP/a.cpio" 2>/dev/null
	"$T/mkinitramfs" -k "$KDIR" -o "$TMP/b.cpio" 2>/dev/null
	cmp "$TMP/a.cpio" "$TMP/b.cpio"
	cpio -t <"$TMP/a.cpio" >"$TMP/list" 2>/dev/null
	grep -qx init "$TMP/list"
	grep -qx bin/busybox "$TMP/list"
	grep -qx bin/sh "$TMP/list"
	grep -qx etc/wisp-initramfs "$TMP/list"
	(cd "$TMP" && cpio -id --quiet lib/modules/load-order <a.cpio)
	order=$(sed 's#.*/##' "$TMP/lib/modules/load-order" | tr '\n' ' ')
	for m in virtio_mmio virtio_blk virtio_net; do grep -q "$m.ko" <<<"$order"; done
	# each module after everything modules.dep says it needs
	pos() { grep -n "/$1$" "$TMP/lib/modules/load-order" | cut -d: -f1; }
	[ "$(pos virtio_ring.ko)" -lt "$(pos virtio_mmio.ko)" ]
	[ "$(pos virtio.ko)" -lt "$(pos virtio_blk.ko)" ]
	[ "$(pos failover.ko)" -lt "$(pos net_failover.ko)" ]
	[ "$(pos net_failover.ko)" -lt "$(pos virtio_net.ko)" ]
	# -m adds a module with its dependencies; a built-in one is fine
	"$T/mkinitramfs" -k "$KDIR" -o "$TMP/c.cpio" -m tun -m ext4 2>/dev/null
	cpio -t <"$TMP/c.cpio" 2>/dev/null | grep -q '/tun.ko$'
}

@test "mkinitramfs: a missing module is one error naming it, and no output file" {
	run "$T/mkinitramfs" -k "$KDIR" -o "$TMP/x.cpio" -m no_such_module
	[ "$status" -eq 1 ]
	[[ "$output" == *"module no_such_module: not in"* ]]
	[ ! -e "$TMP/x.cpio" ]
	run "$T/mkinitramfs" -k "$TMP/nokernel" -o "$TMP/x.cpio"
	[ "$status" -eq 1 ]
	[[ "$output" == *"modules.dep missing"* ]]
	[ ! -e "$TMP/x.cpio" ]
}

@test "mkrootfs: ext4 from busybox, a directory and a container tarball, each byte-identical twice" {
	mkdir -p "$TMP/dir/app" "$TMP/tarroot/usr/bin" "$TMP/tarroot/dev"
	echo hello >"$TMP/dir/app/hello.txt"
	echo '#!/bin/sh' >"$TMP/tarroot/usr/bin/fn"
	chmod +x "$TMP/tarroot/usr/bin/fn"
	tar -C "$TMP/tarroot" -cf "$TMP/image.tar" .
	for kind in busybox dir tar; do
		case $kind in
		busybox) args=(--busybox) ;;
		dir) args=(--dir "$TMP/dir") ;;
		tar) args=(--tar "$TMP/image.tar") ;;
		esac
		"$T/mkrootfs" -o "$TMP/$kind-1.ext4" "${args[@]}" 2>/dev/null
		"$T/mkrootfs" -o "$TMP/$kind-2.ext4" "${args[@]}" 2>/dev/null
		cmp "$TMP/$kind-1.ext4" "$TMP/$kind-2.ext4"
		dumpe2fs -h "$TMP/$kind-1.ext4" 2>/dev/null | grep -q 'Filesystem features:.*extent'
		debugfs -R 'stat /init' "$TMP/$kind-1.ext4" 2>/dev/null | grep -q 'Mode:  0755'
	done
	debugfs -R 'ls /bin' "$TMP/busybox-1.ext4" 2>/dev/null | grep -qw busybox
	[ "$(debugfs -R 'cat /app/hello.txt' "$TMP/dir-1.ext4" 2>/dev/null)" = hello ]
	debugfs -R 'stat /usr/bin/fn' "$TMP/tar-1.ext4" 2>/dev/null | grep -q 'Mode:  0755'
	# --add overlays a directory; -s sets the size
	"$T/mkrootfs" -o "$TMP/added.ext4" -s 40 --busybox --add "$TMP/dir" 2>/dev/null
	[ "$(debugfs -R 'cat /app/hello.txt' "$TMP/added.ext4" 2>/dev/null)" = hello ]
	[ "$(stat -c %s "$TMP/added.ext4")" -eq $((40 << 20)) ]
}

@test "mkrootfs: a missing directory, a file that is not a tar, a size too small: one error, no image" {
	run "$T/mkrootfs" -o "$TMP/x.ext4" --dir "$TMP/nodir"
	[ "$status" -eq 1 ]
	[[ "$output" == *"not a directory"* ]]
	head -c 4096 /dev/urandom >"$TMP/junk.tar"
	run "$T/mkrootfs" -o "$TMP/x.ext4" --tar "$TMP/junk.tar"
	[ "$status" -eq 1 ]
	[[ "$output" == *"not a tar archive"* ]]
	run "$T/mkrootfs" -o "$TMP/x.ext4" -s 1 --busybox
	[ "$status" -eq 1 ]
	[[ "$output" == *"need at least"* ]]
	run "$T/mkrootfs" -o "$TMP/x.ext4" -s big --busybox
	[ "$status" -eq 1 ]
	[ ! -e "$TMP/x.ext4" ]
	[ -z "$(ls -A "$TMP" | grep mkrootfs)" ] # no staging left behind
}

@test "init: parses root=, ip= and the words before '--' of the kernel command line" {
	sh -n "$T/init"
	out=$(busybox sh -c '
		cmdline="console=ttyS0 root=/dev/vdb ro ip=10.0.0.2::10.0.0.1:255.255.255.0:fn:eth1:off -- /app root=/x"
		WISP_INIT_LIB=1 . rootfs-tools/init
		echo "root=$(param root)"
		echo "ip=$(param ip)"
		has_word ro && echo ro
		has_word rw || echo "no rw"
		param nothere || echo "nothere absent"
		ifconfig() { echo "ifconfig $*"; }
		route() { echo "route $*"; }
		hostname() { echo "hostname $*"; }
		net_up "$(param ip)"')
	[[ "$out" == *"root=/dev/vdb"* ]] # the init argument root=/x after -- is not the kernel's
	[[ "$out" == *"ip=10.0.0.2::10.0.0.1:255.255.255.0:fn:eth1:off"* ]]
	[[ "$out" == *$'\nro\n'* ]]
	[[ "$out" == *"no rw"* ]]
	[[ "$out" == *"nothere absent"* ]]
	[[ "$out" == *"hostname fn"* ]]
	[[ "$out" == *"ifconfig eth1 10.0.0.2 netmask 255.255.255.0 up"* ]]
	[[ "$out" == *"route add default gw 10.0.0.1"* ]]
}

#!/usr/bin/env bash
# Builds the level-1 host of the nested Linux suite: an initramfs for Debian's cloud kernel,
# booted by QEMU's TCG with `-cpu max` (AMD SVM with nested paging), that loads kvm.ko and
# kvm-amd.ko from the same kernel package and so has a real AMD-SVM /dev/kvm. Inside it, a
# static wisp boots the stock kernel as its guest (level 2).
#
#   tests/linux/l1-image.sh -k KERNELDIR -w WISP -j JAILER -g GUESTDIR -o OUT.cpio [-q]
#
# KERNELDIR is rootfs-tools/guest-kernel's output (vmlinuz, modules/); WISP and JAILER must be
# static binaries (nothing else of the host's libraries is there for them); GUESTDIR's files
# (the level-2 kernel images, initramfs, rootfs) land in /guest. The image carries Debian's
# static busybox, iproute2's ip and curl with their libraries (the API tests), and
# tests/linux/l1-init as /init, which runs /scenario.sh (appended later by run-l1.sh as a
# second cpio archive) and powers the level-1 machine off. -q adds QEMU (qemu-system-x86_64, its
# libraries and the microvm firmware) for `make bench`'s side-by-side figures.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)

kdir= wisp= jailer= gdir= out= with_qemu=0
while getopts k:w:j:g:o:q opt; do
	case $opt in
	k) kdir=$OPTARG ;;
	w) wisp=$OPTARG ;;
	j) jailer=$OPTARG ;;
	g) gdir=$OPTARG ;;
	o) out=$OPTARG ;;
	q) with_qemu=1 ;;
	*) exit 1 ;;
	esac
done
for v in kdir wisp jailer gdir out; do
	[ -n "${!v}" ] || { echo "l1-image.sh: -k -w -j -g -o are required" >&2; exit 1; }
done
for f in "$wisp" "$jailer"; do
	if ! file -b "$f" 2>/dev/null | grep -q 'statically linked'; then
		echo "l1-image.sh: $f is not a static binary (build with STATIC=1, the default)" >&2
		exit 1
	fi
done
ver=$(cat "$kdir/VERSION")
# modules/ is lib/modules/<version> itself, or holds it.
mods=$kdir/modules
[ -d "$mods/kernel" ] || mods=$(find "$kdir/modules" -maxdepth 1 -mindepth 1 -type d | head -n 1)
[ -d "$mods/kernel" ] || { echo "l1-image.sh: no modules in $kdir/modules" >&2; exit 1; }

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
root=$work/root
mkdir -p "$root"/{bin,sbin,lib,lib64,proc,sys,dev,tmp,run,guest,l1mod,etc}

# Dynamic binaries with every library ldd names, at the same paths.
add_dynamic() { # path
	install -D "$1" "$root$1"
	ldd "$1" | grep -o '/[^ ]*' | while read -r lib; do
		[ -e "$root$lib" ] || install -D "$(readlink -f "$lib")" "$root$lib"
	done
}

install -m 0755 /bin/busybox "$root/bin/busybox"
for applet in $("$root/bin/busybox" --list); do
	[ -e "$root/bin/$applet" ] || ln -s busybox "$root/bin/$applet"
done
rm -f "$root/bin/ip"
add_dynamic /usr/sbin/ip
add_dynamic /usr/bin/curl
add_dynamic /usr/sbin/debugfs
ln -s /usr/sbin/ip "$root/bin/ip"
if [ "$with_qemu" = 1 ]; then
	add_dynamic /usr/bin/qemu-system-x86_64
	for fw in bios-microvm.bin qboot.rom linuxboot_dma.bin pvh.bin; do
		install -D -m 0644 "/usr/share/qemu/$fw" "$root/usr/share/qemu/$fw"
	done
fi
install -m 0755 "$wisp" "$root/bin/wisp"
install -m 0755 "$jailer" "$root/bin/wisp-jailer"
# The modules the level-1 host needs: KVM for AMD SVM, and tun for the guests' taps.
for m in virt/lib/irqbypass.ko arch/x86/kvm/kvm.ko arch/x86/kvm/kvm-amd.ko drivers/net/tun.ko; do
	install -m 0644 "$mods/kernel/$m" "$root/l1mod/"
done
cp -a "$gdir"/. "$root/guest/"
install -m 0755 "$here/l1-init" "$root/init"
mkdir -p "$root/var"
ln -s ../run "$root/var/run" # ip netns add writes /run/netns; the jailer is given /var/run/netns
echo "root:x:0:0::/:/bin/sh" >"$root/etc/passwd"
echo "root:x:0:" >"$root/etc/group"

(cd "$root" && find . | LC_ALL=C sort | cpio --quiet -o -H newc) >"$work/l1.cpio"
mv "$work/l1.cpio" "$out"
echo "l1-image.sh: $out (level-1 kernel $ver)" >&2

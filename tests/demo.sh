#!/usr/bin/env bash
# `make demo`: boots Debian's stock cloud kernel under wisp with its root on virtio-blk and a
# NIC on a tap in a network namespace the demo owns, pings the guest, runs a command inside it
# (tests/demo-guest.sh) and prints the boot time wisp measured (the boot-timer device).
#
# Where /dev/kvm is PVM (no VT-x/AMD-V: a stock kernel cannot run there) the same demo runs one
# level down, inside a Debian kernel that QEMU's TCG runs with AMD SVM (tests/linux/); its
# times are emulation, not speed. Needs root (namespaces, taps).
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
[ "$(id -u)" -eq 0 ] || { echo "wisp demo: needs root (network namespace, tap)" >&2; exit 1; }
d=$BUILD/demo
mkdir -p "$d/guest" "$d/rootfs/"
rootfs-tools/guest-kernel build/linux-kernel 2>/dev/null
cp build/linux-kernel/vmlinux "$d/guest/vmlinux"
rootfs-tools/mkinitramfs -k build/linux-kernel -o "$d/guest/initramfs.cpio" 2>/dev/null
install -m 0755 tests/demo-guest.sh "$d/rootfs/demo.sh"
rootfs-tools/mkrootfs -o "$d/guest/rootfs.ext4" --busybox --add "$d/rootfs" 2>/dev/null

if [ -e /sys/module/kvm_pvm ] || ! grep -qE '\b(vmx|svm)\b' /proc/cpuinfo; then
	echo "wisp demo: /dev/kvm here is PVM, where a stock Linux kernel cannot run: running the demo inside QEMU's TCG with AMD SVM (nested, emulated: its times are not speed)"
	install -m 0755 tests/demo-scenario.sh "$d/guest/demo-scenario.sh"
	tests/linux/l1-image.sh -k build/linux-kernel -w "$BUILD/wisp" -j "$BUILD/wisp-jailer" \
		-g "$d/guest" -o "$d/l1.cpio" 2>/dev/null
	printf '#!/bin/sh\n/guest/demo-scenario.sh /bin/wisp /guest\n' >"$d/l1-scenario.sh"
	rc=0
	tests/linux/run-l1.sh "$d/l1.cpio" "$d/l1-scenario.sh" "$d/l1.log" 300 || rc=$?
	grep -E '^(demo|  )' "$d/l1.log" || true
	exit "$rc"
fi
exec tests/demo-scenario.sh "$BUILD/wisp" "$d/guest"

#!/usr/bin/env bash
# tests/bench/linux-boot.sh - boot to user space of a stock Linux guest (Debian's cloud
# kernel, ELF vmlinux, the rootfs-tools initramfs) for wisp and for QEMU's microvm machine,
# side by side under the same KVM, through the Linux suite's runner (tests/linux):
#   native      where /dev/kvm is VT-x/AMD-V: directly on it (tests/linux/run-direct.sh)
#   nested-tcg  where it is PVM: under a level-1 KVM, a Debian kernel under QEMU's TCG with AMD
#               SVM (tests/linux/run-l1.sh). Every figure is emulation speed then, useful only
#               as a ratio between the two monitors in the same run.
# LINUX_RUNNER=nested|direct overrides the choice, as for the suite.
#
# Each run (timed from /proc/uptime, 10 ms steps): process start -> the guest init's "wisp-init:
# up" line on the console (both monitors), and for wisp also its boot-timer line (InstanceStart
# -> the guest's write of 123). Prints one line per figure:
#   linux-boot mode=native|nested-tcg
#   linux-boot wisp: up_ms median=N runs=R boot_timer_ms median=M
#   linux-boot qemu: up_ms median=N runs=R
# Environment: BUILD (default build), NESTED_RUNS (default 5 per monitor).
set -euo pipefail
cd "$(dirname "$0")/../.."
BUILD=${BUILD:-build}
RUNS=${NESTED_RUNS:-5}
SUITE=$BUILD/linux-suite
mkdir -p "$SUITE/bench-guest"
. tests/linux/linux_helpers.bash
runner=$(linux_runner)

rootfs-tools/guest-kernel build/linux-kernel >/dev/null
cp build/linux-kernel/vmlinux "$SUITE/bench-guest/vmlinux"
rootfs-tools/mkinitramfs -k build/linux-kernel -o "$SUITE/bench-guest/initramfs.cpio" >/dev/null
tests/linux/l1-image.sh -q -k build/linux-kernel -w "$BUILD/wisp" -j "$BUILD/wisp-jailer" \
	-g "$SUITE/bench-guest" -o "$SUITE/l1-bench.cpio" 2>/dev/null

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
# The guest: 1 vCPU, 256 MiB, the initramfs's init runs `true` and powers off. Each run is timed
# from just before exec to the first poll (every 10 ms) that sees the "up" line.
cat >"$tmp/scenario.sh" <<SH
#!/bin/sh
cmdline="console=ttyS0 reboot=k panic=1 quiet -- /bin/true"
now_ms() { awk '{ printf "%d", \$1 * 1000 }' /proc/uptime; } # 10 ms steps
wait_up() { # pid
	while ! grep -q 'wisp-init: up' /tmp/console; do
		kill -0 \$1 2>/dev/null || return 1
		sleep 0.01
	done
}
i=0
while [ \$i -lt $RUNS ]; do
	i=\$((i + 1))
	: >/tmp/console
	t0=\$(now_ms)
	wisp --no-api --level Info --kernel /guest/vmlinux --initrd /guest/initramfs.cpio --mem-mib 256 \\
		--cmdline "\$cmdline" </dev/null >/tmp/console 2>/tmp/err &
	pid=\$!
	if wait_up \$pid; then
		echo "BENCH wisp up_ms=\$((\$(now_ms) - t0)) \$(sed -n 's/.*guest boot time: .*, \([0-9]*\) ms since InstanceStart.*/boot_timer_ms=\1/p' /tmp/err)"
	else
		# wisp ended before the guest's user space said so: the run counts as failed, with
		# the guest's last console lines and wisp's last messages to tell why.
		echo "BENCH wisp failed: exited before 'wisp-init: up'"
		tail -n 20 /tmp/console
		tail -n 5 /tmp/err
	fi
	wait \$pid || echo "BENCH wisp failed: \$(tail -n 3 /tmp/err)"
	: >/tmp/console
	t0=\$(now_ms)
	qemu-system-x86_64 -M microvm,x-option-roms=off,isa-serial=on,rtc=off -accel kvm -cpu host \\
		-m 256 -smp 1 -nodefaults -no-user-config -no-reboot -display none -serial stdio \\
		-kernel /guest/vmlinux -initrd /guest/initramfs.cpio -append "\$cmdline" \\
		</dev/null >/tmp/console 2>/tmp/err &
	pid=\$!
	wait_up \$pid && echo "BENCH qemu up_ms=\$((\$(now_ms) - t0))" || echo "BENCH qemu failed: \$(tail -n 3 /tmp/err)"
	kill \$pid 2>/dev/null; wait \$pid 2>/dev/null
done
SH
if [ "$runner" = direct ]; then
	echo "linux-boot mode=native"
	rm -rf "$SUITE/l1-bench-root"
	mkdir -p "$SUITE/l1-bench-root"
	(cd "$SUITE/l1-bench-root" && cpio -idm --quiet) <"$SUITE/l1-bench.cpio"
	tests/linux/run-direct.sh "$SUITE/l1-bench-root" "$tmp/scenario.sh" "$tmp/log" $((60 + RUNS * 30))
else
	echo "linux-boot mode=nested-tcg"
	# A level-1 machine that ends early leaves its console log: its last lines say why.
	tests/linux/run-l1.sh "$SUITE/l1-bench.cpio" "$tmp/scenario.sh" "$tmp/log" $((120 + RUNS * 90)) ||
		{ tail -n 40 "$tmp/log" >&2; exit 1; }
fi

median() { sort -n | awk '{ v[NR] = $1 } END { if (NR) print v[int((NR + 1) / 2)]; else print "n/a" }'; }
pick() { sed -n "s/^BENCH $1 .*$2=\([0-9]*\).*/\1/p" "$tmp/log"; }
if grep -q '^BENCH .* failed' "$tmp/log"; then
	grep -v '^\[ ' "$tmp/log" >&2 # the scenario's lines, without the level-1 kernel's
	exit 1
fi
echo "linux-boot wisp: up_ms median=$(pick wisp up_ms | median) runs=$(pick wisp up_ms | wc -l) boot_timer_ms median=$(pick wisp boot_timer_ms | median)"
echo "linux-boot qemu: up_ms median=$(pick qemu up_ms | median) runs=$(pick qemu up_ms | wc -l)"

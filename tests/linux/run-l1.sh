#!/usr/bin/env bash
# Boots the nested suite's level-1 host (l1-image.sh) under QEMU's TCG and runs one scenario in
# it: SCENARIO (a busybox sh script) becomes /scenario.sh through a second cpio archive
# appended to the base image (Linux unpacks concatenated archives in order). The level-1
# console, with everything the scenario and the level-2 guest print, goes to LOG (\r removed).
# Exit status: the scenario's, from its "L1-SCENARIO-EXIT N" line; 124 when the level-1 machine
# did not finish within TIMEOUT seconds (default 300); 125 when it ended without that line.
#
#   tests/linux/run-l1.sh BASE.cpio SCENARIO LOG [TIMEOUT]
#
# Slow emulation (TCG, then nested SVM): a correctness check, never a speed figure.
set -euo pipefail
base=${1:?usage: run-l1.sh BASE.cpio SCENARIO LOG [TIMEOUT]}
scenario=${2:?usage: run-l1.sh BASE.cpio SCENARIO LOG [TIMEOUT]}
log=${3:?usage: run-l1.sh BASE.cpio SCENARIO LOG [TIMEOUT]}
timeout_s=${4:-300}
kernel=${L1_KERNEL:-build/linux-kernel/vmlinuz} # rootfs-tools/guest-kernel build/linux-kernel

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/root"
install -m 0755 "$scenario" "$work/root/scenario.sh"
(cd "$work/root" && echo scenario.sh | cpio --quiet -o -H newc) >"$work/scenario.cpio"
cat "$base" "$work/scenario.cpio" >"$work/initrd"

# -cpu max under TCG offers AMD SVM with nested paging; 2 vCPUs so that a 2-vCPU level-2 guest
# has somewhere to run; the level-1 kernel is quiet so that the log is the scenario's.
rc=0
timeout --foreground -k 5 "$timeout_s" qemu-system-x86_64 -accel tcg -cpu max -smp 2 -m 3G \
	-kernel "$kernel" -initrd "$work/initrd" \
	-append "console=ttyS0 quiet panic=-1 mitigations=off" \
	-nodefaults -no-reboot -display none -monitor none -serial "file:$work/log" </dev/null || rc=$?
tr -d '\r' <"$work/log" >"$log"
[ "$rc" -eq 124 ] && { echo "run-l1.sh: level-1 machine still running after ${timeout_s}s" >&2; exit 124; }
status=$(sed -n 's/^L1-SCENARIO-EXIT \([0-9]*\).*/\1/p' "$log" | tail -n 1)
[ -n "$status" ] || { echo "run-l1.sh: level-1 machine ended without finishing the scenario (qemu $rc)" >&2; exit 125; }
exit "$status"

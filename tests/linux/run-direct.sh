#!/bin/sh
# Runs one scenario of the Linux suite directly on this host's KVM, without QEMU: what the suite
# does where /dev/kvm is VT-x or AMD-V (tests/linux/linux_helpers.bash picks it; on PVM hosts
# the suite nests through run-l1.sh instead, since a stock kernel does not run on PVM).
#
#   tests/linux/run-direct.sh ROOT SCENARIO LOG [TIMEOUT]
#
# ROOT is the level-1 userland of tests/linux/l1-image.sh (its l1.cpio extracted: busybox, ip,
# curl, debugfs, a static wisp and wisp-jailer, /guest); "/" inside the level-1 host itself. The
# scenario runs chrooted there as the level-1 init runs it, but in namespaces of its own (mount,
# network, PID, UTS): fresh /proc, /sys, /tmp, /run and a cgroup2 mount, the host's /dev (for
# /dev/kvm and /dev/net/tun), and a network with only lo, so its tap0 and netns vm1 are gone
# when it ends, whatever it left running (the PID namespace's processes die with it).
# Output and exit status as run-l1.sh: LOG gets the scenario's lines and "L1-SCENARIO-EXIT N";
# exits N, 124 when the scenario did not finish within TIMEOUT seconds (default 300), 125 when
# it ended without that line. POSIX sh and busybox's applets suffice (it runs inside level 1 too).
set -eu
usage="usage: run-direct.sh ROOT SCENARIO LOG [TIMEOUT]"
root=${1:?$usage}
scenario=${2:?$usage}
log=${3:?$usage}
timeout_s=${4:-300}

[ -c /dev/kvm ] || { echo "run-direct.sh: no /dev/kvm" >&2; exit 1; }
for d in bin proc sys dev tmp run guest; do
	[ -d "$root/$d" ] || { echo "run-direct.sh: $root is not a level-1 tree (no /$d)" >&2; exit 1; }
done
root=$(cd "$root" && pwd)
[ "$root" = / ] && in=/ || in=$root/

# The scenario goes where the chroot sees it, under a name of this run's.
mkdir -p "${in}direct"
entry=$(mktemp "${in}direct/scenario.XXXXXX")
trap 'rm -f "$entry"' EXIT
cp "$scenario" "$entry"
chmod 0755 "$entry"
name=/direct/${entry##*/}

# Inside the new namespaces: mounts under ROOT, then the chroot. The timeout is the PID
# namespace's: when its first process ends, the kernel kills every other one in it.
rc=0
unshare -m -n -p -u -f --propagation private /bin/sh -c '
	in=$1 name=$2 t=$3
	mount -t proc proc "${in}proc"
	mount -t sysfs sys "${in}sys"
	mkdir -p "${in}sys/fs/cgroup" && mount -t cgroup2 cgroup2 "${in}sys/fs/cgroup"
	[ "$in" = / ] || mount --rbind /dev "${in}dev"
	mount -t tmpfs tmp "${in}tmp"
	mount -t tmpfs run "${in}run"
	hostname wisp-direct 2>/dev/null || :
	exec chroot "$in" /bin/sh -c "ip link set lo up; cd /tmp; timeout $t $name; echo \"L1-SCENARIO-EXIT \$?\""
' run-direct "$in" "$name" "$timeout_s" </dev/null >"$log" 2>&1 || rc=$?

# What the scenario's jailer made in the host's cgroup tree (a real one, outside the namespaces).
for cg in /sys/fs/cgroup/wisp/vm1 /sys/fs/cgroup/wisp; do
	[ "$root" = / ] || rmdir "$cg" 2>/dev/null || :
done
status=$(sed -n 's/^L1-SCENARIO-EXIT \([0-9]*\).*/\1/p' "$log" | tail -n 1)
[ -n "$status" ] || { echo "run-direct.sh: the scenario ended without its exit line (unshare $rc)" >&2; exit 125; }
[ "$status" -eq 143 ] || [ "$status" -eq 124 ] && { echo "run-direct.sh: scenario still running after ${timeout_s}s" >&2; exit 124; }
exit "$status"

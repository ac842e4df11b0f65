#!/usr/bin/env bash
# tests/bench/net.sh - virtio-net packet rates: the test guest's net-bench
# (tests/guest/bench_net.c) under wisp and, when qemu-system-x86_64 is installed, under QEMU's
# microvm (tap netdev + virtio-net-device, no vhost), each on a tap in a private network
# namespace this script creates and deletes.
#
#   guest->host  the guest sends UDP datagrams of PAYLOAD bytes as fast as its TX ring
#                allows for BENCH_MS ms; a python receiver in the namespace counts them
#   host->guest  a python sender in the namespace sends as fast as it can; the guest
#                counts what reaches it for BENCH_MS ms from the first datagram
# Rates are UDP payload bytes (Mbit/s = 10^6 bit/s) and datagrams per second. The python
# sender is one CPU-bound process: host->guest rates are bounded by it as much as by the
# VMM (see README-io.md). Only 172.16.0.1 (tap, in the namespace) and 172.16.0.2 (guest)
# are used. Needs root, /dev/kvm and python3. A benchmark, not a test: the exit status is 1
# only when something is missing or a run misbehaved.
#
# Environment: BUILD (build), BENCH_MS (2000), PAYLOAD (1400).
set -euo pipefail

cd "$(dirname "$0")/../.."
BUILD=${BUILD:-build}
WISP=$BUILD/wisp
GUEST=$BUILD/guest/wisp-test-guest.elf
BENCH_MS=${BENCH_MS:-2000}
PAYLOAD=${PAYLOAD:-1400}
NS=wisp-netbench-io-$$
TAP=wtap0
HOST_IP=172.16.0.1
GUEST_IP=172.16.0.2
MAC=06:00:ac:10:00:02
PORT=7777

for f in "$WISP" "$GUEST"; do
	[ -e "$f" ] || { echo "net: $f missing (make all)" >&2; exit 1; }
done
grep -q net-bench "$GUEST" || { echo "net: guest built without bench_net.c" >&2; exit 1; }
[ "$(id -u)" -eq 0 ] || { echo "net: needs root (network namespace and tap)" >&2; exit 1; }
[ -w /dev/kvm ] || { echo "net: no usable /dev/kvm" >&2; exit 1; }
command -v python3 >/dev/null || { echo "net: python3 not installed" >&2; exit 1; }

tmp=$(mktemp -d /tmp/wisp-netbench.XXXXXX)
vmm_pid=
rx_pid=
# shellcheck disable=SC2317 # called through the trap
cleanup() {
	local p
	for p in "$vmm_pid" "$rx_pid"; do
		[ -n "$p" ] || continue
		kill "$p" 2>/dev/null || true
		wait "$p" 2>/dev/null || true
	done
	ip netns del "$NS" 2>/dev/null || true
	rm -rf "$tmp"
}
trap cleanup EXIT

ip netns add "$NS"
ip netns exec "$NS" ip link set lo up
ip netns exec "$NS" ip tuntap add "$TAP" mode tap
ip netns exec "$NS" ip addr add "$HOST_IP/24" dev "$TAP"
ip netns exec "$NS" ip link set "$TAP" up
# The guest answers no ARP: tell the namespace its MAC, and tell the guest the tap's.
ip netns exec "$NS" ip neigh replace "$GUEST_IP" lladdr "$MAC" dev "$TAP" nud permanent
host_mac=$(ip netns exec "$NS" cat "/sys/class/net/$TAP/address")

# recv PORT MAX_S: counts datagrams until 1 s without any after the first (or MAX_S pass);
# send IP PORT SIZE SECONDS: sends as fast as one process can.
# Both print "frames=N bytes=B ms=M" (ms: first to last datagram, or the sending time).
cat >"$tmp/udp.py" <<'EOF'
import socket, sys, time

def recv(port, max_s):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.setsockopt(socket.SOL_SOCKET, 33, 16 << 20)  # SO_RCVBUFFORCE: root, no rmem_max cap
    s.bind(("0.0.0.0", port))
    s.settimeout(max_s)
    frames = nbytes = 0
    first = last = time.monotonic()
    end = first + max_s
    print("listening", flush=True)
    while time.monotonic() < end:
        try:
            n = len(s.recv(65536))
        except socket.timeout:
            break
        last = time.monotonic()
        if frames == 0:
            first = last
            s.settimeout(1)
        frames += 1
        nbytes += n
    print("frames=%d bytes=%d ms=%d" % (frames, nbytes, (last - first) * 1000), flush=True)

def send(ip, port, size, seconds):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.connect((ip, port))
    payload, frames = b"x" * size, 0
    start = time.monotonic()
    end = start + seconds
    while time.monotonic() < end:
        for _ in range(64):
            try:
                s.send(payload)
                frames += 1
            except (BlockingIOError, OSError):
                pass
    ms = (time.monotonic() - start) * 1000
    print("frames=%d bytes=%d ms=%d" % (frames, frames * size, ms), flush=True)

if sys.argv[1] == "recv":
    recv(int(sys.argv[2]), float(sys.argv[3]))
else:
    send(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), float(sys.argv[5]))
EOF

# get KEY LINE: the value of KEY=value in a line (empty if absent).
get() {
	sed -n "s/.*[ ]$1=\([^ ]*\).*/\1/p" <<<" $2"
}

# wait_for TEXT SECONDS: until the serial output contains TEXT (false if the VMM exits).
wait_for() {
	local i
	for ((i = 0; i < $2 * 20; i++)); do
		grep -q "$1" "$tmp/serial" && return 0
		kill -0 "$vmm_pid" 2>/dev/null || break
		sleep 0.05
	done
	grep -q "$1" "$tmp/serial"
}

# rate WHO DIRECTION FRAMES BYTES MS SENT-WHAT SENT RECEIVED-WHAT RECEIVED
rate() {
	awk -v who="$1" -v dir="$2" -v f="$3" -v b="$4" -v ms="$5" -v sw="$6" -v s="$7" \
		-v rw="$8" -v r="$9" 'BEGIN {
		if (ms <= 0) ms = 1
		printf "net %s %s: %.0f Mbit/s, %.0f packets/s (%s sent %d, %s received %d, payload %d B)\n",
			who, dir, b * 8 / ms / 1000, f * 1000 / ms, sw, s, rw, r, ENVIRON["PAYLOAD"]
	}'
}
export PAYLOAD

# bench WHO COMMAND...: one run of the guest under COMMAND (started in the namespace).
bench() {
	local who=$1 tx rx host_rx host_tx
	shift
	: >"$tmp/serial"
	ip netns exec "$NS" python3 "$tmp/udp.py" recv "$PORT" 30 >"$tmp/recv.out" &
	rx_pid=$!
	until grep -q listening "$tmp/recv.out" 2>/dev/null; do sleep 0.05; done
	ip netns exec "$NS" "$@" </dev/null >"$tmp/serial" 2>"$tmp/err" &
	vmm_pid=$!
	if ! wait_for "NETBENCH rx ready" 60; then
		echo "net: $who: no NETBENCH tx figure" >&2
		cat "$tmp/serial" "$tmp/err" >&2
		exit 1
	fi
	wait "$rx_pid" || true
	rx_pid=
	host_rx=$(tail -n 1 "$tmp/recv.out")
	host_tx=$(ip netns exec "$NS" python3 "$tmp/udp.py" send "$GUEST_IP" "$PORT" "$PAYLOAD" \
		"$(awk -v ms="$BENCH_MS" 'BEGIN {print ms / 1000 + 1}')")
	wait_for "TEST net-bench PASS" 30 || true
	kill "$vmm_pid" 2>/dev/null || true
	wait "$vmm_pid" 2>/dev/null || true
	vmm_pid=
	tx=$(grep '^NETBENCH tx' "$tmp/serial" || true)
	rx=$(grep '^NETBENCH rx frames' "$tmp/serial" || true)
	if [ -z "$tx" ] || [ -z "$rx" ] || ! grep -q "TEST net-bench PASS" "$tmp/serial"; then
		echo "net: $who: run incomplete" >&2
		cat "$tmp/serial" "$tmp/err" >&2
		exit 1
	fi
	echo "  $who: $tx | host received $host_rx"
	echo "  $who: $rx | host sent $host_tx"
	# guest->host: what the host received, over the time it received it
	rate "$who" "guest->host" "$(get frames "$host_rx")" "$(get bytes "$host_rx")" \
		"$(get ms "$host_rx")" guest "$(get frames "$tx")" host "$(get frames "$host_rx")"
	# host->guest: what the guest counted, over its counting time
	rate "$who" "host->guest" "$(get frames "$rx")" "$(get bytes "$rx")" "$(get ms "$rx")" \
		host "$(get frames "$host_tx")" guest "$(get frames "$rx")"
}

args="console=ttyS0 wisp.test=net-bench wisp.ip=$GUEST_IP wisp.host=$HOST_IP"
args="$args wisp.hostmac=$host_mac wisp.port=$PORT wisp.arg=$PAYLOAD wisp.ms=$BENCH_MS"
bench wisp "$WISP" --no-api --kernel "$GUEST" --mem-mib 128 --cmdline "$args" \
	--net "id=eth0,tap=$TAP,mac=$MAC"
if command -v qemu-system-x86_64 >/dev/null; then
	# shellcheck disable=SC2054 # the commas belong to QEMU's options
	bench "qemu microvm" qemu-system-x86_64 \
		-M microvm,x-option-roms=off,isa-serial=on,rtc=off,acpi=off -accel kvm \
		-cpu host,-arch-capabilities -m 128 -smp 1 -nographic -nodefaults -no-user-config \
		-serial stdio -no-reboot -global virtio-mmio.force-legacy=false \
		-netdev "tap,id=n0,ifname=$TAP,script=no,downscript=no" \
		-device "virtio-net-device,netdev=n0,mac=$MAC" -kernel "$GUEST" -append "$args"
else
	echo "net: qemu microvm n/a (qemu-system-x86_64 not installed)"
fi

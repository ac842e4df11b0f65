#!/usr/bin/env bash
# tests/bench/net_echo.sh - virtio-net figures on the test guest's net-echo, wisp vs QEMU's
# microvm (virtio-net-device on a tap, no vhost) when qemu-system-x86_64 is installed.
#
#   latency:    UDP round trip of 64-byte datagrams, one at a time (median and p99, us)
#   throughput: 1400-byte datagrams sent as fast as python can for 3 s; echoed MiB/s
#
# Each VMM runs in a network namespace this script creates (tap 172.16.0.1/24, guest
# 172.16.0.2) and deletes; nothing else is addressed. Needs root, /dev/kvm, python3 and a
# guest built with tests/guest/test_net.c. A benchmark, not a test: the exit status is 1 only
# when something is missing or a run misbehaved. Environment: BUILD (build), SAMPLES (2000).
set -euo pipefail

cd "$(dirname "$0")/../.."
BUILD=${BUILD:-build}
WISP=$BUILD/wisp
GUEST=$BUILD/guest/wisp-test-guest.elf
SAMPLES=${SAMPLES:-2000}
NS=wisp-netbench-$$
GUEST_IP=172.16.0.2
PORT=7777
BOOT_ARGS="wisp.test=net-echo wisp.ip=$GUEST_IP wisp.port=$PORT wisp.timeout_ms=120000"

for f in "$WISP" "$GUEST"; do
	[ -e "$f" ] || { echo "net_echo: $f missing (make all)" >&2; exit 1; }
done
grep -q net-echo "$GUEST" || { echo "net_echo: guest built without test_net.c" >&2; exit 1; }
[ "$(id -u)" -eq 0 ] || { echo "net_echo: needs root" >&2; exit 1; }

tmp=$(mktemp -d /tmp/wisp-netbench.XXXXXX)
vmm_pid=
cleanup() {
	[ -n "$vmm_pid" ] && kill "$vmm_pid" 2>/dev/null && wait "$vmm_pid" 2>/dev/null
	ip netns del "$NS" 2>/dev/null || true
	rm -rf "$tmp"
}
trap cleanup EXIT

ip netns add "$NS"
ip netns exec "$NS" ip link set lo up
ip netns exec "$NS" ip tuntap add wtap0 mode tap
ip netns exec "$NS" ip addr add 172.16.0.1/24 dev wtap0
ip netns exec "$NS" ip link set wtap0 up

cat >"$tmp/bench.py" <<'EOF'
import socket, sys, time

ip, port, samples = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.connect((ip, port))
s.settimeout(1)
for _ in range(20):  # ARP, warm-up
    s.send(b"w" * 64)
    try:
        s.recv(2048)
    except socket.timeout:
        pass
rtt = []
for i in range(samples):
    t = time.perf_counter_ns()
    s.send(b"p" * 64)
    try:
        s.recv(2048)
    except socket.timeout:
        continue
    rtt.append((time.perf_counter_ns() - t) / 1000)
rtt.sort()
lost = samples - len(rtt)
p50 = rtt[len(rtt) // 2] if rtt else float("nan")
p99 = rtt[min(len(rtt) - 1, len(rtt) * 99 // 100)] if rtt else float("nan")
s.setblocking(False)
payload, got, end = b"t" * 1400, 0, time.monotonic() + 3
while time.monotonic() < end:
    for _ in range(16):
        try:
            s.send(payload)
        except BlockingIOError:
            break
    while True:
        try:
            got += len(s.recv(2048))
        except BlockingIOError:
            break
print("rtt_p50_us %.1f rtt_p99_us %.1f lost %d echo_mib_s %.2f" % (p50, p99, lost, got / 3 / 1048576))
s.send(b"STOP")
EOF

# run_one NAME COMMAND...: boots the guest with COMMAND, measures, prints one line.
run_one() {
	local name=$1
	shift
	ip netns exec "$NS" "$@" </dev/null >"$tmp/serial" 2>&1 &
	vmm_pid=$!
	for ((i = 0; i < 600; i++)); do
		grep -q "NET ready" "$tmp/serial" && break
		kill -0 "$vmm_pid" 2>/dev/null || break
		sleep 0.1
	done
	if ! grep -q "NET ready" "$tmp/serial"; then
		echo "net_echo: $name: guest not ready" >&2
		cat "$tmp/serial" >&2
		return 1
	fi
	printf '%-6s %s\n' "$name" "$(ip netns exec "$NS" python3 "$tmp/bench.py" "$GUEST_IP" "$PORT" "$SAMPLES")"
	wait "$vmm_pid" || true
	vmm_pid=
	grep -q "TEST net-echo PASS" "$tmp/serial" || { cat "$tmp/serial" >&2; return 1; }
}

run_one wisp "$WISP" --no-api --kernel "$GUEST" --cmdline "$BOOT_ARGS" \
	--net id=eth0,tap=wtap0,mac=06:00:ac:10:00:02
if command -v qemu-system-x86_64 >/dev/null; then
	accel=tcg
	[ -w /dev/kvm ] && accel=kvm
	run_one qemu qemu-system-x86_64 -M microvm,x-option-roms=off,isa-serial=on,rtc=off,acpi=off \
		-global virtio-mmio.force-legacy=false -accel "$accel" -m 128 -nographic -nodefaults \
		-serial stdio -no-reboot -kernel "$GUEST" -append "$BOOT_ARGS" \
		-netdev tap,id=n0,ifname=wtap0,script=no,downscript=no,vnet_hdr=on \
		-device virtio-net-device,netdev=n0,mac=06:00:ac:10:00:02
else
	echo "qemu   n/a (qemu-system-x86_64 not installed)"
fi

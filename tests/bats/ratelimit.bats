#!/usr/bin/env bats
# Rate limiters end to end, on virtio-net: the host floods the test guest's UDP echo (net-echo)
# at about 3 MiB/s from inside a private network namespace and measures the echoes. A 1 MiB/s
# limit on the NIC's TX (guest -> host) or RX (host -> guest) side must hold within 10% once
# the initial bucket is spent; without a limit the same traffic must go faster. Only
# 172.16.0.1/.2 inside the namespace this file creates are used.
# Needs root, /dev/kvm and python3. BUILD selects the build directory (relative to the
# repository or absolute).

GUEST_IP=172.16.0.2
HOST_IP=172.16.0.1
PORT=7777
MIB=1048576
PAYLOAD=1400
FRAME=$((PAYLOAD + 42)) # + UDP 8, IPv4 20, Ethernet 14: what the limiter counts

setup() {
	cd "$BATS_TEST_DIRNAME/../.."
	B=${BUILD:-build}
	case "$B" in
	/*) ;;
	*) B=$PWD/$B ;; # absolute: the paths go into config files and API bodies
	esac
	WISP=$B/wisp
	GUEST=$B/guest/wisp-test-guest.elf
	[ "$(id -u)" -eq 0 ] || skip "needs root (network namespace and tap)"
	[ -x "$WISP" ] || skip "$WISP not built"
	[ -f "$GUEST" ] || skip "$GUEST not built"
	grep -q net-echo "$GUEST" || skip "guest built without tests/guest/test_net.c"
	[ -w /dev/kvm ] || skip "no usable /dev/kvm"
	command -v python3 >/dev/null || skip "python3 not installed"
	NS=wisp-rl-$$-${BATS_TEST_NUMBER}
	ip netns add "$NS" || skip "cannot create a network namespace"
	ip netns exec "$NS" ip link set lo up
	ip netns exec "$NS" ip tuntap add wtap0 mode tap
	ip netns exec "$NS" ip addr add "$HOST_IP/24" dev wtap0
	ip netns exec "$NS" ip link set wtap0 up
	write_flood
}

teardown() {
	if [ -n "${WISP_PID:-}" ]; then
		kill "$WISP_PID" 2>/dev/null || true
		wait "$WISP_PID" 2>/dev/null || true
	fi
	[ -n "${NS:-}" ] && ip netns del "$NS" 2>/dev/null || true
}

# flood.py IP PORT PAYLOAD SECONDS SEND_BPS: sends datagrams at SEND_BPS for SECONDS, prints
# "echo_bps N" (echoed payload bytes per second between 1.5 s and SECONDS - 0.5 s, after the
# initial bucket and before the tail), then sends STOP.
write_flood() {
	FLOOD=$BATS_TEST_TMPDIR/flood.py
	cat >"$FLOOD" <<'EOF'
import socket, sys, threading, time

ip, port, size, seconds, send_bps = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4]), float(sys.argv[5])
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.connect((ip, port))
s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
# Resolve ARP and make sure the guest answers before the clock starts.
s.settimeout(2)
for _ in range(10):
    s.send(b"x" * size)
    try:
        s.recv(65536)
        break
    except socket.timeout:
        pass
else:
    print("no echo from the guest")
    sys.exit(1)
while True:  # drain
    s.settimeout(0.2)
    try:
        s.recv(65536)
    except socket.timeout:
        break
arrivals = []
t0 = time.monotonic()
stop = threading.Event()

def receive():
    s.settimeout(0.1)
    while not stop.is_set():
        try:
            n = len(s.recv(65536))
        except socket.timeout:
            continue
        arrivals.append((time.monotonic() - t0, n))

rx = threading.Thread(target=receive)
rx.start()
payload, sent = b"y" * size, 0
while True:
    now = time.monotonic() - t0
    if now >= seconds:
        break
    while sent < now * send_bps:
        try:
            s.send(payload)
        except OSError:
            pass
        sent += size
    time.sleep(0.002)
time.sleep(0.3)
stop.set()
rx.join()
lo, hi = 1.5, seconds - 0.5
got = sum(n for t, n in arrivals if lo <= t < hi)
print("sent_bps %d echo_bps %d echoes %d" % (sent / seconds, got / (hi - lo), len(arrivals)))
s.send(b"STOP")
EOF
}

# wisp_start LIMITER_JSON_FIELD [WISP_ARGS...]: boots net-echo with that limiter on the NIC.
wisp_start() {
	local limiter=$1
	shift
	CONFIG=$BATS_TEST_TMPDIR/vm.json
	cat >"$CONFIG" <<EOF
{
  "boot-source": {"kernel_image_path": "$GUEST",
                  "boot_args": "wisp.test=net-echo wisp.ip=$GUEST_IP wisp.port=$PORT wisp.timeout_ms=60000"},
  "machine-config": {"vcpu_count": 1, "mem_size_mib": 128},
  "network-interfaces": [{"iface_id": "eth0", "host_dev_name": "wtap0"$limiter}]
}
EOF
	OUT=$BATS_TEST_TMPDIR/serial.out
	ip netns exec "$NS" "$WISP" --config-file "$CONFIG" "$@" </dev/null >"$OUT" 2>&1 &
	WISP_PID=$!
	for ((i = 0; i < 300; i++)); do
		grep -q "NET ready" "$OUT" && return 0
		sleep 0.1
	done
	cat "$OUT"
	false
}

# flood: floods the running guest for 6 s at 3 MiB/s (then STOPs it); sets ECHO_BPS.
flood() {
	run ip netns exec "$NS" python3 "$FLOOD" "$GUEST_IP" "$PORT" "$PAYLOAD" 6 $((3 * MIB))
	echo "$output"
	[ "$status" -eq 0 ]
	ECHO_BPS=$(sed -n 's/.*echo_bps \([0-9]*\).*/\1/p' <<<"$output")
}

# wisp_finish: waits for the STOPped guest to end and wisp to exit 0.
wisp_finish() {
	for ((i = 0; i < 100; i++)); do
		kill -0 "$WISP_PID" 2>/dev/null || break
		sleep 0.1
	done
	local rc=0
	wait "$WISP_PID" || rc=$?
	WISP_PID=
	cat "$OUT"
	[ "$rc" -eq 0 ]
	grep -q "TEST net-echo PASS" "$OUT"
}

# run_flood LIMITER_JSON_FIELD: boot, flood, finish.
run_flood() {
	wisp_start "$1" --no-api
	flood
	wisp_finish
}

# api METHOD PATH BODY: one request on the API socket; prints the reply, and succeeds when
# the status code is $WANT.
api() {
	local code
	code=$(curl -s --unix-socket "$SOCK" -o "$BATS_TEST_TMPDIR/body" -w '%{http_code}' \
		-X "$1" -H 'Content-Type: application/json' -d "$3" "http://localhost$2")
	cat "$BATS_TEST_TMPDIR/body"
	echo " ($code)"
	[ "$code" = "$WANT" ]
}

# A 1 MiB/s bucket of 100 ms: size = MiB / 10 frame bytes per 100 ms.
LIMIT='{"bandwidth": {"size": 104858, "refill_time": 100}}'

# within_10_percent BPS: the echoed payload rate matches 1 MiB/s of frames.
within_10_percent() {
	local want=$((MIB * PAYLOAD / FRAME))
	echo "echoed payload $1 B/s, expected $want B/s"
	[ "$1" -ge $((want * 9 / 10)) ] && [ "$1" -le $((want * 11 / 10)) ]
}

@test "ratelimit: net TX bandwidth 1 MiB/s holds within 10%" {
	run_flood ", \"tx_rate_limiter\": $LIMIT"
	within_10_percent "$ECHO_BPS"
}

@test "ratelimit: net RX bandwidth 1 MiB/s holds within 10%" {
	run_flood ", \"rx_rate_limiter\": $LIMIT"
	within_10_percent "$ECHO_BPS"
}

@test "ratelimit: without a limiter the same flood echoes faster than 2 MiB/s" {
	run_flood ""
	echo "echoed payload $ECHO_BPS B/s"
	[ "$ECHO_BPS" -gt $((2 * MIB)) ]
}

@test "ratelimit: PATCH /network-interfaces replaces the TX limit of a running VM" {
	command -v curl >/dev/null || skip "curl not installed"
	SOCK=$BATS_TEST_TMPDIR/api.sock
	# 100 KiB/s at boot; the PATCH raises it to 1 MiB/s before the flood.
	wisp_start ', "tx_rate_limiter": {"bandwidth": {"size": 10486, "refill_time": 100}}' \
		--api-sock "$SOCK"
	WANT=204 api PATCH /network-interfaces/eth0 "{\"iface_id\": \"eth0\", \"tx_rate_limiter\": $LIMIT}"
	WANT=400 api PATCH /network-interfaces/nope '{"iface_id": "nope", "rx_rate_limiter": {}}'
	grep -q "nope" "$BATS_TEST_TMPDIR/body"
	flood
	wisp_finish
	within_10_percent "$ECHO_BPS"
}

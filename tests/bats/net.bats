#!/usr/bin/env bats
# virtio-net end to end: wisp runs inside a network namespace this file creates, on a tap
# there (172.16.0.1/24 on the host side), and the test guest's net-echo answers ARP, ping and
# UDP echo as 172.16.0.2. Only these private addresses, inside that namespace, are ever used.
# Needs root, /dev/kvm, ping (iputils-ping) and python3 (the UDP probe below).
# BUILD selects the build directory (build, build-asan, ...: relative to the repository or
# absolute).

GUEST_IP=172.16.0.2
HOST_IP=172.16.0.1
MAC=06:00:ac:10:00:02
PORT=7777

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
	command -v ping >/dev/null || skip "ping not installed (iputils-ping)"
	NS=wisp-net-$$-${BATS_TEST_NUMBER}
	TAP=wtap0
	ip netns add "$NS" || skip "cannot create a network namespace"
	ip netns exec "$NS" ip link set lo up
	ip netns exec "$NS" ip tuntap add "$TAP" mode tap
	ip netns exec "$NS" ip addr add "$HOST_IP/24" dev "$TAP"
	ip netns exec "$NS" ip link set "$TAP" up
}

teardown() {
	if [ -n "${WISP_PID:-}" ]; then
		kill "$WISP_PID" 2>/dev/null || true
		wait "$WISP_PID" 2>/dev/null || true
	fi
	[ -n "${NS:-}" ] && ip netns del "$NS" 2>/dev/null || true
}

# The host side of the guest's echo: tests/bats/net-probe.py, run in the namespace.
probe() {
	ip netns exec "$NS" python3 tests/bats/net-probe.py "$@"
}

# wisp_config TAP BOOT_ARGS: a Firecracker-style configuration file for the net-echo guest.
wisp_config() {
	CONFIG=$BATS_TEST_TMPDIR/vm.json
	cat >"$CONFIG" <<EOF
{
  "boot-source": {"kernel_image_path": "$GUEST", "boot_args": "$2"},
  "machine-config": {"vcpu_count": 1, "mem_size_mib": 128},
  "network-interfaces": [{"iface_id": "eth0", "host_dev_name": "$1", "guest_mac": "$MAC"}]
}
EOF
}

# Starts wisp in the namespace in the background; serial output in $OUT, messages in $ERR.
wisp_start() {
	OUT=$BATS_TEST_TMPDIR/serial.out
	ERR=$BATS_TEST_TMPDIR/wisp.err
	ip netns exec "$NS" "$WISP" --no-api --config-file "$CONFIG" </dev/null >"$OUT" 2>"$ERR" &
	WISP_PID=$!
}

# wait_for TEXT SECONDS: until the serial output contains TEXT (or wisp exits).
wait_for() {
	local i
	for ((i = 0; i < $2 * 10; i++)); do
		grep -q "$1" "$OUT" && return 0
		kill -0 "$WISP_PID" 2>/dev/null || break
		sleep 0.1
	done
	grep -q "$1" "$OUT"
}

# wisp_finish: STOP the guest and wait for wisp to exit; $status is its exit code.
wisp_finish() {
	probe stop "$GUEST_IP" "$PORT"
	for ((i = 0; i < 100; i++)); do
		kill -0 "$WISP_PID" 2>/dev/null || break
		sleep 0.1
	done
	wait "$WISP_PID"
	status=$?
	WISP_PID=
	cat "$OUT" "$ERR"
}

echo_round() {
	wisp_config "$TAP" "wisp.test=net-echo wisp.ip=$GUEST_IP wisp.port=$PORT wisp.timeout_ms=60000 $1"
	wisp_start
	wait_for "NET ready" 30 || { cat "$OUT" "$ERR"; false; }
	grep -q "NET ready mac=$MAC ip=$GUEST_IP" "$OUT"
	# ping -c 5 from the host side of the tap: every echo answered.
	run ip netns exec "$NS" ping -c 5 -W 2 "$GUEST_IP"
	echo "$output"
	[ "$status" -eq 0 ]
	[[ "$output" == *"5 packets transmitted, 5 received"* ]]
	# Payload sizes up to the MTU: 1472 + 8 (UDP) + 20 (IPv4) = 1500.
	run probe udp "$GUEST_IP" "$PORT" 1,2,63,64,512,1000,1400,1471,1472 2
	echo "$output"
	[ "$status" -eq 0 ]
	wisp_finish
	[ "$status" -eq 0 ]
	grep -q "TEST net-echo PASS" "$OUT"
	grep -q "stop=request" "$OUT"
}

@test "net: ping and UDP echo through a tap" {
	echo_round ""
}

@test "net: ping and UDP echo with mergeable RX buffers (frames span chains)" {
	echo_round "wisp.mrg=1"
	grep -q "mrg=1" "$OUT"
}

@test "net: a missing tap is one clear error and exit code 1" {
	wisp_config nosuchtap0 "wisp.test=net-echo wisp.ip=$GUEST_IP"
	run ip netns exec "$NS" "$WISP" --no-api --config-file "$CONFIG"
	echo "$output"
	[ "$status" -eq 1 ]
	[[ "$output" == *"tap nosuchtap0: no such device"* ]]
}

@test "net: a tap that is busy is one clear error" {
	# A tap without IFF_MULTI_QUEUE takes one reader: the first wisp holds it.
	wisp_config "$TAP" "wisp.test=net-echo wisp.ip=$GUEST_IP wisp.port=$PORT wisp.timeout_ms=60000"
	wisp_start
	wait_for "NET ready" 30
	run ip netns exec "$NS" "$WISP" --no-api --config-file "$CONFIG"
	echo "$output"
	[ "$status" -eq 1 ]
	[[ "$output" == *"tap $TAP: busy"* ]]
	wisp_finish
	[ "$status" -eq 0 ]
}

# api METHOD PATH BODY: one request on $SOCK; prints "STATUS BODY".
api() {
	local code
	code=$(curl -s --unix-socket "$SOCK" -o "$BATS_TEST_TMPDIR/body" -w '%{http_code}' \
		-X "$1" -H 'Content-Type: application/json' --data-binary "$3" "http://localhost$2")
	echo "$code $(cat "$BATS_TEST_TMPDIR/body")"
}

@test "net: a NIC configured through the API socket answers ping" {
	command -v curl >/dev/null || skip "curl not installed"
	SOCK=$BATS_TEST_TMPDIR/api.sock
	OUT=$BATS_TEST_TMPDIR/serial.out
	ERR=$BATS_TEST_TMPDIR/wisp.err
	ip netns exec "$NS" "$WISP" --api-sock "$SOCK" </dev/null >"$OUT" 2>"$ERR" &
	WISP_PID=$!
	for ((i = 0; i < 200; i++)); do
		[ -S "$SOCK" ] && break
		sleep 0.01
	done
	[ -S "$SOCK" ] || { cat "$ERR"; false; }
	run api PUT /boot-source "{\"kernel_image_path\": \"$GUEST\", \"boot_args\": \"wisp.test=net-echo wisp.ip=$GUEST_IP wisp.port=$PORT wisp.timeout_ms=60000\"}"
	[ "$output" = "204 " ]
	run api PUT /machine-config '{"vcpu_count": 1, "mem_size_mib": 128}'
	[ "$output" = "204 " ]
	run api PUT /network-interfaces/eth0 "{\"iface_id\": \"eth0\", \"host_dev_name\": \"$TAP\", \"guest_mac\": \"$MAC\"}"
	[ "$output" = "204 " ]
	run api PUT /actions '{"action_type": "InstanceStart"}'
	echo "$output"
	[ "$output" = "204 " ]
	wait_for "NET ready" 30 || { cat "$OUT" "$ERR"; false; }
	grep -q "NET ready mac=$MAC ip=$GUEST_IP" "$OUT"
	run ip netns exec "$NS" ping -c 5 -W 2 "$GUEST_IP"
	echo "$output"
	[ "$status" -eq 0 ]
	[[ "$output" == *"5 packets transmitted, 5 received"* ]]
	wisp_finish
	[ "$status" -eq 0 ]
	grep -q "TEST net-echo PASS" "$OUT"
}

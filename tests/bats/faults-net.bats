#!/usr/bin/env bats
# Host faults under a guest that transmits without pause (README "Faults"): its tap is
# deleted, set down, or nobody on the host reads what it sends or sends it buffers. wisp must
# drop and count the guest's frames (net_<id> tap_write_fails, tx_dropped, no_rx_avail_buffer:
# docs/metrics.md), never queue them (VmRSS stays flat), log the fault without flooding, keep
# serving the API, and let the guest finish. The guest is net-bench's tx phase
# (tests/guest/bench_net.c): 256 descriptors in flight, as fast as the device takes them.
# wisp runs in a network namespace this file creates (flt-net-PID-N) on the tap fltap0.
# Needs root, /dev/kvm, curl, jq and python3. BUILD selects the build directory.

load metrics-file

GUEST_IP=172.16.0.2
HOST_IP=172.16.0.1

setup() {
	cd "$BATS_TEST_DIRNAME/../.."
	B="${BUILD:-build}"
	case "$B" in
	/*) ;;
	*) B="$PWD/$B" ;;
	esac
	WISP=$B/wisp
	GUEST=$B/guest/wisp-test-guest.elf
	[ "$(id -u)" -eq 0 ] || skip "needs root (network namespace and tap)"
	[ -x "$WISP" ] || skip "$WISP not built"
	[ -f "$GUEST" ] || skip "$GUEST not built"
	grep -q net-bench "$GUEST" || skip "guest built without tests/guest/bench_net.c"
	[ -w /dev/kvm ] || skip "no usable /dev/kvm"
	command -v curl >/dev/null || skip "curl not installed"
	command -v jq >/dev/null || skip "jq not installed"
	command -v python3 >/dev/null || skip "python3 not installed"
	D=$BATS_TEST_TMPDIR
	SOCK=$D/api.sock
	METRICS=$D/metrics.json
	OUT=$D/serial.out
	ERR=$D/wisp.err
	WISP_PID=
	FLOOD_PID=
	NS=flt-net-$$-${BATS_TEST_NUMBER}
	TAP=fltap0
	ip netns add "$NS" || skip "cannot create a network namespace"
	ip netns exec "$NS" ip link set lo up
	ip netns exec "$NS" ip tuntap add "$TAP" mode tap
	ip netns exec "$NS" ip addr add "$HOST_IP/24" dev "$TAP"
	ip netns exec "$NS" ip link set "$TAP" up
}

teardown() {
	if [ -n "$FLOOD_PID" ]; then
		kill "$FLOOD_PID" 2>/dev/null || true
		wait "$FLOOD_PID" 2>/dev/null || true
	fi
	if [ -n "$WISP_PID" ]; then
		kill -9 "$WISP_PID" 2>/dev/null || true
		wait "$WISP_PID" 2>/dev/null || true
	fi
	ip netns del "$NS" 2>/dev/null || true
}

api() { curl -s --max-time 10 -w ' %{http_code}' --unix-socket "$SOCK" -X "$1" "http://localhost$2" ${3:+-d "$3"}; }
flush() { [[ "$(api PUT /actions '{"action_type":"FlushMetrics"}')" == *" 204" ]]; }
metric() { metric_total "$METRICS" net_eth0 "$1"; }
rss_kib() { awk '/^VmRSS:/ {print $2}' "/proc/$WISP_PID/status"; }
wisp_alive() { kill -0 "$WISP_PID" 2>/dev/null; }

# wait_for SECONDS COMMAND...: polls COMMAND until it succeeds; fails once SECONDS have passed.
wait_for() {
	local end=$((SECONDS + $1))
	shift
	while [ "$SECONDS" -lt "$end" ]; do
		"$@" && return 0
		sleep 0.1
	done
	return 1
}

# start_tx MS: net-bench transmitting for MS ms (then its rx phase gives up after 1 s and the
# guest stops), in the namespace, with the API and the metrics file.
start_tx() {
	cat >"$D/vm.json" <<EOF
{
  "boot-source": {"kernel_image_path": "$GUEST",
                  "boot_args": "wisp.test=net-bench wisp.ip=$GUEST_IP wisp.host=$HOST_IP wisp.ms=$1 wisp.timeout_ms=1000"},
  "machine-config": {"vcpu_count": 1, "mem_size_mib": 128},
  "network-interfaces": [{"iface_id": "eth0", "host_dev_name": "$TAP"}]
}
EOF
	ip netns exec "$NS" "$WISP" --api-sock "$SOCK" --metrics-path "$METRICS" \
		--config-file "$D/vm.json" </dev/null >"$OUT" 2>"$ERR" &
	WISP_PID=$!
	wait_for 30 grep -q "NET ready" "$OUT" || {
		cat "$OUT" "$ERR"
		return 1
	}
	wait_for 10 test -S "$SOCK"
}

# grows METRIC: flushes the metrics; succeeds once METRIC's total exceeds $LAST (sets LAST).
grows() {
	local now
	flush || return 1
	now=$(metric "$1")
	[ "$now" != null ] && [ "$now" -gt "${LAST:-0}" ] && LAST=$now
}

# finish: the guest's tx phase ends (its ring drained: every frame was completed, sent or
# dropped) and wisp exits 0 on the guest's reset.
finish() {
	wait_for 60 bash -c "! kill -0 $WISP_PID 2>/dev/null" || {
		cat "$OUT" "$ERR"
		return 1
	}
	WISP_STATUS=0
	wait "$WISP_PID" || WISP_STATUS=$?
	WISP_PID=
	cat "$OUT" "$ERR"
	[ "$WISP_STATUS" -eq 0 ] || return 1
	grep -q "NETBENCH tx frames=[1-9]" "$OUT" || return 1
	if grep -q "ring not drained" "$OUT"; then return 1; fi
}

@test "faults-net: a tap deleted under a transmitting guest: frames dropped and counted, one warning, RSS flat" {
	start_tx 6000
	LAST=0
	wait_for 20 grows tx_packets_count
	rss0=$(rss_kib)
	ip netns exec "$NS" ip link del "$TAP"
	LAST=0
	wait_for 20 grows tap_write_fails
	# The guest keeps transmitting into the dead tap: the drops keep coming, the API answers.
	sleep 1
	wait_for 20 grows tap_write_fails
	[[ "$(api GET /)" == *'"state":"Running"'*" 200" ]]
	[ "$(metric tx_dropped)" -ge "$(metric tap_write_fails)" ]
	rss1=$(rss_kib)
	echo "VmRSS $rss0 -> $rss1 KiB"
	[ $((rss1 - rss0)) -lt 1024 ]
	finish
	[ "$(grep -c "network interface eth0: tap failed (interface deleted?); frames are dropped" "$ERR")" -eq 1 ]
}

@test "faults-net: a tap set down under a transmitting guest: drops counted, the warning rate-limited, traffic resumes when it is up" {
	start_tx 6000
	LAST=0
	wait_for 20 grows tx_packets_count
	rss0=$(rss_kib)
	ip netns exec "$NS" ip link set "$TAP" down
	LAST=0
	wait_for 20 grows tap_write_fails
	sleep 2
	wait_for 20 grows tap_write_fails
	[[ "$(api GET /)" == *" 200" ]]
	rss1=$(rss_kib)
	echo "VmRSS $rss0 -> $rss1 KiB"
	[ $((rss1 - rss0)) -lt 1024 ]
	# Thousands of failed writes, a handful of lines (at most one a second).
	echo "tap_write_fails $(metric tap_write_fails)"
	[ "$(metric tap_write_fails)" -gt 100 ]
	lines=$(grep -c "network interface eth0: tap write failed: Input/output error (interface down?); the frame is dropped" "$ERR")
	echo "$lines warnings"
	[ "$lines" -ge 1 ] && [ "$lines" -le 6 ]
	# Up again: frames reach the tap again.
	ip netns exec "$NS" ip link set "$TAP" up
	LAST=$(metric tx_packets_count)
	wait_for 20 grows tx_packets_count
	finish
	grep -q "more since the last message" "$ERR"
}

@test "faults-net: nobody reads the guest's frames and the guest reads none of the host's: RSS flat, shortage counted" {
	# The host side has nothing listening on the guest's port (the frames die in the host's
	# stack) and floods the guest with broadcast datagrams while the guest only transmits
	# (its RX ring fills and is never refilled in the tx phase).
	start_tx 6000
	ip netns exec "$NS" python3 -c '
import socket, time
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_BROADCAST, 1)
s.setsockopt(socket.SOL_SOCKET, socket.SO_BINDTODEVICE, b"fltap0")
end = time.time() + 30
while time.time() < end:
    try:
        s.sendto(b"x" * 1000, ("172.16.0.255", 7777))
    except OSError:
        time.sleep(0.001)
' &
	FLOOD_PID=$!
	LAST=0
	wait_for 20 grows tx_packets_count
	LAST=0
	wait_for 20 grows no_rx_avail_buffer
	rss0=$(rss_kib)
	sleep 2
	flush
	rss1=$(rss_kib)
	echo "VmRSS $rss0 -> $rss1 KiB"
	[ $((rss1 - rss0)) -lt 1024 ]
	# One shortage, counted once (not once per frame that waited).
	[ "$(metric no_rx_avail_buffer)" -le 3 ]
	[ "$(metric tap_write_fails)" -eq 0 ]
	[ "$(metric rx_packets_count)" -ge 200 ]
	LAST=$(metric tx_packets_count)
	wait_for 20 grows tx_packets_count
	finish
}

#!/usr/bin/env bats
# Abusive API clients (README "Faults"): a request one byte per write, 1000 connections
# opened at once and held, wisp out of file descriptors, clients that hang up in the middle
# of their answers. wisp must keep answering everyone else, never spin, never die of SIGPIPE.
# The clients are tests/bats/api-abuse.py (python3 stdlib). wisp waits unconfigured on its
# socket (no guest runs), so only the API thread is under test.
# Needs python3. BUILD selects the build directory (build or build-asan).

setup() {
	cd "$BATS_TEST_DIRNAME/../.."
	B="${BUILD:-build}"
	case "$B" in
	/*) ;;
	*) B="$PWD/$B" ;;
	esac
	WISP=$B/wisp
	[ -x "$WISP" ] || skip "$WISP not built"
	command -v python3 >/dev/null || skip "python3 not installed"
	D=$BATS_TEST_TMPDIR
	SOCK=$D/api.sock
	ERR=$D/wisp.err
	ABUSE="python3 tests/bats/api-abuse.py"
	WISP_PID=
	CLIENT_PID=
}

teardown() {
	if [ -n "$CLIENT_PID" ]; then
		kill "$CLIENT_PID" 2>/dev/null || true
		wait "$CLIENT_PID" 2>/dev/null || true
	fi
	if [ -n "$WISP_PID" ]; then
		kill -9 "$WISP_PID" 2>/dev/null || true
		wait "$WISP_PID" 2>/dev/null || true
	fi
}

# wait_for SECONDS COMMAND...: polls COMMAND until it succeeds; fails once SECONDS have passed.
wait_for() {
	local end=$((SECONDS + $1))
	shift
	while [ "$SECONDS" -lt "$end" ]; do
		"$@" && return 0
		sleep 0.05
	done
	return 1
}

# start_wisp [NOFILE [OPTIONS...]]: wisp serving $SOCK, unconfigured; with NOFILE, under
# that fd limit.
start_wisp() {
	local nofile=${1:-}
	shift || true
	(
		[ -n "$nofile" ] && ulimit -n "$nofile"
		# SIGPIPE at its default (a test harness may pass it on ignored): wisp's own
		# defences are what is under test.
		exec env --default-signal=PIPE "$WISP" --api-sock "$SOCK" "$@"
	) </dev/null >"$D/wisp.out" 2>"$ERR" &
	WISP_PID=$!
	wait_for 10 test -S "$SOCK"
}

wisp_alive() { kill -0 "$WISP_PID" 2>/dev/null; }
# CPU time wisp used (user + system), in clock ticks.
cpu_ticks() { awk '{print $14 + $15}' "/proc/$WISP_PID/stat"; }

# served: a fresh client gets GET / answered, five times in a row, each within 5 s.
served() {
	local i
	for i in 1 2 3 4 5; do
		run $ABUSE get "$SOCK"
		echo "$output"
		[ "$status" -eq 0 ] || return 1
		[[ "$output" == "HTTP/1.1 200 OK"* ]] || return 1
	done
}

# idle_cpu: wisp uses under 0.2 s of CPU in 1 s (no busy loop on a listener it cannot serve).
idle_cpu() {
	local t0 t1
	t0=$(cpu_ticks)
	sleep 1
	t1=$(cpu_ticks)
	echo "CPU ticks in 1 s: $((t1 - t0))"
	[ $((t1 - t0)) -lt 20 ]
}

@test "faults-api: a request sent one byte per write is answered, and others are served meanwhile" {
	start_wisp
	# 36 bytes, 40 ms apart: about 1.5 s for the request.
	$ABUSE slow "$SOCK" 40 >"$D/slow.out" 2>&1 &
	CLIENT_PID=$!
	sleep 0.2
	start=$SECONDS
	served
	# The others did not wait for the slow one to finish.
	kill -0 "$CLIENT_PID"
	wait "$CLIENT_PID"
	CLIENT_PID=
	cat "$D/slow.out"
	grep -q "HTTP/1.1 200 OK" "$D/slow.out"
	wisp_alive
}

@test "faults-api: 1000 connections opened at once and held: other clients are still served, no spin, one log line" {
	start_wisp
	$ABUSE hold "$SOCK" 1000 "$D/ready" 8 >"$D/hold.out" 2>&1 &
	CLIENT_PID=$!
	wait_for 20 test -f "$D/ready" || {
		cat "$D/hold.out"
		false
	}
	served
	idle_cpu
	# wisp keeps at most 256 connections: its descriptors stay bounded.
	nfd=$(ls "/proc/$WISP_PID/fd" | wc -l)
	echo "wisp has $nfd fds"
	[ "$nfd" -lt 300 ]
	wait "$CLIENT_PID"
	CLIENT_PID=
	cat "$D/hold.out" "$ERR"
	# The least recently active connections made room for the others.
	closed=$(sed -n 's/^closed=\([0-9]*\) of 1000$/\1/p' "$D/hold.out")
	[ "$closed" -ge 744 ]
	[ "$(grep -c "api: 256 connections open, the most wisp keeps; each new one closes the least recently active (logged once)" "$ERR")" -eq 1 ]
	wisp_alive
	served
}

@test "faults-api: out of file descriptors (EMFILE): no busy loop, new clients still served" {
	# Under a limit of 40 fds, 200 held connections exhaust wisp's table long before its
	# own cap of 256: accept() fails with EMFILE while clients wait in the backlog.
	start_wisp 40
	$ABUSE hold "$SOCK" 200 "$D/ready" 6 >"$D/hold.out" 2>&1 &
	CLIENT_PID=$!
	wait_for 20 test -f "$D/ready" || {
		cat "$D/hold.out"
		false
	}
	idle_cpu
	served
	wisp_alive
	wait "$CLIENT_PID"
	CLIENT_PID=
	cat "$D/hold.out" "$ERR"
	[ "$(grep -c "api: cannot accept a client: Too many open files; closing the least recently active connection (logged once)" "$ERR")" -eq 1 ]
	served
}

@test "faults-api: clients hanging up in the middle of their answers do not kill wisp (no SIGPIPE)" {
	start_wisp
	run $ABUSE hangup "$SOCK" 30
	echo "$output"
	[ "$status" -eq 0 ]
	wisp_alive
	served
	# Still no death after the last answers were written into closed sockets.
	sleep 0.5
	wisp_alive
	idle_cpu
	cat "$ERR"
	if grep -q "ERROR: AddressSanitizer\|runtime error" "$ERR"; then return 1; fi
}

@test "faults-api: out of file descriptors with no connection to close: accept() is retried every 100 ms, no busy loop" {
	# wisp's own descriptors exactly fill its limit: it cannot accept anyone, and has no
	# client connection it could close to make room.
	# RLIMIT_NOFILE bounds descriptor numbers: the limit is one above the highest number wisp
	# uses (descriptors numbered far above, inherited from the harness, do not count).
	# --no-seccomp: installing the API thread's filter takes one descriptor for a moment.
	start_wisp "" --no-seccomp
	lim=$(($(ls "/proc/$WISP_PID/fd" | awk '$1 < 64' | sort -n | tail -n 1) + 1))
	kill "$WISP_PID"
	wait "$WISP_PID" || true
	start_wisp "$lim" --no-seccomp
	echo "fd limit $lim; wisp's fds: $(ls "/proc/$WISP_PID/fd" | sort -n | tr '\n' ' ')"
	[ "$(ls "/proc/$WISP_PID/fd" | awk '$1 < 64' | wc -l)" -eq "$lim" ]
	# A client waits in the backlog: the listener stays readable.
	run $ABUSE get "$SOCK"
	[ "$status" -ne 0 ]
	idle_cpu
	wisp_alive
	cat "$ERR"
	[ "$(grep -c "api: cannot accept a client: Too many open files; retrying every 100 ms (logged once)" "$ERR")" -eq 1 ]
	# Still a clean stop.
	kill -TERM "$WISP_PID"
	wait "$WISP_PID"
	WISP_PID=
}

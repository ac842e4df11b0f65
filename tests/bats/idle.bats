#!/usr/bin/env bats
# An idle microVM costs its host no CPU (issue "A host full of microVMs"): the test guest's idle
# mode (tests/guest/test_idle.c: `IDLE ready`, then `hlt` with interrupts off and no timer)
# with a drive and the API socket, booted from the command line. Once the guest is idle, wisp's
# CPU time (utime + stime of the whole process, every thread, from /proc/PID/stat) must stay
# within IDLE_MAX_TICKS clock ticks over IDLE_SECONDS, and its threads' context switches
# within IDLE_MAX_WAKEUPS: a vCPU, event loop or API thread that polls shows as tens to
# hundreds of ticks, a timer that ticks without work (even once a second) as wake-ups. The
# same holds while the VM is paused, after it is resumed, and in a process restored from its
# snapshot.
# This is a correctness check (no polling), not a speed test: the figures per VM are measured
# by `make bench` (tests/bench/density.py).
# BUILD selects the build directory (build or build-asan).

IDLE_SECONDS=2
IDLE_MAX_TICKS=2
IDLE_MAX_WAKEUPS=1

setup() {
	cd "$BATS_TEST_DIRNAME/../.."
	B="${BUILD:-build}"
	case "$B" in
	/*) ;;
	*) B="$PWD/$B" ;;
	esac
	WISP=$B/wisp
	GUEST=$B/guest/wisp-test-guest.elf
	[ -x "$WISP" ] || skip "$WISP not built"
	[ -f "$GUEST" ] || skip "$GUEST not built"
	grep -q "IDLE ready" "$GUEST" || skip "guest built without tests/guest/test_idle.c"
	[ -w /dev/kvm ] || skip "no usable /dev/kvm"
	command -v curl >/dev/null || skip "curl not installed"
	D=$BATS_TEST_TMPDIR
	SOCK=$D/api.sock
	WISP_PID=
	truncate -s 1M "$D/disk.img"
}

teardown() {
	if [ -n "$WISP_PID" ]; then
		kill -9 "$WISP_PID" 2>/dev/null || true
		wait "$WISP_PID" 2>/dev/null || true
	fi
}

# api METHOD PATH [BODY]: prints the body, a space and the HTTP status.
api() { curl -s --max-time 10 -w ' %{http_code}' --unix-socket "$SOCK" -X "$1" "http://localhost$2" ${3:+-d "$3"}; }

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

idle_ready() { grep -q "^IDLE ready" "$D/serial.out"; }

# start_idle [WISP-ARGS...]: the idle guest with a drive and the API socket (or the given
# arguments instead of the kernel and drive), console in $D/serial.out; waits for `IDLE ready`.
start_idle() {
	rm -f "$SOCK"
	: >"$D/serial.out"
	if [ $# -eq 0 ]; then
		set -- --kernel "$GUEST" --cmdline "console=ttyS0 wisp.test=idle" --mem-mib 128 \
			--drive "id=rootfs,path=$D/disk.img"
	fi
	"$WISP" --api-sock "$SOCK" "$@" </dev/null >"$D/serial.out" 2>"$D/err" &
	WISP_PID=$!
	wait_for 30 idle_ready || {
		cat "$D/serial.out" "$D/err"
		return 1
	}
	wait_for 10 test -S "$SOCK"
}

# cpu_ticks: utime + stime of the whole wisp process, in clock ticks (fields 14 and 15 of
# /proc/PID/stat, counted after the command name, which may hold spaces).
cpu_ticks() { sed 's/.*) //' "/proc/$WISP_PID/stat" | awk '{ print $12 + $13 }'; }

# thread_ticks: one line per thread (name, utime, stime, context switches so far), for the
# failure message.
thread_ticks() {
	local t
	for t in /proc/"$WISP_PID"/task/*; do
		echo "  $(cat "$t/comm"): $(sed 's/.*) //' "$t/stat" | awk '{ print "utime=" $12, "stime=" $13 }')" \
			"ctxt_switches=$(awk '/ctxt_switches:/ { n += $2 } END { print n }' "$t/status")"
	done
}

# wakeups: context switches (voluntary + involuntary) of all wisp's threads. Each is a wake-up;
# clock ticks miss a thread that runs for microseconds every millisecond, these do not.
wakeups() { cat /proc/"$WISP_PID"/task/*/status | awk '/ctxt_switches:/ { n += $2 } END { print n }'; }

# stays_idle WHAT: over IDLE_SECONDS wisp's CPU time is at most IDLE_MAX_TICKS ticks and its
# threads wake up at most IDLE_MAX_WAKEUPS times.
stays_idle() {
	local t0 t1 w0 w1
	sleep 0.2 # whatever the last request or the boot left to finish
	w0=$(wakeups)
	t0=$(cpu_ticks)
	sleep "$IDLE_SECONDS"
	t1=$(cpu_ticks)
	w1=$(wakeups)
	echo "$1: $((t1 - t0)) ticks (at most $IDLE_MAX_TICKS; $(getconf CLK_TCK)/s)," \
		"$((w1 - w0)) wake-ups (at most $IDLE_MAX_WAKEUPS) in ${IDLE_SECONDS} s"
	if [ $((t1 - t0)) -gt "$IDLE_MAX_TICKS" ] || [ $((w1 - w0)) -gt "$IDLE_MAX_WAKEUPS" ]; then
		thread_ticks
		return 1
	fi
}

# stops_on_sigterm: SIGTERM ends wisp with exit status 0.
stops_on_sigterm() {
	local status=0
	kill -TERM "$WISP_PID"
	wait "$WISP_PID" || status=$?
	WISP_PID=
	cat "$D/err"
	[ "$status" -eq 0 ]
}

@test "idle: an idle guest with a drive and the API costs no CPU; GET / answers; SIGTERM exits 0" {
	start_idle
	stays_idle "idle, running"
	run api GET /
	echo "$output"
	[[ "$output" == *'"state":"Running"'*" 200" ]]
	# Answering requests leaves nothing running behind it.
	for _ in 1 2 3 4 5; do
		[[ "$(api GET /)" == *" 200" ]]
	done
	stays_idle "idle, after 5 requests"
	stops_on_sigterm
	[ "$(grep -c "^IDLE ready" "$D/serial.out")" -eq 1 ]
}

@test "idle: paused, resumed, snapshotted and restored in a new process, the guest stays idle" {
	start_idle
	[[ "$(api PATCH /vm '{"state": "Paused"}')" == *" 204" ]]
	stays_idle "paused"
	[[ "$(api PATCH /vm '{"state": "Resumed"}')" == *" 204" ]]
	stays_idle "resumed"
	[[ "$(api PATCH /vm '{"state": "Paused"}')" == *" 204" ]]
	run api PUT /snapshot/create "{\"snapshot_type\": \"Full\", \"snapshot_path\": \"$D/vm.snap\", \"mem_file_path\": \"$D/vm.mem\"}"
	echo "$output"
	[[ "$output" == *" 204" ]]
	[[ "$(api PATCH /vm '{"state": "Resumed"}')" == *" 204" ]]
	stays_idle "resumed after the snapshot"
	stops_on_sigterm
	# The restored guest is halted where it was: it prints nothing more and ticks no CPU.
	mv "$D/serial.out" "$D/serial-first.out"
	rm -f "$SOCK"
	: >"$D/serial.out"
	"$WISP" --api-sock "$SOCK" --restore "$D/vm.snap" --mem "$D/vm.mem" </dev/null \
		>"$D/serial.out" 2>"$D/err" &
	WISP_PID=$!
	wait_for 10 test -S "$SOCK"
	wait_for 10 eval '[[ "$(api GET /)" == *"\"state\":\"Running\""*" 200" ]]'
	stays_idle "restored"
	stops_on_sigterm
	[ ! -s "$D/serial.out" ]
}

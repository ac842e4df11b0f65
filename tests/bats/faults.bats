#!/usr/bin/env bats
# Host faults while the guest runs (README "Faults"): a console nobody reads, a backing file
# that fails. Each test checks the guest-visible result, the one log line, and that wisp keeps
# serving unless the fault is meant to stop it. A tap that goes away: faults-net.bats; abusive
# API clients: faults-api.bats; SIGTERM at awkward moments: faults-signals.bats. Guests:
# tests/guest/test_faults.c (serial-flood, blk-writes) and the existing blk tests. Needs
# /dev/kvm, curl and jq; the disk-full test needs root (a loop-mounted ext4).
# BUILD selects the build directory (build or build-asan).

load metrics-file

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
	grep -q serial-flood "$GUEST" || skip "guest built without tests/guest/test_faults.c"
	[ -w /dev/kvm ] || skip "no usable /dev/kvm"
	command -v curl >/dev/null || skip "curl not installed"
	command -v jq >/dev/null || skip "jq not installed"
	D=$BATS_TEST_TMPDIR
	SOCK=$D/api.sock
	METRICS=$D/metrics.json
	WISP_PID=
	HOLDER_PID=
	MNT=
}

teardown() {
	if [ -n "$WISP_PID" ]; then
		kill -9 "$WISP_PID" 2>/dev/null || true
		wait "$WISP_PID" 2>/dev/null || true
	fi
	if [ -n "$HOLDER_PID" ]; then
		kill "$HOLDER_PID" 2>/dev/null || true
		wait "$HOLDER_PID" 2>/dev/null || true
	fi
	[ ! -d "$D/state" ] || chattr -i "$D/state" 2>/dev/null || true
	if [ -n "$MNT" ]; then
		umount "$MNT" 2>/dev/null || umount -l "$MNT" 2>/dev/null || true
	fi
}

api() { curl -s --max-time 10 -w ' %{http_code}' --unix-socket "$SOCK" -X "$1" "http://localhost$2" ${3:+-d "$3"}; }

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

wisp_alive() { kill -0 "$WISP_PID" 2>/dev/null; }

# metric GROUP FIELD: the field's total in the metrics file.
metric() { metric_total "$METRICS" "$1" "$2"; }

rss_kib() { awk '/^VmRSS:/ {print $2}' "/proc/$WISP_PID/status"; }

# wait_exit SECONDS: waits for wisp to exit; sets WISP_STATUS; fails if it does not.
wait_exit() {
	local i
	for i in $(seq $(($1 * 10))); do
		wisp_alive || break
		sleep 0.1
	done
	wisp_alive && return 1
	WISP_STATUS=0
	wait "$WISP_PID" || WISP_STATUS=$?
	WISP_PID=
}

@test "faults: a guest flooding a console nobody reads neither stalls wisp nor grows it" {
	# stdout is a FIFO whose only reader (sleep) never reads: the pipe fills within
	# milliseconds. wisp must drop the output (uart.missed_write_count, one warning), keep its
	# event loop serving the API and let the guest finish its 4 s flood.
	mkfifo "$D/out"
	sleep 600 <"$D/out" &
	HOLDER_PID=$!
	"$WISP" --api-sock "$SOCK" --kernel "$GUEST" --metrics-path "$METRICS" \
		--cmdline "wisp.test=serial-flood wisp.ms=4000" </dev/null >"$D/out" 2>"$D/err" &
	WISP_PID=$!
	wait_for 30 test -S "$SOCK"
	# The event loop answers while the flood goes on (a blocking console write stalls it),
	# and counts what it drops.
	dropped() {
		[[ "$(api PUT /actions '{"action_type":"FlushMetrics"}')" == *" 204" ]] &&
			[ "$(metric uart missed_write_count)" -gt 0 ]
	}
	wait_for 30 dropped
	rss0=$(rss_kib)
	for _ in 1 2 3; do
		run api PUT /actions '{"action_type":"FlushMetrics"}'
		echo "$output"
		[[ "$output" == *" 204" ]]
		sleep 0.5
	done
	grep -q "console output (stdout) is full" "$D/err"
	rss1=$(rss_kib)
	echo "VmRSS $rss0 -> $rss1 KiB"
	[ $((rss1 - rss0)) -lt 1024 ]
	# The flood ends, the guest resets, wisp exits 0 (the last output is dropped after a
	# bounded wait, not waited for forever).
	wait_exit 60
	cat "$D/err"
	[ "$WISP_STATUS" -eq 0 ]
	[ "$(grep -c "console output (stdout) is full" "$D/err")" -eq 1 ]
	grep -q "bytes of guest output were dropped" "$D/err"
	# Every dropped byte is in the metrics file, those dropped at exit too (the last line is
	# written after the console's final drain), and none was counted twice.
	logged=$(sed -n 's/.*serial: \([0-9]*\) bytes of guest output were dropped.*/\1/p' "$D/err")
	echo "dropped: $logged logged, $(metric uart missed_write_count) in the file"
	[ "$(metric uart missed_write_count)" -eq "$logged" ]
	[ "$(metric uart write_count)" -gt "$logged" ]
}

# start_blk TEST IMAGE DRIVE-OPTIONS [CMDLINE...]: the guest's TEST on IMAGE in the background,
# serial output in $D/serial.out, stderr in $D/err, metrics (PUT /actions FlushMetrics) in
# $METRICS.
start_blk() {
	local t=$1 img=$2 opts=$3
	shift 3
	: >"$D/serial.out"
	rm -f "$SOCK"
	"$WISP" --api-sock "$SOCK" --kernel "$GUEST" --metrics-path "$METRICS" \
		--cmdline "wisp.test=$t $*" --drive "id=rootfs,path=$img,root=on$opts" \
		</dev/null >"$D/serial.out" 2>"$D/err" &
	WISP_PID=$!
}

# saw_status S: a request line with status S is in the serial output.
saw_status() { grep -q "^BLK_[A-Z]* [0-9]* sector=[0-9]* status=$1\$" "$D/serial.out"; }
# ok_after_error: a request succeeded after the first one that failed.
ok_after_error() { sed -n '/status=1$/,$p' "$D/serial.out" | grep -q 'status=0$'; }


# fault_cycle BREAK REPAIR: with the guest's requests running, runs BREAK once a request has
# succeeded, waits for IOERR, runs REPAIR, waits for OK again (the guest's requests must last
# long enough: wisp.count=1000); then the error must be counted, the guest PASS, wisp exit 0
# and the warning be logged.
fault_cycle() {
	wait_for 60 saw_status 0
	eval "$1"
	wait_for 60 saw_status 1
	wisp_alive
	eval "$2"
	wait_for 60 ok_after_error
	[[ "$(api PUT /actions '{"action_type":"FlushMetrics"}')" == *" 204" ]]
	wait_exit 120
	cat "$D/err"
	tail -3 "$D/serial.out"
	[ "$WISP_STATUS" -eq 0 ]
	grep -q "TEST blk-[a-z]* PASS" "$D/serial.out"
	grep -q "drive rootfs: host I/O error on a .*; the guest gets IOERR" "$D/err"
	[ "$(metric block_rootfs execute_fails)" -gt 0 ]
}

@test "faults: a full disk gives the guest IOERR, and OK again once there is room (both engines)" {
	command -v mkfs.ext4 >/dev/null || skip "mkfs.ext4 not installed"
	[ "$(id -u)" -eq 0 ] || skip "needs root to mount a loop filesystem"
	truncate -s 8M "$D/fs.img"
	mkfs.ext4 -q -m 0 "$D/fs.img"
	mkdir "$D/mnt"
	mount -o loop "$D/fs.img" "$D/mnt" || skip "cannot mount a loop filesystem"
	MNT=$D/mnt
	for io in sync async; do
		rm -f "$MNT"/*.img "$MNT/filler"
		truncate -s 4M "$MNT/disk.img"
		start_blk blk-writes "$MNT/disk.img" ",io=$io" wisp.count=1000 wisp.ms=10
		# The guest's first writes land; then the filesystem fills up under it.
		fault_cycle "dd if=/dev/zero of=$MNT/filler bs=64k 2>/dev/null || true" \
			"rm -f $MNT/filler"
		grep -q "No space left on device" "$D/err"
	done
}

@test "faults: an immutable backing file (chattr +i) gives writes IOERR until it is writable again" {
	command -v chattr >/dev/null || skip "chattr not installed"
	truncate -s 1M "$D/disk.img"
	chattr +i "$D/disk.img" 2>/dev/null || skip "this filesystem has no immutable flag"
	chattr -i "$D/disk.img"
	for io in sync async; do
		start_blk blk-writes "$D/disk.img" ",io=$io" wisp.count=1000 wisp.ms=10
		fault_cycle "chattr +i $D/disk.img" "chattr -i $D/disk.img"
		grep -q "Operation not permitted" "$D/err"
	done
}

@test "faults: reads past the end of a truncated backing file are IOERR, not stale or zero data" {
	# The capacity stays what the guest was told at boot; a file cut under it cannot supply
	# those sectors, so a read of them fails (as with Firecracker), and works again once the
	# file has its size back (the sectors then read as zeros).
	for io in sync async; do
		truncate -s 1M "$D/disk.img"
		start_blk blk-reads "$D/disk.img" ",io=$io" wisp.count=1000 wisp.ms=10
		fault_cycle "truncate -s 0 $D/disk.img" "truncate -s 1M $D/disk.img"
	done
}

@test "faults: a write past RLIMIT_FSIZE is IOERR for the guest, SIGXFSZ counted, wisp runs on (both engines)" {
	command -v prlimit >/dev/null || skip "prlimit (util-linux) not installed"
	truncate -s 64M "$D/disk.img"
	for io in sync async; do
		rm -f "$METRICS"
		# 40 MiB: room for the 32 MiB guest RAM (a memfd, which the limit caps too), not for
		# the guest's writes at 48 MiB of the disk.
		run timeout 60 prlimit --fsize=$((40 << 20)) "$WISP" --no-api --kernel "$GUEST" \
			--mem-mib 32 --metrics-path "$METRICS" --drive "id=rootfs,path=$D/disk.img,root=on,io=$io" \
			--cmdline "wisp.test=blk-writes wisp.count=8 wisp.ms=0 wisp.arg=98304"
		echo "$io: $output"
		[ "$status" -eq 0 ]
		[[ "$output" == *"BLK_WRITES ok=0 ioerr=8"* ]]
		[[ "$output" == *"TEST blk-writes PASS"* ]]
		[[ "$output" == *"File too large; the guest gets IOERR"* ]]
		[ "$(metric block_rootfs execute_fails)" -eq 8 ]
	done
	# The sync engine's pwritev raises SIGXFSZ in wisp itself: counted, not fatal.
	run timeout 60 prlimit --fsize=$((40 << 20)) "$WISP" --no-api --kernel "$GUEST" \
		--mem-mib 32 --metrics-path "$METRICS" --drive "id=rootfs,path=$D/disk.img,root=on,io=sync" \
		--cmdline "wisp.test=blk-writes wisp.count=3 wisp.ms=0 wisp.arg=98304"
	[ "$status" -eq 0 ]
	[ "$(jq -s '.[-1].signals.sigxfsz' "$METRICS")" -eq 3 ]
	# A limit below the guest RAM is a clear error at start.
	run timeout 60 prlimit --fsize=$((16 << 20)) "$WISP" --no-api --kernel "$GUEST" --mem-mib 32 \
		--cmdline "wisp.test=reset"
	echo "$output"
	[ "$status" -eq 1 ]
	[[ "$output" == *"guest memory (32 MiB): File too large (the file size limit, RLIMIT_FSIZE"* ]]
}

@test "faults: a snapshot whose state file cannot be written leaves the previous snapshot whole" {
	command -v chattr >/dev/null || skip "chattr not installed"
	mkdir "$D/state" "$D/mem"
	chattr +i "$D/state" 2>/dev/null || skip "this filesystem has no immutable flag"
	chattr -i "$D/state"
	"$WISP" --api-sock "$SOCK" --kernel "$GUEST" --mem-mib 32 \
		--cmdline "wisp.test=counter wisp.arg=10" </dev/null >"$D/serial.out" 2>"$D/err" &
	WISP_PID=$!
	wait_for 30 test -S "$SOCK"
	snap='{"snapshot_type": "Full", "snapshot_path": "'$D'/state/s", "mem_file_path": "'$D'/mem/m"}'
	[[ "$(api PATCH /vm '{"state": "Paused"}')" == *" 204" ]]
	[[ "$(api PUT /snapshot/create "$snap")" == *" 204" ]]
	sum_state=$(cksum <"$D/state/s")
	sum_mem=$(cksum <"$D/mem/m")
	# The guest moves on; the next snapshot's state file has nowhere to go.
	[[ "$(api PATCH /vm '{"state": "Resumed"}')" == *" 204" ]]
	sleep 0.3
	[[ "$(api PATCH /vm '{"state": "Paused"}')" == *" 204" ]]
	chattr +i "$D/state"
	run api PUT /snapshot/create "$snap"
	chattr -i "$D/state"
	echo "$output"
	[[ "$output" == *" 400" ]]
	[[ "$output" == *"snapshot_path $D/state/s"* ]]
	# The previous pair is as it was, and nothing half-written is left.
	[ "$(cksum <"$D/state/s")" = "$sum_state" ]
	[ "$(cksum <"$D/mem/m")" = "$sum_mem" ]
	[ -z "$(find "$D/state" "$D/mem" -name '*.partial')" ]
	[[ "$(api PATCH /vm '{"state": "Resumed"}')" == *" 204" ]]
	[[ "$(api GET /)" == *'"state":"Running"'* ]]
}

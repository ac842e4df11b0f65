#!/usr/bin/env bats
# The metrics file after known work (docs/metrics.md): wisp boots the test guest with
# --metrics-path, the guest does a known number of requests, and the last line (written at
# exit) is read with jq. BUILD selects the build directory (build or build-asan).

load metrics-file

setup() {
	BUILD=${BUILD:-build}
	WISP=$BUILD/wisp
	GUEST=$BUILD/guest/wisp-test-guest.elf
	[ -x "$WISP" ] || skip "$WISP not built"
	[ -f "$GUEST" ] || skip "$GUEST not built"
	[ -w /dev/kvm ] || skip "no usable /dev/kvm"
	command -v jq >/dev/null || skip "jq not installed"
	M=$BATS_TEST_TMPDIR/m.json
	IMG=$BATS_TEST_TMPDIR/disk.img
	truncate -s 1M "$IMG"
}

# run_guest TEST [WISP ARGS...]: one run to the guest's reset, metrics in M.
run_guest() {
	local t=$1
	shift
	run timeout 60 "$WISP" --no-api --kernel "$GUEST" --cmdline "wisp.test=$t" \
		--metrics-path "$M" "$@" </dev/null
	echo "$output"
	[ "$status" -eq 0 ]
	[[ "$output" == *"TEST $t PASS"* ]]
}

# metric GROUP FIELD: the field's total over every line of M.
metric() { metric_total "$M" "$1" "$2"; }

@test "metrics: 32 reads and 32 writes of the guest are counted as 32 and 32, one sector each" {
	run_guest blk-many --drive "id=rootfs,path=$IMG,root=on"
	cat "$M"
	[ "$(wc -l <"$M")" -ge 1 ]
	[ "$(metric block_rootfs write_count)" -eq 32 ]
	[ "$(metric block_rootfs read_count)" -eq 32 ]
	[ "$(metric block_rootfs write_bytes)" -eq $((32 * 512)) ]
	[ "$(metric block_rootfs read_bytes)" -eq $((32 * 512)) ]
}

@test "metrics: vCPU exits by kind; port I/O for the serial guest, MMIO for a virtio guest" {
	run_guest serial
	cat "$M"
	[ "$(metric vcpu exit_io_out)" -gt 0 ]
	[ "$(metric vcpu exit_mmio_write)" -eq 0 ]
	[ "$(metric vcpu failures)" -eq 0 ]
	run_guest blk-rw --drive "id=rootfs,path=$IMG,root=on"
	[ "$(jq -s '.[-1].vcpu.exit_mmio_write' "$M")" -gt 0 ]
	[ "$(jq -s '.[-1].vcpu.exit_mmio_read' "$M")" -gt 0 ]
}

@test "metrics: uart counts every console byte and the echo guest's input; i8042 counts the reset" {
	timeout 60 "$WISP" --no-api --kernel "$GUEST" --cmdline "wisp.test=serial" \
		--metrics-path "$M" </dev/null >"$BATS_TEST_TMPDIR/out" 2>"$BATS_TEST_TMPDIR/err"
	grep -q "TEST serial PASS" "$BATS_TEST_TMPDIR/out"
	cat "$M"
	# Nothing dropped, so every byte the guest wrote to THR reached stdout.
	[ "$(metric uart missed_write_count)" -eq 0 ]
	[ "$(metric uart write_count)" -eq "$(wc -c <"$BATS_TEST_TMPDIR/out")" ]
	[ "$(metric uart flush_count)" -gt 0 ]
	[ "$(metric uart error_count)" -eq 0 ]
	[ "$(metric i8042 reset_count)" -eq 1 ]
	[ "$(metric i8042 write_count)" -ge 1 ]
	# The echo guest reads each input byte once: 6 + 6 bytes.
	rm -f "$M"
	printf 'hello\nreset\n' >"$BATS_TEST_TMPDIR/in"
	timeout 60 "$WISP" --no-api --kernel "$GUEST" --cmdline "wisp.test=echo" \
		--metrics-path "$M" <"$BATS_TEST_TMPDIR/in" >"$BATS_TEST_TMPDIR/out"
	grep -q "TEST echo PASS" "$BATS_TEST_TMPDIR/out"
	[ "$(metric uart read_count)" -eq 12 ]
}

# api_sock PATH METHOD URL [BODY]: the HTTP status.
api_sock() {
	local args=(-s --unix-socket "$1" -o /dev/null -w '%{http_code}' -X "$2")
	[ $# -ge 4 ] && args+=(--data-binary "$4")
	curl "${args[@]}" "http://localhost$3"
}

# start_api_wisp: wisp with an API socket at $S, console in $OUT, pid in $PID.
start_api_wisp() {
	S=$BATS_TEST_TMPDIR/api.sock
	OUT=$BATS_TEST_TMPDIR/out
	"$WISP" --api-sock "$S" --metrics-path "$M" "$@" </dev/null >"$OUT" 2>"$BATS_TEST_TMPDIR/err" &
	PID=$!
	for _ in $(seq 300); do
		[ -S "$S" ] && return 0
		sleep 0.01
	done
	cat "$BATS_TEST_TMPDIR/err"
	return 1
}

@test "metrics: API requests per route (count, fails), start-up time, latencies of pause, resume, snapshot" {
	start_api_wisp
	[ "$(api_sock "$S" GET /)" = 200 ]
	[ "$(api_sock "$S" GET /)" = 200 ]
	[ "$(api_sock "$S" GET /version)" = 200 ]
	[ "$(api_sock "$S" PUT /drives/rootfs "{\"drive_id\": \"rootfs\", \"path_on_host\": \"$IMG\", \"is_root_device\": true, \"is_read_only\": false}")" = 204 ]
	[ "$(api_sock "$S" PUT /drives/rootfs '{"drive_id": "other"}')" = 400 ]
	[ "$(api_sock "$S" PUT /drives/rootfs '{')" = 400 ]
	[ "$(api_sock "$S" PUT /machine-config '{"vcpu_count": 1, "mem_size_mib": 32}')" = 204 ]
	[ "$(api_sock "$S" PUT /boot-source "{\"kernel_image_path\": \"$GUEST\", \"boot_args\": \"wisp.test=counter wisp.arg=20\"}")" = 204 ]
	[ "$(api_sock "$S" PUT /actions '{"action_type": "InstanceStart"}')" = 204 ]
	[ "$(api_sock "$S" PATCH /vm '{"state": "Paused"}')" = 204 ]
	[ "$(api_sock "$S" PUT /snapshot/create "{\"snapshot_path\": \"$BATS_TEST_TMPDIR/s\", \"mem_file_path\": \"$BATS_TEST_TMPDIR/m\"}")" = 204 ]
	[ "$(api_sock "$S" PATCH /vm '{"state": "Resumed"}')" = 204 ]
	[ "$(api_sock "$S" PATCH /vm '{"state": "Bogus"}')" = 400 ]
	kill -TERM "$PID"
	wait "$PID"
	cat "$M"
	[ "$(metric get_api_requests instance_info_count)" -eq 2 ]
	[ "$(metric get_api_requests vmm_version_count)" -eq 1 ]
	[ "$(metric put_api_requests drive_count)" -eq 3 ]
	[ "$(metric put_api_requests drive_fails)" -eq 2 ]
	[ "$(metric put_api_requests machine_cfg_count)" -eq 1 ]
	[ "$(metric put_api_requests machine_cfg_fails)" -eq 0 ]
	[ "$(metric put_api_requests actions_count)" -eq 1 ]
	[ "$(metric put_api_requests snapshot_create_count)" -eq 1 ]
	[ "$(metric patch_api_requests vm_count)" -eq 3 ]
	[ "$(metric patch_api_requests vm_fails)" -eq 1 ]
	[ "$(metric api_server requests)" -eq 13 ]
	# Values, not changes: the last line holds them as they are.
	[ "$(jq -s '.[-1].api_server.process_startup_time_us' "$M")" -gt 0 ]
	[ "$(jq -s '.[-1].api_server.process_startup_time_cpu_us' "$M")" -gt 0 ]
	[ "$(jq -s '.[-1].latencies_us.pause_vm' "$M")" -gt 0 ]
	[ "$(jq -s '.[-1].latencies_us.resume_vm' "$M")" -gt 0 ]
	[ "$(jq -s '.[-1].latencies_us.full_create_snapshot' "$M")" -gt 0 ]
	[ "$(jq -s '.[-1].latencies_us.diff_create_snapshot' "$M")" -eq 0 ]
	[ "$(jq -s '.[-1].latencies_us.load_snapshot' "$M")" -eq 0 ]
}

@test "metrics: SIGPIPE, SIGXFSZ and SIGXCPU are counted and wisp runs on; SIGHUP stops it and is counted" {
	start_api_wisp
	# One at a time: two of the same signal pending at once are delivered once.
	for sig in PIPE XFSZ XFSZ XCPU; do
		kill -"$sig" "$PID"
		sleep 0.1
	done
	[ "$(api_sock "$S" GET /)" = 200 ]
	kill -HUP "$PID"
	st=0
	wait "$PID" || st=$?
	[ "$st" -eq 0 ] || { echo "status $st"; return 1; }
	cat "$M" "$BATS_TEST_TMPDIR/err"
	[ "$(metric signals sigpipe)" -eq 1 ]
	[ "$(metric signals sigxfsz)" -eq 2 ]
	[ "$(metric signals sigxcpu)" -eq 1 ]
	[ "$(metric signals sighup)" -eq 1 ]
	[ "$(metric vmm panic_count)" -eq 0 ]
	[ "$(grep -c 'SIGXFSZ' "$BATS_TEST_TMPDIR/err")" -eq 1 ] # one warning
}

@test "metrics: a crash (SIGSEGV) writes a last line with signals.sigsegv and vmm.panic_count" {
	[[ "$BUILD" != *asan* ]] || skip "the sanitizer's own SIGSEGV handler reports crashes there"
	start_api_wisp
	kill -SEGV "$PID"
	st=0
	wait "$PID" || st=$?
	[ "$st" -eq $((128 + 11)) ] || { echo "status $st"; return 1; }
	cat "$M" "$BATS_TEST_TMPDIR/err"
	grep -q "fatal signal SIGSEGV" "$BATS_TEST_TMPDIR/err"
	[ "$(jq -s '.[-1].signals.sigsegv' "$M")" -eq 1 ]
	[ "$(jq -s '.[-1].vmm.panic_count' "$M")" -eq 1 ]
}

#!/usr/bin/env bats
# The per-thread seccomp filters (vmm/seccomp.c) through tests/seccomp/probe.c: each role dies
# with exit code 148 and a report naming the system call when it steps outside its allowlist,
# and an allowed call goes through.
#
# BUILD selects the build directory (default: build; relative to the repository or absolute).

setup() {
	cd "$BATS_TEST_DIRNAME/../.."
	B=${BUILD:-build}
	[[ "$B" == /* ]] || B="$PWD/$B"
	PROBE="$B/tests/seccomp-probe"
	[ -x "$PROBE" ] || skip "$PROBE not built (make $PROBE)"
	WISP_PID=
	TMP=
}

teardown() {
	[ -z "$WISP_PID" ] || kill -9 "$WISP_PID" 2>/dev/null || true
	exec 7>&- 2>/dev/null || true
	[ -z "$TMP" ] || rm -rf "$TMP"
}

# forbidden ROLE CALL NAME: the probe dies with 148 and names syscall NAME and the role.
forbidden() {
	run "$PROBE" "$1" "$2"
	[ "$status" -eq 148 ] || { echo "$1 $2: status $status: $output"; return 1; }
	[[ "$output" == *"seccomp: $1 thread made a forbidden system call "*"($3)"* ]] ||
		{ echo "$1 $2: $output"; return 1; }
}

# allowed ROLE CALL: the call returned to the probe.
allowed() {
	run "$PROBE" "$1" "$2"
	[ "$status" -eq 0 ] || { echo "$1 $2: status $status: $output"; return 1; }
	[[ "$output" == *"seccomp-probe: $1 $2: allowed"* ]]
}

@test "seccomp: no role may execve" {
	for role in vmm api vcpu; do forbidden $role execve execve; done
}

@test "seccomp: no role may create a process (fork, clone without CLONE_THREAD)" {
	for role in vmm api vcpu; do
		forbidden $role fork fork
		forbidden $role clone-process clone
	done
}

@test "seccomp: no role may open an AF_INET socket (nor any socket after setup)" {
	for role in vmm api vcpu; do
		forbidden $role socket-inet socket
		forbidden $role socket-unix socket
	done
}

@test "seccomp: no role may ptrace" {
	for role in vmm api vcpu; do forbidden $role ptrace ptrace; done
}

@test "seccomp: no role may map or mprotect memory executable" {
	for role in vmm api vcpu; do
		forbidden $role mprotect-exec mprotect
		forbidden $role mmap-exec mmap
		allowed $role mprotect-rw
	done
}

@test "seccomp: no role creates VMs; the API thread makes no ioctl at all" {
	[ -c /dev/kvm ] || skip "no /dev/kvm"
	for role in vmm api vcpu; do forbidden $role kvm-create-vm ioctl; done
	forbidden api kvm-run ioctl
	forbidden api kvm-irq-line ioctl
}

@test "seccomp: KVM_RUN only from vCPU threads" {
	allowed vcpu kvm-run
	forbidden vmm kvm-run ioctl
}

@test "seccomp: signals stay inside the process; the API thread sends none" {
	allowed vmm tgkill-self
	allowed vcpu tgkill-self # a guest reset stops the other vCPUs
	forbidden vmm tgkill-other tgkill
	forbidden vcpu tgkill-other tgkill
	forbidden api tgkill-self getpid
	forbidden api getpid getpid
}

@test "seccomp: files are opened only by the VMM thread" {
	allowed vmm openat
	forbidden api openat openat
	forbidden vcpu openat openat
}

@test "seccomp: each role's own calls go through" {
	for role in vmm api vcpu; do allowed $role write; done
	allowed api accept4
	forbidden api read read
	allowed vmm read
	allowed vcpu kvm-irq-line
	forbidden vmm accept4 accept4
	forbidden vcpu read read
}

# ---- the real wisp with its filters on (the default) ----
# (A bare `! cmd` never fails a bats test except as its last command: hence `|| return 1`.)

need_wisp() {
	WISP="$B/wisp"
	GUEST="$B/guest/wisp-test-guest.elf"
	[ -x "$WISP" ] || skip "$WISP not built"
	[ -f "$GUEST" ] || skip "$GUEST not built"
	[ -c /dev/kvm ] && [ -w /dev/kvm ] || skip "no usable /dev/kvm"
}

# boot TEST [wisp args]: boots the test guest from the command line; no seccomp report.
boot() {
	local t=$1
	shift
	run timeout 60 "$WISP" --kernel "$GUEST" --cmdline "console=ttyS0 wisp.test=$t" --no-api \
		"$@" </dev/null
	[[ "$output" != *"seccomp"* ]] || { echo "$output"; return 1; }
	[ "$status" -eq 0 ] || { echo "status $status: $output"; return 1; }
	[[ "$output" == *"TEST $t PASS"* ]]
}

@test "seccomp: wisp boots the test guest with filters on (2 vCPUs, reset, shutdown, serial)" {
	need_wisp
	boot reset --vcpus 2
	boot shutdown
	boot serial
	boot smp --vcpus 2
	boot exception
}

@test "seccomp: virtio-blk under filters, both io engines" {
	need_wisp
	local io t
	TMP=$(mktemp -d /tmp/wisp-seccomp-bats.XXXXXX)
	for io in sync async; do
		for t in blk-rw blk-flush blk-many; do
			truncate -s 4M "$TMP/disk"
			boot $t --drive "id=rootfs,path=$TMP/disk,io=$io"
		done
	done
}

@test "seccomp: API, pause/resume, PATCH drives, metrics, Ctrl+Alt+Del under filters" {
	need_wisp
	command -v curl >/dev/null || skip "curl missing"
	local d rc
	TMP=$(mktemp -d /tmp/wisp-seccomp-bats.XXXXXX)
	d=$TMP
	mkfifo "$d/in"
	"$WISP" --api-sock "$d/api.sock" <"$d/in" >"$d/serial" 2>"$d/err" &
	WISP_PID=$!
	exec 7>"$d/in"
	for _ in $(seq 200); do [ -S "$d/api.sock" ] && break; sleep 0.02; done
	truncate -s 1M "$d/disk"
	truncate -s 2M "$d/disk2"
	api() { curl -sf --unix-socket "$d/api.sock" -X "$1" -d "$3" "http://localhost$2" >/dev/null; }
	api PUT /boot-source '{"kernel_image_path":"'"$GUEST"'","boot_args":"console=ttyS0 wisp.test=echo"}'
	api PUT /machine-config '{"vcpu_count":2,"mem_size_mib":64}'
	api PUT /drives/d1 '{"drive_id":"d1","path_on_host":"'"$d"'/disk","is_root_device":false,"is_read_only":false,"io_engine":"Async"}'
	api PUT /drives/d2 '{"drive_id":"d2","path_on_host":"'"$d"'/disk","is_root_device":false,"is_read_only":true,"io_engine":"Sync"}'
	api PUT /metrics '{"metrics_path":"'"$d"'/metrics"}'
	api PUT /actions '{"action_type":"InstanceStart"}'
	api PATCH /vm '{"state":"Paused"}'
	api PATCH /vm '{"state":"Resumed"}'
	api PUT /actions '{"action_type":"FlushMetrics"}'
	api PATCH /drives/d1 '{"drive_id":"d1","path_on_host":"'"$d"'/disk2"}'
	api PATCH /drives/d2 '{"drive_id":"d2","path_on_host":"'"$d"'/disk2"}'
	# d2 had no limiter: its timerfd is created now, under the filter.
	api PATCH /drives/d2 '{"drive_id":"d2","rate_limiter":{"ops":{"size":100,"refill_time":100}}}'
	api PUT /actions '{"action_type":"SendCtrlAltDel"}'
	printf 'hi\nreset\n' >&7
	rc=0
	wait "$WISP_PID" || rc=$?
	WISP_PID=
	exec 7>&-
	cat "$d/err"
	! grep -q seccomp "$d/err" || return 1
	[ "$rc" -eq 0 ]
	grep -q 'TEST echo PASS' "$d/serial"
	[ ! -e "$d/api.sock" ]
}

@test "seccomp: --no-seccomp warns on stderr (only there), and only when given" {
	need_wisp
	TMP=$(mktemp -d /tmp/wisp-seccomp-bats.XXXXXX)
	timeout 60 "$WISP" --kernel "$GUEST" --cmdline "console=ttyS0 wisp.test=reset" --no-api \
		--no-seccomp </dev/null >"$TMP/out" 2>"$TMP/err"
	grep -q 'TEST reset PASS' "$TMP/out"
	grep -q -- '--no-seccomp: system-call filters are off' "$TMP/err" || { cat "$TMP/err"; return 1; }
	! grep -q 'no-seccomp' "$TMP/out" || return 1
	timeout 60 "$WISP" --kernel "$GUEST" --cmdline "console=ttyS0 wisp.test=reset" --no-api \
		</dev/null >"$TMP/out" 2>"$TMP/err"
	grep -q 'TEST reset PASS' "$TMP/out"
	! grep -q 'no-seccomp' "$TMP/err" || return 1
}

# run_counter [wisp args]: starts wisp with the counter guest (2 vCPUs, API socket) in the
# background; sets WISP_PID once the guest prints from CPL3.
run_counter() {
	"$WISP" --kernel "$GUEST" --cmdline "console=ttyS0 wisp.test=counter wisp.arg=20" \
		--vcpus 2 --api-sock "$TMP/api.sock" "$@" </dev/null >"$TMP/out" 2>"$TMP/err" &
	WISP_PID=$!
	for _ in $(seq 300); do grep -q '^COUNTER 2' "$TMP/out" && break; sleep 0.05; done
	grep -q '^COUNTER 2' "$TMP/out" || { cat "$TMP/out" "$TMP/err"; return 1; }
}

# stop_counter: SIGTERM ends wisp cleanly (exit 0), filters on or off.
stop_counter() {
	local rc=0
	kill -TERM "$WISP_PID"
	wait "$WISP_PID" || rc=$?
	WISP_PID=
	[ "$rc" -eq 0 ] || { echo "status $rc"; cat "$TMP/err"; return 1; }
}

# seccomp_modes PID: "TID:MODE" for every thread of PID.
seccomp_modes() {
	local st
	for st in /proc/"$1"/task/*/status; do
		printf '%s:%s\n' "$(basename "$(dirname "$st")")" "$(awk '/^Seccomp:/ {print $2}' "$st")"
	done
}

@test "seccomp: while a guest runs, every wisp thread is in filter mode (Seccomp: 2)" {
	need_wisp
	local modes
	TMP=$(mktemp -d /tmp/wisp-seccomp-bats.XXXXXX)
	run_counter
	modes=$(seccomp_modes "$WISP_PID")
	echo "$modes"
	# main (VMM), API, and one thread per vCPU at least
	[ "$(echo "$modes" | wc -l)" -ge 4 ]
	! echo "$modes" | grep -v ':2$' || return 1
	stop_counter
	! grep -q seccomp "$TMP/err" || return 1
	# The check tells the two apart: with --no-seccomp no thread is filtered.
	run_counter --no-seccomp
	modes=$(seccomp_modes "$WISP_PID")
	echo "$modes"
	! echo "$modes" | grep -v ':0$' || return 1
	stop_counter
}

@test "seccomp: a forbidden call is counted in the last metrics line (seccomp.num_faults, signals.sigsys)" {
	command -v jq >/dev/null || skip "jq not installed"
	TMP=$(mktemp -d /tmp/wisp-seccomp-bats.XXXXXX)
	SECCOMP_PROBE_METRICS=$TMP/m.json run "$PROBE" api execve
	[ "$status" -eq 148 ] || { echo "status $status: $output"; return 1; }
	cat "$TMP/m.json"
	[ "$(wc -l <"$TMP/m.json")" -eq 1 ]
	[ "$(jq '.seccomp.num_faults' "$TMP/m.json")" -eq 1 ]
	[ "$(jq '.signals.sigsys' "$TMP/m.json")" -eq 1 ]
	[ "$(jq '.vmm.panic_count' "$TMP/m.json")" -eq 0 ]
}

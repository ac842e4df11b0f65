#!/usr/bin/env bats
# Snapshot and restore of the test guest: wisp.test=counter prints "COUNTER n sum=X" every
# 10 ms, X the sum of a memory region it changes a word a line (counter-check.py recomputes
# every sum, so memory restored wrong shows). A snapshot is taken through the API
# (PATCH /vm Paused, PUT /snapshot/create), wisp is killed with SIGKILL, and a new process
# restores it (--restore, or PUT /snapshot/load); the counter must go on from where it stopped.
# The devices: wisp.test=blk-loop writes and reads back a new sector every 10 ms, net-echo
# answers ping and UDP echo on a tap; both must go on in the restored process.
# Bad input: each refused with one clear message while the original VM keeps running.

setup() {
	cd "$BATS_TEST_DIRNAME/../.."
	B="${BUILD:-build}"
	case "$B" in
	/*) ;;
	*) B="$PWD/$B" ;;
	esac
	WISP="$B/wisp"
	GUEST="$B/guest/wisp-test-guest.elf"
	CHECK="$PWD/tests/bats/counter-check.py"
	[ -x "$WISP" ] || skip "$WISP not built"
	[ -c /dev/kvm ] || skip "no /dev/kvm"
	DIR="$(mktemp -d /tmp/wisp-snap-bats.XXXXXX)"
	PIDS=()
}

teardown() {
	for p in "${PIDS[@]}"; do kill -9 "$p" 2>/dev/null || true; done
	[ -z "${NS:-}" ] || ip netns del "$NS" 2>/dev/null || true
	rm -rf "$DIR"
}

# api SOCK METHOD PATH [BODY]: prints "STATUS BODY".
api() {
	local out
	out=$(curl -s -w '\n%{http_code}' --unix-socket "$1" -X "$2" "http://localhost$3" ${4:+-d "$4"})
	echo "$(tail -n 1 <<<"$out") $(head -n -1 <<<"$out")"
}

# boot_counter NAME VCPUS [BOOT_ARGS_EXTRA]: a counter guest with an API socket $DIR/NAME.sock,
# console in $DIR/NAME.out; waits for its 20th line.
boot_counter() {
	local name=$1 vcpus=$2 sock=$DIR/$1.sock
	"$WISP" --api-sock "$sock" --level Info </dev/null >"$DIR/$name.out" 2>"$DIR/$name.err" &
	PIDS+=($!)
	eval "${name}_PID=$!"
	wait_sock "$sock"
	[ "$(api "$sock" PUT /boot-source "{\"kernel_image_path\": \"$GUEST\", \"boot_args\": \"console=ttyS0 wisp.test=counter wisp.arg=10 wisp.region=256 ${3:-}\"}")" = "204 " ]
	[ "$(api "$sock" PUT /machine-config "{\"vcpu_count\": $vcpus, \"mem_size_mib\": 128}")" = "204 " ]
	[ "$(api "$sock" PUT /actions '{"action_type": "InstanceStart"}')" = "204 " ]
	wait_line "$DIR/$name.out" "COUNTER 20 "
}

# wait_line FILE TEXT: up to 10 s for TEXT to appear in FILE.
wait_line() {
	for _ in $(seq 1 500); do grep -q "$2" "$1" 2>/dev/null && return 0; sleep 0.02; done
	echo "no '$2' in $1:"
	tail -n 5 "$1"
	return 1
}

# wait_sock PATH: up to 2 s for a wisp's API socket.
wait_sock() { for _ in $(seq 1 100); do [ -S "$1" ] && return 0; sleep 0.02; done; return 1; }

# resumes_and_counts SOCK OUT: resumes the VM and sees its counter go on by five lines.
resumes_and_counts() {
	[ "$(api "$1" PATCH /vm '{"state": "Resumed"}')" = "204 " ]
	local n
	n=$(last_counter "$2")
	wait_line "$2" "COUNTER $((n + 5)) "
}

last_counter() { sed -n 's/^COUNTER \([0-9]*\) .*/\1/p' "$1" | tail -n 1; }

# snapshot NAME: pauses NAME, snapshots it into $DIR/NAME.snap and $DIR/NAME.mem, kills it -9.
snapshot() {
	local sock=$DIR/$1.sock
	[ "$(api "$sock" PATCH /vm '{"state": "Paused"}')" = "204 " ]
	[ "$(api "$sock" PUT /snapshot/create "{\"snapshot_type\": \"Full\", \"snapshot_path\": \"$DIR/$1.snap\", \"mem_file_path\": \"$DIR/$1.mem\"}")" = "204 " ]
	local pid_var=${1}_PID
	kill -9 "${!pid_var}"
	wait "${!pid_var}" 2>/dev/null || true
}

@test "snapshot: the counter and its memory go on in a new process (--restore), 1 and 2 vCPUs; the memory file is sparse" {
	for vcpus in 1 2; do
		boot_counter a "$vcpus"
		snapshot a
		stopped=$(last_counter "$DIR/a.out")
		[ "$(head -c 8 "$DIR/a.snap")" = WISPSNAP ]
		[ "$(stat -c %s "$DIR/a.mem")" -eq $((128 << 20)) ]
		# written sparsely: a few MiB of pages touched out of 128
		[ "$(du -k "$DIR/a.mem" | cut -f1)" -lt 16384 ]
		! ls "$DIR"/*.partial 2>/dev/null || return 1
		"$WISP" --restore "$DIR/a.snap" --mem "$DIR/a.mem" --level Info </dev/null >"$DIR/b.out" 2>"$DIR/b.err" &
		PIDS+=($!)
		pid=$!
		wait_line "$DIR/b.out" "COUNTER $((stopped + 20)) "
		kill "$pid"
		wait "$pid"
		# the two consoles together count 0, 1, 2, ... with every sum right: the restored
		# guest went on from the line it had reached, nothing repeated, nothing lost
		"$CHECK" 256 "$DIR/a.out" "$DIR/b.out"
		! grep -q '^COUNTER 0 ' "$DIR/b.out" || return 1
		grep -q "snapshot: restored from $DIR/a.snap" "$DIR/b.err"
		! grep -qi error "$DIR/b.err" || return 1
		rm -f "$DIR"/a.* "$DIR"/b.*
	done
}

@test "snapshot: PUT /snapshot/load with resume_vm false stays Paused until PATCH /vm; GET / and /vm/config after the restore" {
	boot_counter a 2
	snapshot a
	stopped=$(last_counter "$DIR/a.out")
	"$WISP" --api-sock "$DIR/b.sock" </dev/null >"$DIR/b.out" 2>"$DIR/b.err" &
	PIDS+=($!)
	wait_sock "$DIR/b.sock"
	[ "$(api "$DIR/b.sock" PUT /snapshot/load "{\"snapshot_path\": \"$DIR/a.snap\", \"mem_backend\": {\"backend_type\": \"File\", \"backend_path\": \"$DIR/a.mem\"}, \"resume_vm\": false}")" = "204 " ]
	run api "$DIR/b.sock" GET /
	[[ "$output" == 200*'"state":"Paused"'* ]]
	run api "$DIR/b.sock" GET /vm/config
	[[ "$output" == 200*'"vcpu_count":2'* ]]
	[[ "$output" == *'"mem_size_mib":128'* ]]
	sleep 0.3
	! grep -q '^COUNTER' "$DIR/b.out" || return 1 # paused: the guest has not run
	[ "$(api "$DIR/b.sock" PATCH /vm '{"state": "Resumed"}')" = "204 " ]
	wait_line "$DIR/b.out" "COUNTER $((stopped + 10)) "
	"$CHECK" 256 "$DIR/a.out" "$DIR/b.out"
	# a second load into the same, now running, process is refused
	run api "$DIR/b.sock" PUT /snapshot/load "{\"snapshot_path\": \"$DIR/a.snap\", \"mem_file_path\": \"$DIR/a.mem\"}"
	[[ "$output" == "400 "*"not supported after starting the microVM"* ]]
}

@test "snapshot: two restores of one snapshot run side by side; neither sees the other's memory, the files stay as written" {
	boot_counter a 1
	snapshot a
	stopped=$(last_counter "$DIR/a.out")
	sum_before=$(sha256sum "$DIR/a.mem" "$DIR/a.snap")
	for r in r1 r2; do
		"$WISP" --restore "$DIR/a.snap" --mem "$DIR/a.mem" </dev/null >"$DIR/$r.out" 2>"$DIR/$r.err" &
		PIDS+=($!)
	done
	wait_line "$DIR/r1.out" "COUNTER $((stopped + 50)) "
	wait_line "$DIR/r2.out" "COUNTER $((stopped + 50)) "
	# each one's sums are right: its writes went to its own private copy
	"$CHECK" 256 "$DIR/a.out" "$DIR/r1.out"
	"$CHECK" 256 "$DIR/a.out" "$DIR/r2.out"
	[ "$(sha256sum "$DIR/a.mem" "$DIR/a.snap")" = "$sum_before" ]
	# and a third restore, started later, begins from the snapshot again, not from their state
	"$WISP" --restore "$DIR/a.snap" --mem "$DIR/a.mem" </dev/null >"$DIR/r3.out" 2>"$DIR/r3.err" &
	PIDS+=($!)
	wait_line "$DIR/r3.out" "COUNTER $((stopped + 5)) "
	"$CHECK" 256 "$DIR/a.out" "$DIR/r3.out"
}

@test "snapshot: refused while running, before start, to a path that cannot be written; the VM keeps running" {
	S=$DIR/x.sock
	"$WISP" --api-sock "$S" </dev/null >"$DIR/x.out" 2>"$DIR/x.err" &
	PIDS+=($!)
	wait_sock "$S"
	run api "$S" PUT /snapshot/create "{\"snapshot_path\": \"$DIR/s\", \"mem_file_path\": \"$DIR/m\"}"
	[[ "$output" == "400 "*"not supported before starting the microVM"* ]]
	kill -9 "${PIDS[-1]}"
	boot_counter a 1
	S=$DIR/a.sock
	run api "$S" PUT /snapshot/create "{\"snapshot_path\": \"$DIR/s\", \"mem_file_path\": \"$DIR/m\"}"
	[[ "$output" == "400 "*"must be paused"* ]]
	[ "$(api "$S" PATCH /vm '{"state": "Paused"}')" = "204 " ]
	run api "$S" PUT /snapshot/create "{\"snapshot_path\": \"$DIR/nodir/s\", \"mem_file_path\": \"$DIR/m\"}"
	[[ "$output" == "400 "*"snapshot_path $DIR/nodir/s: No such file or directory"* ]]
	run api "$S" PUT /snapshot/create "{\"snapshot_path\": \"$DIR/s\", \"mem_file_path\": \"$DIR/nodir/m\"}"
	[[ "$output" == "400 "*"mem_file_path $DIR/nodir/m: No such file or directory"* ]]
	# nothing half-written left behind
	[ -z "$(ls "$DIR" | grep -E '^(s|m)(\.partial)?$')" ]
	resumes_and_counts "$S" "$DIR/a.out"
}

@test "restore: a corrupted byte, a truncated state file, a short or missing memory file, another CPU vendor, --restore without --mem: one error, exit 1" {
	boot_counter a 1
	snapshot a
	cp "$DIR/a.snap" "$DIR/bad.snap"
	printf '\x55' | dd of="$DIR/bad.snap" bs=1 seek=200 conv=notrunc 2>/dev/null
	run "$WISP" --restore "$DIR/bad.snap" --mem "$DIR/a.mem"
	[ "$status" -eq 1 ]
	[[ "$output" == *"snapshot_path $DIR/bad.snap: checksum mismatch"* ]]
	head -c 1000 "$DIR/a.snap" >"$DIR/short.snap"
	run "$WISP" --restore "$DIR/short.snap" --mem "$DIR/a.mem"
	[ "$status" -eq 1 ]
	[[ "$output" == *"truncated: the header says a body of"* ]]
	printf 'not a snapshot at all' >"$DIR/junk.snap"
	run "$WISP" --restore "$DIR/junk.snap" --mem "$DIR/a.mem"
	[ "$status" -eq 1 ]
	[[ "$output" == *"not a wisp snapshot (bad magic)"* ]]
	truncate -s 64M "$DIR/small.mem"
	run "$WISP" --restore "$DIR/a.snap" --mem "$DIR/small.mem"
	[ "$status" -eq 1 ]
	[[ "$output" == *"mem_file_path $DIR/small.mem: the memory file holds 67108864 bytes, the machine has 134217728 bytes of RAM"* ]]
	run "$WISP" --restore "$DIR/a.snap" --mem "$DIR/none.mem"
	[ "$status" -eq 1 ]
	[[ "$output" == *"mem_file_path $DIR/none.mem: No such file or directory"* ]]
	run "$WISP" --restore "$DIR/a.snap"
	[ "$status" -eq 1 ]
	[[ "$output" == *"--restore and --mem go together"* ]]
	# taken on another vendor's CPU (the machine section says so, the checksum made right)
	python3 - "$DIR/a.snap" "$DIR/vendor.snap" <<'PY'
import struct, sys
d = bytearray(open(sys.argv[1], "rb").read())
i = d.index(b"MACH", 64) + 16 + 12
other = b"GenuineIntel" if bytes(d[i:i + 12]) != b"GenuineIntel" else b"AuthenticAMD"
d[i:i + 12] = other
crc = 0xFFFFFFFFFFFFFFFF
for b in d[:-8]:
    crc ^= b
    for _ in range(8):
        crc = (crc >> 1) ^ (0xC96C5795D7870F42 if crc & 1 else 0)
d[-8:] = struct.pack("<Q", crc ^ 0xFFFFFFFFFFFFFFFF)
open(sys.argv[2], "wb").write(d)
PY
	run "$WISP" --restore "$DIR/vendor.snap" --mem "$DIR/a.mem"
	[ "$status" -eq 1 ]
	[[ "$output" == *"the snapshot was taken on a "*" CPU, this host's is "*": restore it on the same kind of host"* ]]
	run "$WISP" --restore "$DIR/a.snap" --mem "$DIR/a.mem" --kernel "$GUEST"
	[ "$status" -eq 1 ]
	[[ "$output" == *"--restore describes the whole VM"* ]]
	# each error is one line
	run "$WISP" --restore "$DIR/bad.snap" --mem "$DIR/a.mem"
	[ "$(grep -c 'error' <<<"$output")" -eq 1 ]
	# through the API: a 400 with the reason, and the process keeps serving
	"$WISP" --api-sock "$DIR/b.sock" </dev/null >"$DIR/b.out" 2>"$DIR/b.err" &
	PIDS+=($!)
	wait_sock "$DIR/b.sock"
	run api "$DIR/b.sock" PUT /snapshot/load "{\"snapshot_path\": \"$DIR/bad.snap\", \"mem_file_path\": \"$DIR/a.mem\"}"
	[[ "$output" == "400 "*"Load snapshot error: snapshot_path $DIR/bad.snap: checksum mismatch"* ]]
	[ "$(api "$DIR/b.sock" PUT /snapshot/load "{\"snapshot_path\": \"$DIR/a.snap\", \"mem_file_path\": \"$DIR/a.mem\", \"resume_vm\": true}")" = "204 " ]
	wait_line "$DIR/b.out" "COUNTER"
	# into an already configured VM: refused
	"$WISP" --api-sock "$DIR/c.sock" </dev/null >"$DIR/c.out" 2>"$DIR/c.err" &
	PIDS+=($!)
	wait_sock "$DIR/c.sock"
	api "$DIR/c.sock" PUT /boot-source "{\"kernel_image_path\": \"$GUEST\"}"
	run api "$DIR/c.sock" PUT /snapshot/load "{\"snapshot_path\": \"$DIR/a.snap\", \"mem_file_path\": \"$DIR/a.mem\"}"
	[[ "$output" == "400 "*"a snapshot loads only into an unconfigured microVM"* ]]
	[[ "$(api "$DIR/c.sock" GET /)" == 200*'"state":"Not started"'* ]]
}

# blk_lines FILE: the BLK_LOOP line numbers in FILE, one per line.
blk_lines() { sed -n 's/^BLK_LOOP \([0-9]*\) .*/\1/p' "$1"; }

@test "snapshot: virtio-blk goes on in the restored process (requests in flight settled, new writes reach the file); a drive file gone or resized is refused" {
	truncate -s 4M "$DIR/disk.img"
	"$WISP" --api-sock "$DIR/a.sock" --level Info </dev/null >"$DIR/a.out" 2>"$DIR/a.err" &
	PIDS+=($!)
	a_PID=$!
	wait_sock "$DIR/a.sock"
	[ "$(api "$DIR/a.sock" PUT /boot-source "{\"kernel_image_path\": \"$GUEST\", \"boot_args\": \"console=ttyS0 wisp.test=blk-loop wisp.ms=5\"}")" = "204 " ]
	[ "$(api "$DIR/a.sock" PUT /drives/root "{\"drive_id\": \"root\", \"path_on_host\": \"$DIR/disk.img\", \"is_root_device\": true, \"is_read_only\": false, \"io_engine\": \"Async\"}")" = "204 " ]
	[ "$(api "$DIR/a.sock" PUT /actions '{"action_type": "InstanceStart"}')" = "204 " ]
	wait_line "$DIR/a.out" "BLK_LOOP 30 "
	snapshot a
	stopped=$(blk_lines "$DIR/a.out" | tail -n 1)
	# the state file names the drive as configured, for the restoring process to open
	grep -q "\"path_on_host\":\"$DIR/disk.img\"" "$DIR/a.snap"
	"$WISP" --restore "$DIR/a.snap" --mem "$DIR/a.mem" --level Info </dev/null >"$DIR/b.out" 2>"$DIR/b.err" &
	PIDS+=($!)
	pid=$!
	wait_line "$DIR/b.out" "BLK_LOOP $((stopped + 30)) "
	kill "$pid"
	wait "$pid" || true
	# one run of line numbers across both consoles read as one stream (a line the pause cut
	# ends in the new one): 0, 1, 2, ... without a gap or a repeat, and no start over
	cat "$DIR/a.out" "$DIR/b.out" >"$DIR/both.out"
	[ "$(blk_lines "$DIR/both.out" | awk 'NR - 1 != $1 { bad = 1 } END { print bad ? "broken" : "ok" }')" = ok ]
	! grep -q '^BLK_LOOP 0 ' "$DIR/b.out" || return 1
	! grep -q "TEST blk-loop FAIL" "$DIR/b.out" || return 1
	# every sector either process reported is in the file with the guest's pattern
	last=$(blk_lines "$DIR/both.out" | tail -n 1)
	python3 - "$DIR/disk.img" "$((last + 1))" <<'PY'
import struct, sys
data = open(sys.argv[1], "rb").read()
for sector in range(1, int(sys.argv[2]) + 1):
    for i in range(64):
        o = sector * 512 + i * 8
        want = 0x5749535000000000 + o // 8
        got = struct.unpack_from("<Q", data, o)[0]
        assert got == want, "sector %d word %d: %#x, not %#x" % (sector, i, got, want)
PY
	# the drive's file resized, then gone: one error each, exit 1, no VM started
	truncate -s 8M "$DIR/disk.img"
	run "$WISP" --restore "$DIR/a.snap" --mem "$DIR/a.mem"
	[ "$status" -eq 1 ]
	[[ "$output" == *"drive root: its file has 16384 sectors now, 8192 when the snapshot was taken"* ]]
	rm "$DIR/disk.img"
	run "$WISP" --restore "$DIR/a.snap" --mem "$DIR/a.mem"
	[ "$status" -eq 1 ]
	[[ "$output" == *"drive root: cannot open $DIR/disk.img: No such file or directory"* ]]
}

@test "snapshot: virtio-net goes on in the restored process on the same tap: ping and UDP echo before and after, from the same MAC" {
	[ "$(id -u)" -eq 0 ] || skip "needs root (network namespace and tap)"
	command -v ping >/dev/null || skip "ping not installed (iputils-ping)"
	NS=wisp-snap-$$
	ip netns add "$NS"
	ip netns exec "$NS" ip link set lo up
	ip netns exec "$NS" ip tuntap add wtap0 mode tap
	ip netns exec "$NS" ip addr add 172.16.0.1/24 dev wtap0
	ip netns exec "$NS" ip link set wtap0 up
	probe() { ip netns exec "$NS" python3 tests/bats/net-probe.py "$@"; }
	# no guest_mac: wisp makes one up, and the restored device must keep it
	ip netns exec "$NS" "$WISP" --api-sock "$DIR/a.sock" --level Info </dev/null >"$DIR/a.out" 2>"$DIR/a.err" &
	PIDS+=($!)
	a_PID=$!
	wait_sock "$DIR/a.sock"
	[ "$(api "$DIR/a.sock" PUT /boot-source "{\"kernel_image_path\": \"$GUEST\", \"boot_args\": \"console=ttyS0 wisp.test=net-echo wisp.ip=172.16.0.2 wisp.port=7777 wisp.timeout_ms=120000\"}")" = "204 " ]
	[ "$(api "$DIR/a.sock" PUT /network-interfaces/eth0 '{"iface_id": "eth0", "host_dev_name": "wtap0"}')" = "204 " ]
	[ "$(api "$DIR/a.sock" PUT /actions '{"action_type": "InstanceStart"}')" = "204 " ]
	wait_line "$DIR/a.out" "NET ready"
	mac=$(sed -n 's/^NET ready mac=\([0-9a-f:]*\) .*/\1/p' "$DIR/a.out")
	probe ping 172.16.0.2 3 2
	probe udp 172.16.0.2 7777 1,64,1472 2
	snapshot a
	ip netns exec "$NS" "$WISP" --restore "$DIR/a.snap" --mem "$DIR/a.mem" --level Info </dev/null >"$DIR/b.out" 2>"$DIR/b.err" &
	PIDS+=($!)
	pid=$!
	wait_line "$DIR/b.err" "snapshot: restored from"
	probe ping 172.16.0.2 5 2
	# the tap went down with the old process, so the host asked again: the same MAC answered
	neigh=$(ip netns exec "$NS" ip neigh show 172.16.0.2)
	echo "mac $mac, neighbour: $neigh"
	[[ "$neigh" == *"lladdr $mac "* ]]
	probe udp 172.16.0.2 7777 1,2,63,64,512,1000,1400,1471,1472 2
	probe stop 172.16.0.2 7777
	wait "$pid"
	grep -q "TEST net-echo PASS" "$DIR/b.out"
	grep -q "stop=request" "$DIR/b.out"
	! grep -q "NET ready" "$DIR/b.out" || return 1 # the guest did not start over
}

# ram_rss_kib PID MEMFILE: KiB of guest RAM resident in PID, i.e. of its mapping of MEMFILE.
ram_rss_kib() {
	awk -v f="$2" '$0 ~ /^[0-9a-f]+-[0-9a-f]+ / { on = ($6 == f) } on && $1 == "Rss:" { s += $2 } END { print s + 0 }' "/proc/$1/smaps"
}

@test "snapshot: 16 restores of one snapshot at once all run; each one's guest RAM right after restore is a small part of the 256 MiB (pages shared until written)" {
	"$WISP" --api-sock "$DIR/a.sock" </dev/null >"$DIR/a.out" 2>"$DIR/a.err" &
	PIDS+=($!)
	a_PID=$!
	wait_sock "$DIR/a.sock"
	[ "$(api "$DIR/a.sock" PUT /boot-source "{\"kernel_image_path\": \"$GUEST\", \"boot_args\": \"console=ttyS0 wisp.test=counter wisp.arg=10 wisp.region=256\"}")" = "204 " ]
	[ "$(api "$DIR/a.sock" PUT /machine-config '{"vcpu_count": 1, "mem_size_mib": 256}')" = "204 " ]
	[ "$(api "$DIR/a.sock" PUT /actions '{"action_type": "InstanceStart"}')" = "204 " ]
	wait_line "$DIR/a.out" "COUNTER 10 "
	snapshot a
	stopped=$(last_counter "$DIR/a.out")
	pids=()
	for i in $(seq 1 16); do
		"$WISP" --restore "$DIR/a.snap" --mem "$DIR/a.mem" </dev/null >"$DIR/r$i.out" 2>"$DIR/r$i.err" &
		PIDS+=($!)
		pids+=($!)
	done
	total=0
	for i in $(seq 1 16); do
		wait_line "$DIR/r$i.out" "COUNTER $((stopped + 2)) "
		kib=$(ram_rss_kib "${pids[$((i - 1))]}" "$DIR/a.mem")
		all=$(sed -n 's/^Rss: *\([0-9]*\) kB/\1/p' "/proc/${pids[$((i - 1))]}/smaps_rollup")
		echo "# restore $i: guest RAM resident ${kib} KiB of 262144, process RSS ${all} KiB" >&3
		# the guest's working set (its region, stacks, page tables), not its RAM
		[ "$kib" -gt 0 ] && [ "$kib" -lt 8192 ]
		total=$((total + kib))
	done
	echo "# 16 restores: guest RAM resident $((total / 1024)) MiB in all, for 16 x 256 MiB" >&3
	for i in $(seq 1 16); do
		wait_line "$DIR/r$i.out" "COUNTER $((stopped + 20)) "
		"$CHECK" 256 "$DIR/a.out" "$DIR/r$i.out" >/dev/null
	done
}

@test "snapshot: Diff after Full with track_dirty_pages holds only the pages written since; merged onto the base by wisp-rebase-snap it restores the VM as it was at the Diff" {
	REBASE="$B/wisp-rebase-snap"
	[ -x "$REBASE" ]
	"$WISP" --api-sock "$DIR/a.sock" --level Info </dev/null >"$DIR/a.out" 2>"$DIR/a.err" &
	PIDS+=($!)
	a_PID=$!
	S=$DIR/a.sock
	wait_sock "$S"
	[ "$(api "$S" PUT /boot-source "{\"kernel_image_path\": \"$GUEST\", \"boot_args\": \"console=ttyS0 wisp.test=counter wisp.arg=2 wisp.region=256\"}")" = "204 " ]
	[ "$(api "$S" PUT /machine-config '{"vcpu_count": 1, "mem_size_mib": 128, "track_dirty_pages": true}')" = "204 " ]
	[ "$(api "$S" PUT /actions '{"action_type": "InstanceStart"}')" = "204 " ]
	wait_line "$DIR/a.out" "COUNTER 20 "
	[ "$(api "$S" PATCH /vm '{"state": "Paused"}')" = "204 " ]
	[ "$(api "$S" PUT /snapshot/create "{\"snapshot_type\": \"Full\", \"snapshot_path\": \"$DIR/base.snap\", \"mem_file_path\": \"$DIR/base.mem\"}")" = "204 " ]
	at_full=$(last_counter "$DIR/a.out")
	[ "$(api "$S" PATCH /vm '{"state": "Resumed"}')" = "204 " ]
	# 600 lines at one word each: the region's words 20.. 620, pages 0 and 1 of it, change
	wait_line "$DIR/a.out" "COUNTER $((at_full + 600)) "
	[ "$(api "$S" PATCH /vm '{"state": "Paused"}')" = "204 " ]
	[ "$(api "$S" PUT /snapshot/create "{\"snapshot_type\": \"Diff\", \"snapshot_path\": \"$DIR/diff.snap\", \"mem_file_path\": \"$DIR/diff.mem\"}")" = "204 " ]
	kill -9 "$a_PID"
	# the Diff is the machine's size with only the written pages in it: the region's two pages
	# and the guest's stack at least, far less than the Full
	[ "$(stat -c %s "$DIR/diff.mem")" -eq $((128 << 20)) ]
	diff_kib=$(du -k "$DIR/diff.mem" | cut -f1)
	full_kib=$(du -k "$DIR/base.mem" | cut -f1)
	echo "# Full: $full_kib KiB on disk, Diff: $diff_kib KiB" >&3
	[ "$diff_kib" -ge 8 ] && [ "$diff_kib" -lt 64 ] && [ "$diff_kib" -lt "$full_kib" ]
	# merged onto (a copy of) the base, with the Diff's state: the counter goes on from the
	# Diff and every sum (the whole region) is right
	cp "$DIR/base.mem" "$DIR/merged.mem"
	"$REBASE" --base-file "$DIR/merged.mem" --diff-file "$DIR/diff.mem"
	"$WISP" --restore "$DIR/diff.snap" --mem "$DIR/merged.mem" </dev/null >"$DIR/m.out" 2>"$DIR/m.err" &
	PIDS+=($!)
	at_diff=$(last_counter "$DIR/a.out")
	wait_line "$DIR/m.out" "COUNTER $((at_diff + 20)) "
	"$CHECK" 256 "$DIR/a.out" "$DIR/m.out"
	# the Diff's state on the unmerged base is the wrong memory: the counter's sums say so, or
	# the guest dies of it (its stack pages written since the Full are stale too: an
	# exception, reported as TEST counter FAIL)
	"$WISP" --restore "$DIR/diff.snap" --mem "$DIR/base.mem" </dev/null >"$DIR/u.out" 2>"$DIR/u.err" &
	PIDS+=($!)
	wait_line "$DIR/u.out" "COUNTER $((at_diff + 20)) \\|TEST counter FAIL"
	if ! grep -q "TEST counter FAIL" "$DIR/u.out"; then
		! "$CHECK" 256 "$DIR/a.out" "$DIR/u.out" || return 1
	fi
	# bad input: a merge of files of two sizes, a missing file
	truncate -s 64M "$DIR/small.mem"
	run "$REBASE" --base-file "$DIR/small.mem" --diff-file "$DIR/diff.mem"
	[ "$status" -eq 1 ]
	[[ "$output" == *"are not memory files of one machine"* ]]
	run "$REBASE" --base-file "$DIR/none.mem" --diff-file "$DIR/diff.mem"
	[ "$status" -eq 1 ]
	[[ "$output" == *"none.mem: No such file or directory"* ]]
	run "$REBASE" --base-file "$DIR/merged.mem"
	[ "$status" -eq 1 ]
	[[ "$output" == *"usage: wisp-rebase-snap"* ]]
}

@test "snapshot: a Diff of a VM that does not track dirty pages is refused with the reason; the VM keeps running" {
	boot_counter a 1
	S=$DIR/a.sock
	[ "$(api "$S" PATCH /vm '{"state": "Paused"}')" = "204 " ]
	run api "$S" PUT /snapshot/create "{\"snapshot_type\": \"Diff\", \"snapshot_path\": \"$DIR/d.snap\", \"mem_file_path\": \"$DIR/d.mem\"}"
	[[ "$output" == "400 "*"a Diff snapshot needs dirty page tracking (machine-config track_dirty_pages: true)"* ]]
	[ ! -e "$DIR/d.snap" ] && [ ! -e "$DIR/d.mem" ]
	resumes_and_counts "$S" "$DIR/a.out"
}

@test "snapshot: the Uffd backend hands guest RAM and its layout to a page-fault handler, which fills every page the restored guest touches; no handler is a clear 400" {
	boot_counter a 1
	snapshot a
	stopped=$(last_counter "$DIR/a.out")
	python3 tests/bats/uffd-handler.py "$DIR/uffd.sock" "$DIR/a.mem" "$DIR/faults" 2>"$DIR/h.err" &
	PIDS+=($!)
	wait_sock "$DIR/uffd.sock"
	"$WISP" --api-sock "$DIR/b.sock" --level Info </dev/null >"$DIR/b.out" 2>"$DIR/b.err" &
	PIDS+=($!)
	pid=$!
	wait_sock "$DIR/b.sock"
	[ "$(api "$DIR/b.sock" PUT /snapshot/load "{\"snapshot_path\": \"$DIR/a.snap\", \"mem_backend\": {\"backend_type\": \"Uffd\", \"backend_path\": \"$DIR/uffd.sock\"}, \"resume_vm\": true}")" = "204 " ]
	wait_line "$DIR/b.out" "COUNTER $((stopped + 20)) "
	"$CHECK" 256 "$DIR/a.out" "$DIR/b.out"
	# the layout Firecracker's handlers read: one region here, the whole 128 MiB at offset 0
	python3 -c 'import json, sys; r = json.load(open(sys.argv[1])); assert len(r) == 1 and r[0]["size"] == 128 << 20 and r[0]["offset"] == 0 and r[0]["page_size"] == 4096 and r[0]["base_host_virt_addr"] > 0, r' "$DIR/faults.layout"
	# every page the guest (and wisp's restore) touched came from the handler, and only those
	faults=$(sed -n 's/^faults=\([0-9]*\) .*/\1/p' "$DIR/faults")
	kib=$(awk '$0 ~ /^[0-9a-f]+-[0-9a-f]+ / { on = ($2 ~ /^rw/ && $6 == "" && $3 == "00000000") } on && $1 == "Size:" { sz = $2 } on && $1 == "Rss:" && sz == 131072 { print $2 }' "/proc/$pid/smaps")
	echo "# handler served $faults faults; guest RAM resident ${kib:-?} KiB" >&3
	[ "$faults" -gt 10 ] && [ "$faults" -lt 4096 ]
	kill "$pid"
	wait "$pid" || true
	# no handler at that path: one clear 400, and the process is still there, unconfigured
	"$WISP" --api-sock "$DIR/c.sock" </dev/null >"$DIR/c.out" 2>"$DIR/c.err" &
	PIDS+=($!)
	wait_sock "$DIR/c.sock"
	run api "$DIR/c.sock" PUT /snapshot/load "{\"snapshot_path\": \"$DIR/a.snap\", \"mem_backend\": {\"backend_type\": \"Uffd\", \"backend_path\": \"$DIR/none.sock\"}}"
	[[ "$output" == "400 "*"Load snapshot error: mem_backend Uffd: cannot connect to the handler at $DIR/none.sock: No such file or directory"* ]]
	[[ "$(api "$DIR/c.sock" GET /)" == 200*'"state":"Not started"'* ]]
	[[ "$(api "$DIR/c.sock" GET /machine-config)" == 200*'"mem_size_mib":128'* ]]
}

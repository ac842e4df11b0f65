#!/usr/bin/env bats
# The API socket end to end: build/wisp --api-sock driven with curl --unix-socket (and
# python3 for raw HTTP). Bad inputs each get the right status and fault_message while the
# server keeps serving; concurrency, disconnects, pipelining, stale sockets. The tests in the
# last part boot the test guest (wisp.test=echo waits on the serial line forever, so the VM
# stays Running) and skip when /dev/kvm or the guest is missing.
#
# BUILD selects the build directory (default: build), relative to the repository or absolute.

setup() {
	cd "$BATS_TEST_DIRNAME/../.."
	B="${BUILD:-build}"
	case "$B" in
	/*) ;;
	*) B="$PWD/$B" ;; # absolute, so the paths sent to the API work from anywhere
	esac
	WISP="$B/wisp"
	GUEST="$B/guest/wisp-test-guest.elf"
	[ -x "$WISP" ] || skip "$WISP not built"
	"$WISP" --help 2>&1 | grep -q -- --api-sock || skip "$WISP has no --api-sock yet"
	DIR="$(mktemp -d /tmp/wisp-api-bats.XXXXXX)"
	SOCK="$DIR/api.sock"
	WISP_PID=
}

teardown() {
	if [ -n "$WISP_PID" ]; then
		kill "$WISP_PID" 2>/dev/null || true
		wait "$WISP_PID" 2>/dev/null || true
	fi
	exec 7>&- 2>/dev/null || true
	rm -rf "$DIR"
}

# start_wisp [ARGS...]: starts wisp on $SOCK with stdin held open (fd 7), waits for the socket.
start_wisp() {
	mkfifo "$DIR/stdin"
	"$WISP" --api-sock "$SOCK" "$@" <"$DIR/stdin" >"$DIR/serial.out" 2>"$DIR/wisp.err" &
	WISP_PID=$!
	exec 7>"$DIR/stdin"
	for _ in $(seq 200); do
		[ -S "$SOCK" ] && return 0
		kill -0 "$WISP_PID" 2>/dev/null || break
		sleep 0.01
	done
	cat "$DIR/wisp.err" >&2
	return 1
}

# api METHOD PATH [BODY]: prints "STATUS BODY" (one line).
api() {
	local args=(-s --unix-socket "$SOCK" -o "$DIR/body" -w '%{http_code}' -X "$1")
	[ $# -ge 3 ] && args+=(-H 'Content-Type: application/json' --data-binary "$3")
	local code
	code=$(curl "${args[@]}" "http://localhost$2")
	echo "$code $(cat "$DIR/body" 2>/dev/null)"
}

# expect_fault METHOD PATH BODY STATUS MESSAGE-SUBSTRING
expect_fault() {
	run api "$1" "$2" "$3"
	echo "$1 $2 -> $output"
	[[ "$output" == "$4 {\"fault_message\":"* ]]
	[[ "$output" == *"$5"* ]]
}

need_python() {
	command -v python3 >/dev/null || skip "python3 not installed"
}

# raw SCRIPT: runs python3 with s = a socket connected to $SOCK and recv_all(s) defined.
raw() {
	python3 - "$SOCK" <<EOF
import socket, sys, time
s = socket.socket(socket.AF_UNIX); s.connect(sys.argv[1]); s.settimeout(5)
def recv_all(s):
    buf = b''
    while True:
        try:
            d = s.recv(65536)
        except socket.timeout:
            break
        if not d:
            break
        buf += d
    return buf
$1
EOF
}

@test "api: socket is 0600 and GET / describes a fresh instance" {
	start_wisp
	[ "$(stat -c %a "$SOCK")" = 600 ]
	run api GET /
	[[ "$output" == 200* ]]
	[[ "$output" == *'"state":"Not started"'* ]]
	[[ "$output" == *'"app_name":"Wisp"'* ]]
	[[ "$output" == *'"id":"anonymous-instance"'* ]]
	run api GET /version
	[[ "$output" == '200 {"firecracker_version":'* ]]
}

@test "api: configuration round trip through GET /vm/config and GET /machine-config" {
	start_wisp
	touch "$DIR/k" "$DIR/r.img"
	[ "$(api PUT /machine-config '{"vcpu_count": 2, "mem_size_mib": 256}')" = "204 " ]
	[ "$(api PATCH /machine-config '{"mem_size_mib": 512}')" = "204 " ]
	[ "$(api PUT /boot-source "{\"kernel_image_path\": \"$DIR/k\", \"boot_args\": \"console=ttyS0\"}")" = "204 " ]
	[ "$(api PUT /drives/rootfs "{\"drive_id\": \"rootfs\", \"path_on_host\": \"$DIR/r.img\", \"is_root_device\": true, \"is_read_only\": false}")" = "204 " ]
	[ "$(api PUT /network-interfaces/eth0 '{"iface_id": "eth0", "host_dev_name": "tap0", "guest_mac": "06:00:AC:10:00:02"}')" = "204 " ]
	run api GET /machine-config
	[ "$output" = '200 {"vcpu_count":2,"mem_size_mib":512,"smt":false,"track_dirty_pages":false,"huge_pages":"None"}' ]
	run api GET /vm/config
	[[ "$output" == 200* ]]
	[[ "$output" == *"\"kernel_image_path\":\"$DIR/k\""* ]]
	[[ "$output" == *'"drive_id":"rootfs"'* ]]
	[[ "$output" == *'"guest_mac":"06:00:ac:10:00:02"'* ]]
}

@test "api: every bad input gets its status and fault_message; the server keeps serving" {
	start_wisp
	expect_fault PUT /machine-config '{"vcpu_count": "2", "mem_size_mib": 1}' 400 'machine-config.vcpu_count: expected an integer'
	expect_fault PUT /machine-config '{"vcpu_count": 2, "mem_size_mib": 1, "huge": 1}' 400 'machine-config.huge: unknown field'
	expect_fault PUT /machine-config '{"vcpu_count": 0, "mem_size_mib": 1}' 400 'between 1 and 32'
	# Every out-of-range number: config_validate's one message, with the value as sent.
	expect_fault PUT /machine-config '{"vcpu_count": -1, "mem_size_mib": 64}' 400 'machine-config.vcpu_count: must be between 1 and 32 (got -1)'
	expect_fault PUT /machine-config '{"vcpu_count": 1000, "mem_size_mib": 64}' 400 'machine-config.vcpu_count: must be between 1 and 32 (got 1000)'
	expect_fault PUT /machine-config '{"vcpu_count": 1, "mem_size_mib": 0}' 400 'machine-config.mem_size_mib: must be between 1 and 8387584 (got 0)'
	expect_fault PUT /machine-config '{"vcpu_count": 1, "mem_size_mib": -1}' 400 'machine-config.mem_size_mib: must be between 1 and 8387584 (got -1)'
	expect_fault PUT /machine-config '{"vcpu_count": 1, "mem_size_mib": 1000000000000}' 400 'machine-config.mem_size_mib: must be between 1 and 8387584 (got 1000000000000)'
	expect_fault PATCH /machine-config '{"mem_size_mib": 1000000000000}' 400 'machine-config.mem_size_mib: must be between 1 and 8387584 (got 1000000000000)'
	[ "$(api GET /machine-config)" = '200 {"vcpu_count":1,"mem_size_mib":128,"smt":false,"track_dirty_pages":false,"huge_pages":"None"}' ]
	expect_fault PUT /machine-config '{"vcpu_count": 2' 400 'machine-config: invalid JSON'
	expect_fault PUT /boot-source '{}' 400 'boot-source.kernel_image_path: missing required field'
	expect_fault PUT /drives/a '{"drive_id": "b", "path_on_host": "/r", "is_root_device": true, "is_read_only": false}' 400 'The id from the path does not match the id from the body!'
	# Two root devices: the second is refused, the first stays.
	touch "$DIR/r1.img" "$DIR/r2.img"
	[ "$(api PUT /drives/r1 "{\"drive_id\": \"r1\", \"path_on_host\": \"$DIR/r1.img\", \"is_root_device\": true, \"is_read_only\": false}")" = "204 " ]
	expect_fault PUT /drives/r2 "{\"drive_id\": \"r2\", \"path_on_host\": \"$DIR/r2.img\", \"is_root_device\": true, \"is_read_only\": false}" 400 'is already the root device; only one is allowed'
	expect_fault PUT /drives/r2 "{\"drive_id\": \"r1\", \"path_on_host\": \"$DIR/r2.img\", \"is_root_device\": false, \"is_read_only\": false}" 400 'The id from the path does not match the id from the body!'
	run api GET /vm/config
	[[ "$output" == *'"drive_id":"r1"'* ]]
	[[ "$output" != *'"drive_id":"r2"'* ]]
	expect_fault PUT /drives/a.b '{}' 400 'API Resource IDs can only contain'
	expect_fault PATCH /drives/a '{"drive_id": "a", "path_on_host": "/x"}' 400 'not supported before starting the microVM'
	expect_fault PUT /network-interfaces/e '{"iface_id": "e", "host_dev_name": "tap0", "guest_mac": "zz"}' 400 'network-interface.guest_mac'
	expect_fault PUT /actions '{"action_type": "Explode"}' 400 'actions.action_type: \"Explode\" is not one of'
	expect_fault PUT /actions '{"action_type": "InstanceStart"}' 400 'Cannot start microvm without kernel configuration.'
	expect_fault PATCH /vm '{"state": "Paused"}' 400 'not supported before starting the microVM'
	expect_fault PUT /snapshot/create '{"snapshot_path": "/s", "mem_file_path": "/m"}' 400 'not supported before starting the microVM'
	expect_fault PUT /snapshot/load '{"snapshot_path": "/s"}' 400 'snapshot-load: mem_backend (or mem_file_path) is required'
	expect_fault PUT /snapshot/load '{"snapshot_path": "/nonexistent", "mem_file_path": "/m"}' 400 'Load snapshot error: snapshot_path /nonexistent: No such file or directory'
	expect_fault PUT /mmds '{}' 400 'not supported by wisp'
	expect_fault PUT /logger '{"log_path": "/nonexistent-dir/log"}' 400 'logger.log_path: cannot open'
	expect_fault GET /no/such/path '' 404 'Invalid request method and/or path: GET /no/such/path.'
	expect_fault DELETE /machine-config '' 405 'Invalid request method and/or path: DELETE /machine-config.'
	run curl -s -i --unix-socket "$SOCK" -X PUT -H 'Transfer-Encoding: chunked' -d '{}' http://localhost/machine-config
	[[ "$output" == *"400 Bad Request"* ]]
	[[ "$output" == *"Chunked transfer encoding is not supported"* ]]
	head -c 60000 /dev/zero | tr '\0' ' ' >"$DIR/big"
	run curl -s --unix-socket "$SOCK" -o "$DIR/body" -w '%{http_code}' -X PUT --data-binary @"$DIR/big" http://localhost/machine-config
	[ "$output" = 400 ]
	grep -q '"fault_message":"Request payload with size 60000 is larger than the limit of 51200 allowed by server."' "$DIR/body"
	run api GET /
	[[ "$output" == 200* ]]
	kill -0 "$WISP_PID"
}

@test "api: a 9 KB header gets 400 with fault_message, the connection closes, the server serves on" {
	need_python
	start_wisp
	run raw '
s.send(b"GET / HTTP/1.1\r\nX-Big: " + b"a" * 9216 + b"\r\n\r\n")
buf = b""
while True:
    try:
        d = s.recv(65536)
    except socket.timeout:
        print("TIMEOUT: the server kept the connection open")
        break
    except ConnectionResetError:
        print("CLOSED")
        break
    if not d:
        print("CLOSED")
        break
    buf += d
print(buf.decode())'
	echo "$output"
	[[ "$output" == *"HTTP/1.1 400 Bad Request"* ]]
	[[ "$output" == *'{"fault_message":'* ]]
	[[ "$output" == *"8192"* ]]
	[[ "$output" == *"CLOSED"* ]]
	run api GET /
	[[ "$output" == 200* ]]
	kill -0 "$WISP_PID"
}

@test "api: PUT /boot-source and /drives refuse files that cannot be opened, naming field and error" {
	start_wisp
	expect_fault PUT /boot-source '{"kernel_image_path": "/nonexistent/vmlinux"}' 400 'boot-source.kernel_image_path: /nonexistent/vmlinux: No such file or directory'
	expect_fault PUT /boot-source "{\"kernel_image_path\": \"$DIR\"}" 400 "boot-source.kernel_image_path: $DIR: Is a directory"
	touch "$DIR/k"
	expect_fault PUT /boot-source "{\"kernel_image_path\": \"$DIR/k\", \"initrd_path\": \"$DIR/no-initrd\"}" 400 "boot-source.initrd_path: $DIR/no-initrd: No such file or directory"
	expect_fault PUT /drives/d "{\"drive_id\": \"d\", \"path_on_host\": \"$DIR/no.img\", \"is_root_device\": false, \"is_read_only\": true}" 400 "drive.path_on_host: $DIR/no.img: No such file or directory"
	# A read-write drive must open read-write (not enforceable as root: root opens anything).
	if [ "$(id -u)" -ne 0 ]; then
		touch "$DIR/ro.img"
		chmod 0444 "$DIR/ro.img"
		expect_fault PUT /drives/d "{\"drive_id\": \"d\", \"path_on_host\": \"$DIR/ro.img\", \"is_root_device\": false, \"is_read_only\": false}" 400 "drive.path_on_host: $DIR/ro.img: Permission denied"
		[ "$(api PUT /drives/d "{\"drive_id\": \"d\", \"path_on_host\": \"$DIR/ro.img\", \"is_root_device\": false, \"is_read_only\": true}")" = "204 " ]
	fi
	run api GET /vm/config
	[[ "$output" != *"kernel_image_path"* ]]
	[[ "$output" != *"no.img"* ]]
	[ "$(api PUT /boot-source "{\"kernel_image_path\": \"$DIR/k\"}")" = "204 " ]
}

@test "api: PUT /logger takes Firecracker's current schema (no log_path, module, Trace, Off)" {
	start_wisp
	[ "$(api PUT /logger '{"level": "Trace", "module": "vmm::builder", "show_level": true, "show_log_origin": true}')" = "204 " ]
	[ "$(api PUT /logger "{\"log_path\": \"$DIR/wisp.log\", \"level\": \"Off\"}")" = "204 " ]
	[ -f "$DIR/wisp.log" ]
	run api GET /vm/config
	[[ "$output" == *'"level":"Off"'* ]]
	# Off: a failed start logs nothing (neither file nor stderr), yet the client gets the reason.
	touch "$DIR/k"
	[ "$(api PUT /boot-source "{\"kernel_image_path\": \"$DIR/k\"}")" = "204 " ]
	rm "$DIR/k"
	expect_fault PUT /actions '{"action_type": "InstanceStart"}' 400 "Cannot start microvm: "
	expect_fault PUT /logger '{"level": "Chatty"}' 400 'is not one of Error, Warning, Info, Debug, Trace, Off'
	cat "$DIR/wisp.log" "$DIR/wisp.err"
	[ ! -s "$DIR/wisp.log" ]
	! grep -q error "$DIR/wisp.err" || return 1
	# Back on: the same failure is logged to the file.
	[ "$(api PUT /logger "{\"log_path\": \"$DIR/wisp.log\", \"level\": \"Warning\"}")" = "204 " ]
	expect_fault PUT /actions '{"action_type": "InstanceStart"}' 400 "Cannot start microvm: "
	grep -q "error: " "$DIR/wisp.log"
}

@test "api: 100 concurrent clients" {
	start_wisp
	for i in $(seq 100); do
		(
			for _ in 1 2 3; do
				curl -s --unix-socket "$SOCK" -o /dev/null -w '%{http_code}\n' http://localhost/
				curl -s --unix-socket "$SOCK" -o /dev/null -w '%{http_code}\n' -X PUT \
					-d '{"vcpu_count": 1, "mem_size_mib": 128}' http://localhost/machine-config
			done
		) >"$DIR/client.$i" &
	done
	wait $(jobs -p | grep -v "^$WISP_PID\$")
	[ "$(cat "$DIR"/client.* | grep -c '^200$')" -eq 300 ]
	[ "$(cat "$DIR"/client.* | grep -c '^204$')" -eq 300 ]
}

@test "api: clients disconnecting mid-request do not disturb the others" {
	need_python
	start_wisp
	run raw '
for i in range(50):
    c = socket.socket(socket.AF_UNIX); c.connect(sys.argv[1])
    c.send(b"PUT /machine-config HTTP/1.1\r\nContent-Length: 40\r\n\r\n{\"vcpu")
    c.close()
s.send(b"GET /machine-config HTTP/1.1\r\nConnection: close\r\n\r\n")
print(recv_all(s).decode())'
	[[ "$output" == *"200 OK"* ]]
	[[ "$output" == *'"mem_size_mib":128'* ]]
	run api GET /
	[[ "$output" == 200* ]]
}

@test "api: a slow client with half a request does not block another client" {
	need_python
	start_wisp
	run raw '
s.send(b"PUT /machine-config HTTP/1.1\r\nContent-Length: 36\r\n\r\n{\"vcpu_count\":1,")
t = socket.socket(socket.AF_UNIX); t.connect(sys.argv[1]); t.settimeout(5)
t.send(b"GET /version HTTP/1.1\r\nConnection: close\r\n\r\n")
print("other:", recv_all(t).split(b"\r\n")[0].decode())
s.send(b"\"mem_size_mib\":64}\r\n")
s.settimeout(2)
print("slow:", s.recv(4096).split(b"\r\n")[0].decode())'
	[[ "$output" == *"other: HTTP/1.1 200 OK"* ]]
	[[ "$output" == *"slow: HTTP/1.1 204 No Content"* ]]
}

@test "api: pipelined requests are answered in order on one connection" {
	need_python
	start_wisp
	run raw '
s.send(b"GET /machine-config HTTP/1.1\r\n\r\n"
       b"PUT /machine-config HTTP/1.1\r\nContent-Length: 34\r\n\r\n{\"vcpu_count\":4,\"mem_size_mib\":64}"
       b"GET /machine-config HTTP/1.1\r\nConnection: close\r\n\r\n")
print(recv_all(s).decode())'
	first="${output%%204 No Content*}"
	rest="${output#*204 No Content}"
	[[ "$first" == *'"vcpu_count":1'* ]]
	[[ "$rest" == *'"vcpu_count":4'* ]]
}

@test "api: malformed HTTP gets 400 and the connection is closed" {
	need_python
	start_wisp
	run raw '
s.send(b"THIS IS NOT HTTP\r\n\r\nGET / HTTP/1.1\r\n\r\n")
print(recv_all(s).decode())'
	[[ "$output" == *"400 Bad Request"* ]]
	[[ "$output" == *"Connection: close"* ]]
	[[ "$output" != *"200 OK"* ]]
	run api GET /
	[[ "$output" == 200* ]]
}

@test "api: a stale socket is replaced, a live one or a regular file is refused" {
	need_python
	python3 -c 'import socket,sys; s=socket.socket(socket.AF_UNIX); s.bind(sys.argv[1])' "$SOCK"
	[ -S "$SOCK" ]
	start_wisp
	run api GET /
	[[ "$output" == 200* ]]
	run "$WISP" --api-sock "$SOCK" </dev/null
	[ "$status" -eq 1 ]
	[[ "$output" == *"$SOCK"*"another process is listening on it"* ]]
	touch "$DIR/file"
	run "$WISP" --api-sock "$DIR/file" </dev/null
	[ "$status" -eq 1 ]
	[[ "$output" == *"$DIR/file: exists and is not a socket"* ]]
	[ -f "$DIR/file" ]
}

@test "api: metrics file configured before boot is flushed on FlushMetrics" {
	start_wisp
	[ "$(api PUT /metrics "{\"metrics_path\": \"$DIR/m.json\"}")" = "204 " ]
	[ "$(api PUT /actions '{"action_type": "FlushMetrics"}')" = "204 " ]
	[ "$(api PUT /actions '{"action_type": "FlushMetrics"}')" = "204 " ]
	[ "$(wc -l <"$DIR/m.json")" -eq 2 ]
	grep -q '"utc_timestamp_ms"' "$DIR/m.json"
	grep -q '"api_server"' "$DIR/m.json"
}

@test "api: metrics lines hold changes since the previous flush, and a last line is written at exit" {
	command -v jq >/dev/null || skip "jq not installed"
	start_wisp
	[ "$(api PUT /metrics "{\"metrics_path\": \"$DIR/m.json\"}")" = "204 " ]
	[ "$(api PUT /actions '{"action_type": "FlushMetrics"}')" = "204 " ]
	[ "$(api PUT /actions '{"action_type": "FlushMetrics"}')" = "204 " ]
	kill -TERM "$WISP_PID"
	wait "$WISP_PID"
	WISP_PID=
	cat "$DIR/m.json"
	[ "$(wc -l <"$DIR/m.json")" -eq 3 ]
	# Three requests on three connections, each counted once over the lines: a file of
	# running totals would sum to more.
	[ "$(jq -s 'map(.api_server.requests) | add' "$DIR/m.json")" -eq 3 ]
	[ "$(jq -s 'map(.api_server.connections) | add' "$DIR/m.json")" -eq 3 ]
	# Nothing connected after the second flush.
	[ "$(jq -s '.[2].api_server.connections' "$DIR/m.json")" -eq 0 ]
}

# ---- with a VM ----

need_vm() {
	[ -r /dev/kvm ] && [ -w /dev/kvm ] || skip "/dev/kvm not usable"
	[ -f "$GUEST" ] || skip "$GUEST not built"
}

boot_echo_guest() {
	start_wisp
	[ "$(api PUT /boot-source "{\"kernel_image_path\": \"$GUEST\", \"boot_args\": \"console=ttyS0 wisp.test=echo\"}")" = "204 " ]
	[ "$(api PUT /machine-config '{"vcpu_count": 1, "mem_size_mib": 64}')" = "204 " ]
	run api PUT /actions '{"action_type": "InstanceStart"}'
	echo "$output"
	[ "$output" = "204 " ]
	for _ in $(seq 500); do
		grep -q 'echo> ' "$DIR/serial.out" && return 0
		sleep 0.01
	done
	cat "$DIR/serial.out" "$DIR/wisp.err"
	return 1
}

@test "api: InstanceStart boots the guest; a second InstanceStart is refused" {
	need_vm
	boot_echo_guest
	run api GET /
	[[ "$output" == *'"state":"Running"'* ]]
	expect_fault PUT /actions '{"action_type": "InstanceStart"}' 400 'The requested operation is not supported after starting the microVM.'
	expect_fault PUT /machine-config '{"vcpu_count": 2, "mem_size_mib": 64}' 400 'not supported after starting the microVM'
	expect_fault PUT /boot-source '{"kernel_image_path": "/k"}' 400 'not supported after starting the microVM'
	run api GET /vm/config
	[[ "$output" == *'wisp.test=echo'* ]]
}

@test "api: pause and resume a running guest" {
	need_vm
	boot_echo_guest
	[ "$(api PATCH /vm '{"state": "Paused"}')" = "204 " ]
	run api GET /
	[[ "$output" == *'"state":"Paused"'* ]]
	[ "$(api PATCH /vm '{"state": "Resumed"}')" = "204 " ]
	run api GET /
	[[ "$output" == *'"state":"Running"'* ]]
	echo "hello" >&7
	for _ in $(seq 300); do
		grep -q 'echo: hello' "$DIR/serial.out" && break
		sleep 0.01
	done
	grep -q 'echo: hello' "$DIR/serial.out"
}

@test "api: SendCtrlAltDel and FlushMetrics on a running guest" {
	need_vm
	boot_echo_guest
	[ "$(api PUT /actions '{"action_type": "SendCtrlAltDel"}')" = "204 " ]
	expect_fault PUT /metrics "{\"metrics_path\": \"$DIR/m.json\"}" 400 'not supported after starting the microVM'
	expect_fault PUT /actions '{"action_type": "FlushMetrics"}' 400 'FlushMetrics'
}

# Waits up to 10 s for the serial console to show $1.
wait_serial() {
	for _ in $(seq 1000); do
		grep -q "$1" "$DIR/serial.out" && return 0
		sleep 0.01
	done
	cat "$DIR/serial.out" "$DIR/wisp.err" >&2
	return 1
}

# Files are checked at PUT and again at InstanceStart: one removed in between gets a 400 naming
# it (the loader's reason); the server still serves, and the fixed configuration boots (the
# reset guest resets at once and wisp exits 0).
@test "api: InstanceStart with a kernel that vanished: 400 names it; fixed, the guest boots" {
	need_vm
	cp "$GUEST" "$DIR/kernel.elf"
	start_wisp
	[ "$(api PUT /boot-source "{\"kernel_image_path\": \"$DIR/kernel.elf\", \"boot_args\": \"console=ttyS0 wisp.test=reset\"}")" = "204 " ]
	rm "$DIR/kernel.elf"
	expect_fault PUT /actions '{"action_type": "InstanceStart"}' 400 "$DIR/kernel.elf: No such file or directory"
	run api GET /
	[[ "$output" == *'"state":"Not started"'* ]]
	[ "$(api PUT /boot-source "{\"kernel_image_path\": \"$GUEST\", \"boot_args\": \"console=ttyS0 wisp.test=reset\"}")" = "204 " ]
	[ "$(api PUT /actions '{"action_type": "InstanceStart"}')" = "204 " ]
	wait "$WISP_PID"
	WISP_PID=
}

@test "api: InstanceStart with a drive that vanished: 400 names it; fixed, the guest boots" {
	need_vm
	head -c 1048576 /dev/zero >"$DIR/data.img"
	start_wisp
	[ "$(api PUT /boot-source "{\"kernel_image_path\": \"$GUEST\", \"boot_args\": \"console=ttyS0 wisp.test=reset\"}")" = "204 " ]
	[ "$(api PUT /drives/data "{\"drive_id\": \"data\", \"path_on_host\": \"$DIR/data.img\", \"is_root_device\": false, \"is_read_only\": false}")" = "204 " ]
	mv "$DIR/data.img" "$DIR/moved.img"
	expect_fault PUT /actions '{"action_type": "InstanceStart"}' 400 "$DIR/data.img: No such file or directory"
	run api GET /
	[[ "$output" == *'"state":"Not started"'* ]]
	[ "$(api PUT /drives/data "{\"drive_id\": \"data\", \"path_on_host\": \"$DIR/moved.img\", \"is_root_device\": false, \"is_read_only\": false}")" = "204 " ]
	[ "$(api PUT /actions '{"action_type": "InstanceStart"}')" = "204 " ]
	wait "$WISP_PID"
	WISP_PID=
}

@test "api: the full start sequence boots with the requested vcpus, memory, cmdline and drive" {
	need_vm
	head -c 1048576 /dev/zero >"$DIR/rootfs.img"
	start_wisp
	[ "$(api PUT /boot-source "{\"kernel_image_path\": \"$GUEST\", \"boot_args\": \"console=ttyS0 wisp.test=memmap api.marker=42\"}")" = "204 " ]
	[ "$(api PUT /machine-config '{"vcpu_count": 2, "mem_size_mib": 256}')" = "204 " ]
	[ "$(api PUT /drives/rootfs "{\"drive_id\": \"rootfs\", \"path_on_host\": \"$DIR/rootfs.img\", \"is_root_device\": true, \"is_read_only\": false}")" = "204 " ]
	[ "$(api PUT /actions '{"action_type": "InstanceStart"}')" = "204 " ]
	wait_serial "TEST memmap PASS"
	# The memory the guest found, the command line it got (wisp appends the root drive; the
	# virtio-mmio device is in the DSDT, not on the command line), and the wisp process exits 0
	# after the guest's reset.
	grep -q "^MEM total_kib=$((256 * 1024 - 385))" "$DIR/serial.out"
	grep -q 'cmdline="console=ttyS0 wisp.test=memmap api.marker=42 root=/dev/vda rw"' "$DIR/serial.out"
	wait "$WISP_PID"
	WISP_PID=
}

@test "api: vcpu_count reaches the guest (smp) and drives configured through the API work" {
	need_vm
	head -c 1048576 /dev/zero >"$DIR/data.img"
	start_wisp
	[ "$(api PUT /boot-source "{\"kernel_image_path\": \"$GUEST\", \"boot_args\": \"console=ttyS0 wisp.test=smp\"}")" = "204 " ]
	[ "$(api PUT /machine-config '{"vcpu_count": 3, "mem_size_mib": 128}')" = "204 " ]
	[ "$(api PUT /actions '{"action_type": "InstanceStart"}')" = "204 " ]
	wait_serial "TEST smp PASS"
	grep -q "^CPUS_ONLINE 3" "$DIR/serial.out"
	wait "$WISP_PID"

	rm -f "$DIR/stdin" "$DIR/serial.out"
	start_wisp
	[ "$(api PUT /boot-source "{\"kernel_image_path\": \"$GUEST\", \"boot_args\": \"console=ttyS0 wisp.test=blk-rw\"}")" = "204 " ]
	[ "$(api PUT /drives/data "{\"drive_id\": \"data\", \"path_on_host\": \"$DIR/data.img\", \"is_root_device\": false, \"is_read_only\": false, \"io_engine\": \"Async\"}")" = "204 " ]
	[ "$(api PUT /actions '{"action_type": "InstanceStart"}')" = "204 " ]
	wait_serial "TEST blk-rw PASS"
	wait "$WISP_PID"
	WISP_PID=
	# The guest's pattern is in the file: 8-byte words 0x5749535000000000 + offset/8.
	[ "$(od -An -tx8 -N8 -j $((8 * 512)) "$DIR/data.img" | tr -d ' ')" != "0000000000000000" ]
}

@test "api: pause stops the guest's counter and resume continues it" {
	need_vm
	start_wisp
	[ "$(api PUT /boot-source "{\"kernel_image_path\": \"$GUEST\", \"boot_args\": \"console=ttyS0 wisp.test=counter wisp.arg=10\"}")" = "204 " ]
	[ "$(api PUT /actions '{"action_type": "InstanceStart"}')" = "204 " ]
	wait_serial "COUNTER 5"
	[ "$(api PATCH /vm '{"state": "Paused"}')" = "204 " ]
	sleep 0.2 # output already in flight reaches the console
	before=$(grep -c '^COUNTER' "$DIR/serial.out")
	sleep 0.5 # 50 counter periods
	after=$(grep -c '^COUNTER' "$DIR/serial.out")
	echo "paused: $before -> $after"
	[ "$after" -eq "$before" ]
	[ "$(api PATCH /vm '{"state": "Resumed"}')" = "204 " ]
	sleep 0.5
	resumed=$(grep -c '^COUNTER' "$DIR/serial.out")
	echo "resumed: $after -> $resumed"
	[ "$resumed" -gt $((after + 5)) ]
}

@test "api: SendCtrlAltDel reaches the guest's keyboard controller" {
	need_vm
	start_wisp
	[ "$(api PUT /boot-source "{\"kernel_image_path\": \"$GUEST\", \"boot_args\": \"console=ttyS0 wisp.test=kbd\"}")" = "204 " ]
	[ "$(api PUT /actions '{"action_type": "InstanceStart"}')" = "204 " ]
	wait_serial "KBD ready"
	[ "$(api PUT /actions '{"action_type": "SendCtrlAltDel"}')" = "204 " ]
	wait_serial "TEST kbd PASS"
	grep -q "^KBD 1d 38 e0 53 e0 d3 b8 9d" "$DIR/serial.out"
}

@test "api: GET /vm/config round-trips into --config-file" {
	need_vm
	need_python
	start_wisp
	[ "$(api PUT /boot-source "{\"kernel_image_path\": \"$GUEST\", \"boot_args\": \"console=ttyS0 wisp.test=echo\"}")" = "204 " ]
	[ "$(api PUT /machine-config '{"vcpu_count": 2, "mem_size_mib": 96}')" = "204 " ]
	run api GET /vm/config
	[[ "$output" == 200* ]]
	echo "${output#200 }" >"$DIR/vm.json"
	kill "$WISP_PID"
	wait "$WISP_PID" || true
	WISP_PID=
	# The file boots (the echo guest answers and resets on request) ...
	run bash -c "printf 'round trip\nreset\n' | timeout 60 '$WISP' --no-api --config-file '$DIR/vm.json'"
	[ "$status" -eq 0 ]
	[[ "$output" == *"echo: round trip"* ]]
	[[ "$output" == *"TEST echo PASS"* ]]
	# ... and a wisp configured from it reports the same configuration back.
	mkfifo "$DIR/hold"
	"$WISP" --config-file "$DIR/vm.json" --api-sock "$SOCK.2" <"$DIR/hold" >/dev/null 2>&1 &
	WISP_PID=$!
	exec 8>"$DIR/hold"
	for _ in $(seq 500); do [ -S "$SOCK.2" ] && break; sleep 0.01; done
	curl -s --unix-socket "$SOCK.2" http://localhost/vm/config >"$DIR/again.json"
	exec 8>&-
	python3 -c 'import json,sys; a=json.load(open(sys.argv[1])); b=json.load(open(sys.argv[2])); print(a); print(b); sys.exit(a != b)' "$DIR/vm.json" "$DIR/again.json"
}

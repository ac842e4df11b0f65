#!/usr/bin/env bats
# virtio-blk end to end: wisp boots the test guest, whose blk-* tests drive the first virtio-blk
# device (tests/guest/tests_blk.c); the host side checks the image file afterwards.
# Needs /dev/kvm and python3 (to check the pattern the guest writes).
# BUILD selects the build directory (build or build-asan).

setup() {
	BUILD=${BUILD:-build}
	WISP=$BUILD/wisp
	GUEST=$BUILD/guest/wisp-test-guest.elf
	[ -x "$WISP" ] || skip "$WISP not built"
	[ -f "$GUEST" ] || skip "$GUEST not built"
	grep -q blk-many "$GUEST" || skip "guest built without tests/guest/tests_blk.c"
	[ -w /dev/kvm ] || skip "no usable /dev/kvm"
	command -v python3 >/dev/null || skip "python3 not installed"
	IMG=$BATS_TEST_TMPDIR/disk.img
	truncate -s 1M "$IMG"
}

teardown() {
	if [ -n "${WISP_PID:-}" ]; then
		kill -9 "$WISP_PID" 2>/dev/null || true
		wait "$WISP_PID" 2>/dev/null || true
	fi
}

# boot TEST [DRIVE-OPTIONS] [EXTRA WISP ARGS...]: one run of the guest with IMG as root drive.
boot() {
	local t=$1 opts=${2:-}
	shift 2 || shift $#
	timeout 30 "$WISP" --no-api --kernel "$GUEST" --cmdline "wisp.test=$t" \
		--drive "id=rootfs,path=$IMG,root=on$opts" "$@" </dev/null
}

# check_pattern SECTOR BYTES: the guest's pattern (tests_blk.c: 64-bit words
# 0x5749535000000000 + sector * 64 + i, little-endian) is in IMG from SECTOR on.
check_pattern() {
	python3 - "$IMG" "$1" "$2" <<'PY'
import struct, sys
path, sector, n = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
with open(path, "rb") as f:
    f.seek(sector * 512)
    data = f.read(n)
if len(data) != n:
    sys.exit("short file")
for i in range(n // 8):
    w = struct.unpack_from("<Q", data, 8 * i)[0]
    if w != 0x5749535000000000 + sector * 64 + i:
        sys.exit("word %d is %#x" % (i, w))
PY
}

@test "blk-rw writes the pattern into the image (Sync and Async engines)" {
	for io in sync async; do
		rm -f "$IMG"
		truncate -s 1M "$IMG"
		run boot blk-rw ",io=$io"
		echo "$output"
		[ "$status" -eq 0 ]
		[[ "$output" == *"TEST blk-rw PASS"* ]]
		# with ACPI the guest finds the device in the DSDT, not on the command line
		[[ "$output" == *"VIRTIO via=acpi"* ]]
		[[ "$output" == *"VIRTIO dev=0 base=0xd0000000 irq=5 id=2"* ]]
		[[ "$output" != *"virtio_mmio.device="* ]]
		[[ "$output" == *"root=/dev/vda rw"* ]]
		[[ "$output" == *"BLK dev=0 capacity=2048 ro=0 flush=1"* ]]
		check_pattern 1 4096
		# sector 0 and what follows the write are untouched
		[ "$(head -c 512 "$IMG" | tr -d '\0' | wc -c)" -eq 0 ]
		[ "$(tail -c +$((1 * 512 + 4096 + 1)) "$IMG" | tr -d '\0' | wc -c)" -eq 0 ]
	done
}

@test "blk-flush, blk-id, blk-range and blk-many pass on both engines and cache types" {
	for io in sync async; do
		for cache in unsafe writeback; do
			for t in blk-flush blk-id blk-range blk-many; do
				run boot "$t" ",io=$io,cache=$cache"
				echo "$t io=$io cache=$cache: $output"
				[ "$status" -eq 0 ]
				[[ "$output" == *"TEST $t PASS"* ]]
			done
		done
	done
	[[ "$output" == *"BLK_MANY inflight=32 reads ok"* ]]
	check_pattern 1 $((32 * 512))
}

@test "blk-id reports the drive id" {
	run boot blk-id ""
	[ "$status" -eq 0 ]
	[[ "$output" == *"BLK_ID rootfs"* ]]
}

@test "a read-only drive refuses writes and leaves the file untouched" {
	head -c 1M /dev/urandom >"$IMG"
	before=$(sha256sum <"$IMG")
	for io in sync async; do
		run boot blk-ro ",readonly=on,io=$io"
		echo "$output"
		[ "$status" -eq 0 ]
		[[ "$output" == *"BLK dev=0 capacity=2048 ro=1"* ]]
		[[ "$output" == *"BLK_RO read=0 write=1"* ]]
		[[ "$output" == *"TEST blk-ro PASS"* ]]
		[[ "$output" == *"root=/dev/vda ro"* ]]
	done
	[ "$(sha256sum <"$IMG")" = "$before" ]
}

@test "data the guest was told is flushed survives kill -9" {
	# The guest writes sector 7, flushes, prints BLK_FLUSH and then holds for 20 s at CPL3:
	# wisp is killed in that window, so the data can only be in the file because wisp had
	# completed the write and the flush before the guest saw their status.
	out=$BATS_TEST_TMPDIR/serial
	# The checker is not vacuous: on the untouched image it fails.
	run check_pattern 7 512
	[ "$status" -ne 0 ]
	for io in async sync; do
		truncate -s 0 "$IMG"
		truncate -s 1M "$IMG"
		"$WISP" --no-api --kernel "$GUEST" --cmdline "wisp.test=blk-flush wisp.arg=7 wisp.hold=20000" \
			--drive "id=rootfs,path=$IMG,root=on,cache=writeback,io=$io" </dev/null >"$out" 2>&1 &
		WISP_PID=$!
		for _ in $(seq 1000); do
			grep -q "BLK_HOLD" "$out" && break
			kill -0 "$WISP_PID" 2>/dev/null || break
			sleep 0.01
		done
		cat "$out"
		grep -q "BLK_FLUSH status=0" "$out"
		grep -q "BLK_HOLD ms=20000" "$out"
		# The kill lands while wisp runs: it is alive now and dies of SIGKILL (128 + 9).
		kill -0 "$WISP_PID"
		kill -9 "$WISP_PID"
		rc=0
		wait "$WISP_PID" || rc=$?
		WISP_PID=
		[ "$rc" -eq 137 ]
		run grep -c "TEST blk-flush PASS" "$out"
		[ "$output" = 0 ]
		check_pattern 7 512
		# and nothing else was written: the sectors around 7 are still zero
		[ "$(head -c $((7 * 512)) "$IMG" | tr -d '\0' | wc -c)" -eq 0 ]
		[ "$(tail -c +$((8 * 512 + 1)) "$IMG" | tr -d '\0' | wc -c)" -eq 0 ]
	done
}

@test "the root device is /dev/vda whatever its place in the configuration" {
	DATA=$BATS_TEST_TMPDIR/data.img
	truncate -s 2M "$DATA"
	run timeout 30 "$WISP" --no-api --kernel "$GUEST" --cmdline "wisp.test=blk-id" \
		--drive "id=data,path=$DATA" --drive "id=rootfs,path=$IMG,root=on,partuuid=0eadbeef-01" \
		</dev/null
	echo "$output"
	[ "$status" -eq 0 ]
	[[ "$output" == *"BLK dev=0 capacity=2048"* ]]
	[[ "$output" == *"BLK_ID rootfs"* ]]
	# The root drive takes the first virtio-mmio slot (the DSDT's first LNRO0005 device) and
	# the command line names it by PARTUUID; with ACPI no virtio_mmio.device= is appended.
	[[ "$output" == *"VIRTIO dev=0 base=0xd0000000 irq=5 id=2"* ]]
	[[ "$output" == *"root=PARTUUID=0eadbeef-01 rw"* ]]
	[[ "$output" != *"virtio_mmio.device="* ]]
	# --no-acpi: the same devices on the command line, the root drive first
	run timeout 30 "$WISP" --no-api --no-acpi --kernel "$GUEST" --cmdline "wisp.test=blk-id" \
		--drive "id=data,path=$DATA" --drive "id=rootfs,path=$IMG,root=on,partuuid=0eadbeef-01" \
		</dev/null
	[ "$status" -eq 0 ]
	[[ "$output" == *"VIRTIO via=cmdline"* ]]
	[[ "$output" == *"BLK_ID rootfs"* ]]
	[[ "$output" == *"virtio_mmio.device=4K@0xd0000000:5 root=PARTUUID=0eadbeef-01 rw virtio_mmio.device=4K@0xd0001000:6"* ]]
	# and the second device is the data drive
	run timeout 30 "$WISP" --no-api --kernel "$GUEST" --cmdline "wisp.test=blk-id wisp.dev=1" \
		--drive "id=data,path=$DATA" --drive "id=rootfs,path=$IMG,root=on" </dev/null
	[ "$status" -eq 0 ]
	[[ "$output" == *"BLK_ID data"* ]]
}

@test "a missing image is one clear error and exit code 1" {
	run timeout 30 "$WISP" --no-api --kernel "$GUEST" --cmdline "wisp.test=blk-id" \
		--drive "id=rootfs,path=$BATS_TEST_TMPDIR/nonexistent.img,root=on" </dev/null
	echo "$output"
	[ "$status" -eq 1 ]
	[[ "$output" == *"drive rootfs"*"nonexistent.img"* ]]
}

@test "PATCH /drives after boot swaps the image and the rate limiter; a bad path is a 400" {
	command -v curl >/dev/null || skip "curl not installed"
	SOCK=$BATS_TEST_TMPDIR/api.sock
	NEW=$BATS_TEST_TMPDIR/new.img
	METRICS=$BATS_TEST_TMPDIR/metrics.json
	truncate -s 2M "$NEW"
	"$WISP" --api-sock "$SOCK" --kernel "$GUEST" --metrics-path "$METRICS" \
		--cmdline "wisp.test=counter wisp.count=0 wisp.arg=100" \
		--drive "id=rootfs,path=$IMG,root=on,io=async" </dev/null >/dev/null 2>&1 &
	WISP_PID=$!
	for _ in $(seq 200); do
		[ -S "$SOCK" ] && break
		sleep 0.01
	done
	api() { curl -s -w ' %{http_code}' --unix-socket "$SOCK" -X "$1" "http://localhost$2" -d "$3"; }
	run api PATCH /drives/rootfs "{\"drive_id\":\"rootfs\",\"path_on_host\":\"$NEW\"}"
	[[ "$output" == *" 204" ]]
	run api PATCH /drives/rootfs '{"drive_id":"rootfs","path_on_host":"/nonexistent/x.img"}'
	echo "$output"
	[[ "$output" == *"drive rootfs"*"/nonexistent/x.img"*" 400" ]]
	run api PATCH /drives/rootfs \
		'{"drive_id":"rootfs","rate_limiter":{"ops":{"size":100,"refill_time":1000}}}'
	[[ "$output" == *" 204" ]]
	run api PUT /actions '{"action_type":"FlushMetrics"}'
	[[ "$output" == *" 204" ]]
	grep -q '"block_rootfs":{[^}]*"update_count":2' "$METRICS"
	grep -q '"block_rootfs":{[^}]*"update_fails":1' "$METRICS"
	# GET /vm/config shows what the device now uses: the new file and the new ops bucket, not
	# the path of the failed PATCH.
	run api GET /vm/config
	echo "$output"
	[[ "$output" == *"\"path_on_host\":\"$NEW\""* ]]
	[[ "$output" != *"/nonexistent/x.img"* ]]
	[[ "$output" == *'"ops":{"size":100'* ]]
}

#!/usr/bin/env bats
# cache_type Direct (CLI cache=none): the backing file opened with O_DIRECT. The guest's blk
# tests (tests/guest/tests_blk.c, test_blk_unaligned.c) run against an image on a disk file
# system (O_DIRECT needs one: BATS_TEST_TMPDIR may be tmpfs, so the image lives under the
# build directory, and the tests skip when that is not on a disk file system either); tmpfs
# is refused with a clear error, on the command line and through the API.
# BUILD selects the build directory (build or build-asan).

setup() {
	BUILD=${BUILD:-build}
	WISP=$BUILD/wisp
	GUEST=$BUILD/guest/wisp-test-guest.elf
	[ -x "$WISP" ] || skip "$WISP not built"
	[ -f "$GUEST" ] || skip "$GUEST not built"
	grep -q blk-unaligned "$GUEST" || skip "guest built without test_blk_unaligned.c"
	[ -w /dev/kvm ] || skip "no usable /dev/kvm"
	DIR=$(mktemp -d "$BUILD/blk-direct.XXXXXX")
	case $(stat -f -c %T "$DIR") in
	ext2/ext3 | ext4 | xfs | btrfs) ;;
	*) skip "$DIR is on $(stat -f -c %T "$DIR"), not a disk file system" ;;
	esac
	IMG=$DIR/disk.img
	truncate -s 1M "$IMG"
}

teardown() {
	if [ -n "${WISP_PID:-}" ]; then
		kill -9 "$WISP_PID" 2>/dev/null || true
		wait "$WISP_PID" 2>/dev/null || true
	fi
	[ -n "${DIR:-}" ] && rm -rf "$DIR"
	[ -n "${SHM_IMG:-}" ] && rm -f "$SHM_IMG"
	return 0
}

# boot TEST DRIVE-OPTIONS: one run of the guest with IMG as root drive.
boot() {
	timeout 60 "$WISP" --no-api --kernel "$GUEST" --cmdline "wisp.test=$1" \
		--drive "id=rootfs,path=$IMG,root=on$2" </dev/null
}

@test "cache=none: blk-rw, blk-many, blk-flush and blk-unaligned pass on both engines" {
	for io in sync async; do
		for t in blk-rw blk-many blk-flush blk-unaligned; do
			run boot "$t" ",cache=none,io=$io"
			echo "$t io=$io: $output"
			[ "$status" -eq 0 ]
			[[ "$output" == *"TEST $t PASS"* ]]
		done
	done
}

@test "cache=none: what the guest wrote is in the file" {
	run boot blk-rw ",cache=none,io=async"
	[ "$status" -eq 0 ]
	# The guest's pattern (tests_blk.c): first word of sector 1 is 0x5749535000000040.
	[ "$(dd if="$IMG" bs=8 skip=64 count=1 status=none | od -An -tx8 | tr -d ' ')" = 5749535000000040 ]
}

@test "cache=none on tmpfs is one clear error naming the drive, exit 1" {
	[ "$(stat -f -c %T /dev/shm 2>/dev/null)" = tmpfs ] || skip "no tmpfs at /dev/shm"
	SHM_IMG=$(mktemp /dev/shm/wisp-direct.XXXXXX)
	truncate -s 1M "$SHM_IMG"
	run timeout 30 "$WISP" --no-api --kernel "$GUEST" --cmdline "wisp.test=blk-rw" \
		--drive "id=scratch,path=$SHM_IMG,cache=none" </dev/null
	echo "$output"
	[ "$status" -eq 1 ]
	[[ "$output" == *"drive scratch: cache_type Direct: $SHM_IMG is on tmpfs"* ]]
}

@test "PUT /drives with cache_type Direct on tmpfs is a 400 with fault_message" {
	command -v curl >/dev/null || skip "curl not installed"
	[ "$(stat -f -c %T /dev/shm 2>/dev/null)" = tmpfs ] || skip "no tmpfs at /dev/shm"
	SHM_IMG=$(mktemp /dev/shm/wisp-direct.XXXXXX)
	truncate -s 1M "$SHM_IMG"
	sock=$DIR/api.sock
	"$WISP" --api-sock "$sock" </dev/null >"$DIR/wisp.out" 2>&1 &
	WISP_PID=$!
	for _ in $(seq 500); do
		[ -S "$sock" ] && break
		sleep 0.02
	done
	put() {
		curl -s -o "$DIR/resp" -w '%{http_code}' --unix-socket "$sock" -X PUT \
			"http://localhost/drives/$1" -H 'Content-Type: application/json' -d "$2"
	}
	code=$(put scratch "{\"drive_id\": \"scratch\", \"path_on_host\": \"$SHM_IMG\", \"is_root_device\": false, \"is_read_only\": false, \"cache_type\": \"Direct\"}")
	cat "$DIR/resp"
	[ "$code" = 400 ]
	grep -q '"fault_message"' "$DIR/resp"
	grep -q "drive scratch: cache_type Direct: .* is on tmpfs" "$DIR/resp"
	# the same on a disk file system is accepted
	code=$(put disk "{\"drive_id\": \"disk\", \"path_on_host\": \"$IMG\", \"is_root_device\": false, \"is_read_only\": false, \"cache_type\": \"Direct\"}")
	[ "$code" = 204 ]
}

@test "PATCH /drives after boot reopens a Direct drive with O_DIRECT (seccomp on); tmpfs is a 400" {
	command -v curl >/dev/null || skip "curl not installed"
	[ "$(stat -f -c %T /dev/shm 2>/dev/null)" = tmpfs ] || skip "no tmpfs at /dev/shm"
	SHM_IMG=$(mktemp /dev/shm/wisp-direct.XXXXXX)
	truncate -s 1M "$SHM_IMG"
	sock=$DIR/api.sock
	NEW=$DIR/new.img
	truncate -s 2M "$NEW"
	"$WISP" --api-sock "$sock" --kernel "$GUEST" \
		--cmdline "wisp.test=counter wisp.count=0 wisp.arg=100" \
		--drive "id=rootfs,path=$IMG,root=on,io=async,cache=none" </dev/null >"$DIR/wisp.out" 2>&1 &
	WISP_PID=$!
	for _ in $(seq 500); do
		[ -S "$sock" ] && break
		sleep 0.02
	done
	api() { curl -s -w ' %{http_code}' --unix-socket "$sock" -X "$1" "http://localhost$2" -d "$3"; }
	run api PATCH /drives/rootfs "{\"drive_id\":\"rootfs\",\"path_on_host\":\"$NEW\"}"
	echo "$output"
	[[ "$output" == *" 204" ]]
	run api PATCH /drives/rootfs "{\"drive_id\":\"rootfs\",\"path_on_host\":\"$SHM_IMG\"}"
	echo "$output"
	[[ "$output" == *"drive rootfs: cache_type Direct: $SHM_IMG is on tmpfs"*" 400" ]]
	kill -0 "$WISP_PID" # still running: nothing the filter forbids was called
	run api GET /vm/config
	[[ "$output" == *'"cache_type":"Direct"'* ]]
	[[ "$output" == *"\"path_on_host\":\"$NEW\""* ]]
}

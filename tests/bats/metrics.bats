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

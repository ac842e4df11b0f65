#!/usr/bin/env bats
# The test guest under QEMU's microvm, without wisp: proves the guest itself (PVH entry, the
# linux64 entry through the chain self-test, every core test) so that wisp's end-to-end
# failures point at wisp. Skipped when qemu-system-x86_64 is missing.
# BUILD selects the build directory (build or build-asan: the guest is the same in both).

setup() {
	BUILD=${BUILD:-build}
	GUEST=$BUILD/guest/wisp-test-guest.elf
	command -v qemu-system-x86_64 >/dev/null || skip "qemu-system-x86_64 not installed"
	[ -f "$GUEST" ] || skip "$GUEST not built"
}

# qemu_guest ACCEL SMP CMDLINE: boots the guest; stdin is passed through to COM1.
qemu_guest() {
	timeout 60 qemu-system-x86_64 -M microvm,x-option-roms=off,isa-serial=on,rtc=off \
		-accel "$1" -m 128 -smp "$2" -nographic -nodefaults -serial stdio -no-reboot \
		-kernel "$GUEST" -append "$3" 2>/dev/null
}

@test "guest images: entry points, PVH note, bzImage header" {
	run tests/guest/check-image.sh "$BUILD/guest"
	echo "$output"
	[ "$status" -eq 0 ]
}

@test "guest serial (pvh)" {
	run qemu_guest tcg 1 "wisp.test=serial"
	[ "$status" -eq 0 ]
	[[ "${lines[0]}" == 'wisp-test-guest: boot=pvh cmdline="wisp.test=serial"' ]]
	long="SERIAL long $(for i in $(seq 256); do printf 0123456789abcdef; done)"
	[[ "$output" == *"$long"* ]]
	[[ "$output" == *"TEST serial PASS"* ]]
}

@test "guest memmap (pvh and linux64 chain)" {
	for chain in "" " wisp.chain=linux64"; do
		run qemu_guest tcg 1 "wisp.test=memmap$chain"
		[ "$status" -eq 0 ]
		# 128 MiB minus the 640 KiB-1 MiB hole and QEMU's EBDA KiB.
		[[ "$output" == *"MEM total_kib=130687"* ]]
		[[ "$output" == *"TEST memmap PASS"* ]]
	done
	[[ "$output" == *"boot=linux64"* ]]
}

@test "guest cmdline" {
	run qemu_guest tcg 1 "wisp.test=cmdline a=b  c"
	[[ "$output" == *"CMDLINE wisp.test=cmdline a=b  c"* ]]
	[[ "$output" == *"TEST cmdline PASS"* ]]
}

@test "guest smp with 1, 2 and 4 CPUs" {
	for n in 1 2 4; do
		run qemu_guest tcg $n "wisp.test=smp"
		[[ "$output" == *"CPUS $n"* ]]
		[[ "$output" == *"CPUS_ONLINE $n"* ]]
		[[ "$output" == *"TEST smp PASS"* ]]
	done
}

@test "guest exception, CPL0 and CPL3 (pvh and linux64 chain)" {
	for chain in "" " wisp.chain=linux64"; do
		run qemu_guest tcg 1 "wisp.test=exception$chain"
		[ "$(grep -c '^EXCEPTION .* ok' <<<"$output")" -eq 6 ]
		[[ "$output" == *"TEST exception PASS"* ]]
	done
}

@test "guest reset and shutdown stop the VM" {
	run qemu_guest tcg 1 "wisp.test=reset"
	[ "$status" -eq 0 ]
	[[ "$output" == *"TEST reset PASS"* ]]
	run qemu_guest tcg 1 "wisp.test=shutdown"
	[ "$status" -eq 0 ]
	[[ "$output" == *"TEST shutdown PASS"* ]]
}

@test "guest counter and userloop at CPL3" {
	run qemu_guest tcg 1 "wisp.test=counter wisp.count=3"
	[[ "$output" == *"COUNTER 2"* ]]
	[[ "$output" == *"TEST counter PASS"* ]]
	run qemu_guest tcg 1 "wisp.test=userloop wisp.arg=1000"
	[[ "$output" == *"USERLOOP iters=1000 tsc_delta="* ]]
	[[ "$output" == *"TEST userloop PASS"* ]]
}

@test "guest echo gets a 6 KiB burst from stdin without loss" {
	burst=$(head -c 6000 /dev/zero | tr '\0' x)
	run qemu_guest tcg 1 "wisp.test=echo" < <(printf 'hello\r\n%s\nreset\n' "$burst")
	[[ "$output" == *"echo: hello"* ]]
	[ "$(tr -cd x <<<"$output" | wc -c)" -eq 6000 ]
	[[ "$output" == *"TEST echo PASS"* ]]
}

@test "guest unknown test and missing wisp.test fail cleanly" {
	run qemu_guest tcg 1 "wisp.test=nosuch"
	[[ "$output" == *"TEST nosuch FAIL unknown test"* ]]
	run qemu_guest tcg 1 "console=none"
	[[ "$output" == *"FAIL no wisp.test="* ]]
}

# qemu_blk CMDLINE: two virtio-blk drives (QEMU microvm needs modern virtio-mmio and no
# ACPI to list them on the command line): dev 0 read-write, dev 1 read-only.
qemu_blk() {
	truncate -s 1M "$BATS_TEST_TMPDIR/rw.img" "$BATS_TEST_TMPDIR/ro.img"
	timeout 60 qemu-system-x86_64 -M microvm,acpi=off,x-option-roms=off,isa-serial=on,rtc=off \
		-accel tcg -m 128 -smp 1 -nographic -nodefaults -serial stdio -no-reboot \
		-global virtio-mmio.force-legacy=false \
		-drive id=d0,file="$BATS_TEST_TMPDIR/rw.img",format=raw,if=none \
		-device virtio-blk-device,drive=d0,serial=wisp-rw \
		-drive id=d1,file="$BATS_TEST_TMPDIR/ro.img",format=raw,if=none,readonly=on \
		-device virtio-blk-device,drive=d1,serial=wisp-ro \
		-kernel "$GUEST" -append "$1" 2>/dev/null
}

@test "guest blk-rw writes the documented pattern" {
	run qemu_blk "wisp.test=blk-rw wisp.arg=3"
	[[ "$output" == *"BLK_RW sector=3 bytes=4096 ok"* ]]
	[[ "$output" == *"TEST blk-rw PASS"* ]]
	# word at byte offset o = 0x5749535000000000 + o / 8
	[ "$(od -An -t x8 -j 1536 -N 8 "$BATS_TEST_TMPDIR/rw.img" | tr -d ' ')" = 57495350000000c0 ]
}

@test "guest blk-flush, blk-id, blk-range, blk-many" {
	run qemu_blk "wisp.test=blk-flush"
	[[ "$output" == *"TEST blk-flush PASS"* ]]
	run qemu_blk "wisp.test=blk-id wisp.dev=1"
	[[ "$output" == *"BLK_ID wisp-ro"* ]]
	run qemu_blk "wisp.test=blk-range"
	[[ "$output" == *"BLK_RANGE capacity=2048 past_end=1 straddle=1"* ]]
	run qemu_blk "wisp.test=blk-many"
	[[ "$output" == *"TEST blk-many PASS"* ]]
}

@test "guest blk-ro: IOERR on the read-only drive, FAIL on the writable one" {
	run qemu_blk "wisp.test=blk-ro wisp.dev=1"
	[[ "$output" == *"BLK_RO read=0 write=1"* ]]
	[[ "$output" == *"TEST blk-ro PASS"* ]]
	run qemu_blk "wisp.test=blk-ro wisp.dev=0"
	[[ "$output" == *"TEST blk-ro FAIL"* ]]
}

@test "guest blk tests fail cleanly without a device or past the end" {
	run qemu_guest tcg 1 "wisp.test=blk-rw"
	[[ "$output" == *"TEST blk-rw FAIL no virtio-blk device 0"* ]]
	run qemu_blk "wisp.test=blk-rw wisp.arg=2041"
	[[ "$output" == *"TEST blk-rw FAIL sectors 2041-2048 are past the capacity 2048"* ]]
}

@test "guest under QEMU/KVM (PVM: int 0x80 arrives as #UD)" {
	[ -w /dev/kvm ] || skip "no /dev/kvm"
	run qemu_guest kvm 2 "wisp.test=exception"
	[[ "$output" == *"TEST exception PASS"* ]]
	run qemu_guest kvm 2 "wisp.test=smp"
	[[ "$output" == *"TEST smp PASS"* ]]
}

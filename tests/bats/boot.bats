#!/usr/bin/env bats
# Booting the test guest end to end: every image format and boot protocol, what the guest sees
# (RAM, command line, vCPUs, console input), how wisp exits, and every kind of bad input.
# BUILD selects the build directory (build or build-asan).

setup() {
	BUILD=${BUILD:-build}
	WISP=$BUILD/wisp
	ELF=$BUILD/guest/wisp-test-guest.elf
	BZ=$BUILD/guest/wisp-test-guest.bzImage
	TMP=$(mktemp -d)
	[ -e /dev/kvm ] || skip "no /dev/kvm"
}

teardown() {
	rm -rf "$TMP"
}

# Boots the guest with test $1 and extra wisp arguments; stdout in $TMP/out, stderr in $TMP/err.
boot() {
	local t=$1
	shift
	timeout 60 "$WISP" --cmdline "console=ttyS0 wisp.test=$t" "$@" </dev/null >"$TMP/out" 2>"$TMP/err"
}

@test "ELF via PVH: serial test passes, exit 0" {
	run boot serial --kernel "$ELF"
	[ "$status" -eq 0 ]
	grep -q "boot=pvh" "$TMP/out"
	grep -q "^SERIAL end" "$TMP/out"
	grep -q "TEST serial PASS" "$TMP/out"
}

@test "ELF via the 64-bit Linux boot protocol" {
	run boot memmap --kernel "$ELF" --boot-protocol linux
	[ "$status" -eq 0 ]
	grep -q "boot=linux64" "$TMP/out"
	grep -q "TEST memmap PASS" "$TMP/out"
}

@test "bzImage via the 64-bit Linux boot protocol" {
	run boot memmap --kernel "$BZ"
	[ "$status" -eq 0 ]
	grep -q "boot=linux64" "$TMP/out"
	grep -q "TEST memmap PASS" "$TMP/out"
}

@test "stdout carries only the guest's console" {
	run boot reset --kernel "$ELF"
	[ "$status" -eq 0 ]
	# Every line on stdout comes from the guest: its banner first, then its own lines.
	head -n 1 "$TMP/out" | grep -q "^wisp-test-guest: "
	! grep -q "wisp:" "$TMP/out" || return 1
}

@test "guest RAM equals --mem-mib (E820 via Linux protocol and PVH memmap)" {
	for mib in 64 128 1000; do
		for proto in pvh linux; do
			run boot memmap --kernel "$ELF" --boot-protocol $proto --mem-mib $mib
			[ "$status" -eq 0 ]
			# 385 KiB below 1 MiB are reserved: EBDA/MP table and the VGA/ROM hole.
			grep -q "MEM total_kib=$((mib * 1024 - 385))\$" "$TMP/out"
		done
	done
}

@test "RAM above the 32-bit MMIO hole for a 4 GiB guest" {
	run boot memmap --kernel "$ELF" --mem-mib 4096
	[ "$status" -eq 0 ]
	grep -q "MEMMAP addr=0x100000000 size=0x40000000 type=1" "$TMP/out"
	grep -q "MEM total_kib=$((4096 * 1024 - 385))\$" "$TMP/out"
}

@test "command line reaches the guest unchanged" {
	run timeout 60 "$WISP" --kernel "$ELF" --cmdline "console=ttyS0 wisp.test=cmdline a=1 b=\"two words\" c" </dev/null
	[ "$status" -eq 0 ]
	[[ "$output" == *'CMDLINE console=ttyS0 wisp.test=cmdline a=1 b="two words" c'* ]]
}

@test "without --cmdline the guest gets Firecracker's default line" {
	run timeout 60 "$WISP" --kernel "$ELF" </dev/null
	[ "$status" -eq 0 ]
	[[ "$output" == *'cmdline="console=ttyS0 reboot=k panic=1 pci=off"'* ]]
}

@test "every vCPU comes up (1, 2, 4, and the maximum 32)" {
	for n in 1 2 4 32; do
		run boot smp --kernel "$ELF" --vcpus $n
		[ "$status" -eq 0 ]
		grep -q "^CPUS $n" "$TMP/out"
		grep -q "^CPUS_ONLINE $n" "$TMP/out"
		grep -q "TEST smp PASS" "$TMP/out"
	done
}

@test "every vCPU comes up through the Linux protocol too" {
	run boot smp --kernel "$BZ" --vcpus 2
	[ "$status" -eq 0 ]
	grep -q "^CPUS_ONLINE 2" "$TMP/out"
}

@test "guest exceptions at CPL0 and CPL3 are the guest's business" {
	run boot exception --kernel "$ELF"
	[ "$status" -eq 0 ]
	grep -q "TEST exception PASS" "$TMP/out"
}

@test "triple fault (shutdown) exits 0" {
	run boot shutdown --kernel "$ELF" --level Info
	[ "$status" -eq 0 ]
	grep -q "TEST shutdown PASS" "$TMP/out"
	grep -q "shutdown" "$TMP/err"
	! grep -q "i8042: guest requested reset" "$TMP/err" || return 1
}

@test "i8042 reset exits 0" {
	run boot reset --kernel "$ELF" --level Info
	[ "$status" -eq 0 ]
	grep -q "i8042: guest requested reset" "$TMP/err"
}

@test "stdin reaches the guest" {
	printf 'hello wisp\nsecond line\nreset\n' >"$TMP/in"
	run timeout 60 "$WISP" --kernel "$ELF" --cmdline "console=ttyS0 wisp.test=echo" <"$TMP/in"
	[ "$status" -eq 0 ]
	[[ "$output" == *"echo: hello wisp"* ]]
	[[ "$output" == *"echo: second line"* ]]
	[[ "$output" == *"TEST echo PASS"* ]]
}

@test "a burst of console input loses nothing" {
	# 200 lines of 100 characters arrive faster than the guest reads them.
	for i in $(seq 1 200); do printf 'line%03d-%095d\n' "$i" 0; done >"$TMP/in"
	echo reset >>"$TMP/in"
	# A pipe, not a file: the console must be pollable for input.
	run bash -c "cat '$TMP/in' | timeout 120 '$WISP' --kernel '$ELF' --cmdline 'console=ttyS0 wisp.test=echo'"
	[ "$status" -eq 0 ]
	[ "$(grep -oE 'echo: line[0-9]{3}-0{95}' <<<"$output" | sort -u | wc -l)" -eq 200 ]
	[[ "$output" == *"echo: line200-"* ]]
}

@test "SIGTERM stops a running guest cleanly with exit 0" {
	timeout 60 "$WISP" --kernel "$ELF" --cmdline "console=ttyS0 wisp.test=counter" </dev/null >"$TMP/out" 2>"$TMP/err" &
	pid=$!
	for _ in $(seq 1 100); do grep -q "COUNTER 3" "$TMP/out" && break; sleep 0.05; done
	grep -q "COUNTER 3" "$TMP/out"
	kill -TERM $pid
	wait $pid
}

@test "--config-file boots the guest (Firecracker schema)" {
	cat >"$TMP/vm.json" <<JSON
{
  "boot-source": {"kernel_image_path": "$ELF", "boot_args": "console=ttyS0 wisp.test=smp"},
  "machine-config": {"vcpu_count": 2, "mem_size_mib": 256, "smt": false}
}
JSON
	run timeout 60 "$WISP" --config-file "$TMP/vm.json" </dev/null
	[ "$status" -eq 0 ]
	[[ "$output" == *"CPUS_ONLINE 2"* ]]
	[[ "$output" == *"TEST smp PASS"* ]]
}

@test "--config-file logger and metrics sections are applied" {
	cat >"$TMP/vm.json" <<JSON
{
  "boot-source": {"kernel_image_path": "$ELF", "boot_args": "console=ttyS0 wisp.test=reset"},
  "logger": {"log_path": "$TMP/wisp.log", "level": "Info"},
  "metrics": {"metrics_path": "$TMP/metrics.json"}
}
JSON
	run timeout 60 "$WISP" --config-file "$TMP/vm.json" </dev/null
	[ "$status" -eq 0 ]
	grep -q "info: i8042: guest requested reset" "$TMP/wisp.log"
	[ -e "$TMP/metrics.json" ]
}

# ---- bad input: one clear line, exit code 1, never a crash ----

# Runs wisp with arguments and expects exit 1 and an error naming $1 on stderr.
expect_error() {
	local needle=$1
	shift
	run timeout 60 "$WISP" "$@"
	echo "status=$status output=$output"
	[ "$status" -eq 1 ]
	[[ "$output" == *"$needle"* ]]
	# One clear line: exactly one error, whatever layer found it.
	[ "$(grep -c 'error:' <<<"$output")" -eq 1 ]
}

@test "missing kernel" {
	expect_error "$TMP/nope: No such file" --kernel "$TMP/nope"
}

@test "kernel that is a directory" {
	expect_error "not a regular file" --kernel "$TMP"
}

@test "empty kernel" {
	: >"$TMP/empty"
	expect_error "empty" --kernel "$TMP/empty"
}

@test "garbage kernel" {
	head -c 65536 /dev/urandom >"$TMP/garbage"
	expect_error "kernel $TMP/garbage" --kernel "$TMP/garbage"
}

@test "truncated ELF kernel" {
	head -c 300 "$ELF" >"$TMP/trunc"
	expect_error "kernel $TMP/trunc" --kernel "$TMP/trunc"
}

@test "unreadable kernel (as an unprivileged user)" {
	[ "$(id -u)" -eq 0 ] || skip "needs root to switch user"
	cp "$ELF" "$TMP/k" && chmod 600 "$TMP/k" && chmod 755 "$TMP"
	run setpriv --reuid=65534 --regid=65534 --clear-groups "$WISP" --kernel "$TMP/k" --no-seccomp
	[ "$status" -eq 1 ]
	[[ "$output" == *"Permission denied"* || "$output" == *"permission denied"* ]]
}

@test "--mem-mib 0" {
	expect_error "mem-mib" --kernel "$ELF" --mem-mib 0
}

@test "more memory than the host has" {
	expect_error "more than the host" --kernel "$ELF" --mem-mib 1000000
	expect_error "mem_size_mib" --kernel "$ELF" --mem-mib 100000000
}

@test "--vcpus 0 and 1000" {
	expect_error "vcpus" --kernel "$ELF" --vcpus 0
	expect_error "vcpus" --kernel "$ELF" --vcpus 1000
	expect_error "vcpus" --kernel "$ELF" --vcpus two
}

@test "command line over the protocol limit" {
	long=$(head -c 3000 /dev/zero | tr '\0' a)
	expect_error "command line" --kernel "$ELF" --cmdline "$long"
	# At the limit (2047 bytes for an ELF kernel) it boots.
	prefix="console=ttyS0 wisp.test=cmdline "
	ok="$prefix$(head -c $((2047 - ${#prefix})) /dev/zero | tr '\0' b)"
	[ ${#ok} -eq 2047 ]
	expect_error "command line" --kernel "$ELF" --cmdline "${ok}b"
	run timeout 60 "$WISP" --kernel "$ELF" --cmdline "$ok" </dev/null
	[ "$status" -eq 0 ]
	[[ "$output" == *"TEST cmdline PASS"* ]]
}

@test "malformed config files" {
	echo '{"boot-source": ' >"$TMP/bad.json"
	expect_error "config file" --config-file "$TMP/bad.json"
	echo '{"boot-source": {"kernel_image_path": 5}}' >"$TMP/type.json"
	expect_error "kernel_image_path" --config-file "$TMP/type.json"
	echo '{"boot-source": {"kernel_image_path": "x"}, "machine-config": {"vcpu_count": 2, "mem_size_mib": 128, "bogus": 1}}' >"$TMP/unknown.json"
	expect_error "bogus" --config-file "$TMP/unknown.json"
	expect_error "config file" --config-file "$TMP/missing.json"
}

@test "unknown option and stray arguments" {
	expect_error "unknown" --kernal "$ELF"
	expect_error "unexpected argument" --kernel "$ELF" extra
}

@test "ACPI tables list every vCPU (PVH and the Linux protocol)" {
	# The RSDP must come from the boot protocol's own field (and match what a scan finds).
	for proto_via in pvh:hvm_start_info linux:boot_params; do
		run boot acpi --kernel "$ELF" --boot-protocol ${proto_via%%:*} --vcpus 4
		[ "$status" -eq 0 ]
		grep -q "TEST acpi PASS" "$TMP/out"
		grep -q "^ACPI rsdp=0xe0000 tables=FACP,APIC,DSDT cpus=4 ioapic=1 via=${proto_via#*:}$" "$TMP/out"
	done
}

# LeakSanitizer cannot run its exit-time check once a seccomp filter is on (it needs ptrace),
# so the ASan build's leak check happens here, with filters off: every path of a VM's life
# (vCPUs, serial input, devices, the API thread, signals) must free what it took. In the normal
# build these are plain boots.
@test "no leaks: boots, console input, drives, API and SIGTERM with filters off (LSan in ASan build)" {
	run timeout 60 "$WISP" --no-seccomp --kernel "$ELF" --vcpus 2 --cmdline "console=ttyS0 wisp.test=smp" </dev/null
	[ "$status" -eq 0 ]
	run bash -c "printf 'leak check\nreset\n' | timeout 60 '$WISP' --no-seccomp --kernel '$ELF' --cmdline 'console=ttyS0 wisp.test=echo'"
	[ "$status" -eq 0 ]
	[[ "$output" == *"echo: leak check"* ]]
	head -c 1048576 /dev/zero >"$TMP/disk.img"
	for io in sync async; do
		run timeout 60 "$WISP" --no-seccomp --kernel "$ELF" --drive "id=d0,path=$TMP/disk.img,io=$io" \
			--cmdline "console=ttyS0 wisp.test=blk-rw" </dev/null
		[ "$status" -eq 0 ]
		[[ "$output" == *"TEST blk-rw PASS"* ]]
	done
	# A VM that never starts, then one that runs until SIGTERM, both through the API.
	timeout 60 "$WISP" --no-seccomp --api-sock "$TMP/api.sock" </dev/null >"$TMP/out" 2>"$TMP/err" &
	pid=$!
	for _ in $(seq 200); do [ -S "$TMP/api.sock" ] && break; sleep 0.01; done
	curl -s --unix-socket "$TMP/api.sock" -X PUT http://localhost/machine-config -d '{"vcpu_count": 2, "mem_size_mib": 64}'
	kill -TERM $pid
	wait $pid
	timeout 60 "$WISP" --no-seccomp --api-sock "$TMP/api2.sock" </dev/null >"$TMP/out" 2>"$TMP/err" &
	pid=$!
	for _ in $(seq 200); do [ -S "$TMP/api2.sock" ] && break; sleep 0.01; done
	curl -s --unix-socket "$TMP/api2.sock" -X PUT http://localhost/boot-source -d "{\"kernel_image_path\": \"$ELF\", \"boot_args\": \"console=ttyS0 wisp.test=counter\"}"
	curl -s --unix-socket "$TMP/api2.sock" -X PUT http://localhost/actions -d '{"action_type": "InstanceStart"}'
	for _ in $(seq 300); do grep -q "COUNTER 2" "$TMP/out" && break; sleep 0.01; done
	curl -s --unix-socket "$TMP/api2.sock" -X PATCH http://localhost/vm -d '{"state": "Paused"}'
	kill -TERM $pid
	wait $pid || { cat "$TMP/err"; false; }
}

# ---- /dev/kvm problems: one clear line each, exit 1 ----

@test "/dev/kvm missing" {
	[ "$(id -u)" -eq 0 ] || skip "needs root for a private mount namespace"
	run unshare -m sh -c "mount -t tmpfs none /dev && exec '$WISP' --kernel '$ELF'"
	echo "$output"
	[ "$status" -eq 1 ]
	[[ "$output" == *"/dev/kvm: no such device"* ]]
	[ "$(grep -c 'error:' <<<"$output")" -eq 1 ]
}

@test "/dev/kvm that is not KVM" {
	[ "$(id -u)" -eq 0 ] || skip "needs root for a private mount namespace"
	run unshare -m sh -c "mount --bind /dev/null /dev/kvm && exec '$WISP' --kernel '$ELF'"
	echo "$output"
	[ "$status" -eq 1 ]
	[[ "$output" == *"/dev/kvm: API version"* ]]
	[ "$(grep -c 'error:' <<<"$output")" -eq 1 ]
}

@test "/dev/kvm without permission" {
	[ "$(id -u)" -eq 0 ] || skip "needs root to switch user"
	[ "$(stat -c %a /dev/kvm)" = 600 ] || skip "/dev/kvm is not 0600 here"
	cp "$ELF" "$TMP/k" && chmod 755 "$TMP" && chmod 644 "$TMP/k"
	run setpriv --reuid=65534 --regid=65534 --clear-groups "$WISP" --no-seccomp --kernel "$TMP/k"
	echo "$output"
	[ "$status" -eq 1 ]
	[[ "$output" == *"/dev/kvm: permission denied"* ]]
	[ "$(grep -c 'error:' <<<"$output")" -eq 1 ]
}

@test "SIGINT stops a running guest cleanly with exit 0" {
	timeout 60 "$WISP" --kernel "$ELF" --cmdline "console=ttyS0 wisp.test=counter" </dev/null >"$TMP/out" 2>"$TMP/err" &
	pid=$!
	for _ in $(seq 100); do grep -q "COUNTER 3" "$TMP/out" && break; sleep 0.05; done
	grep -q "COUNTER 3" "$TMP/out"
	kill -INT $pid
	wait $pid
}

@test "a terminal is raw while the guest runs and restored afterwards" {
	command -v script >/dev/null || skip "script (bsdutils) not installed"
	# script gives wisp a pseudo-terminal; a background stty looks at it mid-run.
	run script -qec "stty -g >'$TMP/before'; (sleep 0.5; stty -a </dev/tty >'$TMP/during') & \
		'$WISP' --kernel '$ELF' --cmdline 'console=ttyS0 wisp.test=counter wisp.count=150'; \
		echo rc=\$?; stty -g >'$TMP/after'" /dev/null
	echo "$output"
	[[ "$output" == *"rc=0"* ]]
	grep -q -- "-icanon" "$TMP/during"
	grep -q -- "-echo " "$TMP/during"
	cmp "$TMP/before" "$TMP/after"
}

@test "CPUID leaf 0xD: the XSAVE size for the XCR0 a vCPU starts with matches the offered components" {
	run boot xsave --kernel "$ELF"
	[ "$status" -eq 0 ]
	grep -q "TEST xsave PASS" "$TMP/out" || { cat "$TMP/out"; return 1; }
	grep -qE "^XSAVE (offered=0x[0-9a-f]+ ebx=[0-9]+ computed=[0-9]+|not offered)" "$TMP/out"
}

@test "device parameters go before the '--' that starts init's arguments" {
	truncate -s 1M "$TMP/root.img"
	run boot cmdline --kernel "$ELF" --drive "id=rootfs,path=$TMP/root.img,root=on" \
		--cmdline "console=ttyS0 wisp.test=cmdline -- /bin/app --flag"
	[ "$status" -eq 0 ]
	grep -q 'cmdline="console=ttyS0 wisp.test=cmdline root=/dev/vda rw -- /bin/app --flag"' "$TMP/out" ||
		{ cat "$TMP/out"; return 1; }
}

@test "a 32-bit ELF with a PVH note boots through PVH; the Linux protocol is refused for it" {
	ELF32=$BUILD/guest/wisp-test-guest.elf32
	[ "$(od -An -tx1 -j4 -N1 "$ELF32" | tr -d ' ')" = 01 ] # ELFCLASS32
	run boot smp --kernel "$ELF32" --vcpus 2
	[ "$status" -eq 0 ]
	grep -q "boot=pvh" "$TMP/out"
	grep -q "TEST smp PASS" "$TMP/out"
	run boot serial --kernel "$ELF32" --boot-protocol linux
	[ "$status" -eq 1 ]
	grep -q "error: kernel .*: boot protocol Linux asked for, but a 32-bit ELF boots only through PVH" "$TMP/err"
	[ "$(grep -c 'error:' "$TMP/err")" -eq 1 ]
}

@test "a 32-bit ELF without a PVH note is one clear error" {
	objcopy -R .note.Xen -O elf32-i386 "$ELF" "$TMP/nonote.elf" 2>/dev/null ||
		objcopy --remove-section=.note.Xen "$BUILD/guest/wisp-test-guest.elf32" "$TMP/nonote.elf"
	run boot serial --kernel "$TMP/nonote.elf"
	[ "$status" -eq 1 ]
	grep -q "32-bit ELF without a PVH entry note" "$TMP/err" || { cat "$TMP/err"; return 1; }
	[ "$(grep -c 'error:' "$TMP/err")" -eq 1 ]
}

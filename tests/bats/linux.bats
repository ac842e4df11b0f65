#!/usr/bin/env bats
# A stock Linux kernel (Debian's cloud kernel, ELF vmlinux) through wisp's 64-bit Linux boot
# protocol. On PVM hosts its kernel-mode code is emulated, so it gets only through early boot:
# what it prints there (command line, E820 map, memory, hypervisor) must match what wisp was
# asked for. On hosts with VT-x/AMD-V the same kernel boots to userspace.
#
# The kernel is fetched once into build/linux by rootfs-tools/guest-kernel; without a
# Debian package mirror the suite skips. BUILD selects the build directory.

setup_file() {
	export KDIR=build/linux-kernel
	if [ ! -s "$KDIR/vmlinux" ]; then
		rootfs-tools/guest-kernel "$KDIR" >/dev/null 2>&1 || true
	fi
}

setup() {
	BUILD=${BUILD:-build}
	WISP=$BUILD/wisp
	[ -e /dev/kvm ] || skip "no /dev/kvm"
	[ -s "$KDIR/vmlinux" ] || skip "no Debian kernel (rootfs-tools/guest-kernel could not fetch it)"
	TMP=$(mktemp -d)
}

teardown() {
	[ -n "${PID:-}" ] && kill -9 "$PID" 2>/dev/null
	rm -rf "$TMP"
}

# Boots the kernel with extra wisp arguments in the background until its console shows $1
# (at most 120 s), then stops wisp with SIGTERM and checks that it exits 0.
boot_until() {
	local want=$1
	shift
	"$WISP" --kernel "$KDIR/vmlinux" "$@" </dev/null >"$TMP/out" 2>"$TMP/err" &
	PID=$!
	for _ in $(seq 1 1200); do
		grep -q "$want" "$TMP/out" && break
		kill -0 $PID 2>/dev/null || break
		sleep 0.1
	done
	kill -TERM $PID 2>/dev/null || true
	wait $PID || true
	PID=
	# Linux's console ends lines with \r\n.
	tr -d '\r' <"$TMP/out" >"$TMP/clean" && mv "$TMP/clean" "$TMP/out"
	grep -q "$want" "$TMP/out"
}

@test "linux: command line, E820 map and RAM as configured (ELF vmlinux, 256 MiB)" {
	cmdline="console=ttyS0 earlyprintk=ttyS0 reboot=k panic=1 pci=off wisp.check=e820"
	# The end of the Memory: line, so the whole line is there (the console prints byte by byte).
	boot_until "Memory: .*reserved)" --mem-mib 256 --cmdline "$cmdline"
	grep -q "Command line: $cmdline\$" "$TMP/out"
	grep -q "BIOS-e820: \[mem 0x0000000000000000-0x000000000009fbff\] usable" "$TMP/out"
	grep -q "BIOS-e820: \[mem 0x000000000009fc00-0x00000000000fffff\] reserved" "$TMP/out"
	grep -q "BIOS-e820: \[mem 0x0000000000100000-0x000000000fffffff\] usable" "$TMP/out"
	[ "$(grep -c 'BIOS-e820' "$TMP/out")" -eq 3 ]
	grep -q "Hypervisor detected: KVM" "$TMP/out"
	# "Memory: 214892K/261752K available": the kernel counted 256 MiB less the reserved low part.
	total=$(sed -n 's/.*Memory: [0-9]*K\/\([0-9]*\)K available.*/\1/p' "$TMP/out")
	[ "$total" -gt $((250 * 1024)) ] && [ "$total" -le $((256 * 1024)) ]
}

@test "linux: RAM above the 4 GiB boundary is in the E820 map (4 GiB guest)" {
	# A line printed after the E820 map, so the map is complete.
	boot_until "NX (Execute Disable)" --mem-mib 4096 \
		--cmdline "console=ttyS0 earlyprintk=ttyS0 reboot=k panic=1 pci=off"
	grep -q "BIOS-e820: \[mem 0x0000000000100000-0x00000000bfffffff\] usable" "$TMP/out"
	grep -q "BIOS-e820: \[mem 0x0000000100000000-0x000000013fffffff\] usable" "$TMP/out"
}

@test "linux: ACPI tables found and every vCPU listed (MADT; this kernel has no MP-table parser)" {
	# Debian's cloud kernel is built without CONFIG_X86_MPPARSE: it sees vCPUs only through
	# ACPI. "0 hotplug CPUs" ends the smpboot line, so the line is complete when it matches.
	boot_until "smpboot: Allowing .* CPUs, 0 hotplug CPUs" --mem-mib 512 --vcpus 2 \
		--cmdline "console=ttyS0 earlyprintk=ttyS0 reboot=k panic=1 pci=off"
	grep -q "ACPI: RSDP 0x00000000000E0000" "$TMP/out"
	grep -q "ACPI: APIC 0x" "$TMP/out"
	grep -q "ACPI: Using ACPI (MADT) for SMP configuration information" "$TMP/out"
	grep -q "smpboot: Allowing 2 CPUs, 0 hotplug CPUs" "$TMP/out"
	! grep -q "ACPI BIOS Error" "$TMP/out" || return 1
}

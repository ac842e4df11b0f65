#!/usr/bin/env bats
# wisp's ACPI tables: decompiled by acpica-tools (iasl -d), every device and resource checked;
# the guest finds its virtio devices in the DSDT; --no-acpi and acpi=off fall back to the
# command line; the guest powers off through the FADT's sleep registers. BUILD selects the
# build directory.

setup() {
	BUILD=${BUILD:-build}
	WISP=$BUILD/wisp
	ELF=$BUILD/guest/wisp-test-guest.elf
	TMP=$(mktemp -d)
}

teardown() {
	rm -rf "$TMP"
}

need_kvm() {
	[ -e /dev/kvm ] || skip "no /dev/kvm"
}

# Decompiles the tables of a VM with $1 vCPUs and $2 virtio devices into $TMP/*.dsl.
decompile() {
	"$BUILD/tests/acpi-dump" "$1" "$2" "$TMP"
	(cd "$TMP" && iasl -d dsdt.dat facp.dat apic.dat) >"$TMP/iasl.log" 2>&1 || {
		cat "$TMP/iasl.log"
		return 1
	}
	# acpica reports problems in the tables as errors, warnings or remarks.
	if grep -iE '(error|warning|remark)[^s]' "$TMP/iasl.log" | grep -v '0 Errors'; then
		return 1
	fi
}

# The Device (NAME) block of dsdt.dsl, from its line to the closing brace at its indentation.
device_block() {
	awk -v name="Device ($1)" 'index($0, name) { on = 1 } on { print } on && /^        }$/ { exit }' \
		"$TMP/dsdt.dsl"
}

@test "acpi: iasl decompiles the DSDT: COM1, the i8042 and every virtio-mmio device with their resources" {
	command -v iasl >/dev/null || skip "iasl missing (acpica-tools)"
	decompile 2 3
	com1=$(device_block COM1)
	grep -q 'EisaId ("PNP0501")' <<<"$com1"
	grep -q '_UID, Zero' <<<"$com1"
	grep -qzE 'IO \(Decode16,\s+0x03F8,\s+// Range Minimum\s+0x03F8,\s+// Range Maximum\s+0x01,\s+// Alignment\s+0x08,' <<<"$com1"
	grep -qzE 'IRQNoFlags \(\)\s+\{4\}' <<<"$com1"
	kbd=$(device_block PS2K)
	grep -q 'EisaId ("PNP0303")' <<<"$kbd"
	grep -qzE 'IO \(Decode16,\s+0x0060,\s+// Range Minimum\s+0x0060,' <<<"$kbd"
	grep -qzE 'IO \(Decode16,\s+0x0064,\s+// Range Minimum\s+0x0064,' <<<"$kbd"
	grep -qzE 'IRQNoFlags \(\)\s+\{1\}' <<<"$kbd"
	for i in 0 1 2; do
		v=$(device_block "VR0$i")
		grep -q '_HID, "LNRO0005"' <<<"$v"
		uid=$(sed -n 's/.*_UID, \([A-Za-z0-9]*\).*/\1/p' <<<"$v")
		case $i in 0) [ "$uid" = Zero ] ;; 1) [ "$uid" = One ] ;; 2) [ "$uid" = 0x02 ] ;; esac
		grep -qzE "Memory32Fixed \(ReadWrite,\s+0xD000${i}000,\s+// Address Base\s+0x00001000," <<<"$v"
		grep -q 'Interrupt (ResourceConsumer, Edge, ActiveHigh, Exclusive, ,, )' <<<"$v"
		grep -qzE "\{\s+0x0000000$((5 + i)),\s+\}" <<<"$v"
	done
	# exactly three virtio devices, and \_S5 for power-off
	[ "$(grep -c 'LNRO0005' "$TMP/dsdt.dsl")" -eq 3 ]
	grep -qzE 'Name \(\\_S5, Package \(0x04\)[^{]*\{\s+0x05,\s+Zero,' "$TMP/dsdt.dsl"
}

@test "acpi: iasl decompiles the FADT (hardware-reduced, sleep and reset registers) and the MADT" {
	command -v iasl >/dev/null || skip "iasl missing (acpica-tools)"
	decompile 2 1
	grep -qE 'Hardware Reduced \(V5\) : 1' "$TMP/facp.dsl"
	grep -qE 'Reset Register Supported \(V2\) : 1' "$TMP/facp.dsl"
	# Reset register: system I/O at 0x602, value 01; sleep control 0x600, status 0x601.
	gas() { sed -n "/ $1 : \[Generic Address Structure\]/,/Address :/p" "$TMP/facp.dsl"; }
	gas "Reset Register" | grep -q 'Space ID : 01 \[SystemIO\]'
	gas "Reset Register" | grep -q 'Address : 0000000000000602'
	grep -qE 'Value to cause reset : 01' "$TMP/facp.dsl"
	gas "Sleep Control Register" | grep -q 'Address : 0000000000000600'
	gas "Sleep Status Register" | grep -q 'Address : 0000000000000601'
	[ "$(grep -c 'Subtable Type : 00 \[Processor Local APIC\]' "$TMP/apic.dsl")" -eq 2 ]
	grep -q 'Subtable Type : 01 \[I/O APIC\]' "$TMP/apic.dsl"
}

@test "acpi: the guest finds its virtio devices in the DSDT; the command line names none" {
	need_kvm
	truncate -s 1M "$TMP/a.img"
	truncate -s 1M "$TMP/b.img"
	run timeout 30 "$WISP" --no-api --kernel "$ELF" --cmdline "console=ttyS0 wisp.test=blk-id wisp.dev=1" \
		--drive "id=first,path=$TMP/a.img" --drive "id=second,path=$TMP/b.img" </dev/null
	echo "$output"
	[ "$status" -eq 0 ]
	[[ "$output" == *"VIRTIO via=acpi"* ]]
	[[ "$output" == *"VIRTIO dev=0 base=0xd0000000 irq=5 id=2"* ]]
	[[ "$output" == *"VIRTIO dev=1 base=0xd0001000 irq=6 id=2"* ]]
	[[ "$output" == *"BLK_ID second"* ]]
	[[ "$output" != *"virtio_mmio.device"* ]]
}

@test "acpi: --no-acpi writes no tables and announces the devices on the command line; so does acpi=off" {
	need_kvm
	truncate -s 1M "$TMP/a.img"
	run timeout 30 "$WISP" --no-api --no-acpi --kernel "$ELF" --cmdline "console=ttyS0 wisp.test=blk-id" \
		--drive "id=first,path=$TMP/a.img" </dev/null
	[ "$status" -eq 0 ]
	[[ "$output" == *"VIRTIO via=cmdline"* ]]
	[[ "$output" == *"virtio_mmio.device=4K@0xd0000000:5"* ]]
	[[ "$output" == *"BLK_ID first"* ]]
	run timeout 30 "$WISP" --no-api --no-acpi --kernel "$ELF" --cmdline "console=ttyS0 wisp.test=acpi" </dev/null
	[[ "$output" == *"TEST acpi FAIL"* ]] || { echo "$output"; return 1; }
	run timeout 30 "$WISP" --no-api --kernel "$ELF" --cmdline "console=ttyS0 acpi=off wisp.test=blk-id" \
		--drive "id=first,path=$TMP/a.img" </dev/null
	[ "$status" -eq 0 ]
	[[ "$output" == *"VIRTIO via=cmdline"* ]]
	[[ "$output" == *"BLK_ID first"* ]]
	# "acpi=offline" is not acpi=off
	run timeout 30 "$WISP" --no-api --kernel "$ELF" --cmdline "console=ttyS0 acpi=offline wisp.test=blk-id" \
		--drive "id=first,path=$TMP/a.img" </dev/null
	[[ "$output" == *"VIRTIO via=acpi"* ]]
}

@test "acpi: the guest powers off through the FADT's sleep control register (S5): exit 0" {
	need_kvm
	timeout 30 "$WISP" --no-api --level Info --kernel "$ELF" \
		--cmdline "console=ttyS0 wisp.test=acpi-poweroff" </dev/null >"$TMP/out" 2>"$TMP/err"
	grep -q "TEST acpi-poweroff PASS" "$TMP/out"
	grep -q "guest powered off (S5)" "$TMP/err"
}

@test "acpi: junk written to the power registers is ignored; the guest keeps running, then powers off" {
	need_kvm
	timeout 30 "$WISP" --no-api --level Info --kernel "$ELF" \
		--cmdline "console=ttyS0 wisp.test=acpi-poweroff wisp.junk=1" </dev/null >"$TMP/out" 2>"$TMP/err"
	grep -q "ACPI junk written, still running" "$TMP/out"
	grep -q "guest powered off (S5)" "$TMP/err"
	! grep -q "guest requested reset" "$TMP/err" || return 1
}

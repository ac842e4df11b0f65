#!/usr/bin/env bats
# Stock Linux guests end to end: Debian's cloud kernel booted by wisp to user space, with its
# root on virtio-blk, a NIC on a tap, 2 vCPUs, through the command line, the API and the
# jailer, and every way a guest stops.
#
# Where /dev/kvm is VT-x or AMD-V each scenario runs directly on it, chrooted into the
# level-1 tree in namespaces of its own (tests/linux/run-direct.sh). Where it is PVM (a stock
# kernel cannot run there) each test boots a level-1 Debian kernel under QEMU's TCG with AMD
# SVM (tests/linux/l1-image.sh, run-l1.sh) and runs wisp inside it: slow emulation, correctness
# only, never speed. LINUX_RUNNER=nested|direct overrides the choice.
#
# The artifacts (kernel, initramfs, rootfs, level-1 image) are built once into
# $BUILD/linux-suite by setup_file; the kernel package is cached in build/linux-kernel.

load linux_helpers

setup_file() {
	linux_suite_prepare
}

setup() {
	linux_suite_setup
}

teardown() {
	# LINUX_KEEP=1 keeps each test's level-1 log, console and stderr for a look.
	if [ -n "${LINUX_KEEP:-}" ]; then echo "# kept $TMP" >&3; else rm -rf "$TMP"; fi
}

# The level-2 kernel's command line: the console, reboot through the i8042 (wisp exits 0),
# eth0 configured by the guest init from ip=, and the workload after "--".
GUEST_NET="ip=172.16.0.2::172.16.0.1:255.255.255.252::eth0:off"

@test "linux: ELF vmlinux (64-bit boot protocol): user space, ext4 root on /dev/vda read and written, eth0 pings both ways, 2 vCPUs, MemTotal; poweroff -f exits 0" {
	run_guest cli "--kernel /guest/vmlinux --boot-protocol linux --vcpus 2 --mem-mib 256" \
		"console=ttyS0 reboot=k panic=1 $GUEST_NET -- /checks.sh poweroff-f"
	check_full_guest 2 256
}

@test "linux: bzImage: the same guest; reboot -f exits 0" {
	run_guest cli "--kernel /guest/vmlinuz --vcpus 2 --mem-mib 256" \
		"console=ttyS0 reboot=k panic=1 $GUEST_NET -- /checks.sh reboot-f"
	check_full_guest 2 256
}

@test "linux: PVH entry of the ELF vmlinux: the same guest; halt exits 0" {
	run_guest cli "--kernel /guest/vmlinux --boot-protocol pvh --vcpus 2 --mem-mib 256" \
		"console=ttyS0 reboot=k panic=1 $GUEST_NET -- /checks.sh halt"
	check_full_guest 2 256
}

@test "linux: configured through the API socket (boot-source, machine-config, drives, network-interfaces, InstanceStart); a guest panic with panic=-1 exits 0" {
	run_guest api "" \
		"console=ttyS0 reboot=k panic=-1 $GUEST_NET -- /checks.sh panic"
	check_full_guest 1 192
	[ "$(grep -cE '^L1 api /[a-z0-9/_-]+ 204 ?$' "$TMP/log")" -eq 5 ] || { grep '^L1 api' "$TMP/log"; return 1; }
	grep -q "Kernel panic - not syncing: sysrq triggered crash" "$TMP/console"
}

@test "linux: through wisp-jailer (chroot, uid/gid, namespaces, cgroup): the same guest; poweroff exits 0" {
	run_guest jailer "" \
		"console=ttyS0 reboot=k panic=1 $GUEST_NET -- /checks.sh poweroff"
	check_full_guest 1 256
	check_line jailed-uid 123
	check_line jailed-netns vm1
	check_line jailed-cgroup 0::/wisp/vm1
}

@test "linux: a kernel told acpi=off (no ACPI) boots to user space with its console and reboots to exit 0" {
	GUEST_DEVICES="" run_guest cli "--kernel /guest/vmlinux --vcpus 2 --mem-mib 192" \
		"console=ttyS0 reboot=k panic=1 acpi=off -- /checks.sh exit"
	grep -q 'wisp-init: up' "$TMP/console" ||
		{ tail -n 30 "$TMP/console"; grep '^L1 wisp-exit' "$TMP/log"; cat "$TMP/stderr"; return 1; }
	# Debian's kernel has no MP-table parser (CONFIG_X86_MPPARSE unset): without ACPI it finds
	# only the boot CPU, however many wisp describes.
	grep -q "ACPI: MPS support code is not built-in" "$TMP/console"
	check_line nproc 1
	grep -q 'wisp-init: exit status 0' "$TMP/console"
	check_line wisp-exit 0
}

@test "linux: a root drive that is not ext4: the init says so and the guest powers off; wisp exits 0" {
	GUEST_DEVICES="--drive id=rootfs,path=/guest/vmlinuz,root=on,readonly=on" \
		run_guest cli "--kernel /guest/vmlinux --mem-mib 192" "console=ttyS0 reboot=k panic=1 -- /bin/true"
	grep -q 'wisp-init: ERROR cannot mount /dev/vda as ext4' "$TMP/console" || { tail -n 30 "$TMP/console"; return 1; }
	! grep -q 'wisp-init: up' "$TMP/console" || return 1
	check_line wisp-exit 0
}

@test "linux: snapshot and restore of a running Debian kernel: its ticks go on in a new wisp, its clock forward, its open file on /dev/vda written before and after, eth0 pings; poweroff -f exits 0" {
	cat >"$TMP/after_up.sh" <<'SH'
after_up() {
	i=0
	while [ $i -lt 600 ] && ! grep -q '^TICK 6 ' /tmp/console; do sleep 0.1; i=$((i + 1)); done
	req() { # METHOD PATH BODY
		echo "L1 api $2 $(curl -s -o /tmp/api.out -w '%{http_code}' --unix-socket /tmp/api.sock -X "$1" -d "$3" "http://localhost$2") $(cat /tmp/api.out)"
	}
	req PATCH /vm '{"state":"Paused"}'
	req PUT /snapshot/create '{"snapshot_type":"Full","snapshot_path":"/tmp/vm.snap","mem_file_path":"/tmp/vm.mem"}'
	echo "L1 ticks-before=$(grep -c '^TICK' /tmp/console)"
	echo "L1 mem-file-kib=$(du -k /tmp/vm.mem | cut -f1)"
	kill -9 $pid
	wait $pid
	# the same drive file and tap, reopened by the new process; its console goes on in the same file
	timeout 250 wisp --no-api --restore /tmp/vm.snap --mem /tmp/vm.mem </dev/null >>/tmp/console 2>>/tmp/wisp.err &
	pid=$!
	n=$(grep -c '^TICK' /tmp/console)
	i=0
	while [ $i -lt 600 ] && [ "$(grep -c '^TICK' /tmp/console)" -le $((n + 2)) ]; do sleep 0.1; i=$((i + 1)); done
	ping -c 3 -W 5 172.16.0.2 >/dev/null 2>&1 && echo "L1 ping-after-restore=ok" || echo "L1 ping-after-restore=failed"
}
SH
	AFTER_UP=$TMP/after_up.sh GUEST_API="--api-sock /tmp/api.sock" \
		run_guest cli "--kernel /guest/vmlinux --vcpus 2 --mem-mib 256" \
		"console=ttyS0 reboot=k panic=1 $GUEST_NET -- /checks.sh ticks"
	check_full_guest 2 256
	[ "$(grep -cE '^L1 api /(vm|snapshot/create) 204 ?$' "$TMP/log")" -eq 2 ] || { grep '^L1 api' "$TMP/log"; return 1; }
	check_line ping-after-restore ok
	before=$(sed -n 's/^L1 ticks-before=//p' "$TMP/log")
	echo "ticks before the snapshot: $before"
	[ "$before" -ge 7 ] && [ "$before" -lt 48 ]
	# the ticks 0..47, each once and in order, across both processes; uptime never goes back
	grep '^TICK' "$TMP/console" | awk '$2 != NR - 1 { print "tick " NR - 1 ": " $0; bad = 1 }
		$3 + 0 < last { print "clock went back: " $0; bad = 1 } { last = $3 + 0 }
		END { if (NR != 48) { print NR " ticks"; bad = 1 } exit bad }'
	# and on the disk, through the descriptor the guest kept open: the same 48 lines
	[ "$(sed -n 's/^L1 disk //p' "$TMP/log" | grep -c '^TICK')" -eq 48 ]
	diff <(sed -n 's/^L1 disk //p' "$TMP/log") <(grep '^TICK' "$TMP/console")
}

@test "linux: the direct runner (VT-x/AMD-V hosts: no QEMU) boots the same guest; its tap and netns end with it" {
	[ "$(linux_runner)" = nested ] || skip "every test here runs through run-direct.sh already"
	# Inside level 1, whose /dev/kvm is AMD SVM: run-direct.sh as a VT-x/AMD-V host runs it.
	LINUX_DIRECT_IN_L1=1 run_guest cli "--kernel /guest/vmlinux --vcpus 2 --mem-mib 256" \
		"console=ttyS0 reboot=k panic=1 $GUEST_NET -- /checks.sh poweroff-f"
	check_full_guest 2 256
	check_line direct-exit 0
	check_line direct-tap-left no
}

#!/usr/bin/env bats
# The per-thread seccomp filters (vmm/seccomp.c) through tests/seccomp/probe.c: each role dies
# with exit code 148 and a report naming the system call when it steps outside its allowlist,
# and an allowed call goes through.
#
# BUILD selects the build directory (default: build).

setup() {
	cd "$BATS_TEST_DIRNAME/../.."
	PROBE="${BUILD:-build}/tests/seccomp-probe"
	[ -x "$PROBE" ] || skip "$PROBE not built (make $PROBE)"
}

# forbidden ROLE CALL NAME: the probe dies with 148 and names syscall NAME and the role.
forbidden() {
	run "$PROBE" "$1" "$2"
	[ "$status" -eq 148 ] || { echo "$1 $2: status $status: $output"; return 1; }
	[[ "$output" == *"seccomp: $1 thread made a forbidden system call "*"($3)"* ]] ||
		{ echo "$1 $2: $output"; return 1; }
}

# allowed ROLE CALL: the call returned to the probe.
allowed() {
	run "$PROBE" "$1" "$2"
	[ "$status" -eq 0 ] || { echo "$1 $2: status $status: $output"; return 1; }
	[[ "$output" == *"seccomp-probe: $1 $2: allowed"* ]]
}

@test "seccomp: no role may execve" {
	for role in vmm api vcpu; do forbidden $role execve execve; done
}

@test "seccomp: no role may create a process (fork, clone without CLONE_THREAD)" {
	for role in vmm api vcpu; do
		forbidden $role fork fork
		forbidden $role clone-process clone
	done
}

@test "seccomp: no role may open an AF_INET socket (nor any socket after setup)" {
	for role in vmm api vcpu; do
		forbidden $role socket-inet socket
		forbidden $role socket-unix socket
	done
}

@test "seccomp: no role may ptrace" {
	for role in vmm api vcpu; do forbidden $role ptrace ptrace; done
}

@test "seccomp: no role may map or mprotect memory executable" {
	for role in vmm api vcpu; do
		forbidden $role mprotect-exec mprotect
		forbidden $role mmap-exec mmap
		allowed $role mprotect-rw
	done
}

@test "seccomp: no role creates VMs; the API thread makes no ioctl at all" {
	[ -c /dev/kvm ] || skip "no /dev/kvm"
	for role in vmm api vcpu; do forbidden $role kvm-create-vm ioctl; done
	forbidden api kvm-run ioctl
	forbidden api kvm-irq-line ioctl
}

@test "seccomp: KVM_RUN only from vCPU threads" {
	allowed vcpu kvm-run
	forbidden vmm kvm-run ioctl
}

@test "seccomp: signals stay inside the process, and only the VMM thread kicks" {
	allowed vmm tgkill-self
	forbidden vmm tgkill-other tgkill
	forbidden vcpu tgkill-self getpid
	forbidden api getpid getpid
}

@test "seccomp: files are opened only by the VMM thread" {
	allowed vmm openat
	forbidden api openat openat
	forbidden vcpu openat openat
}

@test "seccomp: each role's own calls go through" {
	for role in vmm api vcpu; do allowed $role write; done
	allowed api accept4
	allowed api read
	allowed vmm read
	allowed vcpu kvm-irq-line
	forbidden vmm accept4 accept4
	forbidden vcpu read read
}

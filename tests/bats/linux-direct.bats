#!/usr/bin/env bats
# tests/linux/run-direct.sh, the Linux suite's runner where /dev/kvm is VT-x/AMD-V, on its own:
# a scenario chrooted into a level-1-like tree (a static busybox), in namespaces of its own.
# Booting Linux through it is tests/linux/linux.bats's job (inside level 1 on PVM hosts).

setup() {
	TMP=$(mktemp -d)
	R=$TMP/root
	mkdir -p "$R"/{bin,proc,sys,dev,tmp,run,guest,usr/sbin}
	install -m 0755 /bin/busybox "$R/bin/busybox"
	for a in $("$R/bin/busybox" --list); do [ -e "$R/bin/$a" ] || ln -s busybox "$R/bin/$a"; done
	echo "a guest file" >"$R/guest/marker"
	hostname_before=$(hostname)
}

teardown() {
	rm -rf "$TMP"
}

@test "run-direct.sh: the scenario sees the tree, its own /tmp, network, PID and UTS namespaces; its links end with it" {
	cat >"$TMP/s.sh" <<'SH'
#!/bin/sh
echo "guest=$(cat /guest/marker)"
echo "kvm=$([ -c /dev/kvm ] && echo yes)"
echo "links=$(ip -o link show | awk -F': ' '{print $2}' | tr '\n' ' ')"
ip link add wispdirect0 type veth peer name wispdirect1 && echo "added=yes"
echo "pid1=$(cat /proc/1/cmdline | tr '\0' ' ')"
echo "host=$(hostname)"
echo "tmp=$(ls -A /tmp | wc -l)"
exit 7
SH
	run tests/linux/run-direct.sh "$R" "$TMP/s.sh" "$TMP/log" 20
	cat "$TMP/log"
	[ "$status" -eq 7 ]
	grep -qx "guest=a guest file" "$TMP/log"
	grep -qx "kvm=yes" "$TMP/log"
	grep -qx "links=lo " "$TMP/log"
	grep -qx "added=yes" "$TMP/log"
	grep -qx "host=wisp-direct" "$TMP/log"
	grep -qx "tmp=0" "$TMP/log"
	grep -q "^pid1=/bin/sh -c" "$TMP/log" # the runner's shell is the namespace's init
	grep -qx "L1-SCENARIO-EXIT 7" "$TMP/log"
	! ip link show wispdirect0 2>/dev/null || return 1
	! ip link show wispdirect1 2>/dev/null || return 1
	[ "$(hostname)" = "$hostname_before" ]
	# nothing left in the tree but an empty /direct, nothing mounted on it
	[ -z "$(ls -A "$R/direct")" ]
	! grep -q " $R/" /proc/mounts || return 1
}

@test "run-direct.sh: a scenario past its timeout is 124 and leaves no process behind" {
	printf '#!/bin/sh\necho started\nexec sleep 600\n' >"$TMP/s.sh"
	run tests/linux/run-direct.sh "$R" "$TMP/s.sh" "$TMP/log" 1
	[ "$status" -eq 124 ]
	[[ "$output" == *"still running after 1s"* ]]
	grep -qx started "$TMP/log"
	! pgrep -f "^sleep 600$" || return 1
}

@test "run-direct.sh: a tree that is not a level-1 tree, or no such tree: one error, exit 1" {
	echo 'exit 0' >"$TMP/s.sh"
	run tests/linux/run-direct.sh "$TMP/nothere" "$TMP/s.sh" "$TMP/log"
	[ "$status" -eq 1 ]
	[ "$output" = "run-direct.sh: $TMP/nothere is not a level-1 tree (no /bin)" ]
	rm -r "$R/guest"
	run tests/linux/run-direct.sh "$R" "$TMP/s.sh" "$TMP/log"
	[ "$status" -eq 1 ]
	[ "$output" = "run-direct.sh: $R is not a level-1 tree (no /guest)" ]
}

@test "level1_fault: a level-1 hang, death, kernel BUG, a stalled guest console or a triple fault before user space is the level-1 host's; a level-2 BUG is not" {
	. tests/linux/linux_helpers.bash
	printf 'L1: x\n[ 35.2] BUG: TASK stack guard page was hit\n' >"$TMP/a"
	[ "$(level1_fault "$TMP/a" 125)" = "level-1 kernel: [ 35.2] BUG: TASK stack guard page was hit" ]
	printf 'L1: x\n=== console\n[ 1.0] BUG: a guest one\n=== stderr\n=== end\nL1-SCENARIO-EXIT 1\n' >"$TMP/b"
	! level1_fault "$TMP/b" 1 || return 1
	[ "$(level1_fault "$TMP/b" 124)" = "the level-1 machine hung" ]
	[ "$(level1_fault "$TMP/b" 125)" = "the level-1 machine ended early" ]
	printf 'L1 guest-stalled=yes\nL1-SCENARIO-EXIT 0\n' >"$TMP/c"
	[ "$(level1_fault "$TMP/c" 0)" = "the guest's console stood still for 60 s" ]
	printf '=== console\n[ 3.1] tcp_listen_portaddr_hash hash table entr\n=== stderr\n[wisp] WARN vcpu 0: guest shutdown (triple fault) at rip 0x1\n=== end\nL1-SCENARIO-EXIT 0\n' >"$TMP/d"
	[ "$(level1_fault "$TMP/d" 0)" = "the level-2 kernel triple-faulted before user space" ]
	# After user space the same line is the test's business.
	printf '=== console\nwisp-init: up\n=== stderr\n[wisp] WARN vcpu 0: guest shutdown (triple fault) at rip 0x1\n=== end\n' >"$TMP/e"
	! level1_fault "$TMP/e" 0 || return 1
}

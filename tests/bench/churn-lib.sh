# shellcheck shell=bash
# tests/bench/churn-lib.sh - one churn cycle and the host leak checks, sourced by
# tests/bats/churn.bats (50 cycles) and tests/bench/churn.sh (1000 cycles).
#
# One cycle: a tap -> wisp-jailer --new-pid-ns --cleanup-on-exit -> wisp --api-sock ->
# PUT /boot-source, /drives/rootfs, /network-interfaces/eth0, /machine-config ->
# PUT /actions InstanceStart -> the test guest prints "TEST reset PASS" and resets -> wisp
# exits 0 by itself -> the jailer removes the jail and the cgroup and exits 0 -> the tap is
# deleted. What the orchestrator (this file) owns and removes: the tap. What the jailer
# removes: everything else it or the orchestrator put in the jail (docs/jailer.md, Cleanup).
#
# Usage: set CHURN_BUILD (build directory), then
#   churn_setup                  checks, staging, cgroup choice; sets CHURN_BASE (a new dir)
#   churn_snapshot FILE          what the host holds of ours (see churn_snapshot below)
#   churn_run CYCLES PARALLEL    the cycles, PARALLEL at a time; 1 when any failed (logs shown)
#   churn_check BEFORE AFTER     0 when nothing leaked; the differences otherwise
#   churn_teardown               removes the base, the parent cgroups, leftover taps
# Everything global is named after CHURN_TAG ("churn<tag>-<n>" taps, "churn-<tag>-<n>" jail
# ids, the "churn-<tag>" parent cgroup), so that parallel runs on one host do not collide.

CHURN_UID=${CHURN_UID:-123}
CHURN_GID=${CHURN_GID:-100}
# MemAvailable may end this much below where it started (see churn_check).
CHURN_MEM_TOLERANCE_MIB=${CHURN_MEM_TOLERANCE_MIB:-64}
CHURN_GUEST_CMDLINE="console=ttyS0 wisp.test=reset"

# churn_setup: sets CHURN_WISP, CHURN_JAILER, CHURN_BASE, CHURN_STAGE, CHURN_TAG, CHURN_PARENT
# and CHURN_CGROUP_ARGS; prints a reason and returns 1 when something needed is missing.
churn_setup() {
	local b=${CHURN_BUILD:-build} lib m
	CHURN_WISP=$b/wisp
	CHURN_JAILER=$b/wisp-jailer
	CHURN_GUEST=$b/guest/wisp-test-guest.elf
	for f in "$CHURN_WISP" "$CHURN_JAILER" "$CHURN_GUEST"; do
		[ -f "$f" ] || { echo "churn: $f not built"; return 1; }
	done
	[ "$(id -u)" -eq 0 ] || { echo "churn: needs root (jailer, taps)"; return 1; }
	[ -c /dev/kvm ] || { echo "churn: no /dev/kvm"; return 1; }
	command -v curl >/dev/null || { echo "churn: curl missing"; return 1; }
	command -v ip >/dev/null || { echo "churn: ip missing"; return 1; }
	# A tap name has at most 15 characters: "churn" + 4 + "-" + up to 5 digits.
	CHURN_TAG=$(($$ % 10000))
	CHURN_PARENT="churn-$CHURN_TAG"
	CHURN_BASE=$(mktemp -d /tmp/churn-base.XXXXXX)
	# What every jail gets, hard-linked (cheap, and the jailer's cleanup only unlinks): the
	# guest, a 1 MiB disk, and for a dynamically linked wisp (the ASan build) its libraries.
	CHURN_STAGE=$CHURN_BASE/stage
	mkdir -p "$CHURN_STAGE"
	cp "$CHURN_GUEST" "$CHURN_STAGE/guest.elf"
	head -c 1048576 /dev/zero >"$CHURN_STAGE/rootfs.img"
	for lib in $(ldd "$CHURN_WISP" 2>/dev/null | grep -o '/[^ ]*'); do
		mkdir -p "$CHURN_STAGE$(dirname "$lib")"
		cp -L "$lib" "$CHURN_STAGE$lib"
	done
	# A cgroup per VM when the host has a pids controller (v1 first, as the jailer defaults).
	CHURN_CGROUP_ARGS=()
	CHURN_CGROUP_DIRS=()
	m=$(awk '$9 == "cgroup" && $NF ~ /(^|,)pids(,|$)/ {print $5; exit}' /proc/self/mountinfo)
	if [ -n "$m" ]; then
		CHURN_CGROUP_ARGS=(--cgroup-version 1 --cgroup pids.max=64)
		CHURN_CGROUP_DIRS=("$m/$CHURN_PARENT")
	else
		m=$(awk '$9 == "cgroup2" {print $5; exit}' /proc/self/mountinfo)
		if [ -n "$m" ] && grep -qw pids "$m/cgroup.controllers" 2>/dev/null; then
			CHURN_CGROUP_ARGS=(--cgroup-version 2 --cgroup pids.max=64)
			CHURN_CGROUP_DIRS=("$m/$CHURN_PARENT")
		fi
	fi
	return 0
}

# churn_api SOCK METHOD PATH BODY: one request; fails unless the answer is 2xx (then the
# response, a fault_message, is printed).
churn_api() {
	local out code
	out=$(curl -s -w '\n%{http_code}' --unix-socket "$1" -X "$2" \
		-H 'Content-Type: application/json' -d "$4" "http://localhost$3") || {
		echo "churn: $2 $3: curl failed"
		return 1
	}
	code=${out##*$'\n'}
	[ "${code:0:1}" = 2 ] || { echo "churn: $2 $3 -> HTTP $code: ${out%$'\n'*}"; return 1; }
}

# churn_cycle N LOG: one cycle, everything it says into LOG. 0, or 1 (the reason in LOG).
churn_cycle() {
	local n=$1 log=$2
	local id="churn-$CHURN_TAG-$n" tap="churn$CHURN_TAG-$n"
	local root="$CHURN_BASE/wisp/churn-$CHURN_TAG-$n/root"
	local sock jpid rc=0
	sock=$root/api.sock
	exec 3>&1 4>&2 >"$log" 2>&1
	ip tuntap add dev "$tap" mode tap user "$CHURN_UID" && ip link set "$tap" up || rc=1
	# The operator's part of the jail: hard links, a directory tree for the libraries.
	[ "$rc" -ne 0 ] || { mkdir -p "$root" && cp -al "$CHURN_STAGE/." "$root/"; } || rc=1
	if [ "$rc" -eq 0 ]; then
		timeout -k 5 60 "$CHURN_JAILER" --id "$id" --exec-file "$CHURN_WISP" \
			--uid "$CHURN_UID" --gid "$CHURN_GID" --chroot-base-dir "$CHURN_BASE" \
			--parent-cgroup "$CHURN_PARENT" "${CHURN_CGROUP_ARGS[@]}" \
			--new-pid-ns --cleanup-on-exit -- --api-sock /api.sock \
			</dev/null >"$log.serial" 2>"$log.err" &
		jpid=$!
		for _ in $(seq 1000); do
			[ -S "$sock" ] && break
			kill -0 "$jpid" 2>/dev/null || break
			sleep 0.005
		done
		{
			churn_api "$sock" PUT /boot-source \
				"{\"kernel_image_path\":\"/guest.elf\",\"boot_args\":\"$CHURN_GUEST_CMDLINE\"}" &&
				churn_api "$sock" PUT /drives/rootfs \
					'{"drive_id":"rootfs","path_on_host":"/rootfs.img","is_root_device":true,"is_read_only":true}' &&
				churn_api "$sock" PUT /network-interfaces/eth0 \
					"{\"iface_id\":\"eth0\",\"host_dev_name\":\"$tap\",\"guest_mac\":\"06:00:00:00:00:02\"}" &&
				churn_api "$sock" PUT /machine-config '{"vcpu_count":1,"mem_size_mib":128}' &&
				churn_api "$sock" PUT /actions '{"action_type":"InstanceStart"}'
		} || {
			echo "churn: cycle $n: configuring over $sock failed"
			rc=1
			kill -TERM "$jpid" 2>/dev/null
		}
		# The guest resets by itself: wisp exits 0, the jailer cleans up and exits with it.
		local st=0
		wait "$jpid" || st=$?
		[ "$st" -eq 0 ] || { echo "churn: cycle $n: wisp-jailer exited $st"; rc=1; }
		grep -q 'TEST reset PASS' "$log.serial" ||
			{ echo "churn: cycle $n: no 'TEST reset PASS' on the console"; rc=1; }
	fi
	ip link del "$tap" || rc=1
	if [ "$rc" -ne 0 ]; then
		echo "--- console:"
		cat "$log.serial" 2>/dev/null
		echo "--- stderr:"
		cat "$log.err" 2>/dev/null
	fi
	rm -f "$log.serial" "$log.err"
	exec >&3 2>&4 3>&- 4>&-
	return "$rc"
}

# churn_run CYCLES PARALLEL: cycles 1..CYCLES, PARALLEL at a time (a new one starts when any
# ends). Sets CHURN_SECONDS (wall time) and CHURN_FAILED; prints the log of every failed
# cycle; returns 1 when any failed.
churn_run() {
	local cycles=$1 parallel=$2 logs=$CHURN_BASE/logs
	local -A running=()
	local n=0 pid st t0 t1 done_pid
	mkdir -p "$logs"
	CHURN_FAILED=0
	t0=$(date +%s.%N)
	while [ "$n" -lt "$cycles" ] || [ "${#running[@]}" -gt 0 ]; do
		if [ "$n" -lt "$cycles" ] && [ "${#running[@]}" -lt "$parallel" ]; then
			n=$((n + 1))
			churn_cycle "$n" "$logs/$n.log" &
			running[$!]=$n
			continue
		fi
		st=0
		wait -n -p done_pid "${!running[@]}" || st=$?
		pid=$done_pid
		if [ "$st" -ne 0 ]; then
			CHURN_FAILED=$((CHURN_FAILED + 1))
			echo "churn: cycle ${running[$pid]} failed (status $st):"
			sed 's/^/  | /' "$logs/${running[$pid]}.log"
		fi
		unset "running[$pid]"
	done
	t1=$(date +%s.%N)
	# shellcheck disable=SC2034 # read by the callers
	CHURN_SECONDS=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.2f", b - a }')
	[ "$CHURN_FAILED" -eq 0 ]
}

# churn_snapshot FILE: one line per thing of ours the host holds, sorted, plus MemAvailable
# (kB) alone in FILE.mem. The things: processes of our VMs (a jailer naming one of our ids,
# or anything in a cgroup below ours), the fds of this shell, our taps, cgroups below ours,
# mounts naming the base, directories under the jails' directory, Unix sockets under the
# base.
churn_snapshot() {
	local out=$1 shell=$BASHPID p f
	{
		for p in /proc/[0-9]*; do
			if tr '\0' ' ' 2>/dev/null <"$p/cmdline" | grep -q -- "--id churn-$CHURN_TAG-"; then
				echo "process: ${p#/proc/} $(tr '\0' ' ' <"$p/cmdline")"
			elif grep -q "/$CHURN_PARENT/" "$p/cgroup" 2>/dev/null; then
				echo "process: ${p#/proc/} in cgroup $(grep "/$CHURN_PARENT/" "$p/cgroup" | head -n1)"
			fi
		done
		# The calling shell's fds (this block runs in a subshell: it is a pipeline).
		for f in /proc/"$shell"/fd/*; do
			echo "fd: ${f##*/} -> $(readlink "$f")"
		done
		ip -o link show | awk -F': ' -v t="churn$CHURN_TAG-" 'index($2, t) == 1 {print "tap: " $2}'
		for d in "${CHURN_CGROUP_DIRS[@]}"; do
			[ ! -d "$d" ] || find "$d" -mindepth 1 -type d | sed 's/^/cgroup: /'
		done
		grep -F "$CHURN_BASE" /proc/self/mountinfo | sed 's/^/mount: /'
		[ ! -d "$CHURN_BASE/wisp" ] || find "$CHURN_BASE/wisp" -mindepth 1 | sed 's/^/jail: /'
		grep -F "$CHURN_BASE" /proc/net/unix | sed 's/^/socket: /'
	} | sort >"$out"
	awk '/^MemAvailable:/ {print $2}' /proc/meminfo >"$out.mem"
}

# churn_check BEFORE AFTER: nothing of ours added between the two snapshots, and MemAvailable
# back within CHURN_MEM_TOLERANCE_MIB. VM teardown finishes in the kernel after the process
# is gone (SRCU callbacks free the memslots), so the memory is re-read for up to 5 s before
# it counts as lost. The tolerance is not noise-free on a shared host: other work moves
# MemAvailable too. What it is for: a leak proportional to the cycles (a jail left on disk
# holds a 2 MiB binary copy in the page cache, a VM that never died its guest RAM and wisp),
# which 1000 cycles turn into gigabytes and 50 into 100 MiB and more.
churn_check() {
	local before=$1 after=$2 mem0 mem1 lost_kib rc=0
	if ! diff "$before" "$after" >"$after.diff"; then
		echo "churn: leaked (< before, > after):"
		sed 's/^/  /' "$after.diff"
		rc=1
	fi
	mem0=$(cat "$before.mem")
	for _ in $(seq 50); do
		mem1=$(awk '/^MemAvailable:/ {print $2}' /proc/meminfo)
		lost_kib=$((mem0 - mem1))
		[ "$lost_kib" -gt $((CHURN_MEM_TOLERANCE_MIB * 1024)) ] || break
		sleep 0.1
	done
	CHURN_MEM_DELTA_MIB=$(awk -v k="$((mem1 - mem0))" 'BEGIN { printf "%+.1f", k / 1024 }')
	if [ "$lost_kib" -gt $((CHURN_MEM_TOLERANCE_MIB * 1024)) ]; then
		echo "churn: MemAvailable ${CHURN_MEM_DELTA_MIB} MiB (tolerance -$CHURN_MEM_TOLERANCE_MIB MiB)"
		rc=1
	fi
	return "$rc"
}

# churn_teardown: whatever a failed run left: our processes, taps, cgroups, the base.
churn_teardown() {
	local p d t
	[ -n "${CHURN_TAG:-}" ] || return 0
	for p in /proc/[0-9]*; do
		tr '\0' ' ' 2>/dev/null <"$p/cmdline" | grep -q -- "--id churn-$CHURN_TAG-" &&
			kill -9 "${p#/proc/}" 2>/dev/null
	done
	for t in $(ip -o link show | awk -F': ' -v t="churn$CHURN_TAG-" 'index($2, t) == 1 {print $2}'); do
		ip link del "${t%@*}" 2>/dev/null
	done
	sleep 0.1
	for d in "${CHURN_CGROUP_DIRS[@]}"; do
		[ ! -d "$d" ] || find "$d" -depth -type d -exec rmdir {} + 2>/dev/null
	done
	[ -z "${CHURN_BASE:-}" ] || rm -rf "$CHURN_BASE"
	return 0
}

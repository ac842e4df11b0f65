#!/usr/bin/env bats
# wisp-jailer end to end: every bad argument is refused before anything is created, and a
# jailed stand-in (tests/seccomp/jail-probe.c, static) sees exactly the jail it should.
#
# BUILD selects the build directory (default: build). Tests that need root skip without it.

setup() {
	cd "$BATS_TEST_DIRNAME/../.."
	B="${BUILD:-build}"
	JAILER="$B/wisp-jailer"
	PROBE="$B/tests/jail-probe"
	[ -x "$JAILER" ] || skip "$JAILER not built (make $JAILER)"
	[ -x "$PROBE" ] || skip "$PROBE not built (make $PROBE)"
	BASE="$(mktemp -d /tmp/wisp-jailer-bats.XXXXXX)"
	ID="bats-$$-$BATS_TEST_NUMBER"
	PARENT="wisp-bats"
	ROOT="$BASE/jail-probe/$ID/root"
	PIDS=()
	SHARED_MNT=
}

teardown() {
	local p d
	for p in "${PIDS[@]}" $(cat "$ROOT/wisp.pid" 2>/dev/null); do
		kill -9 "$p" 2>/dev/null || true
	done
	for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
	sleep 0.1
	for d in /sys/fs/cgroup/*/"$PARENT"/"$ID" /sys/fs/cgroup/"$PARENT"/"$ID" \
		/sys/fs/cgroup/*/"$PARENT" /sys/fs/cgroup/"$PARENT"; do
		[ -d "$d" ] && rmdir "$d" 2>/dev/null || true
	done
	[ -z "$SHARED_MNT" ] || umount -l "$SHARED_MNT" 2>/dev/null || true
	[ -n "$BASE" ] && rm -rf "$BASE"
	[ -z "$NETNS" ] || ip netns del "$NETNS" 2>/dev/null || true
}

need_root() {
	[ "$(id -u)" -eq 0 ] || skip "needs root: the jailer itself refuses to run otherwise"
}

# The jailer with valid defaults for everything not given.
jail() {
	"$JAILER" --id "$ID" --exec-file "$PROBE" --uid 123 --gid 100 \
		--chroot-base-dir "$BASE" --parent-cgroup "$PARENT" "$@"
}

# The status and message, and nothing was created under the chroot base.
refused() {
	local msg="$1"
	[ "$status" -eq 1 ] || { echo "status $status: $output"; return 1; }
	[[ "$output" == *"$msg"* ]] || { echo "expected '$msg' in: $output"; return 1; }
	[ -z "$(ls -A "$BASE")" ] || { echo "created: $(find "$BASE")"; return 1; }
}

# A v1 hierarchy (or cgroup2) with a controller we can use; sets CG_VERSION, CG_FILE, CG_VALUE,
# CG_DIR (the controller's mount), or skips.
pick_cgroup() {
	local m
	m=$(awk '$9 == "cgroup" && $NF ~ /(^|,)cpuset(,|$)/ {print $5; exit}' /proc/self/mountinfo)
	if [ -n "$m" ]; then
		CG_VERSION=1 CG_FILE=cpuset.cpus CG_VALUE=0 CG_DIR="$m"
		return
	fi
	m=$(awk '$9 == "cgroup2" {print $5; exit}' /proc/self/mountinfo)
	if [ -n "$m" ] && grep -qw pids "$m/cgroup.controllers"; then
		CG_VERSION=2 CG_FILE=pids.max CG_VALUE=64 CG_DIR="$m"
		return
	fi
	skip "no usable cgroup controller (v1 cpuset or v2 pids)"
}

# Starts the jailer in the background and waits until the probe said "ready"; sets PID (the
# probe as the host sees it) and OUT.
start_jailed() {
	OUT="$BASE/out"
	jail "$@" >"$OUT" 2>&1 &
	PIDS+=($!)
	for _ in $(seq 100); do
		grep -q 'jail-probe: ready' "$OUT" 2>/dev/null && [ -s "$ROOT/wisp.pid" ] && break
		sleep 0.05
	done
	grep -q 'jail-probe: ready' "$OUT" || { cat "$OUT"; return 1; }
	PID=$(cat "$ROOT/wisp.pid")
	[ -d "/proc/$PID" ]
}

@test "jailer: refuses to run without root" {
	command -v setpriv >/dev/null || skip "setpriv missing"
	need_root
	run setpriv --reuid=65534 --regid=65534 --clear-groups "$JAILER" --id x \
		--exec-file "$PROBE" --uid 123 --gid 100 --chroot-base-dir "$BASE"
	refused "must be run as root"
}

@test "jailer: bad --id forms are refused" {
	need_root
	local id
	for id in "a/b" ".." "a b" "a_b" "$(printf 'a%.0s' $(seq 65))" ""; do
		run "$JAILER" --id "$id" --exec-file "$PROBE" --uid 123 --gid 100 \
			--chroot-base-dir "$BASE"
		refused "--id" || { echo "id '$id'"; return 1; }
	done
}

@test "jailer: missing, non-executable or non-regular exec file is refused" {
	need_root
	run "$JAILER" --id "$ID" --exec-file "/tmp/no-such-wisp-$$" --uid 123 --gid 100 \
		--chroot-base-dir "$BASE"
	refused "No such file"
	local f
	f=$(mktemp /tmp/wisp-bats-noexec.XXXXXX)
	run "$JAILER" --id "$ID" --exec-file "$f" --uid 123 --gid 100 --chroot-base-dir "$BASE"
	rm -f "$f"
	refused "not executable"
	run "$JAILER" --id "$ID" --exec-file /tmp --uid 123 --gid 100 --chroot-base-dir "$BASE"
	refused "not a regular file"
}

@test "jailer: non-numeric or root uid/gid are refused" {
	need_root
	run "$JAILER" --id "$ID" --exec-file "$PROBE" --uid nobody --gid 100 --chroot-base-dir "$BASE"
	refused "--uid 'nobody': not a numeric"
	run "$JAILER" --id "$ID" --exec-file "$PROBE" --uid 123 --gid 1x --chroot-base-dir "$BASE"
	refused "--gid '1x': not a numeric"
	run "$JAILER" --id "$ID" --exec-file "$PROBE" --uid 0 --gid 0 --chroot-base-dir "$BASE"
	refused "must not be root"
	run "$JAILER" --id "$ID" --exec-file "$PROBE" --gid 100 --chroot-base-dir "$BASE"
	refused "--uid and --gid are required"
}

@test "jailer: unknown options and bad option values are refused" {
	need_root
	run jail --bogus
	refused "unknown option '--bogus'"
	run jail --cgroup-version 3
	refused "--cgroup-version 3"
	run jail --resource-limit nproc=1
	refused "unknown resource"
	run jail --cgroup memory
	refused "expected FILE=VALUE"
	run jail --parent-cgroup ../escape
	refused "--parent-cgroup"
}

@test "jailer: a chroot base that is a file is refused" {
	need_root
	local f="$BASE.file"
	: >"$f"
	run "$JAILER" --id "$ID" --exec-file "$PROBE" --uid 123 --gid 100 --chroot-base-dir "$f"
	rm -f "$f"
	refused "not a directory"
}

@test "jailer: a jail in use by a live process is refused" {
	need_root
	sleep 30 &
	PIDS+=($!)
	mkdir -p "$ROOT"
	echo "$!" >"$ROOT/wisp.pid"
	run jail
	[ "$status" -eq 1 ]
	[[ "$output" == *"in use by process $!"* ]]
	# Nothing new in the jail: no copy of the exec file, no dev/.
	[ "$(ls -A "$ROOT")" = "wisp.pid" ]
}

@test "jailer: a stale pid file (dead process) does not block the jail" {
	need_root
	mkdir -p "$ROOT"
	sleep 0 &
	local dead=$!
	wait "$dead"
	echo "$dead" >"$ROOT/wisp.pid"
	start_jailed -- --sleep 30
	[ "$PID" != "$dead" ]
}

@test "jailer: an unknown cgroup file is refused before any cgroup is created" {
	need_root
	pick_cgroup
	local ctl=${CG_FILE%%.*}
	run jail --cgroup-version "$CG_VERSION" --cgroup "$ctl.no_such_file=1"
	refused "unknown cgroup file"
	[ ! -e "$CG_DIR/$PARENT/$ID" ]
	run jail --cgroup-version "$CG_VERSION" --cgroup "nosuchctl.max=1"
	refused "nosuchctl"
}

@test "jailer: a --netns path that is not a network namespace is refused" {
	need_root
	local f="$BASE.notns"
	: >"$f"
	run jail --netns "$f"
	rm -f "$f"
	refused "not a namespace"
	run jail --netns /proc/self/ns/mnt
	refused "not a network namespace"
	run jail --netns /no/such/netns
	refused "No such file"
}

@test "jailer: jailed process runs as uid:gid, chrooted, in its own mount namespace" {
	need_root
	mkdir -p "$ROOT"
	echo kernel >"$ROOT/vmlinux.bin" # what an operator pre-places
	start_jailed --resource-limit fsize=1048576 --resource-limit no-file=128 -- --sleep 30
	grep -qP '^Uid:\t123\t123\t123\t123$' "/proc/$PID/status"
	grep -qP '^Gid:\t100\t100\t100\t100$' "/proc/$PID/status"
	grep -qP '^Groups:\t?$' "/proc/$PID/status" || grep -q '^Groups:\s*$' "/proc/$PID/status"
	grep -q '^CapEff:\s*0000000000000000$' "/proc/$PID/status"
	grep -q '^CapBnd:\s*0000000000000000$' "/proc/$PID/status"
	grep -q '^NoNewPrivs:\s*1$' "/proc/$PID/status"
	# Only what the jailer put there plus the operator's file.
	[ "$(ls -A "/proc/$PID/root" | sort | tr '\n' ' ')" = "dev jail-probe vmlinux.bin wisp.pid " ]
	[ "$(ls -A "/proc/$PID/root/dev" | sort | tr '\n' ' ')" = "kvm net urandom " ]
	[ "$(ls -A "/proc/$PID/root/dev/net")" = "tun" ]
	[ "$(stat -c '%t:%T %u:%g %a' "$ROOT/dev/kvm")" = "a:e8 123:100 600" ]
	[ "$(stat -c '%t:%T' "$ROOT/dev/net/tun")" = "a:c8" ]
	[ "$(stat -c '%t:%T' "$ROOT/dev/urandom")" = "1:9" ]
	grep -q 'jail-probe: root: ' "$OUT"
	grep -q 'jail-probe: environment: 0$' "$OUT"
	grep -q 'jail-probe: argv: /jail-probe --sleep 30$' "$OUT"
	[ "$(readlink "/proc/$PID/ns/mnt")" != "$(readlink /proc/self/ns/mnt)" ]
	[ "$(readlink "/proc/$PID/root")" = "/" ]
	# A copy, not a link: another inode, mode 0755, root-owned.
	[ "$(stat -c %i "$ROOT/jail-probe")" != "$(stat -L -c %i "$PROBE")" ]
	[ "$(stat -c '%a %u' "$ROOT/jail-probe")" = "755 0" ]
	cmp -s "$ROOT/jail-probe" "$PROBE"
	# The jail root belongs to the VM (API socket), the pid file names it.
	[ "$(stat -c '%u:%g' "$ROOT")" = "123:100" ]
	grep -qE '^Max file size +1048576 +1048576 ' "/proc/$PID/limits"
	grep -qE '^Max open files +128 +128 ' "/proc/$PID/limits"
	# Only stdin, stdout, stderr were inherited.
	[ "$(ls "/proc/$PID/fd" | sort -n | tr '\n' ' ')" = "0 1 2 " ]
}

@test "jailer: the jail's mounts stay private: the host never sees the jail root's bind mount" {
	need_root
	# Make the chroot base a shared mount so that, were the jailer to skip MS_PRIVATE, its
	# bind mount of the jail root would propagate back into this (the host's) namespace.
	mount --bind "$BASE" "$BASE"
	SHARED_MNT=$BASE
	mount --make-shared "$BASE"
	grep -q " $BASE [^-]* shared:" /proc/self/mountinfo || { grep " $BASE " /proc/self/mountinfo; return 1; }
	start_jailed -- --sleep 30
	# The jail itself has its own root mount, nosuid (the jailer's bind + remount).
	awk '$5 == "/" {print $6}' "/proc/$PID/mountinfo" | grep -q nosuid
	# Nothing in the jail's namespace is a peer of a host mount.
	! grep ' shared:' "/proc/$PID/mountinfo" || return 1
	# The host sees no mount at the jail root (nor anywhere below the chroot base's own).
	if awk -v b="$BASE/" 'index($5, b) == 1 {print; bad = 1} END {exit !bad}' /proc/self/mountinfo; then
		echo "the jail's mounts leaked into the host"
		return 1
	fi
}

@test "jailer: a strict umask or a closed stdin does not leak into the jail" {
	need_root
	OUT="$BASE/out"
	(umask 077; exec <&-; jail -- --sleep 30 >"$OUT" 2>&1) &
	PIDS+=($!)
	for _ in $(seq 100); do
		[ -s "$ROOT/wisp.pid" ] && grep -q ready "$OUT" && break
		sleep 0.05
	done
	PID=$(cat "$ROOT/wisp.pid")
	[ "$(readlink "/proc/$PID/fd/0")" = /dev/null ]
	[ "$(stat -c %a "$ROOT/dev")" = 755 ]
	[ "$(stat -c %a "$ROOT/dev/net")" = 755 ]
	[ "$(stat -c %a "$ROOT/dev/kvm")" = 600 ]
}

@test "jailer: default RLIMIT_NOFILE is 2048" {
	need_root
	start_jailed -- --sleep 30
	grep -qE '^Max open files +2048 +2048 ' "/proc/$PID/limits"
}

@test "jailer: a symlink planted in the jail does not redirect the exec-file copy" {
	need_root
	mkdir -p "$ROOT"
	echo precious >"$BASE/victim"
	ln -s "$BASE/victim" "$ROOT/jail-probe"
	start_jailed -- --sleep 30
	[ "$(cat "$BASE/victim")" = precious ]
	[ ! -L "$ROOT/jail-probe" ]
}

@test "jailer: a second jailer for a running id is refused" {
	need_root
	start_jailed -- --sleep 30
	run jail -- --sleep 1
	[ "$status" -eq 1 ]
	[[ "$output" == *"in use by process $PID"* ]]
}

@test "jailer: cgroup is created, joined and written" {
	need_root
	pick_cgroup
	start_jailed --cgroup-version "$CG_VERSION" --cgroup "$CG_FILE=$CG_VALUE" -- --sleep 30
	local want="/$PARENT/$ID"
	if [ "$CG_VERSION" = 1 ]; then
		grep -q ":${CG_FILE%%.*}:$want\$" "/proc/$PID/cgroup"
	else
		grep -q "^0::$want\$" "/proc/$PID/cgroup"
	fi
	[ "$(cat "$CG_DIR/$PARENT/$ID/$CG_FILE")" = "$CG_VALUE" ]
	grep -qx "$PID" "$CG_DIR/$PARENT/$ID/cgroup.procs"
}

@test "jailer: cgroup v2 with controller enabling on the way down" {
	need_root
	local m
	m=$(awk '$9 == "cgroup2" {print $5; exit}' /proc/self/mountinfo)
	[ -n "$m" ] || skip "no cgroup2 mount"
	local ctl file val
	for ctl in pids memory hugetlb; do
		grep -qw "$ctl" "$m/cgroup.controllers" 2>/dev/null && break
		ctl=
	done
	[ -n "$ctl" ] || skip "no pids/memory/hugetlb controller in cgroup2"
	case $ctl in
	pids) file=pids.max val=64 ;;
	memory) file=memory.max val=268435456 ;;
	hugetlb) file=hugetlb.2MB.max val=0 ;;
	esac
	[ -f /sys/kernel/mm/hugepages/hugepages-2048kB/nr_hugepages ] || [ "$ctl" != hugetlb ] ||
		skip "no 2 MiB huge pages"
	start_jailed --cgroup-version 2 --cgroup "$file=$val" -- --sleep 30
	grep -q "^0::/$PARENT/$ID\$" "/proc/$PID/cgroup"
	[ "$(cat "$m/$PARENT/$ID/$file")" = "$val" ]
	grep -qw "$ctl" "$m/$PARENT/cgroup.subtree_control"
}

@test "jailer: --new-pid-ns makes the jailed process PID 1 of a new PID namespace" {
	need_root
	start_jailed --new-pid-ns -- --sleep 30
	grep -q 'jail-probe: pid: 1$' "$OUT"
	[ "$(readlink "/proc/$PID/ns/pid")" != "$(readlink /proc/self/ns/pid)" ]
	grep -qP "^NSpid:\t$PID\t1\$" "/proc/$PID/status"
	# The waiting parent dropped its privileges too.
	local parent
	parent=$(awk '/^PPid:/ {print $2}' "/proc/$PID/status")
	grep -qP '^Uid:\t123\t' "/proc/$parent/status"
}

@test "jailer: --new-pid-ns passes the exit status through" {
	need_root
	run jail --new-pid-ns -- --sleep 0
	[ "$status" -eq 0 ]
	[[ "$output" == *"jail-probe: pid: 1"* ]]
}

# ---- --cleanup-on-exit ----

# Nothing of the VM is left: no jail directory, no cgroup; the shared parents stay.
jail_gone() {
	[ ! -e "$BASE/jail-probe/$ID" ] || { find "$BASE/jail-probe/$ID"; return 1; }
	[ -d "$BASE/jail-probe" ]
	[ -z "${CG_DIR:-}" ] || [ ! -e "$CG_DIR/$PARENT/$ID" ] || { echo "cgroup left"; return 1; }
}

@test "jailer: --cleanup-on-exit removes the jail and the cgroup after wisp exits, status 0" {
	need_root
	pick_cgroup
	mkdir -p "$ROOT"
	echo kernel >"$ROOT/vmlinux.bin" # an operator's file: the jail's, it goes too
	echo precious >"$BASE/victim"
	ln "$BASE/victim" "$ROOT/hardlink"  # a hard link: only the link goes
	ln -s "$BASE/victim" "$ROOT/symlink" # a symlink: never followed
	mkdir "$BASE/hostdir"
	echo keep >"$BASE/hostdir/file"
	ln -s "$BASE/hostdir" "$ROOT/escape"
	run jail --cgroup-version "$CG_VERSION" --cgroup "$CG_FILE=$CG_VALUE" --new-pid-ns \
		--cleanup-on-exit -- --sleep 0
	[ "$status" -eq 0 ] || { echo "status $status: $output"; return 1; }
	[[ "$output" == *"jail-probe: pid: 1"* ]]
	jail_gone
	[ "$(cat "$BASE/victim")" = precious ]
	[ "$(cat "$BASE/hostdir/file")" = keep ]
}

@test "jailer: --cleanup-on-exit without --new-pid-ns: the child is the VM, the pid file names it" {
	need_root
	start_jailed --cleanup-on-exit -- --sleep 30
	# The VM's parent is the keeper: the jailer, root, in the host's mount namespace.
	local keeper
	keeper=$(awk '/^PPid:/ {print $2}' "/proc/$PID/status")
	[ "$(readlink "/proc/$keeper/exe")" = "$(readlink -f "$JAILER")" ]
	grep -qP '^Uid:\t0\t' "/proc/$keeper/status"
	[ "$(readlink "/proc/$keeper/ns/mnt")" = "$(readlink /proc/self/ns/mnt)" ]
	grep -qP '^Uid:\t123\t' "/proc/$PID/status"
	# SIGTERM to the keeper reaches the VM (which dies of it: the probe has no handler).
	kill -TERM "$keeper"
	local rc=0
	wait "${PIDS[0]}" || rc=$?
	[ "$rc" -eq 143 ] || { echo "rc $rc"; cat "$OUT"; return 1; }
	jail_gone
}

@test "jailer: --cleanup-on-exit passes a killed VM's status on (128 + signal) and still cleans" {
	need_root
	pick_cgroup
	start_jailed --cgroup-version "$CG_VERSION" --cgroup "$CG_FILE=$CG_VALUE" --new-pid-ns \
		--cleanup-on-exit -- --sleep 30
	grep -qP "^NSpid:\t$PID\t1\$" "/proc/$PID/status"
	# No intermediate process: the keeper, the jailer itself, is the VM's parent.
	local keeper
	keeper=$(awk '/^PPid:/ {print $2}' "/proc/$PID/status")
	[ "$(readlink "/proc/$keeper/exe")" = "$(readlink -f "$JAILER")" ]
	[ -d "$CG_DIR/$PARENT/$ID" ]
	kill -KILL "$PID"
	local rc=0
	wait "${PIDS[0]}" || rc=$?
	[ "$rc" -eq 137 ] || { echo "rc $rc"; cat "$OUT"; return 1; }
	jail_gone
}

@test "jailer: --cleanup-on-exit leaves a mount inside the jail alone and says so" {
	need_root
	mkdir -p "$ROOT/mnt" "$BASE/data"
	echo keep >"$BASE/data/file"
	mount --bind "$BASE/data" "$ROOT/mnt"
	SHARED_MNT="$ROOT/mnt"
	run jail --cleanup-on-exit -- --sleep 0
	[ "$status" -eq 1 ] || { echo "status $status: $output"; return 1; }
	[[ "$output" == *"cleanup: $BASE/jail-probe/$ID/root/mnt: a mount point, left in place"* ]] ||
		{ echo "$output"; return 1; }
	[ "$(cat "$BASE/data/file")" = keep ]
	# Everything else went.
	[ "$(ls -A "$ROOT")" = mnt ]
}

@test "jailer: --cleanup-on-exit with --daemonize is refused" {
	need_root
	run jail --cleanup-on-exit --daemonize -- --sleep 0
	refused "cannot be combined with --daemonize"
}

@test "jailer: --netns joins the network namespace" {
	need_root
	command -v ip >/dev/null || skip "ip missing"
	NETNS="wisp-bats-$$"
	ip netns add "$NETNS"
	start_jailed --netns "/var/run/netns/$NETNS" -- --sleep 30
	local want
	want=$(stat -L -c %i "/var/run/netns/$NETNS")
	[ "$(readlink "/proc/$PID/ns/net")" = "net:[$want]" ]
}

@test "jailer: --daemonize: new session, stdio on /dev/null" {
	need_root
	jail --daemonize -- --sleep 30 >"$BASE.out" 2>&1 &
	PIDS+=($!)
	for _ in $(seq 100); do
		[ -s "$ROOT/wisp.pid" ] && break
		sleep 0.05
	done
	PID=$(cat "$ROOT/wisp.pid")
	# Session leader: the session id (field 6 of stat) is its own pid.
	[ "$(awk '{print $6}' "/proc/$PID/stat")" = "$PID" ]
	[ "$(readlink "/proc/$PID/fd/0")" = /dev/null ]
	[ "$(readlink "/proc/$PID/fd/1")" = /dev/null ]
	[ "$(readlink "/proc/$PID/fd/2")" = /dev/null ]
	sleep 0.2
	[ ! -s "$BASE.out" ]
	rm -f "$BASE.out"
}

@test "jailer: --daemonize --new-pid-ns returns at once and leaves the VM running" {
	need_root
	run jail --daemonize --new-pid-ns -- --sleep 30
	[ "$status" -eq 0 ]
	[ -z "$output" ]
	PID=$(cat "$ROOT/wisp.pid")
	[ -d "/proc/$PID" ]
	grep -qP "^NSpid:\t$PID\t1\$" "/proc/$PID/status"
	[ "$(awk '{print $6}' "/proc/$PID/stat")" = "$PID" ]
}

# ---- the real wisp in the jail ----

# Skips unless build/wisp, the test guest and /dev/kvm exist. Places the guest in the jail and,
# for a dynamically linked wisp, the libraries it needs (a static wisp needs none; production
# uses one: make EXTRA_LDFLAGS=-static).
place_wisp() {
	WISP="$B/wisp"
	GUEST="$B/guest/wisp-test-guest.elf"
	[ -x "$WISP" ] || skip "$WISP not built"
	[ -f "$GUEST" ] || skip "$GUEST not built"
	[ -c /dev/kvm ] || skip "no /dev/kvm"
	mkdir -p "$ROOT"
	cp "$GUEST" "$ROOT/guest.elf"
	local lib
	for lib in $(ldd "$WISP" 2>/dev/null | grep -o '/[^ ]*'); do
		mkdir -p "$ROOT$(dirname "$lib")"
		cp -L "$lib" "$ROOT$lib"
	done
	WROOT="$BASE/wisp/$ID/root"
	mkdir -p "$(dirname "$WROOT")"
	mv "$ROOT" "$WROOT"
	ROOT="$WROOT"
}

@test "jailer: the real wisp boots the test guest jailed (new PID namespace, seccomp on)" {
	need_root
	place_wisp
	run timeout 60 "$JAILER" --id "$ID" --exec-file "$WISP" --uid 123 --gid 100 \
		--chroot-base-dir "$BASE" --new-pid-ns --resource-limit no-file=256 \
		-- --kernel /guest.elf --cmdline "console=ttyS0 wisp.test=smp" --vcpus 2 --no-api \
		</dev/null
	[ "$status" -eq 0 ] || { echo "status $status: $output"; return 1; }
	[[ "$output" == *"TEST smp PASS"* ]]
	[[ "$output" != *"seccomp"* ]]
}

@test "jailer: jailed wisp serves its API socket inside the jail and boots through it" {
	need_root
	command -v curl >/dev/null || skip "curl missing"
	place_wisp
	mkfifo "$BASE/in"
	"$JAILER" --id "$ID" --exec-file "$WISP" --uid 123 --gid 100 --chroot-base-dir "$BASE" \
		--cgroup-version 1 --new-pid-ns -- --api-sock /api.sock \
		<"$BASE/in" >"$BASE/serial" 2>"$BASE/err" &
	PIDS+=($!)
	exec 7>"$BASE/in"
	for _ in $(seq 200); do [ -S "$ROOT/api.sock" ] && break; sleep 0.02; done
	[ -S "$ROOT/api.sock" ] || { cat "$BASE/err"; return 1; }
	# The socket belongs to the VM's uid, mode 0600.
	[ "$(stat -c '%u %a' "$ROOT/api.sock")" = "123 600" ]
	local api="curl -sf --unix-socket $ROOT/api.sock"
	$api -X PUT -d '{"kernel_image_path":"/guest.elf","boot_args":"console=ttyS0 wisp.test=echo"}' \
		http://localhost/boot-source
	# A host path outside the jail does not exist for wisp: the PUT is refused (400 naming
	# it, as the file is opened at PUT time), and wisp lives on.
	local drive='{"drive_id":"x","path_on_host":"/etc/passwd","is_root_device":false,"is_read_only":true}'
	run curl -s -w '\n%{http_code}' --unix-socket "$ROOT/api.sock" -X PUT -d "$drive" \
		http://localhost/drives/x
	[[ "$output" == *"fault_message"*"/etc/passwd"*"No such file"*$'\n'400 ]] ||
		{ echo "$output"; return 1; }
	$api -X PUT -d "${drive/\/etc\/passwd/\/guest.elf}" http://localhost/drives/x
	$api -X PUT -d '{"action_type":"InstanceStart"}' http://localhost/actions
	printf 'jailed\nreset\n' >&7
	local rc=0
	wait "${PIDS[0]}" || rc=$?
	exec 7>&-
	cat "$BASE/err"
	[ "$rc" -eq 0 ]
	grep -q 'echo: jailed' "$BASE/serial"
	grep -q 'TEST echo PASS' "$BASE/serial"
	! grep -q seccomp "$BASE/err" || return 1
}

@test "jailer: jailed wisp with a drive and a tap: uid/gid, chroot, namespaces, cgroup, guest answers ping" {
	need_root
	pick_cgroup
	command -v ping >/dev/null || skip "ping not installed (iputils-ping)"
	place_wisp
	grep -q net-echo "$ROOT/guest.elf" || skip "guest built without the net-echo test"
	head -c 1048576 /dev/zero >"$ROOT/data.img"
	chown 123:100 "$ROOT/data.img"
	NETNS="wisp-jail-$$-$BATS_TEST_NUMBER"
	ip netns add "$NETNS"
	# The tap belongs to the VM's uid: wisp opens it after the privilege drop.
	ip netns exec "$NETNS" ip tuntap add wjtap0 mode tap user 123
	ip netns exec "$NETNS" ip addr add 172.16.0.1/24 dev wjtap0
	ip netns exec "$NETNS" ip link set wjtap0 up
	mkfifo "$BASE/in"
	"$JAILER" --id "$ID" --exec-file "$WISP" --uid 123 --gid 100 --chroot-base-dir "$BASE" \
		--parent-cgroup "$PARENT" --cgroup-version "$CG_VERSION" --cgroup "$CG_FILE=$CG_VALUE" \
		--netns "/var/run/netns/$NETNS" --new-pid-ns \
		-- --no-api --kernel /guest.elf \
		--cmdline "console=ttyS0 wisp.test=net-echo wisp.ip=172.16.0.2 wisp.timeout_ms=60000" \
		--drive id=data,path=/data.img --net id=eth0,tap=wjtap0,mac=06:00:ac:10:00:02 \
		<"$BASE/in" >"$BASE/serial" 2>"$BASE/err" &
	PIDS+=($!)
	exec 7>"$BASE/in"
	for _ in $(seq 300); do grep -q "NET ready" "$BASE/serial" && break; sleep 0.1; done
	grep -q "NET ready" "$BASE/serial" || { cat "$BASE/serial" "$BASE/err"; return 1; }
	pid=$(cat "$ROOT/wisp.pid")
	# The given uid/gid, no supplementary groups.
	grep -qE '^Uid:\s+123\s+123\s+123\s+123$' "/proc/$pid/status"
	grep -qE '^Gid:\s+100\s+100\s+100\s+100$' "/proc/$pid/status"
	grep -qE '^Groups:\s*$' "/proc/$pid/status"
	# Inside the chroot: its / holds only what the jailer and the operator put there.
	# (A dynamically linked build, the ASan one, also has the libraries place_wisp copied.)
	expected=$( (printf '%s\n' data.img dev guest.elf wisp wisp.pid
		ldd "$WISP" 2>/dev/null | grep -o '/[^ ]*' | cut -d/ -f2) | sort -u | tr '\n' ' ')
	[ "$(ls -A "/proc/$pid/root" | sort | tr '\n' ' ')" = "$expected" ]
	[ "$(cd "/proc/$pid/root/dev" && find . -mindepth 1 | sort | tr '\n' ' ')" = "./kvm ./net ./net/tun ./urandom " ]
	# Its own mount and PID namespaces, and the network namespace it was given.
	[ "$(readlink "/proc/$pid/ns/mnt")" != "$(readlink /proc/self/ns/mnt)" ]
	[ "$(readlink "/proc/$pid/ns/pid")" != "$(readlink /proc/self/ns/pid)" ]
	[ "$(readlink "/proc/$pid/ns/net")" = "$(ip netns exec "$NETNS" readlink /proc/self/ns/net)" ]
	# In the requested cgroup, with the limit written.
	grep -q "/$PARENT/$ID\$" "/proc/$pid/cgroup"
	[ "$(cat "$CG_DIR/$PARENT/$ID/$CG_FILE")" = "$CG_VALUE" ]
	# The drive is open, the tap carries the guest's traffic.
	ls -l "/proc/$pid/fd" | grep -q '/data.img'
	run ip netns exec "$NETNS" ping -c 5 -W 2 172.16.0.2
	echo "$output"
	[[ "$output" == *"5 packets transmitted, 5 received"* ]]
	# SIGTERM to the jailer reaches wisp; both exit 0; no seccomp violation on the way.
	kill -TERM "${PIDS[0]}"
	rc=0
	wait "${PIDS[0]}" || rc=$?
	exec 7>&-
	cat "$BASE/err"
	[ "$rc" -eq 0 ]
	! grep -q seccomp "$BASE/err" || return 1
}

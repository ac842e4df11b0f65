# Helpers of the nested Linux suites (tests/linux/*.bats): artifacts, scenarios, checks.
# Each test writes a level-1 scenario (a busybox sh script), boots the level-1 host with it
# (run-l1.sh), and checks the level-2 guest's console and wisp's stderr, which the scenario
# prints between "=== console" / "=== stderr" markers after wisp has exited.

# Builds (once per suite run, cached across runs where inputs are unchanged) into $SUITE:
# kernel/ (rootfs-tools/guest-kernel), guest/{vmlinux,vmlinuz,initramfs.cpio,rootfs.ext4} and
# l1.cpio. Fails the suite, never skips: CI installs qemu-system-x86 and reaches Debian's mirror.
linux_suite_prepare() {
	export BUILD=${BUILD:-build}
	export SUITE=$BUILD/linux-suite
	local here=tests/linux
	mkdir -p "$SUITE/guest" "$SUITE/rootfs-dir/data"
	local runner
	runner=$(linux_runner) || return 1
	echo "# Linux suite runner: $runner" >&3
	if [ "$runner" = nested ]; then
		command -v qemu-system-x86_64 >/dev/null || { echo "qemu-system-x86_64 missing (tests/deps.sh)" >&3; return 1; }
	fi
	rootfs-tools/guest-kernel build/linux-kernel >/dev/null
	ln -f build/linux-kernel/vmlinux "$SUITE/guest/vmlinux" 2>/dev/null || cp build/linux-kernel/vmlinux "$SUITE/guest/vmlinux"
	ln -f build/linux-kernel/vmlinuz "$SUITE/guest/vmlinuz" 2>/dev/null || cp build/linux-kernel/vmlinuz "$SUITE/guest/vmlinuz"
	rootfs-tools/mkinitramfs -k build/linux-kernel -o "$SUITE/guest/initramfs.cpio" \
		--add "$here/guest-checks.sh:/checks.sh" 2>/dev/null
	install -m 0755 "$here/guest-checks.sh" "$SUITE/rootfs-dir/checks.sh"
	echo "written by the host" >"$SUITE/rootfs-dir/data/host.txt"
	rootfs-tools/mkrootfs -o "$SUITE/guest/rootfs.ext4" --busybox --add "$SUITE/rootfs-dir" >/dev/null
	"$here/l1-image.sh" -k build/linux-kernel -w "$BUILD/wisp" -j "$BUILD/wisp-jailer" \
		-g "$SUITE/guest" -o "$SUITE/l1.cpio" 2>/dev/null
	# The direct runner's tree: the same image, unpacked (the nested suite's direct test uses
	# run-direct.sh inside level 1 instead).
	if [ "$runner" = direct ]; then
		rm -rf "$SUITE/l1-root"
		mkdir -p "$SUITE/l1-root"
		(cd "$SUITE/l1-root" && cpio -idm --quiet) <"$SUITE/l1.cpio"
	fi
}

# linux_runner: how the scenarios run here. LINUX_RUNNER=nested|direct forces one; by default
# direct where /dev/kvm is VT-x or AMD-V (kvm_intel or kvm_amd loaded), nested otherwise (PVM,
# where a stock kernel cannot run, or no KVM at all).
linux_runner() {
	case ${LINUX_RUNNER:-auto} in
	nested | direct) echo "$LINUX_RUNNER" ;;
	auto)
		if [ -c /dev/kvm ] && [ ! -e /sys/module/kvm_pvm ] &&
			{ [ -e /sys/module/kvm_intel ] || [ -e /sys/module/kvm_amd ]; }; then
			echo direct
		else
			echo nested
		fi
		;;
	*) echo "LINUX_RUNNER=$LINUX_RUNNER: nested or direct" >&2; return 1 ;;
	esac
}

# run_scenario SCENARIO LOG: runs it in a level-1 host under QEMU (nested) or chrooted into the
# level-1 tree on this host's KVM (direct); the exit status is the scenario's.
run_scenario() {
	case $(linux_runner) in
	direct) tests/linux/run-direct.sh "$SUITE/l1-root" "$1" "$2" "${L1_TIMEOUT:-330}" ;;
	*) tests/linux/run-l1.sh "$SUITE/l1.cpio" "$1" "$2" "${L1_TIMEOUT:-330}" ;;
	esac
}

linux_suite_setup() {
	BUILD=${BUILD:-build}
	SUITE=$BUILD/linux-suite
	TMP=$(mktemp -d)
}

# The scenario's first part: a tap for the guest in the level-1 host, the rootfs copied to
# where wisp writes it.
scenario_head() {
	cat <<'SH'
#!/bin/sh
/usr/sbin/ip tuntap add dev tap0 mode tap user 123
/usr/sbin/ip addr add 172.16.0.1/30 dev tap0
/usr/sbin/ip link set tap0 up
cp /guest/rootfs.ext4 /tmp/rootfs.ext4
: >/tmp/console
: >/tmp/wisp.err
SH
}

# The scenario's last part: wait for the guest init's "up" line, ping the guest, wait for wisp,
# read back what the guest wrote on its disk, print the console and stderr.
scenario_tail() {
	cat <<'SH'
# A guest whose console stays still for 60 s before "up" has stalled: what wisp's threads are
# doing goes to the log ("L1 stall ..."), and wisp is stopped.
stall_report() {
	echo "L1 guest-stalled=yes"
	for w in $(pidof wisp); do
		for t in /proc/$w/task/*; do
			echo "L1 stall $w/${t##*/} $(cat $t/comm) state=$(cut -d' ' -f3 $t/stat) utime=$(cut -d' ' -f14 $t/stat) stime=$(cut -d' ' -f15 $t/stat) wchan=$(cat $t/wchan) syscall=$(cut -d' ' -f1-2 $t/syscall)"
			sed 's/^/L1 stall     /' $t/stack 2>/dev/null
		done
	done
	sleep 1
	for w in $(pidof wisp); do
		for t in /proc/$w/task/*; do
			echo "L1 stall 1s-later $w/${t##*/} utime=$(cut -d' ' -f14 $t/stat) stime=$(cut -d' ' -f15 $t/stat)"
		done
	done
	dmesg | tail -n 20 | sed 's/^/L1 stall dmesg /'
	kill $(pidof wisp) 2>/dev/null
}
i=0 last=-1 still=0
while [ $i -lt 1500 ] && ! grep -q 'wisp-init: up' /tmp/console; do
	kill -0 $pid 2>/dev/null || break
	sleep 0.2
	i=$((i + 1))
	size=$(wc -c </tmp/console)
	if [ "$size" = "$last" ]; then still=$((still + 1)); else still=0 last=$size; fi
	[ $still -lt 300 ] || { stall_report; break; }
done
if grep -q 'wisp-init: up' /tmp/console; then
	ping -c 3 -W 5 172.16.0.2 >/dev/null 2>&1 && echo "L1 ping-guest=ok" || echo "L1 ping-guest=failed"
	# A test's own step while the guest runs (the snapshot test's), defined before this part.
	if type after_up >/dev/null 2>&1; then after_up; fi
fi
wait $pid
echo "L1 wisp-exit=$?"
echo "L1 guest-file=$(debugfs -R 'cat /data/guest.txt' /tmp/rootfs.ext4 2>/dev/null)"
debugfs -R 'cat /data/ticks' /tmp/rootfs.ext4 2>/dev/null | sed 's/^/L1 disk /'
# Each marker on a line of its own, even after a console cut off mid-line.
echo "=== console"
cat /tmp/console
[ -z "$(tail -c 1 /tmp/console)" ] || echo
echo "=== stderr"
cat /tmp/wisp.err
[ -z "$(tail -c 1 /tmp/wisp.err)" ] || echo
echo "=== end"
SH
}

# run_guest MODE WISP_ARGS CMDLINE: boots the guest in a level-1 host through MODE (cli: wisp's
# command line; api: the API socket; jailer: wisp-jailer with a drive and a tap in a netns),
# and leaves the level-1 log in $TMP/log, the guest console in $TMP/console and wisp's stderr in
# $TMP/stderr. Fails when the level-1 machine does not finish its scenario.
run_guest() {
	local mode=$1 args=$2 cmdline=$3
	# GUEST_DEVICES replaces the root drive and the NIC on wisp's command line (cli mode);
	# GUEST_API replaces --no-api; AFTER_UP names a file that defines after_up(), a step the
	# scenario runs once the guest is up and pinged (cli mode).
	local drive="--drive id=rootfs,path=/tmp/rootfs.ext4,root=on"
	local net="--net id=eth0,tap=tap0,mac=06:00:ac:10:00:02"
	if [ -n "${GUEST_DEVICES+set}" ]; then
		drive=$GUEST_DEVICES
		net=
	fi
	{
		scenario_head
		case $mode in
		cli)
			[ -z "${AFTER_UP:-}" ] || cat "$AFTER_UP"
			echo "timeout 280 wisp ${GUEST_API:---no-api} $args --initrd /guest/initramfs.cpio $drive $net \\"
			echo "	--cmdline '$cmdline' </dev/null >/tmp/console 2>/tmp/wisp.err &"
			echo 'pid=$!'
			;;
		api)
			cat <<SH
timeout 280 wisp --api-sock /tmp/api.sock </dev/null >/tmp/console 2>/tmp/wisp.err &
pid=\$!
i=0; while [ \$i -lt 100 ] && [ ! -S /tmp/api.sock ]; do sleep 0.05; i=\$((i + 1)); done
api() { # PATH BODY
	echo "L1 api \$1 \$(curl -s -o /tmp/api.out -w '%{http_code}' --unix-socket /tmp/api.sock -X PUT -d "\$2" "http://localhost\$1") \$(cat /tmp/api.out)"
}
api /boot-source '{"kernel_image_path":"/guest/vmlinux","initrd_path":"/guest/initramfs.cpio","boot_args":"$cmdline"}'
api /machine-config '{"vcpu_count":1,"mem_size_mib":192}'
api /drives/rootfs '{"drive_id":"rootfs","path_on_host":"/tmp/rootfs.ext4","is_root_device":true,"is_read_only":false}'
api /network-interfaces/eth0 '{"iface_id":"eth0","host_dev_name":"tap0","guest_mac":"06:00:ac:10:00:02"}'
api /actions '{"action_type":"InstanceStart"}'
SH
			;;
		jailer)
			cat <<SH
mkdir -p /run/netns /srv/jailer/wisp/vm1/root
/usr/sbin/ip netns add vm1
/usr/sbin/ip link set tap0 netns vm1
/usr/sbin/ip -n vm1 addr add 172.16.0.1/30 dev tap0
/usr/sbin/ip -n vm1 link set tap0 up
/usr/sbin/ip -n vm1 link set lo up
root=/srv/jailer/wisp/vm1/root
cp /guest/vmlinux /guest/initramfs.cpio \$root/
mv /tmp/rootfs.ext4 \$root/rootfs.ext4 && chown 123:100 \$root/rootfs.ext4
timeout 280 wisp-jailer --id vm1 --exec-file /bin/wisp --uid 123 --gid 100 \\
	--chroot-base-dir /srv/jailer --netns /var/run/netns/vm1 --new-pid-ns \\
	--cgroup-version 2 --cgroup pids.max=64 \\
	-- --no-api --kernel /vmlinux --initrd /initramfs.cpio \\
	--drive id=rootfs,path=/rootfs.ext4,root=on $net --mem-mib 256 \\
	--cmdline '$cmdline' </dev/null >/tmp/console 2>/tmp/wisp.err &
pid=\$!
i=0; while [ \$i -lt 100 ] && [ ! -s \$root/wisp.pid ]; do sleep 0.05; i=\$((i + 1)); done
wpid=\$(cat \$root/wisp.pid 2>/dev/null)
echo "L1 jailed-uid=\$(awk '/^Uid:/ {print \$2}' /proc/\$wpid/status 2>/dev/null)"
echo "L1 jailed-root=\$(readlink /proc/\$wpid/root 2>/dev/null)"
echo "L1 jailed-netns=\$([ "\$(readlink /proc/\$wpid/ns/net)" = "\$(/usr/sbin/ip netns exec vm1 readlink /proc/self/ns/net)" ] && echo vm1)"
echo "L1 jailed-cgroup=\$(cat /proc/\$wpid/cgroup 2>/dev/null)"
ping() { /usr/sbin/ip netns exec vm1 /bin/busybox ping "\$@"; }
ln -sf /srv/jailer/wisp/vm1/root/rootfs.ext4 /tmp/rootfs.ext4
SH
			;;
		esac
		scenario_tail
	} >"$TMP/scenario.sh"
	local rc attempt why
	for attempt in 1 2; do
		rc=0
		if [ -n "${LINUX_DIRECT_IN_L1:-}" ]; then
			wrap_direct "$TMP/scenario.sh" >"$TMP/outer.sh"
			tests/linux/run-l1.sh "$SUITE/l1.cpio" "$TMP/outer.sh" "$TMP/log" "${L1_TIMEOUT:-330}" || rc=$?
		else
			run_scenario "$TMP/scenario.sh" "$TMP/log" || rc=$?
		fi
		# Nested, the level-1 host is QEMU's TCG emulating SVM, and that emulation sometimes
		# fails on its own (seen: the level-1 kernel's stack guard hit in its exception entry,
		# then its panic). Such a run says nothing about wisp: it is run once more, and said so.
		[ "$attempt" -eq 1 ] && [ "$(linux_runner)" = nested ] || break
		why=$(level1_fault "$TMP/log" "$rc") || break
		echo "# level-1 run failed on its own ($why); running the scenario once more" >&3
		mv "$TMP/log" "$TMP/log.1"
	done
	sed -n '/^=== console$/,/^=== stderr$/p' "$TMP/log" | sed '1d;$d' >"$TMP/console"
	sed -n '/^=== stderr$/,/^=== end$/p' "$TMP/log" | sed '1d;$d' >"$TMP/stderr"
	if [ "$rc" -ne 0 ]; then
		echo "level-1 scenario failed ($rc); log:"
		tail -n 80 "$TMP/log"
		return 1
	fi
}

# level1_fault LOG STATUS: prints why a nested run failed in the level-1 host rather than in
# the level-2 guest, status 0 when it did: the level-1 machine hung or died (run-l1.sh's 124,
# 125), its kernel logged a panic, BUG or Oops (outside the level-2 console's section), the
# level-2 guest's console stood still for 60 s (the scenario's stall report), or the level-2
# kernel triple-faulted before reaching user space.
level1_fault() {
	local line
	[ "$2" -ne 124 ] || { echo "the level-1 machine hung"; return 0; }
	line=$(sed '/^=== console$/,/^=== stderr$/d' "$1" | grep -m 1 -E 'Kernel panic|BUG:|Oops|stack guard page') &&
		{ echo "level-1 kernel: $line"; return 0; }
	[ "$2" -ne 125 ] || { echo "the level-1 machine ended early"; return 0; }
	grep -q '^L1 guest-stalled=yes' "$1" && { echo "the guest's console stood still for 60 s"; return 0; }
	# The level-2 kernel triple-faulted before user space (seen once in ~20 runs, at random
	# points of an otherwise identical boot, cut off mid-line): the emulated SVM's doing.
	# After user space a triple fault is the test's to judge, never retried.
	if sed -n '/^=== stderr$/,/^=== end$/p' "$1" | grep -q 'guest shutdown (triple fault)' &&
		! sed -n '/^=== console$/,/^=== stderr$/p' "$1" | grep -q 'wisp-init: up'; then
		echo "the level-2 kernel triple-faulted before user space"
		return 0
	fi
	return 1
}

# wrap_direct SCENARIO: a level-1 scenario that runs SCENARIO through run-direct.sh inside the
# level-1 host (whose /dev/kvm is AMD SVM), as the suite runs it on a VT-x/AMD-V host: the
# direct runner proven where the suite otherwise nests. Prints the inner scenario's lines, then
# whether its tap outlived it ("L1 direct-tap-left=") and its status ("L1 direct-exit=").
wrap_direct() {
	echo '#!/bin/sh'
	echo 'mkdir -p /direct'
	echo "cat >/direct/run-direct.sh <<'WISP_RUNNER_EOF'"
	cat tests/linux/run-direct.sh
	echo 'WISP_RUNNER_EOF'
	echo "cat >/direct/inner.sh <<'WISP_INNER_EOF'"
	cat "$1"
	echo 'WISP_INNER_EOF'
	cat <<'SH'
rc=0
sh /direct/run-direct.sh / /direct/inner.sh /tmp/direct.log 280 || rc=$?
grep -v '^L1-SCENARIO-EXIT' /tmp/direct.log
/usr/sbin/ip link show tap0 >/dev/null 2>&1 && echo "L1 direct-tap-left=yes" || echo "L1 direct-tap-left=no"
echo "L1 direct-exit=$rc"
exit $rc
SH
}

# check_line KEY VALUE: the guest printed "CHECK KEY=VALUE" (or the level-1 host "L1 KEY=VALUE").
check_line() {
	if ! grep -qxF "$1=$2" <(sed -n 's/^CHECK //p; s/^L1 //p' "$TMP/console" "$TMP/log"); then
		echo "expected $1=$2; got: $(sed -n "s/^CHECK $1=//p; s/^L1 $1=//p" "$TMP/console" "$TMP/log" | head -n 3)"
		return 1
	fi
}

# check_full_guest NCPUS MEM_MIB: what every full-guest test checks.
check_full_guest() {
	local ncpus=$1 mem=$2
	grep -q 'wisp-init: up' "$TMP/console" || {
		echo "no user space:"
		tail -n 40 "$TMP/console"
		grep -E '^L1 (wisp-exit|guest-stalled|stall)' "$TMP/log"
		echo "wisp's stderr:"
		cat "$TMP/stderr"
		return 1
	}
	check_line wisp-exit 0
	check_line nproc "$ncpus"
	local kb
	kb=$(sed -n 's/^CHECK memtotal_kb=//p' "$TMP/console")
	# MemTotal is RAM less what the kernel keeps for itself: within 20% below the size given.
	[ -n "$kb" ] && [ "$kb" -le $((mem * 1024)) ] && [ "$kb" -ge $((mem * 1024 * 8 / 10)) ] ||
		{ echo "MemTotal $kb kB for $mem MiB"; return 1; }
	check_line root "/dev/vda,ext4"
	check_line read "written by the host"
	check_line write ok
	check_line guest-file "written back by the guest"
	check_line eth0 172.16.0.2/30
	check_line ping-host ok
	check_line ping-guest ok
	local reps
	reps=$(sed -n 's/^CHECK echo-replies=//p' "$TMP/console")
	[ "${reps:-0}" -ge 3 ] || { echo "guest answered ${reps:-0} pings"; return 1; }
	# A stock kernel's boot log free of warnings, bugs and oopses, up to the workload's stop
	# (a panic test's own trace comes after); wisp logged no error.
	if sed '/^CHECK stop=/q' "$TMP/console" | grep -nE 'WARNING:|BUG:|Oops|Call Trace|XSAVE consistency'; then
		return 1
	fi
	if grep -niE '(^|: )error' "$TMP/stderr"; then
		return 1
	fi
}

#!/bin/sh
# The nested suite's workload inside the level-2 Linux guest, run by the guest init as its
# command (rootfs-tools/init): prints what the suite checks as "CHECK key=value" lines, waits
# for the level-1 host's pings, then stops the guest the way $1 says.
#   guest-checks.sh poweroff-f|reboot-f|halt|poweroff|panic|exit|ticks
# ticks (the snapshot test): after the checks, "TICK n uptime" every 0.25 s, n = 0..47, each
# also appended to /data/ticks on the disk through a descriptor kept open, then poweroff -f.
stop=${1:-exit}
echo "CHECK nproc=$(nproc)"
echo "CHECK memtotal_kb=$(sed -n 's/^MemTotal: *\([0-9]*\) kB/\1/p' /proc/meminfo)"
echo "CHECK root=$(awk '$2 == "/" {print $1 "," $3}' /proc/mounts | tail -n 1)"
if [ -r /data/host.txt ]; then
	echo "CHECK read=$(cat /data/host.txt)"
	echo "written back by the guest" >/data/guest.txt && sync && echo "CHECK write=ok"
fi
addr=$(ip -4 -o addr show dev eth0 2>/dev/null | awk '{print $4}')
echo "CHECK eth0=${addr:-none}"
if [ -n "$addr" ]; then
	ping -c 3 -W 5 172.16.0.1 >/dev/null 2>&1 && echo "CHECK ping-host=ok" || echo "CHECK ping-host=failed"
	# The host pings the guest once it sees the init's "up" line: wait for three echo replies
	# (Icmp OutEchoReps in /proc/net/snmp), at most 60 s.
	i=0
	while [ $i -lt 600 ]; do
		reps=$(awk '/^Icmp: [A-Z]/ { for (i = 2; i <= NF; i++) if ($i == "OutEchoReps") f = i }
			/^Icmp: [0-9]/ { print $f }' /proc/net/snmp)
		[ "${reps:-0}" -ge 3 ] && break
		sleep 0.1
		i=$((i + 1))
	done
	echo "CHECK echo-replies=${reps:-0}"
fi
if [ "$stop" = ticks ]; then
	exec 3>>/data/ticks
	n=0
	while [ $n -lt 48 ]; do
		line="TICK $n $(cut -d' ' -f1 /proc/uptime)"
		echo "$line"
		echo "$line" >&3
		sync
		n=$((n + 1))
		sleep 0.25
	done
	exec 3>&-
	stop=poweroff-f
fi
echo "CHECK stop=$stop"
case $stop in
poweroff-f) poweroff -f ;;
reboot-f) reboot -f ;;
halt) halt ;;
poweroff) poweroff ;;
panic) echo c >/proc/sysrq-trigger ;;
esac
sleep 30 # halt/poweroff without -f signal init, which stops the machine

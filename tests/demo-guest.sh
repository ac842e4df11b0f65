#!/bin/sh
# The demo's workload inside the Linux guest (make demo): says where it runs, waits until the
# host has pinged it three times (at most 60 s), and exits; the guest init then powers off.
echo "demo: hello from Linux $(uname -r) on $(nproc) vCPU(s), $(sed -n 's/^MemTotal: *//p' /proc/meminfo) RAM"
echo "demo: root is $(awk '$2 == "/" {print $1 " (" $3 ")"}' /proc/mounts | tail -n 1), eth0 is $(ip -4 -o addr show dev eth0 | awk '{print $4}')"
i=0
while [ $i -lt 600 ]; do
	reps=$(awk '/^Icmp: [A-Z]/ { for (i = 2; i <= NF; i++) if ($i == "OutEchoReps") f = i }
		/^Icmp: [0-9]/ { print $f }' /proc/net/snmp)
	[ "${reps:-0}" -ge 3 ] && break
	sleep 0.1
	i=$((i + 1))
done
echo "demo: answered ${reps:-0} pings from the host; powering off"

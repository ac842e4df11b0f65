#!/bin/sh
# The body of `make demo` (tests/demo.sh), the same on a VT-x/AMD-V host and inside the nested
# level-1 host: a network namespace with a tap, wisp booting Debian's kernel with its root on
# virtio-blk and a NIC on that tap, the host pinging the guest, the guest's own report, and the
# boot time wisp measured. Arguments: WISP GUESTDIR (vmlinux, initramfs.cpio, rootfs.ext4).
wisp=$1 g=$2
ns=wisp-demo
IP=/usr/sbin/ip
$IP netns add $ns
$IP -n $ns tuntap add dev tap0 mode tap
$IP -n $ns addr add 172.16.0.1/30 dev tap0
$IP -n $ns link set tap0 up
$IP -n $ns link set lo up
cp "$g/rootfs.ext4" /tmp/wisp-demo-rootfs.ext4
: >/tmp/wisp-demo.console
echo "demo: wisp boots Debian's kernel: root on virtio-blk, eth0 on tap0 in network namespace $ns"
$IP netns exec $ns "$wisp" --no-api --level Info --kernel "$g/vmlinux" --initrd "$g/initramfs.cpio" \
	--mem-mib 256 --vcpus 2 --drive id=rootfs,path=/tmp/wisp-demo-rootfs.ext4,root=on \
	--net id=eth0,tap=tap0,mac=06:00:ac:10:00:02 \
	--cmdline "console=ttyS0 reboot=k panic=1 quiet ip=172.16.0.2::172.16.0.1:255.255.255.252::eth0:off -- /demo.sh" \
	</dev/null >/tmp/wisp-demo.console 2>/tmp/wisp-demo.err &
pid=$!
i=0
while [ $i -lt 1500 ] && ! grep -q 'wisp-init: up' /tmp/wisp-demo.console; do
	kill -0 $pid 2>/dev/null || break
	sleep 0.2
	i=$((i + 1))
done
if grep -q 'wisp-init: up' /tmp/wisp-demo.console; then
	echo "demo: the host pings the guest:"
	$IP netns exec $ns ping -c 3 -W 5 172.16.0.2 | sed 's/^/  /'
fi
wait $pid
status=$?
echo "demo: the guest's console:"
grep -v '^\[' /tmp/wisp-demo.console | tr -d '\r' | sed 's/^/  | /'
echo "demo: wisp: $(grep 'guest boot time' /tmp/wisp-demo.err | sed 's/^wisp: info: //')"
echo "demo: wisp exited with status $status"
$IP netns del $ns
rm -f /tmp/wisp-demo-rootfs.ext4
[ $status -eq 0 ] && grep -q 'demo: answered 3 pings' /tmp/wisp-demo.console

#!/usr/bin/env python3
"""The host side of the net-echo guest (tests/guest/test_net.c), for net.bats and snapshot.bats:
ICMP echo over a raw socket, UDP echo with payload comparison, and the STOP datagram.

  net-probe.py ping IP COUNT WAIT_S
  net-probe.py udp IP PORT SIZE,SIZE,... WAIT_S
  net-probe.py stop IP PORT
Exit status 0 when every echo came back intact."""
import os, socket, struct, sys, time

def csum(b):
    if len(b) % 2:
        b += b"\0"
    s = sum(struct.unpack("!%dH" % (len(b) // 2), b))
    while s >> 16:
        s = (s & 0xffff) + (s >> 16)
    return ~s & 0xffff

def ping(ip, count, wait):
    s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)
    ident, got = os.getpid() & 0xffff, 0
    for seq in range(count):
        payload = os.urandom(56)
        hdr = struct.pack("!BBHHH", 8, 0, 0, ident, seq)
        s.sendto(struct.pack("!BBHHH", 8, 0, csum(hdr + payload), ident, seq) + payload, (ip, 0))
        end = time.time() + wait
        while time.time() < end:
            s.settimeout(max(end - time.time(), 0.01))
            try:
                data, addr = s.recvfrom(2048)
            except socket.timeout:
                break
            ihl = (data[0] & 15) * 4
            t, _, _, i, q = struct.unpack("!BBHHH", data[ihl:ihl + 8])
            if (addr[0] == ip and t == 0 and i == ident and q == seq
                    and data[ihl + 8:] == payload and csum(data[ihl:]) == 0):
                got += 1
                break
    print("ping %d/%d replies" % (got, count))
    return got == count

def udp(ip, port, sizes, wait):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    ok = 0
    for n in sizes:
        payload = os.urandom(n)
        s.sendto(payload, (ip, port))
        s.settimeout(wait)
        try:
            data, addr = s.recvfrom(65536)
        except socket.timeout:
            print("udp %d bytes: no reply" % n)
            continue
        if data == payload and addr == (ip, port):
            ok += 1
        else:
            print("udp %d bytes: reply differs (%d bytes from %s)" % (n, len(data), addr))
    print("udp %d/%d echoed intact" % (ok, len(sizes)))
    return ok == len(sizes)

cmd, ip = sys.argv[1], sys.argv[2]
if cmd == "ping":
    sys.exit(0 if ping(ip, int(sys.argv[3]), float(sys.argv[4])) else 1)
if cmd == "udp":
    sizes = [int(x) for x in sys.argv[4].split(",")]
    sys.exit(0 if udp(ip, int(sys.argv[3]), sizes, float(sys.argv[5])) else 1)
if cmd == "stop":
    socket.socket(socket.AF_INET, socket.SOCK_DGRAM).sendto(b"STOP", (ip, int(sys.argv[3])))

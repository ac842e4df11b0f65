#!/usr/bin/env python3
"""Abusive API clients for tests/bats/faults-api.bats (python3 stdlib only).

  api-abuse.py slow SOCK DELAY_MS      GET / one byte per send, DELAY_MS apart; prints
                                       the status line and checks the JSON body
  api-abuse.py hold SOCK N READY SECS  opens N connections (raising RLIMIT_NOFILE), touches
                                       READY once they are open, holds them SECS seconds, then
                                       prints how many wisp closed ("closed=K")
  api-abuse.py hangup SOCK ROUNDS      each round: 3000 pipelined GET /vm/config with a tiny
                                       receive buffer, read a little, close mid-answer
  api-abuse.py get SOCK                one GET /, prints the status line (timeout 5 s)
Exit status 0 when the client saw what it expected, 1 otherwise (with a reason on stderr).
"""
import json
import resource
import select
import socket
import sys
import time

REQ = b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n"


def connect(path, timeout=5.0):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(timeout)
    s.connect(path)
    return s


def read_response(s):
    """One HTTP response with a Content-Length body: (status line, body)."""
    buf = b""
    while b"\r\n\r\n" not in buf:
        chunk = s.recv(4096)
        if not chunk:
            raise EOFError("connection closed before the headers: %r" % buf)
        buf += chunk
    head, body = buf.split(b"\r\n\r\n", 1)
    lines = head.decode().split("\r\n")
    length = 0
    for line in lines[1:]:
        name, _, value = line.partition(":")
        if name.strip().lower() == "content-length":
            length = int(value)
    while len(body) < length:
        chunk = s.recv(4096)
        if not chunk:
            raise EOFError("connection closed in the body")
        body += chunk
    return lines[0], body[:length]


def cmd_get(path):
    s = connect(path)
    s.sendall(REQ)
    status, body = read_response(s)
    print(status)
    return 0 if " 200 " in status + " " and json.loads(body) else 1


def cmd_slow(path, delay_ms):
    s = connect(path, timeout=30)
    for i in range(len(REQ)):
        s.send(REQ[i:i + 1])
        time.sleep(delay_ms / 1000.0)
    status, body = read_response(s)
    print(status)
    info = json.loads(body)
    if " 200 " not in status + " " or "state" not in info:
        sys.stderr.write("unexpected answer: %s %r\n" % (status, body))
        return 1
    return 0


def cmd_hold(path, n, ready, secs):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = n + 64
    if soft < want:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(want, hard) if hard > 0 else want, hard))
    conns = []
    for _ in range(n):
        conns.append(connect(path))
    open(ready, "w").close()
    time.sleep(secs)
    closed = 0
    for s in conns:
        r, _, _ = select.select([s], [], [], 0)
        if r:
            try:
                if s.recv(1) == b"":
                    closed += 1
            except OSError:
                closed += 1
    print("closed=%d of %d" % (closed, n))
    return 0


def cmd_hangup(path, rounds):
    for _ in range(rounds):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1024)
        s.connect(path)
        s.sendall(b"GET /vm/config HTTP/1.1\r\nHost: localhost\r\n\r\n" * 3000)
        s.settimeout(2)
        try:
            s.recv(100)  # the answers have started
        except OSError:
            pass
        s.close()  # with answers queued and more to come
    return 0


def main(argv):
    mode, path = argv[1], argv[2]
    if mode == "get":
        return cmd_get(path)
    if mode == "slow":
        return cmd_slow(path, int(argv[3]))
    if mode == "hold":
        return cmd_hold(path, int(argv[3]), argv[4], float(argv[5]))
    if mode == "hangup":
        return cmd_hangup(path, int(argv[3]))
    sys.stderr.write(__doc__)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))

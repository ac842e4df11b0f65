#!/usr/bin/env python3
"""Snapshot create and restore timings for `make bench` (tests/bench/run.sh, docs/benchmarks.md).

  snapshot.py WISP GUEST MEM_MIB RUNS DIR

Each run boots the test guest's counter (wisp.test=counter, a line every ms, a 64 KiB region
changed, so the guest touches little of its RAM) through the API, pauses it, times
PUT /snapshot/create (request sent -> response read), kills it with SIGKILL, starts a new
wisp with an API socket and times PUT /snapshot/load with resume_vm true from the moment the
request is sent: to its response, and to the first byte the restored guest prints. wisp's own
log line gives request received -> vCPUs running and, apart, what KVM_SET_USER_MEMORY_REGION
cost (the host's floor). RSS and PSS of the restored process are read from
/proc/PID/smaps_rollup right after that first byte. Prints one line per figure, medians (and
p90) over the runs:

  snapshot mem_mib=N runs=R create_ms median=.. p90=.. state_kib=.. mem_file_kib=..
  snapshot mem_mib=N load_response_ms median=.. p90=.. first_output_ms median=.. p90=..
  snapshot mem_mib=N restore_us median=.. p90=.. memslot_us median=.. build_us median=..
  snapshot mem_mib=N rss_kib median=.. pss_kib median=..

Exit status 1 when a run misbehaves (a request refused, no output after the restore)."""
import os
import re
import select
import signal
import socket
import statistics
import subprocess
import sys
import time


def request(path, method, url, body=""):
    """One HTTP request on a fresh connection: (seconds, status, body)."""
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(path)
    raw = ("%s %s HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n"
           "Content-Length: %d\r\n\r\n%s" % (method, url, len(body), body)).encode()
    t0 = time.monotonic()
    s.sendall(raw)
    data = read_response(s)
    t = time.monotonic() - t0
    s.close()
    status = int(data.split(b" ", 2)[1])
    return t, status, data.split(b"\r\n\r\n", 1)[1].decode(errors="replace")


def read_response(s):
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = s.recv(65536)
        if not chunk:
            break
        data += chunk
    head, _, rest = data.partition(b"\r\n\r\n")
    m = re.search(rb"Content-Length: *(\d+)", head, re.I)
    need = int(m.group(1)) if m else 0
    while len(rest) < need:
        chunk = s.recv(65536)
        if not chunk:
            break
        rest += chunk
    return head + b"\r\n\r\n" + rest


def wait_socket(path, proc):
    for _ in range(500):
        if os.path.exists(path):
            return
        if proc.poll() is not None:
            sys.exit("snapshot.py: wisp exited before its API socket appeared")
        time.sleep(0.002)
    sys.exit("snapshot.py: no API socket at %s" % path)


def expect(what, got):
    if got[1] != 204:
        sys.exit("snapshot.py: %s: HTTP %d %s" % (what, got[1], got[2]))
    return got


def wait_output(proc, text, timeout=10.0):
    """Reads the guest's console until text appears."""
    buf = b""
    end = time.monotonic() + timeout
    while text not in buf:
        left = end - time.monotonic()
        if left <= 0 or not select.select([proc.stdout], [], [], left)[0]:
            sys.exit("snapshot.py: no %r from the guest" % text)
        chunk = os.read(proc.stdout.fileno(), 65536)
        if not chunk:
            sys.exit("snapshot.py: wisp exited before %r" % text)
        buf += chunk


def smaps(pid):
    out = {}
    with open("/proc/%d/smaps_rollup" % pid) as f:
        for line in f:
            m = re.match(r"(\w+):\s+(\d+) kB", line)
            if m:
                out[m.group(1)] = int(m.group(2))
    return out


def one_run(wisp, guest, mem_mib, d, k):
    a_sock, b_sock = "%s/a%d.sock" % (d, k), "%s/b%d.sock" % (d, k)
    state, mem = "%s/vm%d.snap" % (d, k), "%s/vm%d.mem" % (d, k)
    for f in (a_sock, b_sock):
        if os.path.exists(f):
            os.unlink(f)
    a = subprocess.Popen([wisp, "--api-sock", a_sock], stdin=subprocess.DEVNULL,
                         stdout=subprocess.PIPE, stderr=open("%s/a%d.err" % (d, k), "w"))
    wait_socket(a_sock, a)
    expect("boot-source", request(a_sock, "PUT", "/boot-source",
           '{"kernel_image_path": "%s", "boot_args": "console=ttyS0 wisp.test=counter '
           'wisp.arg=1 wisp.region=64"}' % guest))
    expect("machine-config", request(a_sock, "PUT", "/machine-config",
           '{"vcpu_count": 1, "mem_size_mib": %d}' % mem_mib))
    expect("InstanceStart", request(a_sock, "PUT", "/actions", '{"action_type": "InstanceStart"}'))
    wait_output(a, b"COUNTER 20 ")
    expect("pause", request(a_sock, "PATCH", "/vm", '{"state": "Paused"}'))
    create = expect("create", request(a_sock, "PUT", "/snapshot/create",
                    '{"snapshot_type": "Full", "snapshot_path": "%s", "mem_file_path": "%s"}'
                    % (state, mem)))[0]
    a.kill()
    a.wait()
    a.stdout.close()
    sizes = (os.stat(state).st_blocks // 2, os.stat(mem).st_blocks // 2)

    err = open("%s/b%d.err" % (d, k), "w+")
    b = subprocess.Popen([wisp, "--api-sock", b_sock, "--level", "Info"],
                         stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=err)
    wait_socket(b_sock, b)
    body = ('{"snapshot_path": "%s", "mem_backend": {"backend_type": "File", "backend_path": '
            '"%s"}, "resume_vm": true}' % (state, mem)).encode()
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(b_sock)
    raw = (b"PUT /snapshot/load HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json"
           b"\r\nContent-Length: %d\r\n\r\n" % len(body)) + body
    t0 = time.monotonic()
    s.sendall(raw)
    t_resp = t_out = None
    resp = b""
    end = t0 + 10
    while (t_resp is None or t_out is None) and time.monotonic() < end:
        fds = ([s] if t_resp is None else []) + ([b.stdout] if t_out is None else [])
        ready = select.select(fds, [], [], end - time.monotonic())[0]
        now = time.monotonic()
        if b.stdout in ready:
            if not os.read(b.stdout.fileno(), 65536):
                sys.exit("snapshot.py: the restored wisp exited")
            t_out = now
            mem_use = smaps(b.pid)
        if s in ready:
            chunk = s.recv(65536)
            resp += chunk
            if b"\r\n\r\n" in resp or not chunk:
                t_resp = now
    s.close()
    if t_resp is None or t_out is None or b" 204 " not in resp.split(b"\r\n", 1)[0]:
        sys.exit("snapshot.py: restore %d: response %r, output %s" % (k, resp[:200], t_out))
    b.send_signal(signal.SIGKILL)
    b.wait()
    b.stdout.close()
    err.seek(0)
    m = re.search(r"restored from .* in (\d+) us: VM built in (\d+) us \(memory slots (\d+) us\)",
                  err.read())
    err.close()
    if not m:
        sys.exit("snapshot.py: no restore timing in wisp's log")
    for f in (state, mem):
        os.unlink(f)
    return {"create_ms": create * 1e3, "state_kib": sizes[0], "mem_file_kib": sizes[1],
            "load_response_ms": (t_resp - t0) * 1e3, "first_output_ms": (t_out - t0) * 1e3,
            "restore_us": int(m.group(1)), "build_us": int(m.group(2)),
            "memslot_us": int(m.group(3)), "rss_kib": mem_use.get("Rss", 0),
            "pss_kib": mem_use.get("Pss", 0)}


def main():
    wisp, guest, mem_mib, runs, d = sys.argv[1], sys.argv[2], int(sys.argv[3]), \
        int(sys.argv[4]), sys.argv[5]
    res = [one_run(wisp, guest, mem_mib, d, k) for k in range(runs)]

    def med(key):
        return statistics.median(r[key] for r in res)

    def p90(key):
        v = sorted(r[key] for r in res)
        return v[min(len(v) - 1, int(0.9 * len(v)))]

    tag = "snapshot mem_mib=%d" % mem_mib
    print("%s runs=%d create_ms median=%.1f p90=%.1f state_kib=%d mem_file_kib=%d"
          % (tag, runs, med("create_ms"), p90("create_ms"), med("state_kib"), med("mem_file_kib")))
    print("%s load_response_ms median=%.2f p90=%.2f first_output_ms median=%.2f p90=%.2f"
          % (tag, med("load_response_ms"), p90("load_response_ms"), med("first_output_ms"),
             p90("first_output_ms")))
    print("%s restore_us median=%d p90=%d memslot_us median=%d build_us median=%d"
          % (tag, med("restore_us"), p90("restore_us"), med("memslot_us"), med("build_us")))
    print("%s rss_kib median=%d pss_kib median=%d" % (tag, med("rss_kib"), med("pss_kib")))


main()

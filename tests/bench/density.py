#!/usr/bin/env python3
"""Density: many idle microVMs on one host, for `make bench` (tests/bench/run.sh,
docs/benchmarks.md "Density").

  density.py            (environment: BUILD, DENSITY_N, QEMU_DENSITY_N, DENSITY_IDLE_S,
                         DENSITY_REQS, DENSITY_CONN_REQS)

For each N in $DENSITY_N (default "50 100 200") it starts N wisp processes at once, each
running the test guest's idle mode (wisp.test=idle: `IDLE ready`, then `hlt` with interrupts
off and no timer) with 128 MiB of guest RAM, 1 vCPU, a drive (its own 1 MiB sparse file) and
the API socket, and waits until every one has printed `IDLE ready`. With all N running:

- memory: each process's PSS (/proc/PID/smaps_rollup), split into the guest RAM mapping's Pss
  (/proc/PID/smaps: wisp's memfd `wisp-guest-ram`, QEMU's anonymous mapping of exactly the
  guest's size) and the rest, the VMM's own (its heap, stacks, page tables of KVM's
  structures it maps, and its binary's pages, which PSS divides among the N processes that
  share them); means per VM;
- idle CPU: utime + stime of every process (all threads, /proc/PID/stat) over DENSITY_IDLE_S
  (10) seconds of idling, as a percentage of one core per VM; the context switches of all
  their threads over the same seconds (/proc/PID/task/*/status: every wake-up is one, and
  clock ticks miss runs shorter than a tick), per VM and second; also the busiest VM's ticks and
  the whole host's busy time over the same seconds (/proc/stat; includes everything else
  running on the host);
- host memory: the drop of MemAvailable (/proc/meminfo) from before the first start to after
  the last `IDLE ready`, per VM: what PSS cannot see (KVM's structures, page tables, kernel
  stacks, io_uring rings) included, and anything else the host did meanwhile;
- GET / latency: DENSITY_REQS (20) requests per VM on one keep-alive connection per VM (opened
  beforehand), round robin over the VMs, one request in flight, timed from the first byte sent
  to the last byte of the response read (raw HTTP/1.1 over AF_UNIX); median and p99 over all
  N x DENSITY_REQS. Then DENSITY_CONN_REQS (5) per VM on a new connection each (connect
  included), as a client like curl does.

then SIGTERM to all and every exit status must be 0. Prints one line per N:

  density N=.. wisp_pss_kib_per_vm=.. guest_pss_kib_per_vm=.. idle_cpu_pct_per_vm=..
      get_median_us=.. get_p99_us=.. start_all_ms=.. [more fields]

and, for QEMU's microvm with the same guest and a virtio-blk drive at N = $QEMU_DENSITY_N
(default 50; empty: none), the same line with `density-qemu` (its API figure is QMP
query-status on a QMP socket per VM, labelled qmp_query_status_*; GET / has no QEMU
equivalent). QEMU missing: one line saying so, not a failure.

Exit status 1 when a VM misbehaves (does not reach `IDLE ready`, a request fails, an exit
status is not 0), 0 otherwise. Every process and temporary file is cleaned up on any exit."""
import os
import re
import resource
import selectors
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time

BUILD = os.environ.get("BUILD", "build")
WISP = os.path.join(BUILD, "wisp")
GUEST = os.path.join(BUILD, "guest", "wisp-test-guest.elf")
MEM_MIB = 128
CMDLINE = "console=ttyS0 wisp.test=idle"
READY = b"IDLE ready"
IDLE_S = float(os.environ.get("DENSITY_IDLE_S", "10"))
REQS = int(os.environ.get("DENSITY_REQS", "20"))
CONN_REQS = int(os.environ.get("DENSITY_CONN_REQS", "5"))
READY_TIMEOUT_S = 120
CLK_TCK = os.sysconf("SC_CLK_TCK")
QEMU_CMD = ["qemu-system-x86_64", "-M", "microvm,x-option-roms=off,isa-serial=on,rtc=off",
            "-accel", "kvm", "-cpu", "host,-arch-capabilities", "-m", str(MEM_MIB), "-smp", "1",
            "-nographic", "-nodefaults", "-no-user-config", "-no-reboot", "-kernel", GUEST,
            "-append", CMDLINE, "-serial", "stdio",
            "-global", "virtio-mmio.force-legacy=false"]


class Failure(Exception):
    """A VM misbehaved: the run's figures mean nothing."""


class VM:
    """One VMM process: its console pipe, its socket, what it printed so far."""

    def __init__(self, kind, index, argv, sock, err_path):
        self.kind, self.index, self.sock, self.err_path = kind, index, sock, err_path
        self.out = b""
        self.ready_at = None
        self.err = open(err_path, "wb")
        self.proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                     stderr=self.err)
        os.set_blocking(self.proc.stdout.fileno(), False)

    def describe(self):
        with open(self.err_path, "rb") as f:
            err = f.read()[-600:].decode(errors="replace").strip()
        return "%s %d (pid %d): console %r, stderr %r" % (
            self.kind, self.index, self.proc.pid, self.out[-200:].decode(errors="replace"),
            err)


def percentile(values, p):
    s = sorted(values)
    return s[min(len(s) - 1, int(round(p / 100.0 * (len(s) - 1))))]


def smaps_split(pid, guest_match):
    """(total Pss, guest RAM Pss, total Rss) of a process, KiB."""
    total = rss = 0
    with open("/proc/%d/smaps_rollup" % pid) as f:
        for line in f:
            if line.startswith("Pss:"):
                total = int(line.split()[1])
            elif line.startswith("Rss:"):
                rss = int(line.split()[1])
    guest = 0
    header = size = None
    with open("/proc/%d/smaps" % pid) as f:
        for line in f:
            if re.match(r"^[0-9a-f]+-[0-9a-f]+ ", line):
                header, size = line, None
            elif line.startswith("Size:"):
                size = int(line.split()[1])
            elif line.startswith("Pss:") and guest_match(header, size):
                guest += int(line.split()[1])
    return total, guest, rss


def wisp_guest_ram(header, size):
    return "wisp-guest-ram" in header


def qemu_guest_ram(header, size):
    # QEMU maps guest RAM anonymously, exactly its size (-m 128).
    return size == MEM_MIB * 1024 and len(header.split()) == 5


def cpu_ticks(pid):
    """utime + stime of the whole process (every thread, live or gone), in clock ticks."""
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])


def context_switches(pid):
    """Voluntary + involuntary context switches of every live thread: each is a wake-up (a
    timer, a poll, an event), so an idle VM adds none. Ticks miss short runs; these do not."""
    n = 0
    for tid in os.listdir("/proc/%d/task" % pid):
        try:
            with open("/proc/%d/task/%s/status" % (pid, tid)) as f:
                n += sum(int(l.split()[1]) for l in f if "ctxt_switches:" in l)
        except FileNotFoundError:  # a thread that just ended
            pass
    return n


def host_busy_ticks():
    with open("/proc/stat") as f:
        cpu = [int(x) for x in f.readline().split()[1:]]
    idle = cpu[3] + cpu[4]  # idle + iowait
    return sum(cpu[:8]) - idle


def mem_available_kib():
    with open("/proc/meminfo") as f:
        return int(re.search(r"MemAvailable:\s+(\d+)", f.read()).group(1))


def wait_ready(vms, t0):
    """Reads every console until each VM printed READY; returns ms from t0 to the last."""
    sel = selectors.DefaultSelector()
    for vm in vms:
        sel.register(vm.proc.stdout, selectors.EVENT_READ, vm)
    pending = len(vms)
    deadline = time.monotonic() + READY_TIMEOUT_S
    last = t0
    while pending:
        timeout = deadline - time.monotonic()
        if timeout <= 0:
            stuck = [vm for vm in vms if vm.ready_at is None]
            raise Failure("%d of %d VMs not ready after %d s; first: %s" % (
                len(stuck), len(vms), READY_TIMEOUT_S, stuck[0].describe()))
        for key, _ in sel.select(timeout):
            vm = key.data
            try:
                chunk = os.read(vm.proc.stdout.fileno(), 65536)
            except BlockingIOError:  # a spurious wake-up
                continue
            if not chunk:  # EOF: the VMM is gone
                raise Failure("exited before %r: %s (status %s)" % (
                    READY.decode(), vm.describe(), vm.proc.wait()))
            vm.out += chunk
            if READY in vm.out:
                vm.ready_at = time.monotonic()
                last = max(last, vm.ready_at)
                sel.unregister(vm.proc.stdout)
                pending -= 1
    sel.close()
    return (last - t0) * 1000


def read_http(s):
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = s.recv(65536)
        if not chunk:
            raise Failure("API connection closed mid-response")
        data += chunk
    head, _, rest = data.partition(b"\r\n\r\n")
    m = re.search(rb"Content-Length: *(\d+)", head, re.I)
    need = int(m.group(1)) if m else 0
    while len(rest) < need:
        chunk = s.recv(65536)
        if not chunk:
            raise Failure("API connection closed mid-body")
        rest += chunk
    return head, rest


GET_ROOT = b"GET / HTTP/1.1\r\nHost: localhost\r\nAccept: application/json\r\n\r\n"


def get_root(s, vm):
    """One GET / on s; its round trip in microseconds."""
    t = time.perf_counter_ns()
    s.sendall(GET_ROOT)
    head, body = read_http(s)
    us = (time.perf_counter_ns() - t) / 1000
    if not head.startswith(b"HTTP/1.1 200") or b'"Running"' not in body:
        raise Failure("GET / on %s: %r %r" % (vm.sock, head[:40], body[:100]))
    return us


def wisp_latency(vms):
    """GET / round trips (us): keep-alive (REQS per VM), then new connections (CONN_REQS)."""
    conns = []
    try:
        for vm in vms:
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            s.connect(vm.sock)
            conns.append(s)
        keep = [get_root(s, vm) for _ in range(REQS) for s, vm in zip(conns, vms)]
    finally:
        for s in conns:
            s.close()
    fresh = []
    for _ in range(CONN_REQS):
        for vm in vms:
            t = time.perf_counter_ns()
            with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
                s.connect(vm.sock)
                get_root(s, vm)
            fresh.append((time.perf_counter_ns() - t) / 1000)  # connect included
    return keep, fresh


def qmp_latency(vms):
    """QMP query-status round trips (us), REQS per VM on one connection each, round robin."""
    conns = []
    try:
        for vm in vms:
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            s.connect(vm.sock)
            f = s.makefile("rb")
            f.readline()  # greeting
            s.sendall(b'{"execute": "qmp_capabilities"}\n')
            f.readline()
            conns.append((s, f))
        out = []
        for _ in range(REQS):
            for (s, f), vm in zip(conns, vms):
                t = time.perf_counter_ns()
                s.sendall(b'{"execute": "query-status"}\n')
                line = f.readline()
                out.append((time.perf_counter_ns() - t) / 1000)
                if b'"return"' not in line:
                    raise Failure("QMP query-status on %s: %r" % (vm.sock, line[:100]))
        return out
    finally:
        for s, f in conns:
            f.close()
            s.close()


def stop_all(vms, sigterm_ok):
    """SIGTERM to every VM still running, then waits; returns the VMs that exited badly."""
    for vm in vms:
        if vm.proc.poll() is None:
            vm.proc.send_signal(signal.SIGTERM)
    bad = []
    deadline = time.monotonic() + 30
    for vm in vms:
        try:
            rc = vm.proc.wait(max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            vm.proc.kill()
            rc = vm.proc.wait()
            bad.append((vm, "did not exit within 30 s of SIGTERM (killed)"))
            continue
        if rc != 0 and not (sigterm_ok and rc == -signal.SIGTERM):
            bad.append((vm, "exit status %d" % rc))
    return bad


def run(kind, n, tmp):
    """Starts n VMs of kind (wisp or qemu), measures them, stops them; prints the line."""
    vms = []
    try:
        argvs = []
        for i in range(n):
            disk = os.path.join(tmp, "%s-%d.img" % (kind, i))
            with open(disk, "wb") as f:
                f.truncate(1 << 20)
            sock = os.path.join(tmp, "%s-%d.sock" % (kind, i))
            if kind == "wisp":
                argvs.append(([WISP, "--kernel", GUEST, "--cmdline", CMDLINE, "--mem-mib",
                               str(MEM_MIB), "--vcpus", "1", "--drive",
                               "id=rootfs,path=%s" % disk, "--api-sock", sock], sock))
            else:
                argvs.append((QEMU_CMD + ["-drive", "id=d0,file=%s,format=raw,if=none" % disk,
                                          "-device", "virtio-blk-device,drive=d0", "-qmp",
                                          "unix:%s,server=on,wait=off" % sock], sock))
        avail0 = mem_available_kib()
        t0 = time.monotonic()
        for i, (argv, sock) in enumerate(argvs):
            vms.append(VM(kind, i, argv, sock, os.path.join(tmp, "%s-%d.err" % (kind, i))))
        spawn_ms = (time.monotonic() - t0) * 1000
        start_ms = wait_ready(vms, t0)
        for vm in vms:  # the socket exists before the guest runs; check anyway
            if not os.path.exists(vm.sock):
                raise Failure("no socket: " + vm.describe())

        time.sleep(1)  # let boot-time work (and the other VMs' start-up) settle
        host_mem = (avail0 - mem_available_kib()) / n
        match = wisp_guest_ram if kind == "wisp" else qemu_guest_ram
        mem = [smaps_split(vm.proc.pid, match) for vm in vms]
        pss_total = sum(m[0] for m in mem) / n
        guest = sum(m[1] for m in mem) / n
        rss = sum(m[2] for m in mem) / n  # Rss incl. guest RAM, for reference

        x0 = [context_switches(vm.proc.pid) for vm in vms]
        c0 = [cpu_ticks(vm.proc.pid) for vm in vms]
        h0, w0 = host_busy_ticks(), time.monotonic()
        time.sleep(IDLE_S)
        c1 = [cpu_ticks(vm.proc.pid) for vm in vms]
        x1 = [context_switches(vm.proc.pid) for vm in vms]
        h1, w1 = host_busy_ticks(), time.monotonic()
        gone = [vm for vm in vms if vm.proc.poll() is not None]
        if gone:
            raise Failure("%d of %d exited while idle; first: %s (status %s)" % (
                len(gone), n, gone[0].describe(), gone[0].proc.returncode))
        ticks = [b - a for a, b in zip(c0, c1)]
        secs = w1 - w0
        cpu_pct = sum(ticks) / CLK_TCK / secs / n * 100
        switches = [b - a for a, b in zip(x0, x1)]
        host_pct = (h1 - h0) / CLK_TCK / secs * 100

        if kind == "wisp":
            keep, fresh = wisp_latency(vms)
            api = ("get_median_us=%.0f get_p99_us=%.0f" %
                   (statistics.median(keep), percentile(keep, 99)))
            extra = ("get_max_us=%.0f get_requests=%d get_newconn_median_us=%.0f "
                     "get_newconn_p99_us=%.0f" %
                     (max(keep), len(keep), statistics.median(fresh), percentile(fresh, 99)))
        else:
            q = qmp_latency(vms)
            api = "get_median_us=n/a get_p99_us=n/a"
            extra = ("qmp_query_status_median_us=%.0f qmp_query_status_p99_us=%.0f" %
                     (statistics.median(q), percentile(q, 99)))

        bad = stop_all(vms, sigterm_ok=(kind == "qemu"))
        if bad:
            raise Failure("%d of %d exited badly; first: %s: %s" % (
                len(bad), n, bad[0][1], bad[0][0].describe()))
        label = "density" if kind == "wisp" else "density-qemu"
        print("%s N=%d %s_pss_kib_per_vm=%.0f guest_pss_kib_per_vm=%.0f "
              "idle_cpu_pct_per_vm=%.4f %s start_all_ms=%.0f spawn_ms=%.0f "
              "pss_kib_per_vm=%.0f rss_kib_per_vm=%.0f idle_ticks_total=%d idle_ticks_max=%d "
              "idle_wakeups_per_vm_s=%.3f idle_wakeups_max=%d idle_s=%.1f host_busy_pct_of_core=%.1f host_mem_kib_per_vm=%.0f %s" % (
                  label, n, kind, pss_total - guest, guest, cpu_pct, api, start_ms, spawn_ms,
                  pss_total, rss, sum(ticks), max(ticks), sum(switches) / n / secs, max(switches), secs, host_pct, host_mem, extra),
              flush=True)
    finally:
        for vm in vms:
            if vm.proc.poll() is None:
                vm.proc.kill()
            vm.proc.wait()
            vm.proc.stdout.close()
            vm.err.close()


def main():
    ns = [int(x) for x in os.environ.get("DENSITY_N", "50 100 200").split()]
    qemu_ns = [int(x) for x in os.environ.get("QEMU_DENSITY_N", "50").split()]
    for f in (WISP, GUEST):
        if not os.path.exists(f):
            print("density: %s missing: run 'make all' first" % f, file=sys.stderr)
            return 1
    # Two descriptors per VM here (console pipe, API connection) plus its stderr file.
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    need = 4 * max(ns + qemu_ns + [0]) + 64
    if soft < need:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(need, hard), hard))
    # Guest RAM is only reserved, not touched (a few MiB per VM): ask for 8 MiB a VM (QEMU 48).
    avail = mem_available_kib()
    want = max([n * 8 * 1024 for n in ns] + [n * 48 * 1024 for n in qemu_ns])
    if avail < want:
        print("density: %d MiB available, the largest run needs about %d MiB" %
              (avail // 1024, want // 1024), file=sys.stderr)
        return 1
    have_qemu = shutil.which("qemu-system-x86_64") is not None and os.access("/dev/kvm", os.W_OK)
    print("density: idle guests (wisp.test=idle), %d MiB, 1 vCPU, a 1 MiB drive and a socket "
          "each; idle CPU over %.0f s; API: %d keep-alive GET / per VM round robin, then %d "
          "on new connections" % (MEM_MIB, IDLE_S, REQS, CONN_REQS), flush=True)
    # SIGTERM (run.sh interrupted) unwinds through the finally blocks like Ctrl+C.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))
    tmp = tempfile.mkdtemp(prefix="wisp-density.")
    try:
        for n in ns:
            run("wisp", n, tmp)
        if qemu_ns and not have_qemu:
            print("density-qemu: n/a (qemu-system-x86_64 or /dev/kvm not available)")
        elif qemu_ns:
            for n in qemu_ns:
                run("qemu", n, tmp)
    except (Failure, OSError) as e:  # OSError: a socket refused, a /proc file gone
        print("density: FAILED: %s" % e, file=sys.stderr)
        return 1
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

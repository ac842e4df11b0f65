#!/usr/bin/env python3
"""A page-fault handler for wisp's Uffd snapshot backend, written for snapshot.bats (not for
production: one page per fault, from a MAP_PRIVATE mapping of the memory file).

  uffd-handler.py SOCKET MEMFILE COUNTFILE

Listens on SOCKET, takes wisp's one message (a JSON array of regions: base_host_virt_addr, size,
offset, page_size; and the userfaultfd in SCM_RIGHTS), then answers every missing-page fault
with UFFDIO_COPY of the page at region.offset + (address - base) of MEMFILE. After each fault
COUNTFILE holds "faults=N bytes=B". Exits when wisp (the socket's peer) has gone."""
import array
import ctypes
import json
import os
import select
import socket
import struct
import sys

PAGE = 4096
UFFD_EVENT_PAGEFAULT = 0x12
UFFDIO_COPY = 0xC028AA03  # _IOWR(0xAA, 0x03, struct uffdio_copy), 40 bytes
EEXIST, EAGAIN = 17, 11


class UffdioCopy(ctypes.Structure):
    _fields_ = [("dst", ctypes.c_uint64), ("src", ctypes.c_uint64), ("len", ctypes.c_uint64),
                ("mode", ctypes.c_uint64), ("copy", ctypes.c_int64)]


def main():
    path, memfile, countfile = sys.argv[1:4]
    libc = ctypes.CDLL(None, use_errno=True)
    libc.mmap.restype = ctypes.c_void_p
    libc.mmap.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int, ctypes.c_int,
                          ctypes.c_int, ctypes.c_long]
    libc.ioctl.argtypes = [ctypes.c_int, ctypes.c_ulong, ctypes.c_void_p]

    srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    srv.bind(path)
    srv.listen(1)
    conn, _ = srv.accept()
    pid = struct.unpack("3i", conn.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, 12))[0]
    fds = array.array("i")
    msg, anc, _, _ = conn.recvmsg(65536, socket.CMSG_LEN(fds.itemsize))
    for level, kind, data in anc:
        if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
            fds.frombytes(data[:fds.itemsize])
    if not fds:
        sys.exit("uffd-handler: no userfaultfd in wisp's message")
    uffd = fds[0]
    regions = json.loads(msg)
    mfd = os.open(memfile, os.O_RDONLY)
    size = os.fstat(mfd).st_size
    src = libc.mmap(None, size, 1, 2, mfd, 0)  # PROT_READ, MAP_PRIVATE
    if src in (None, ctypes.c_void_p(-1).value):
        sys.exit("uffd-handler: cannot map %s" % memfile)
    with open(countfile + ".layout", "w") as f:
        json.dump(regions, f)
    faults = 0
    while True:
        ready = select.select([uffd], [], [], 0.2)[0]
        if not ready:
            try:
                os.kill(pid, 0)
                continue
            except ProcessLookupError:
                return
        try:
            data = os.read(uffd, 32)
        except BlockingIOError:
            continue
        if len(data) < 32:
            return
        if data[0] != UFFD_EVENT_PAGEFAULT:
            continue
        page = struct.unpack_from("<Q", data, 16)[0] & ~(PAGE - 1)
        for r in regions:
            if r["base_host_virt_addr"] <= page < r["base_host_virt_addr"] + r["size"]:
                off = r["offset"] + page - r["base_host_virt_addr"]
                break
        else:
            sys.exit("uffd-handler: a fault at %#x outside every region" % page)
        c = UffdioCopy(dst=page, src=src + off, len=PAGE, mode=0, copy=0)
        while libc.ioctl(uffd, UFFDIO_COPY, ctypes.byref(c)) < 0:
            err = ctypes.get_errno()
            if err == EEXIST:  # another fault on the same page won the race
                break
            if err != EAGAIN:
                sys.exit("uffd-handler: UFFDIO_COPY at %#x: %s" % (page, os.strerror(err)))
        faults += 1
        with open(countfile, "w") as f:
            f.write("faults=%d bytes=%d\n" % (faults, faults * PAGE))


main()

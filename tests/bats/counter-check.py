#!/usr/bin/env python3
"""Checks the test guest's `wisp.test=counter wisp.region=KIB` lines ("COUNTER n sum=HEX"), read
from the files given, against the sums the guest must print (tests/guest/tests_cpu.c: step n
XORs word n % words with (n + 1) * 0x9e3779b97f4a7c15, then prints the sum of all words mod
2^64). The files are read as one stream, concatenated: a line cut by a snapshot at the end of
one file ends at the start of the next; the last file's last line, when it has no newline yet
(the guest is still writing it), is left out. The numbers must go 0, 1, 2, ... with none missing
and none repeated. Prints "counter-check: N lines, first F, last L, ok" and exits 0, or names
the first wrong line and exits 1."""
import re
import sys

MASK = (1 << 64) - 1


def main():
    kib = int(sys.argv[1])
    words = kib * 128
    seen = []
    text = ""
    for path in sys.argv[2:]:
        with open(path, errors="replace") as f:
            text += f.read()
    lines = text.split("\n")
    if not text.endswith("\n"):
        lines = lines[:-1]  # still being written
    for line in lines:
        m = re.match(r"COUNTER (\d+) sum=([0-9a-f]+)$", line.strip())
        if m:
            seen.append((int(m.group(1)), int(m.group(2), 16), line.strip()))
    if not seen:
        sys.exit("counter-check: no COUNTER lines")
    top = max(n for n, _, _ in seen)
    region = [0] * words
    total = 0
    expected = []
    for n in range(top + 1):
        i = n % words
        old = region[i]
        region[i] ^= ((n + 1) * 0x9E3779B97F4A7C15) & MASK
        total = (total - old + region[i]) & MASK
        expected.append(total)
    for k, (n, s, line) in enumerate(seen):
        if n != k:
            sys.exit("counter-check: line %d is '%s', expected COUNTER %d" % (k, line, k))
        if expected[n] != s:
            sys.exit("counter-check: '%s': expected sum=%x" % (line, expected[n]))
    print("counter-check: %d lines, first %d, last %d, ok" % (len(seen), seen[0][0], seen[-1][0]))


main()

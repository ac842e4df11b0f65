#!/usr/bin/env bash
# `make demo`: boots the test guest in its interactive echo mode on this terminal.
# Type a line and the guest echoes it; type "reset" to stop the VM (wisp exits 0).
set -euo pipefail
cd "$(dirname "$0")/.."
echo "wisp demo: the test guest echoes each line you type; type 'reset' to stop it." >&2
exec build/wisp --kernel build/guest/wisp-test-guest.elf \
	--cmdline "console=ttyS0 wisp.test=echo" --mem-mib 128 --vcpus 2

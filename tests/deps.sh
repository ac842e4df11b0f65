#!/usr/bin/env bash
# Installs the Debian packages wisp needs to build, test and benchmark.
# As root it runs apt-get; otherwise it prints the exact apt-get line and fails.
set -euo pipefail

packages=(
	gcc make pkg-config libc6-dev linux-libc-dev # compiler, uapi headers (<linux/virtio_*.h>, kvm.h)
	clang-format git                              # the style check in make test
	liburing-dev libseccomp-dev libjansson-dev    # io_uring, seccomp filters, JSON
	node-llhttp                                   # HTTP parser, C sources in /usr/share/llhttp
	bats curl iproute2 iputils-ping python3 procps jq # end-to-end tests (curl --unix-socket, netns, tap, ping; jq reads the metrics file)
	clang libclang-rt-14-dev llvm                 # libFuzzer builds for `make fuzz`
	qemu-system-x86 fio                           # side-by-side benchmarks, host I/O reference
	lz4 xz-utils zstd gzip                        # rootfs-tools/guest-kernel (the stock kernel)
	acpica-tools                                  # iasl -d: tests/bats/acpi.bats decompiles the ACPI tables
	busybox-static cpio kmod e2fsprogs file       # rootfs-tools: initramfs, modules.dep, ext4 images; tests/linux
)

missing=()
for p in "${packages[@]}"; do
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
		missing+=("$p")
	fi
done
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
	echo "wisp: missing packages; install them with:" >&2
	echo "  sudo apt-get install -y ${missing[*]}" >&2
	exit 1
fi
echo "wisp: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null

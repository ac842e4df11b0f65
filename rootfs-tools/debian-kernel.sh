#!/usr/bin/env bash
# Fetches Debian's cloud kernel and writes OUTDIR/bzImage and OUTDIR/vmlinux (the ELF kernel
# inside the bzImage, decompressed), so wisp can boot a stock distribution kernel.
#
#   rootfs-tools/debian-kernel.sh OUTDIR [PACKAGE]
#
# PACKAGE defaults to linux-image-cloud-amd64 (a metapackage; its versioned dependency is what
# is downloaded). Needs apt-get (no root: `apt-get download` writes to the current directory),
# python3 and the decompressor the kernel uses (lz4, xz-utils, zstd or gzip).
#
# The ELF vmlinux is what to boot on PVM hosts: a bzImage starts with its decompressor, which
# runs in guest kernel mode and is emulated there (hours); the ELF needs no decompression.
set -euo pipefail

out=${1:?usage: debian-kernel.sh OUTDIR [PACKAGE]}
pkg=${2:-linux-image-cloud-amd64}
mkdir -p "$out"
out=$(cd "$out" && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
chmod 777 "$work" # apt-get download runs as _apt and writes here
cd "$work"

# The metapackage depends on the versioned image package; download that one.
real=$(apt-cache depends "$pkg" 2>/dev/null | awk '/Depends: linux-image-[0-9]/ {print $2; exit}')
[ -n "$real" ] || real=$pkg
apt-get download "$real" >/dev/null
dpkg-deb -x ./*.deb root
vmlinuz=$(find root/boot -name 'vmlinuz-*' | head -n 1)
[ -n "$vmlinuz" ] || { echo "debian-kernel.sh: no vmlinuz in $real" >&2; exit 1; }
cp "$vmlinuz" "$out/bzImage"

# The compressed payload's place comes from the bzImage setup header (boot protocol >= 2.08):
# payload_offset (0x248) and payload_length (0x24c), relative to the protected-mode code, which
# starts after (setup_sects + 1) sectors (setup_sects 0 means 4).
python3 - "$out/bzImage" payload <<'PY'
import struct, sys
data = open(sys.argv[1], 'rb').read()
if data[0x202:0x206] != b'HdrS' or struct.unpack_from('<H', data, 0x206)[0] < 0x208:
    sys.exit('not a bzImage with protocol >= 2.08')
setup_sects = data[0x1f1] or 4
offset, length = struct.unpack_from('<II', data, 0x248)
start = (setup_sects + 1) * 512 + offset
open(sys.argv[2], 'wb').write(data[start:start + length])
PY

magic=$(od -An -tx1 -N4 payload | tr -d ' \n')
case $magic in
02214c18) lz4 -dc payload >"$out/vmlinux" ;;
fd377a58) xz -dc payload >"$out/vmlinux" ;;
28b52ffd) zstd -dc payload >"$out/vmlinux" ;;
1f8b*) gzip -dc payload >"$out/vmlinux" ;;
*) echo "debian-kernel.sh: unknown payload compression (magic $magic)" >&2; exit 1 ;;
esac
echo "$real" >"$out/VERSION"
echo "debian-kernel.sh: $out/vmlinux and $out/bzImage from $real" >&2

#!/bin/sh
# check-image.sh BUILD_GUEST_DIR - static checks of wisp-test-guest.elf and .bzImage.
#
# What a loader relies on, checked from the bytes: ELF e_entry and PT_LOAD address, the PVH
# note, every setup header field of the bzImage, and that the bzImage payload is the ELF's
# loadable bytes with startup_64 at payload offset 0x200. Needs readelf, nm, objcopy, od, cmp.
set -eu
dir=${1:-build/guest}
elf=$dir/wisp-test-guest.elf
bz=$dir/wisp-test-guest.bzImage
fail=0

check() { # check NAME ACTUAL EXPECTED
	if [ "$2" = "$3" ]; then
		echo "ok   $1 = $2"
	else
		echo "FAIL $1 = $2, expected $3"
		fail=1
	fi
}
# u LEN OFFSET: little-endian unsigned integer from the bzImage, in decimal
u() { od -An -t u"$1" -j "$2" -N "$1" "$bz" | tr -d ' '; }
sym() { printf '%d' "0x$(nm "$elf" | awk -v s="$1" '$3 == s { print $1 }')"; }

entry=$(readelf -h "$elf" | awk '/Entry point/ { print $4 }')
check "ELF e_entry" "$entry" "0x100200"
check "ELF e_entry is startup_64" "$(printf '%d' "$entry")" "$(sym startup_64)"
load=$(readelf -lW "$elf" | awk '$1 == "LOAD" { print $3, $4 }')
check "ELF PT_LOAD vaddr paddr" "$load" "0x0000000000100000 0x0000000000100000"
check "ELF PT_LOAD count" "$(readelf -lW "$elf" | grep -c ' LOAD ')" "1"
# readelf -nW prints one line per note: owner, descsz, type, description data.
note=$(readelf -nW "$elf" | grep '^ *Xen ')
check "PVH note descsz" "$(echo "$note" | awk '{ print $2 }')" "0x00000004"
check "PVH note type 18" "$(echo "$note" | grep -c '(0x00000012)')" "1"
check "PVH entry (note desc)" "$(echo "$note" | sed 's/.*description data: *//; s/ //g')" "00001000"
check "PVH entry is startup_32" "$(sym startup_32)" "$((0x100000))"

check "boot_flag" "$(u 2 510)" "$((0xaa55))"
check "header" "$(od -An -c -j 514 -N 4 "$bz" | tr -d ' ')" "HdrS"
check "version" "$(u 2 518)" "$((0x020f))"
setup_sects=$(u 1 497)
check "setup_sects" "$setup_sects" "1"
check "loadflags LOADED_HIGH" "$(( $(u 1 529) & 1 ))" "1"
check "code32_start" "$(u 4 532)" "$((0x100000))"
check "relocatable_kernel" "$(u 1 564)" "0"
check "xloadflags XLF_KERNEL_64" "$(( $(u 2 566) & 1 ))" "1"
check "cmdline_size" "$(u 4 568)" "2047"
check "pref_address" "$(u 8 600)" "$((0x100000))"
check "init_size" "$(u 4 608)" "$(( $(sym _end) - 0x100000 ))"

# Payload = file bytes from (setup_sects + 1) * 512 to the end.
off=$(( (setup_sects + 1) * 512 ))
payload_len=$(( $(wc -c < "$bz") - off ))
check "syssize" "$(u 4 500)" "$(( (payload_len + 15) / 16 ))"
check "payload length" "$payload_len" "$(( $(sym _edata) - 0x100000 ))"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
objcopy -O binary -j .head.text -j .text -j .rodata -j .note.Xen -j .data "$elf" "$tmp/elf.bin"
tail -c "+$((off + 1))" "$bz" > "$tmp/payload.bin"
if cmp -s "$tmp/elf.bin" "$tmp/payload.bin"; then
	echo "ok   payload = ELF loadable bytes"
else
	echo "FAIL payload differs from the ELF's loadable bytes"
	fail=1
fi
# startup_64 begins with cli; cld (fa fc) at payload offset 0x200.
check "payload+0x200 opcodes" "$(od -An -tx1 -j $((off + 0x200)) -N 2 "$bz" | tr -d ' ')" "fafc"
exit $fail

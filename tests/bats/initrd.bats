#!/usr/bin/env bats
# --initrd end to end: the test guest (wisp.test=initrd, tests/guest/test_initrd.c) finds the
# initrd through hvm_start_info (PVH) or boot_params (Linux protocol, ELF and bzImage), checks
# where the loader put it and prints its size and FNV-1a 32 checksum, which must match the
# host's. Bad initrds (missing, empty, too big for RAM) end wisp with exit 1 and one error line.
#
# BUILD selects the build directory (default: build; relative to the repository or absolute).

setup() {
	cd "$BATS_TEST_DIRNAME/../.."
	B=${BUILD:-build}
	[[ "$B" == /* ]] || B="$PWD/$B"
	WISP=$B/wisp
	ELF=$B/guest/wisp-test-guest.elf
	BZ=$B/guest/wisp-test-guest.bzImage
	[ -x "$WISP" ] || skip "$WISP not built"
	[ -f "$ELF" ] && [ -f "$BZ" ] || skip "test guest not built (make guest)"
	[ -c /dev/kvm ] && [ -w /dev/kvm ] || skip "no usable /dev/kvm"
	TMP=$(mktemp -d /tmp/wisp-initrd-bats.XXXXXX)
}

teardown() {
	[ -z "$TMP" ] || rm -rf "$TMP"
}

# fnv1a FILE: the FNV-1a 32 of FILE as 0x%08x (what the guest prints).
fnv1a() {
	command -v python3 >/dev/null || skip "python3 missing"
	python3 -c '
import sys
h = 0x811c9dc5
for b in open(sys.argv[1], "rb").read():
    h = ((h ^ b) * 0x01000193) & 0xffffffff
print("0x%08x" % h)' "$1"
}

# boot_initrd FILE [wisp args]: boots the initrd test; stdout in $TMP/out, stderr in $TMP/err.
boot_initrd() {
	local f=$1
	shift
	timeout 120 "$WISP" --initrd "$f" --cmdline "console=ttyS0 wisp.test=initrd" --no-api "$@" \
		</dev/null >"$TMP/out" 2>"$TMP/err"
}

# passed FILE VIA: the guest passed and saw FILE's size and checksum through VIA; sets ADDR.
passed() {
	local line
	grep -q 'TEST initrd PASS' "$TMP/out" || { cat "$TMP/out" "$TMP/err"; return 1; }
	line=$(grep '^INITRD ' "$TMP/out")
	[[ "$line" == *" size=$(stat -c %s "$1") "* ]] || { echo "size: $line"; return 1; }
	[[ "$line" == *" sum=$SUM via=$2"* ]] || { echo "want sum=$SUM via=$2: $line"; return 1; }
	ADDR=$(sed -n 's/^INITRD addr=\(0x[0-9a-f]*\) .*/\1/p' "$TMP/out")
	[ -n "$ADDR" ]
}

# one_error: wisp exited 1 with exactly one error line, which contains $1.
one_error() {
	[ "$status" -eq 1 ] || { echo "status $status"; cat "$TMP/out" "$TMP/err"; return 1; }
	[ "$(grep -c 'error: ' "$TMP/err")" -eq 1 ] || { cat "$TMP/err"; return 1; }
	grep 'error: ' "$TMP/err" | grep -qF -- "$1" || { echo "want '$1'"; cat "$TMP/err"; return 1; }
	! grep -q 'TEST initrd' "$TMP/out" || return 1
}

@test "initrd: a random 3 MiB initrd reaches the guest intact (PVH, Linux ELF, bzImage)" {
	head -c 3145728 /dev/urandom >"$TMP/initrd"
	SUM=$(fnv1a "$TMP/initrd")
	boot_initrd "$TMP/initrd" --kernel "$ELF"
	passed "$TMP/initrd" hvm_start_info
	grep -q 'boot=pvh' "$TMP/out"
	boot_initrd "$TMP/initrd" --kernel "$ELF" --boot-protocol linux
	passed "$TMP/initrd" boot_params
	grep -q 'boot=linux64' "$TMP/out"
	boot_initrd "$TMP/initrd" --kernel "$BZ"
	passed "$TMP/initrd" boot_params
	grep -q 'boot=linux64' "$TMP/out"
}

@test "initrd: placed page-aligned just below initrd_addr_max when RAM reaches past it" {
	# 1 GiB of RAM: the top of low RAM is above 0x37ffffff, so initrd_addr_max decides.
	# An odd size: the start is rounded down to a page.
	head -c 3146962 /dev/urandom >"$TMP/initrd"
	SUM=$(fnv1a "$TMP/initrd")
	local want
	want=$(printf '0x%x' $(((0x38000000 - 3146962) & ~0xfff)))
	for proto in pvh linux; do
		boot_initrd "$TMP/initrd" --kernel "$ELF" --boot-protocol $proto --mem-mib 1024
		[ "$proto" = pvh ] && via=hvm_start_info || via=boot_params
		passed "$TMP/initrd" $via
		[ "$ADDR" = "$want" ] || { echo "$proto: addr $ADDR, want $want"; return 1; }
	done
}

@test "initrd: a missing file is one error line and exit 1" {
	run boot_initrd "$TMP/no-such-initrd" --kernel "$ELF"
	one_error "initrd $TMP/no-such-initrd: No such file or directory"
}

@test "initrd: an empty file is one error line and exit 1" {
	: >"$TMP/empty"
	run boot_initrd "$TMP/empty" --kernel "$ELF"
	one_error "initrd $TMP/empty: file is empty"
}

@test "initrd: an initrd too big for guest RAM is one clear error line and exit 1" {
	truncate -s 200M "$TMP/big"
	run boot_initrd "$TMP/big" --kernel "$ELF" --mem-mib 128
	one_error "initrd $TMP/big: initrd of 209715200 bytes does not fit"
	run boot_initrd "$TMP/big" --kernel "$BZ" --mem-mib 128
	one_error "does not fit"
}

@test "initrd: without --initrd the guest finds none (both protocols)" {
	timeout 60 "$WISP" --kernel "$ELF" --cmdline "console=ttyS0 wisp.test=initrd" --no-api \
		</dev/null >"$TMP/out" 2>"$TMP/err" || true
	grep -q 'TEST initrd FAIL no initrd: hvm_start_info.nr_modules is 0' "$TMP/out"
	timeout 60 "$WISP" --kernel "$BZ" --cmdline "console=ttyS0 wisp.test=initrd" --no-api \
		</dev/null >"$TMP/out" 2>"$TMP/err" || true
	grep -q 'TEST initrd FAIL no initrd: boot_params ramdisk_size is 0' "$TMP/out"
}

#!/usr/bin/env bats
# The boot-timer device (vmm/legacy/boot_timer.c): the guest writes 123 at 0xcffff000 and wisp
# logs "guest boot time: N ms since process start, M ms since InstanceStart" once; anything else
# written there is ignored. BUILD selects the build directory.

setup() {
	BUILD=${BUILD:-build}
	WISP=$BUILD/wisp
	ELF=$BUILD/guest/wisp-test-guest.elf
	TMP=$(mktemp -d)
	[ -e /dev/kvm ] || skip "no /dev/kvm"
}

teardown() {
	[ -n "${PID:-}" ] && kill -9 "$PID" 2>/dev/null
	rm -rf "$TMP"
}

# boot_line: the one "guest boot time" line of $TMP/err; sets START_MS and INSTANCE_MS.
boot_line() {
	[ "$(grep -c 'guest boot time:' "$TMP/err")" -eq 1 ] || { cat "$TMP/err"; return 1; }
	line=$(grep 'guest boot time:' "$TMP/err")
	[[ $line =~ "info: guest boot time: "([0-9]+)" ms since process start, "([0-9]+)" ms since InstanceStart"$ ]] ||
		{ echo "$line"; return 1; }
	START_MS=${BASH_REMATCH[1]}
	INSTANCE_MS=${BASH_REMATCH[2]}
	[ "$START_MS" -ge "$INSTANCE_MS" ]
}

@test "boot timer: the guest's 123 is logged once (info), with both times; a repeat is not" {
	timeout 30 "$WISP" --no-api --level Info --kernel "$ELF" \
		--cmdline "console=ttyS0 wisp.test=boottimer" </dev/null >"$TMP/out" 2>"$TMP/err"
	grep -q "BOOTTIMER magic written" "$TMP/out"
	grep -q "TEST boottimer PASS" "$TMP/out"
	boot_line
	[ "$START_MS" -lt 30000 ]
}

@test "boot timer: other values, offsets and widths are ignored: no line, the guest runs on" {
	timeout 30 "$WISP" --no-api --level Info --kernel "$ELF" \
		--cmdline "console=ttyS0 wisp.test=boottimer wisp.junk=1 wisp.only_junk=1" \
		</dev/null >"$TMP/out" 2>"$TMP/err"
	grep -q "BOOTTIMER junk written" "$TMP/out"
	grep -q "TEST boottimer PASS" "$TMP/out"
	! grep -q 'guest boot time' "$TMP/err" || return 1
	# junk, then the magic: exactly one line
	timeout 30 "$WISP" --no-api --level Info --kernel "$ELF" \
		--cmdline "console=ttyS0 wisp.test=boottimer wisp.junk=1" </dev/null >"$TMP/out" 2>"$TMP/err"
	boot_line
}

@test "boot timer: through the API, the time since InstanceStart excludes the wait before it" {
	command -v curl >/dev/null || skip "curl missing"
	sock=$TMP/api.sock
	"$WISP" --api-sock "$sock" --level Info </dev/null >"$TMP/out" 2>"$TMP/err" &
	PID=$!
	for _ in $(seq 100); do [ -S "$sock" ] && break; sleep 0.02; done
	api() { curl -sf --unix-socket "$sock" -X PUT -d "$2" "http://localhost$1"; }
	api /boot-source "{\"kernel_image_path\": \"$ELF\", \"boot_args\": \"console=ttyS0 wisp.test=boottimer\"}"
	sleep 0.5
	api /actions '{"action_type": "InstanceStart"}'
	for _ in $(seq 200); do grep -q 'guest boot time' "$TMP/err" && break; sleep 0.05; done
	wait "$PID" || true
	PID=
	boot_line
	[ "$START_MS" -ge $((INSTANCE_MS + 450)) ] || { echo "start $START_MS, InstanceStart $INSTANCE_MS"; return 1; }
}

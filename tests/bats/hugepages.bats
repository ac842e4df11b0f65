#!/usr/bin/env bats
# huge_pages "2M" (Firecracker's machine-config field; --huge-pages 2M): guest RAM on 2 MiB
# hugetlbfs pages from the host's pool. The test grows the pool (vm.nr_hugepages, root) for its
# own VMs and puts it back. BUILD selects the build directory (build or build-asan).

setup() {
	cd "$BATS_TEST_DIRNAME/../.."
	B="${BUILD:-build}"
	[[ "$B" == /* ]] || B="$PWD/$B"
	WISP=$B/wisp
	GUEST=$B/guest/wisp-test-guest.elf
	[ -x "$WISP" ] || skip "$WISP not built"
	[ -f "$GUEST" ] || skip "$GUEST not built"
	[ -w /dev/kvm ] || skip "no usable /dev/kvm"
	[ -w /proc/sys/vm/nr_hugepages ] || skip "vm.nr_hugepages not writable (not root)"
	D=$BATS_TEST_TMPDIR
	POOL_BEFORE=$(cat /proc/sys/vm/nr_hugepages)
	WISP_PID=
}

teardown() {
	if [ -n "$WISP_PID" ]; then
		kill -9 "$WISP_PID" 2>/dev/null || true
		wait "$WISP_PID" 2>/dev/null || true
	fi
	[ -z "${POOL_BEFORE:-}" ] || echo "$POOL_BEFORE" >/proc/sys/vm/nr_hugepages
}

free_huge() { awk '/^HugePages_Free:/ {print $2}' /proc/meminfo; }

# pool_with_free N: grows the pool until N pages are free (skips when the host cannot).
pool_with_free() {
	echo $(($(cat /proc/sys/vm/nr_hugepages) + $1 - $(free_huge))) >/proc/sys/vm/nr_hugepages
	[ "$(free_huge)" -ge "$1" ] || skip "the host cannot set aside $1 huge pages"
}

api() { curl -s --max-time 10 -o "$D/body" -w '%{http_code}' --unix-socket "$D/api.sock" -X "$1" "http://localhost$2" ${3:+-d "$3"}; }

@test "hugepages: the guest runs on 2 MiB pages (smaps), its memory and virtio-blk DMA work" {
	pool_with_free 40
	"$WISP" --no-api --kernel "$GUEST" --mem-mib 64 --huge-pages 2M \
		--cmdline "wisp.test=counter wisp.arg=10 wisp.count=300 wisp.region=1024" \
		</dev/null >"$D/counter.out" 2>"$D/err" &
	WISP_PID=$!
	for _ in $(seq 100); do
		grep -q "COUNTER 1" "$D/counter.out" && break
		sleep 0.05
	done
	# The guest RAM mapping has 2 MiB kernel pages, and all 32 are reserved from the pool.
	awk '/wisp-guest-ram/ {m = 1} m && /^KernelPageSize:/ {print $2; exit}' "/proc/$WISP_PID/smaps" >"$D/kps"
	cat "$D/kps"
	[ "$(cat "$D/kps")" -eq 2048 ]
	wait "$WISP_PID"
	WISP_PID=
	grep -q "TEST counter PASS" "$D/counter.out"
	python3 tests/bats/counter-check.py 1024 "$D/counter.out"
	truncate -s 1M "$D/disk.img"
	run timeout 60 "$WISP" --no-api --kernel "$GUEST" --mem-mib 64 --huge-pages 2M \
		--cmdline "wisp.test=blk-many" --drive "id=rootfs,path=$D/disk.img,root=on"
	echo "$output"
	[ "$status" -eq 0 ]
	[[ "$output" == *"TEST blk-many PASS"* ]]
	# Every page went back to the pool.
	[ "$(free_huge)" -ge 40 ]
}

@test "hugepages: a pool too small, an odd size, a bad value are clear errors; snapshots are refused" {
	echo 0 >/proc/sys/vm/nr_hugepages
	[ "$(free_huge)" -lt 32 ] || skip "other huge pages are free on this host"
	run timeout 60 "$WISP" --no-api --kernel "$GUEST" --mem-mib 64 --huge-pages 2M --cmdline "wisp.test=reset"
	echo "$output"
	[ "$status" -eq 1 ]
	[[ "$output" == *'guest memory (64 MiB): Cannot allocate memory (huge_pages "2M": the host'"'"'s pool of 2 MiB pages is too small'* ]]
	run "$WISP" --no-api --kernel "$GUEST" --mem-mib 65 --huge-pages 2M
	[ "$status" -eq 1 ]
	[[ "$output" == *'mem_size_mib: must be a multiple of 2 with huge_pages "2M" (got 65)'* ]]
	run "$WISP" --no-api --kernel "$GUEST" --huge-pages 1G
	[ "$status" -eq 1 ]
	[[ "$output" == *"--huge-pages: '1G' is not None or 2M"* ]]
	# Through the API: configured, booted, and a snapshot refused with 400, the VM running on.
	pool_with_free 40
	"$WISP" --api-sock "$D/api.sock" </dev/null >"$D/out" 2>"$D/err" &
	WISP_PID=$!
	for _ in $(seq 200); do [ -S "$D/api.sock" ] && break; sleep 0.01; done
	[ "$(api PUT /machine-config '{"vcpu_count": 1, "mem_size_mib": 64, "huge_pages": "2M"}')" = 204 ]
	[ "$(api GET /machine-config)" = 200 ]
	grep -q '"huge_pages":"2M"' "$D/body"
	[ "$(api PUT /boot-source "{\"kernel_image_path\": \"$GUEST\", \"boot_args\": \"wisp.test=echo\"}")" = 204 ]
	[ "$(api PUT /actions '{"action_type": "InstanceStart"}')" = 204 ]
	[ "$(api PATCH /vm '{"state": "Paused"}')" = 204 ]
	[ "$(api PUT /snapshot/create "{\"snapshot_path\": \"$D/s\", \"mem_file_path\": \"$D/m\"}")" = 400 ]
	cat "$D/body"
	grep -q 'huge_pages \\"2M\\" are not supported' "$D/body"
	[ ! -e "$D/s" ] && [ ! -e "$D/m" ]
	[ "$(api PATCH /vm '{"state": "Resumed"}')" = 204 ]
	[ "$(api GET /)" = 200 ]
	grep -q '"state":"Running"' "$D/body"
}

#!/usr/bin/env bash
# tests/bench/run.sh - wisp's benchmarks, run by `make bench` after `make all` (this script
# builds nothing). Compares wisp with QEMU's microvm machine on the same test guest, in the
# same run, and prints figures: medians, percentiles and ratios. Benchmarks are not tests:
# nothing here passes or fails on a figure. The exit status is 1 only when a tool is missing
# or a run crashed or misbehaved (wrong exit status, expected output missing), since such a
# figure would be meaningless; 0 otherwise. QEMU and fio are optional (their figures are then
# "n/a"). What each figure means: docs/benchmarks.md.
#
# Environment: BUILD (build directory, default build), BOOT_RUNS (30), QEMU_RUNS (15),
# LAUNCHES (300), QEMU_LAUNCHES (40), INFLIGHT (8 per online CPU: a launch mostly waits on
# the kernel (memslot, VM teardown), so the CPUs saturate only with several per CPU), READY_RUNS (20),
# API_COUNT (10000 requests of each kind), FIO_RUNTIME (5 s), SNAP_RUNS (20 snapshot/restore
# cycles per guest size), CHURN_CYCLES (1000 jailer -> wisp -> API -> exit cycles), CHURN_PARALLEL
# (4 of them at a time), DENSITY_N (the numbers of idle VMs run at once by tests/bench/density.py,
# "50 100 200"), QEMU_DENSITY_N (the same for QEMU's reference, "50"; empty: none).
# Output: the log on stdout, and the summary table also in $BUILD/bench/results.txt.
set -euo pipefail

cd "$(dirname "$0")/../.."
BUILD=${BUILD:-build}
WISP=$BUILD/wisp
BOOT=$BUILD/bench/boot
API_LATENCY=$BUILD/bench/api_latency
GUEST=$BUILD/guest/wisp-test-guest.elf
RESULTS=$BUILD/bench/results.txt
BOOT_RUNS=${BOOT_RUNS:-30}
QEMU_RUNS=${QEMU_RUNS:-15}
LAUNCHES=${LAUNCHES:-300}
QEMU_LAUNCHES=${QEMU_LAUNCHES:-40}
INFLIGHT=${INFLIGHT:-$((8 * $(nproc)))}
READY_RUNS=${READY_RUNS:-20}
API_COUNT=${API_COUNT:-10000}
FIO_RUNTIME=${FIO_RUNTIME:-5}
SNAP_RUNS=${SNAP_RUNS:-20}
MEM_MIB=128

for f in "$WISP" "$BOOT" "$API_LATENCY" "$GUEST"; do
	if [ ! -x "$f" ] && [ ! -f "$f" ]; then
		echo "bench: $f missing: run 'make bench' (or 'make all' first)" >&2
		exit 1
	fi
done

tmp=$(mktemp -d /tmp/wisp-bench.XXXXXX)
bg_pid=""
# shellcheck disable=SC2317 # called through the trap
cleanup() {
	if [ -n "$bg_pid" ]; then
		kill "$bg_pid" 2>/dev/null || true
		wait "$bg_pid" 2>/dev/null || true
	fi
	rm -rf "$tmp"
}
trap cleanup EXIT

failed=0   # set when a run crashed or misbehaved
rows=()    # summary: "what|wisp|qemu|ratio|target"
have_qemu=0
if command -v qemu-system-x86_64 >/dev/null && [ -w /dev/kvm ]; then
	have_qemu=1
fi

# The guest's command lines, and the two VMMs' command lines for a guest that stops by itself.
RESET_CMDLINE="console=ttyS0 wisp.test=reset"
RESET_PASS="TEST reset PASS"
# The guest's banner, its first console line: "wisp-test-guest: boot=... cmdline=..."
BANNER="wisp-test-guest:"
wisp_cmd=("$WISP" --kernel "$GUEST" --mem-mib "$MEM_MIB" --vcpus 1 --no-api)
# QEMU on this host: -cpu host fails on PVM ("failed to set MSR 0x10a"), so the
# arch-capabilities MSR is left out; ISA serial for COM1; no option ROMs, no RTC.
# shellcheck disable=SC2054 # the commas belong to QEMU's -M option
qemu_cmd=(qemu-system-x86_64 -M microvm,x-option-roms=off,isa-serial=on,rtc=off -accel kvm
	-cpu host,-arch-capabilities -m "$MEM_MIB" -smp 1 -nographic -nodefaults -no-user-config
	-no-reboot -kernel "$GUEST")

# get KEY LINE: the value of KEY=value in a tool's output line (empty if absent).
get() {
	sed -n "s/.*[ ]$1=\([^ ]*\).*/\1/p" <<<"$2"
}

# indent PREFIX: copies stdin to stdout with PREFIX before every line.
indent() {
	sed "s/^/$1/"
}

# ratio A B: A/B with two decimals, or "-" when either is not a positive number.
ratio() {
	awk -v a="$1" -v b="$2" 'BEGIN {
		if (a ~ /^[0-9.]+$/ && b ~ /^[0-9.]+$/ && b > 0) printf "%.2f", a / b; else printf "-" }'
}

# kib_to_mib N: KiB as MiB with two decimals.
kib_to_mib() {
	awk -v k="$1" 'BEGIN { if (k ~ /^[0-9]+$/) printf "%.2f", k / 1024; else printf "%s", k }'
}

# boot_tool ARGS...: runs the boot tool, echoes its line and sets $line; a non-zero status
# (a failed run, or a set-up error) marks the benchmark run as failed and is appended to $line
# as tool_status=N.
boot_tool() {
	local rc=0
	line=$("$BOOT" "$@" 2>"$tmp/boot.err") || rc=$?
	echo "  $line"
	if [ "$rc" -ne 0 ]; then
		indent '  | ' <"$tmp/boot.err" >&2
		line="$line tool_status=$rc"
		failed=1
	fi
}

# figure KEY: KEY from $line, or FAILED when the tool failed or reported failures.
figure() {
	local failures
	failures=$(get failures "$line")
	if [ -n "$(get tool_status "$line")" ] || [ "${failures:-1}" != 0 ]; then
		echo "FAILED"
	else
		get "$1" "$line"
	fi
}

row() {
	rows+=("$1|$2|$3|$4|$5")
}

echo "== wisp benchmarks, $(date -u '+%Y-%m-%d %H:%M UTC')"
echo "host: $(uname -r), $(nproc) CPUs, $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n1)"
if [ -d /sys/module/kvm_pvm ]; then
	echo "kvm: PVM (kvm_pvm): guest CPL0 code is emulated; memslot changes wait for SRCU (docs/benchmarks.md)"
fi
echo "commit: $(git rev-parse --short HEAD 2>/dev/null || echo unknown), load average: $(cut -d' ' -f1-3 /proc/loadavg)"
[ "$have_qemu" = 1 ] || echo "qemu: qemu-system-x86_64 or /dev/kvm not available: QEMU figures are n/a"

# --- api request latency, first: it is the figure most sensitive to other work on the host, and
# the boot benchmarks leave VM teardowns running in the kernel for a while after they end.
echo "== api: request round trip on one keep-alive connection ($API_COUNT of each, wisp only)"
api_sock=/tmp/wisp-bench-$$.sock
rm -f "$api_sock"
"$WISP" --api-sock "$api_sock" </dev/null >"$tmp/api-wisp.out" 2>&1 &
bg_pid=$!
for _ in $(seq 200); do
	[ -S "$api_sock" ] && break
	sleep 0.01
done
get_p99=FAILED put_p99=FAILED get_med=FAILED put_med=FAILED
if out=$("$API_LATENCY" "$api_sock" "$API_COUNT" 2>&1); then
	indent '  ' <<<"$out"
	get_med=$(get median_us "$(grep '^GET /' <<<"$out")")
	get_p99=$(get p99_us "$(grep '^GET /' <<<"$out")")
	put_med=$(get median_us "$(grep '^PUT /machine-config' <<<"$out")")
	put_p99=$(get p99_us "$(grep '^PUT /machine-config' <<<"$out")")
else
	indent '  | ' <<<"$out" >&2
	failed=1
fi
kill -TERM "$bg_pid" 2>/dev/null || true
wait "$bg_pid" || {
	echo "  wisp --api-sock did not exit cleanly on SIGTERM:" >&2
	indent '  | ' <"$tmp/api-wisp.out" >&2
	failed=1
}
bg_pid=""
rm -f "$api_sock"
row "API GET /, median / p99 (us)" "$get_med / $get_p99" "" "" "p99 < 200"
row "API PUT /machine-config, median / p99 (us)" "$put_med / $put_p99" "" "" "p99 < 200"

# --- a) boot: process start -> guest stop ------------------------------------------------------
echo
echo "== boot: a guest that prints its banner and \"$RESET_PASS\", then resets (1 vCPU, $MEM_MIB MiB)"
echo "   exec -> first console line (first_ms), -> guest stop (stop_ms), -> process exit (median_ms)"
boot_tool -n "$BOOT_RUNS" -w 2 -e "$RESET_PASS" -f "$BANNER" -l wisp -- "${wisp_cmd[@]}" \
	--cmdline "$RESET_CMDLINE"
wisp_boot=$line
boot_tool -n "$BOOT_RUNS" -w 1 -e "$RESET_PASS" -l wisp-no-seccomp -- "${wisp_cmd[@]}" \
	--cmdline "$RESET_CMDLINE" --no-seccomp
wisp_boot_noseccomp=$line
qemu_boot=""
if [ "$have_qemu" = 1 ]; then
	boot_tool -n "$QEMU_RUNS" -w 1 -e "$RESET_PASS" -f "$BANNER" -l qemu-microvm -- "${qemu_cmd[@]}" \
		-serial stdio -append "$RESET_CMDLINE"
	qemu_boot=$line
fi
line=$wisp_boot
w_ms=$(figure median_ms) w_p90=$(figure p90_ms) w_cpu=$(figure cpu_ms) w_rss=$(figure rss_kib)
w_stop=$(figure stop_ms) w_stop90=$(figure stop_p90_ms)
w_first=$(figure first_ms) w_first90=$(figure first_p90_ms)
line=$wisp_boot_noseccomp
wn_ms=$(figure median_ms)
q_ms=n/a q_p90=n/a q_cpu=n/a q_rss=n/a q_stop=n/a q_stop90=n/a q_first=n/a q_first90=n/a
if [ -n "$qemu_boot" ]; then
	line=$qemu_boot
	q_ms=$(figure median_ms) q_p90=$(figure p90_ms) q_cpu=$(figure cpu_ms) q_rss=$(figure rss_kib)
	q_stop=$(figure stop_ms) q_stop90=$(figure stop_p90_ms)
	q_first=$(figure first_ms) q_first90=$(figure first_p90_ms)
fi
# Where one boot's time goes: wisp's own timeline (debug level), for reading the figures above.
echo "  one wisp boot, wisp's debug timeline (time since exec):"
"${wisp_cmd[@]}" --cmdline "$RESET_CMDLINE" --level Debug </dev/null 2>&1 >/dev/null |
	sed -n 's/^wisp: \[\([0-9.]* ms\)\] [a-z]*: /\1  /p' | grep -v PVM | indent '    ' || true

# Three points of one boot: the first console line (the banner), the guest's last line, and
# the process exit (which adds the VM's teardown in the host kernel). "boot wall" is the
# figure earlier versions of this table called "boot".
row "boot: start -> first console line, median (ms)" "$w_first" "$q_first" "$(ratio "$q_first" "$w_first")" ""
row "boot: start -> first console line, p90 (ms)" "$w_first90" "$q_first90" "$(ratio "$q_first90" "$w_first90")" ""
row "boot: start -> guest stop, median (ms)" "$w_stop" "$q_stop" "$(ratio "$q_stop" "$w_stop")" "< 10"
row "boot: start -> guest stop, p90 (ms)" "$w_stop90" "$q_stop90" "$(ratio "$q_stop90" "$w_stop90")" ""
row "boot wall (start -> exit), median (ms)" "$w_ms" "$q_ms" "$(ratio "$q_ms" "$w_ms")" "< 10 (QEMU ~50)"
row "boot wall (start -> exit), p90 (ms)" "$w_p90" "$q_p90" "$(ratio "$q_p90" "$w_p90")" ""
row "boot wall, no seccomp, median (ms)" "$wn_ms" "" "" ""
row "boot CPU user+sys, median (ms)" "$w_cpu" "$q_cpu" "$(ratio "$q_cpu" "$w_cpu")" ""
row "boot peak RSS, median (KiB)" "$w_rss" "$q_rss" "$(ratio "$q_rss" "$w_rss")" ""

echo
echo "== creation rate: parallel launches of the same guest, $INFLIGHT in flight"
boot_tool -j "$LAUNCHES" -p "$INFLIGHT" -e "$RESET_PASS" -l wisp -- "${wisp_cmd[@]}" \
	--cmdline "$RESET_CMDLINE"
w_rate=$(figure rate_per_s)
q_rate=n/a
if [ "$have_qemu" = 1 ]; then
	boot_tool -j "$QEMU_LAUNCHES" -p "$INFLIGHT" -e "$RESET_PASS" -l qemu-microvm -- \
		"${qemu_cmd[@]}" -serial stdio -append "$RESET_CMDLINE"
	q_rate=$(figure rate_per_s)
fi
rate_ratio=$(ratio "$w_rate" "$q_rate")
[ "$rate_ratio" = - ] || rate_ratio="$rate_ratio w/q"
row "creation rate, $INFLIGHT in flight (/s)" "$w_rate" "$q_rate" "$rate_ratio" ">= 250, no failures"

# --- b) api: socket readiness and request latency ---------------------------------------------
echo
# The parallel launches above leave VM teardowns finishing in the kernel (SRCU callbacks) for a
# moment after the last process exits; let them settle so the API figures do not inherit them.
sleep "${SETTLE_S:-3}"
echo "== api: exec -> control socket accepts a connection (no guest configured)"
sock=$tmp/api.sock
boot_tool -n "$READY_RUNS" -w 1 -s "$sock" -l wisp -- "$WISP" --api-sock "$sock"
w_ready=$(figure median_ms) w_ready_cpu=$(figure cpu_ms)
q_ready=n/a q_ready_cpu=n/a
if [ "$have_qemu" = 1 ]; then
	# QEMU's nearest equivalent: the QMP socket of a VM created stopped (-S).
	boot_tool -n "$READY_RUNS" -w 1 -s "$sock" -l qemu-microvm-qmp -- "${qemu_cmd[@]}" \
		-serial null -S -qmp "unix:$sock,server=on,wait=off"
	q_ready=$(figure median_ms) q_ready_cpu=$(figure cpu_ms)
fi
row "API socket ready, median (ms)" "$w_ready" "$q_ready" "$(ratio "$q_ready" "$w_ready")" "< 2 (FC ~12)"
row "API socket ready, CPU to SIGTERM exit (ms)" "$w_ready_cpu" "$q_ready_cpu" \
	"$(ratio "$q_ready_cpu" "$w_ready_cpu")" "(FC <= 8 CPU-ms)"

echo

# --- c) memory of a running VM ----------------------------------------------------------------
# mem_probe LABEL COMMAND...: starts COMMAND (a VMM running the counter guest, one line a
# second), waits for its first counter line, then prints the RSS split of /proc/PID/status and
# the RSS of the guest-RAM mapping (the mapping exactly MEM_MIB MiB long) from smaps; sets
# mem_rss, mem_anon, mem_guest, mem_overhead (KiB).
mem_probe() {
	local label=$1 out=$tmp/mem-$1.out pid st
	shift
	mem_rss=FAILED mem_anon=FAILED mem_guest=FAILED mem_overhead=FAILED
	"$@" </dev/null >"$out" 2>&1 &
	bg_pid=$!
	pid=$bg_pid
	for _ in $(seq 500); do
		grep -q '^COUNTER 0' "$out" && break
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.01
	done
	if ! grep -q '^COUNTER 0' "$out"; then
		echo "  $label: the counter guest did not start:" >&2
		indent '  | ' <"$out" >&2
		failed=1
	else
		sleep 0.5 # let the VMM settle after the first line
		st=$(grep -E '^(VmRSS|VmHWM|RssAnon|RssFile|RssShmem):' "/proc/$pid/status" | tr -s ' \t' ' ')
		mem_guest=$(awk -v want=$((MEM_MIB * 1024)) '
			/^[0-9a-f]+-[0-9a-f]+ / { size = 0 }
			/^Size:/ { size = $2 }
			/^Rss:/ && size == want { rss += $2 }
			END { print rss + 0 }' "/proc/$pid/smaps")
		mem_rss=$(awk '/^VmRSS:/ { print $2 }' <<<"$st")
		mem_anon=$(awk '/^RssAnon:/ { print $2 }' <<<"$st")
		mem_overhead=$((mem_rss - mem_guest))
		echo "  mem label=$label $(tr '\n' ' ' <<<"$st" | sed 's/: /=/g; s/ kB/_kib/g')guest_ram_rss_kib=$mem_guest overhead_kib=$mem_overhead"
	fi
	kill -TERM "$pid" 2>/dev/null || true
	wait "$pid" 2>/dev/null || true
	bg_pid=""
}

echo
echo "== memory: a running VM (1 vCPU, $MEM_MIB MiB, counter guest at CPL3), from /proc/PID"
COUNTER_CMDLINE="console=ttyS0 wisp.test=counter wisp.arg=1000"
mem_probe wisp "${wisp_cmd[@]}" --cmdline "$COUNTER_CMDLINE"
w_mrss=$mem_rss w_manon=$mem_anon w_mover=$mem_overhead
q_mrss=n/a q_manon=n/a q_mover=n/a
if [ "$have_qemu" = 1 ]; then
	mem_probe qemu-microvm "${qemu_cmd[@]}" -serial stdio -append "$COUNTER_CMDLINE"
	q_mrss=$mem_rss q_manon=$mem_anon q_mover=$mem_overhead
fi
row "running VM: VmRSS (KiB)" "$w_mrss" "$q_mrss" "$(ratio "$q_mrss" "$w_mrss")" ""
row "running VM: RssAnon (KiB)" "$w_manon" "$q_manon" "$(ratio "$q_manon" "$w_manon")" ""
row "VMM overhead: VmRSS - guest RAM (MiB)" "$(kib_to_mib "$w_mover")" "$(kib_to_mib "$q_mover")" \
	"$(ratio "$q_mover" "$w_mover")" "< 2 (FC <= 5)"

# --- d) blk and net ---------------------------------------------------------------------------
# The guest-side loops run at CPL3 (native speed on PVM hosts): tests/bench/blk.sh and net.sh
# drive them and the host references (fio; a python socket peer in a private netns).
echo
echo "== blk (tests/bench/blk.sh)"
blk_note="see tests/bench/README-io.md"
if BUILD=$BUILD tests/bench/blk.sh >"$tmp/blk.out" 2>&1; then
	indent '  ' <"$tmp/blk.out"
	# "blk randread: wisp N IOPS, host fio M IOPS, ratio R%"
	pick() { sed -n "s/^blk $1: $2 \([0-9.]*\) [A-Za-z/]*, host fio \([0-9.]*\).*ratio \([0-9]*\)%.*/\\$3/p" "$tmp/blk.out" | head -n1; }
	# page cache: wisp default, QEMU cache=writeback, against fio --direct=0 on the warm file
	row "blk randread 4k QD32, Async (IOPS)" "$(pick randread wisp 1)" \
		"$(pick randread 'qemu microvm' 1)" "$(pick randread wisp 3)% of host" ">= 70% of host"
	row "blk randread 4k QD32, Sync (IOPS)" "$(pick randread 'wisp (io=sync)' 1)" "" \
		"$(pick randread 'wisp (io=sync)' 3)% of host" ""
	row "blk seqread 1 MiB QD8, Async (MiB/s)" "$(pick seqread wisp 1)" \
		"$(pick seqread 'qemu microvm' 1)" "$(pick seqread wisp 3)% of host" ""
	row "host fio randread reference (IOPS)" "$(pick randread wisp 2)" "" "" ""
	# O_DIRECT: wisp cache=none, QEMU cache=none, against fio --direct=1 (empty: n/a here)
	row "blk randread 4k QD32, O_DIRECT (IOPS)" "$(pick 'randread direct' wisp 1)" \
		"$(pick 'randread direct' 'qemu microvm' 1)" "$(pick 'randread direct' wisp 3)% of host" "vs fio --direct=1"
	row "blk seqread 1 MiB QD8, O_DIRECT (MiB/s)" "$(pick 'seqread direct' wisp 1)" \
		"$(pick 'seqread direct' 'qemu microvm' 1)" "$(pick 'seqread direct' wisp 3)% of host" "vs fio --direct=1"
	row "blk seqread 1 MiB QD8, O_DIRECT, huge_pages 2M (MiB/s)" "$(pick 'seqread direct' 'wisp (huge_pages 2M)' 1)" \
		"$(pick 'seqread direct' 'qemu microvm' 1)" "$(pick 'seqread direct' 'wisp (huge_pages 2M)' 3)% of host" "QEMU: THP"
	row "host fio --direct=1 randread reference (IOPS)" "$(pick 'randread direct' wisp 2)" "" "" ""
else
	indent '  | ' <"$tmp/blk.out" >&2
	row "blk randread 4k QD32 (IOPS)" "FAILED" "" "" ">= 70% of host"
	failed=1
fi

echo
echo "== net (tests/bench/net.sh)"
if [ "$(id -u)" -ne 0 ]; then
	echo "  net: n/a (needs root for a network namespace and a tap)"
	row "net" "n/a (not root)" "" "" ""
elif BUILD=$BUILD tests/bench/net.sh >"$tmp/net.out" 2>&1; then
	indent '  ' <"$tmp/net.out"
	# "net <who> <direction>: N Mbit/s, M packets/s (...)"
	netpick() { sed -n "s/^net $1 $2: \([0-9.]*\) Mbit\/s, \([0-9.]*\) packets\/s.*/\\$3/p" "$tmp/net.out" | head -n1; }
	for dir in 'guest->host' 'host->guest'; do
		row "net $dir, 1400 B UDP (Mbit/s)" "$(netpick wisp "$dir" 1)" "$(netpick "qemu microvm" "$dir" 1)" "" ""
		row "net $dir (packets/s)" "$(netpick wisp "$dir" 2)" "$(netpick "qemu microvm" "$dir" 2)" "" ""
	done
else
	indent '  | ' <"$tmp/net.out" >&2
	row "net" "FAILED" "" "" ""
	failed=1
fi

# --- snapshot and restore -----------------------------------------------------------------------
# tests/bench/snapshot.py: PUT /snapshot/create and /snapshot/load timed from the client, wisp's
# own "request received -> vCPUs running" with the host's memslot cost apart, and the restored
# process's RSS, for a 128 MiB and a 1 GiB guest that touched little of its RAM.
echo
echo "== snapshot: create, and restore in a new process ($SNAP_RUNS runs each, counter guest)"
for mib in 128 1024; do
	if python3 tests/bench/snapshot.py "$WISP" "$GUEST" "$mib" "$SNAP_RUNS" "$tmp" >"$tmp/snap.out" 2>&1; then
		indent '  ' <"$tmp/snap.out"
		o=$(cat "$tmp/snap.out")
		sm() { sed -n "s/.* $1 median=\([0-9.]*\).*/\1/p" <<<"$o" | head -n 1; }
		size=$([ "$mib" = 1024 ] && echo "1 GiB" || echo "$mib MiB")
		row "snapshot create, $size (ms)" "$(sm create_ms)" "" "" "< 1000 (1 GiB)"
		row "restore: request -> vCPUs running, $size (us)" "$(sm restore_us)" "" "" "< 3000 + memslots"
		row "  of which memory slots, $size (us)" "$(sm memslot_us)" "" "" "host floor"
		row "restore: request -> 204, $size (ms)" "$(sm load_response_ms)" "" "" "Firecracker: < 8"
		row "restore: request -> first output, $size (ms)" "$(sm first_output_ms)" "" "" ""
		row "RSS right after restore, $size (MiB)" "$(kib_to_mib "$(sm rss_kib)")" "" "" "<< guest RAM"
	else
		indent '  | ' <"$tmp/snap.out" >&2
		row "snapshot/restore $mib MiB" "FAILED" "" "" ""
		failed=1
	fi
done

# --- churn: jailer -> wisp -> API -> guest -> exit, over and over ----------------------------------
# tests/bench/churn.sh: CHURN_CYCLES (1000) full cycles of a FaaS host, CHURN_PARALLEL (4) at a
# time, through wisp-jailer --cleanup-on-exit, then the leak checks; a failed cycle or a leak
# marks the run failed.
echo
echo "== churn: tap, wisp-jailer, API configure, InstanceStart, guest resets, exit (tests/bench/churn.sh)"
if [ "$(id -u)" -ne 0 ]; then
	echo "  churn: n/a (needs root for the jailer and the taps)"
	row "churn" "n/a (not root)" "" "" ""
else
	c_rc=0
	BUILD=$BUILD tests/bench/churn.sh >"$tmp/churn.out" 2>&1 || c_rc=$?
	indent '  ' <"$tmp/churn.out"
	c_line=$(grep '^churn cycles=' "$tmp/churn.out" || true)
	c_par=$(get parallel " $c_line")
	if [ "$c_rc" -eq 0 ]; then
		row "churn: jailer+API+guest cycles, $c_par in flight (/s)" "$(get rate " $c_line" | tr -d /s)" "" "" \
			"no failures, no leaks"
		row "churn: MemAvailable after - before (MiB)" "$(get mem_available_delta_mib " $c_line")" "" "" \
			"within -${CHURN_MEM_TOLERANCE_MIB:-64}"
	else
		row "churn cycles" "FAILED" "" "" "no failures, no leaks"
		failed=1
	fi
fi

# --- density: a host full of idle microVMs ------------------------------------------------------
# tests/bench/density.py starts N idle VMs at once (the guest's idle mode, 128 MiB, a drive and an
# API socket each) for each N in DENSITY_N and QEMU's microvm at QEMU_DENSITY_N; per VM: the VMM's
# own PSS and the guest RAM's, CPU while idling 10 s, GET / latency with all N running.
echo
DENSITY_N=${DENSITY_N:-50 100 200}
QEMU_DENSITY_N=${QEMU_DENSITY_N-50}
echo "== density: N idle VMs at once, N = $DENSITY_N (QEMU: ${QEMU_DENSITY_N:-none}) (tests/bench/density.py)"
if BUILD=$BUILD DENSITY_N=$DENSITY_N QEMU_DENSITY_N=$([ "$have_qemu" = 1 ] && echo "$QEMU_DENSITY_N") \
	python3 tests/bench/density.py >"$tmp/density.out" 2>&1; then
	indent '  ' <"$tmp/density.out"
	for n in $DENSITY_N; do
		d=$(grep "^density N=$n " "$tmp/density.out" | head -n 1 || true)
		q=$(grep "^density-qemu N=$n " "$tmp/density.out" | head -n 1 || true)
		q_own=n/a q_guest=n/a q_cpu=n/a q_wake=n/a q_start=n/a
		if [ -n "$q" ]; then
			q_own=$(get qemu_pss_kib_per_vm "$q") q_guest=$(get guest_pss_kib_per_vm "$q")
			q_cpu=$(get idle_cpu_pct_per_vm "$q") q_start=$(get start_all_ms "$q")
			q_wake=$(get idle_wakeups_per_vm_s "$q")
		fi
		w_own=$(get wisp_pss_kib_per_vm "$d") w_cpu=$(get idle_cpu_pct_per_vm "$d")
		w_start=$(get start_all_ms "$d")
		row "density N=$n: VMM's own PSS per VM (KiB)" "$w_own" "$q_own" "$(ratio "$q_own" "$w_own")" "<= 2048"
		row "density N=$n: guest RAM PSS per VM (KiB)" "$(get guest_pss_kib_per_vm "$d")" "$q_guest" "" ""
		row "density N=$n: idle CPU per VM (% of a core)" "$w_cpu" "$q_cpu" "" "<= 0.1, ~0"
		row "density N=$n: idle wake-ups per VM (/s)" "$(get idle_wakeups_per_vm_s "$d")" "$q_wake" "" "0 (no timers)"
		row "density N=$n: GET / median / p99 (us)" "$(get get_median_us "$d") / $(get get_p99_us "$d")" \
			"" "" "p99 <= 1000 (N=200)"
		row "density N=$n: start all -> all idle (ms)" "$w_start" "$q_start" "$(ratio "$q_start" "$w_start")" ""
	done
else
	indent '  | ' <"$tmp/density.out" >&2
	row "density" "FAILED" "" "" ""
	failed=1
fi

# --- stock Linux to user space ----------------------------------------------------------------
# tests/bench/linux-boot.sh boots it under wisp and under QEMU's microvm side by side: natively
# where /dev/kvm is VT-x/AMD-V; where it is PVM (a stock kernel cannot run there) inside a
# level-1 KVM that QEMU's TCG emulates (AMD SVM): emulation speed, only the ratio means something.
echo
echo "== stock Linux, process start -> user space (tests/bench/linux-boot.sh)"
if [ "$(id -u)" -ne 0 ] || ! command -v qemu-system-x86_64 >/dev/null; then
	row "linux up" "n/a (needs root and QEMU)" "" "" ""
elif BUILD=$BUILD tests/bench/linux-boot.sh >"$tmp/linux.out" 2>&1; then
	indent '  ' <"$tmp/linux.out"
	case $(sed -n 's/^linux-boot mode=//p' "$tmp/linux.out") in
	native) l_mode=native l_note="" ;;
	*) l_mode="nested TCG" l_note="ratio only" ;;
	esac
	n_w=$(sed -n 's/^linux-boot wisp: up_ms median=\([0-9]*\).*/\1/p' "$tmp/linux.out")
	n_bt=$(sed -n 's/^linux-boot wisp: .*boot_timer_ms median=\([0-9]*\).*/\1/p' "$tmp/linux.out")
	n_q=$(sed -n 's/^linux-boot qemu: up_ms median=\([0-9]*\).*/\1/p' "$tmp/linux.out")
	row "linux start -> user space, $l_mode (ms)" "$n_w" "$n_q" "$(ratio "$n_q" "$n_w")" "$l_note"
	row "linux InstanceStart -> boot timer, $l_mode (ms)" "$n_bt" "" "" "$l_note"
else
	indent '  | ' <"$tmp/linux.out" >&2
	row "linux up" "FAILED" "" "" ""
	failed=1
fi

# --- summary ----------------------------------------------------------------------------------
summary() {
	echo "== summary ($(date -u '+%Y-%m-%d %H:%M UTC'), $(uname -r), $(nproc) CPUs, load $(cut -d' ' -f1-3 /proc/loadavg))"
	echo "ratio: qemu/wisp (x times lower for wisp) unless marked w/q (x times higher for wisp)"
	printf '%-44s %14s %10s %8s  %s\n' what wisp qemu ratio target
	for r in "${rows[@]}"; do
		IFS='|' read -r what w q rt target <<<"$r"
		printf '%-44s %14s %10s %8s  %s\n' "$what" "$w" "$q" "$rt" "$target"
	done
	echo "blk: $blk_note"
	if [ "$failed" != 0 ]; then
		echo "NOTE: some runs failed (see above): their figures are FAILED"
	fi
}
echo
mkdir -p "$(dirname "$RESULTS")"
summary | tee "$RESULTS"
exit "$failed"

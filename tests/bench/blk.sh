#!/usr/bin/env bash
# tests/bench/blk.sh - virtio-blk figures: the test guest's blk-bench (tests/guest/bench_blk.c)
# under wisp (Async and Sync engines) and QEMU's microvm, against fio on the host reading the
# same file the same way.
#
#   randread  4 KiB random reads, queue depth 32 (IOPS)
#   seqread   1 MiB sequential reads, queue depth 8 (MiB/s)
#
# Like is compared with like, on the same file, in two modes:
#   page cache  wisp's default (no O_DIRECT), QEMU cache=writeback, fio --direct=0; the file is
#               read once beforehand, so every reader finds it in the page cache (a warm,
#               CPU-bound figure, the one that shows the VMM's own cost).
#   O_DIRECT    wisp cache=none (cache_type Direct), QEMU cache=none, fio --direct=1: every
#               read goes to the disk under the file system (the page cache is bypassed).
# The image is a 256 MiB file of random data (fallocate, then written once), in BLK_DIR
# (default /var/tmp), which must be a disk file system for the O_DIRECT rows (tmpfs has no
# O_DIRECT: those rows are then skipped). fio runs with --norandommap, as the guest picks
# offsets independently: fio's map of blocks already read otherwise costs it more CPU than the
# reads (about 50 K instead of 120 K IOPS here), which would flatter the ratio. A benchmark, not a test: the exit status is 1 only
# when something is missing or a run misbehaved (no BLKBENCH lines, no fio figure).
#
# Environment: BUILD (build), BLK_MS (guest time per phase, 2000), FIO_RUNTIME (3 s),
# RUNS (1: each figure is the median of RUNS runs), BLK_DIR. About 45 s per run with QEMU.
set -euo pipefail

cd "$(dirname "$0")/../.."
BUILD=${BUILD:-build}
WISP=$BUILD/wisp
GUEST=$BUILD/guest/wisp-test-guest.elf
BLK_MS=${BLK_MS:-2000}
FIO_RUNTIME=${FIO_RUNTIME:-3}
RUNS=${RUNS:-1}
SIZE_MIB=256

for f in "$WISP" "$GUEST"; do
	[ -e "$f" ] || { echo "blk: $f missing (make all)" >&2; exit 1; }
done
grep -q blk-bench "$GUEST" || { echo "blk: guest built without bench_blk.c" >&2; exit 1; }
[ -w /dev/kvm ] || { echo "blk: no usable /dev/kvm" >&2; exit 1; }
command -v fio >/dev/null || { echo "blk: fio not installed" >&2; exit 1; }

tmp=$(mktemp -d "${BLK_DIR:-/var/tmp}/wisp-blkbench.XXXXXX")
have_direct=1
case $(stat -f -c %T "$tmp") in
tmpfs | ramfs) have_direct=0 ;;
esac
trap 'rm -rf "$tmp"' EXIT
IMG=$tmp/bench.img
fallocate -l "${SIZE_MIB}M" "$IMG"
dd if=/dev/urandom of="$IMG" bs=1M count="$SIZE_MIB" conv=notrunc status=none
cat "$IMG" >/dev/null # warm the page cache: every reader below starts from the same state

# get KEY LINE: the value of KEY=value in a line (empty if absent).
get() {
	sed -n "s/.*[ ]$1=\([^ ]*\).*/\1/p" <<<"$2"
}

# median: the median of the numbers on stdin (one per line).
median() {
	sort -g | awk '{v[NR] = $1} END {if (NR) print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2}'
}

# guest_run NAME COMMAND...: runs the guest once; sets IOPS and MIBS from its BLKBENCH lines.
guest_run() {
	local name=$1 out
	shift
	out=$(timeout 60 "$@" </dev/null 2>"$tmp/err") || true
	IOPS=$(get iops "$(grep '^BLKBENCH randread' <<<"$out" || true)")
	MIBS=$(get mib_s "$(grep '^BLKBENCH seqread' <<<"$out" || true)")
	if [ -z "$IOPS" ] || [ -z "$MIBS" ] || ! grep -q "TEST blk-bench PASS" <<<"$out"; then
		echo "blk: $name: no BLKBENCH figures" >&2
		printf '%s\n' "$out" >&2
		cat "$tmp/err" >&2
		exit 1
	fi
}

# wisp_run IO [CACHE [HUGE]]: IO sync|async, CACHE unsafe (page cache, the default) or none,
# HUGE None (the default) or 2M (guest RAM on hugetlbfs pages).
wisp_run() {
	guest_run "wisp io=$1 cache=${2:-unsafe} huge-pages=${3:-None}" "$WISP" --no-api \
		--kernel "$GUEST" --mem-mib 128 --huge-pages "${3:-None}" \
		--cmdline "console=ttyS0 wisp.test=blk-bench wisp.arg=$BLK_MS" \
		--drive "id=bench,path=$IMG,io=$1,cache=${2:-unsafe}"
}

# The O_DIRECT rows once more with huge_pages "2M" when the host's pool can hold the guest
# (as root it is grown for the run and put back): an O_DIRECT read pins every guest page it
# lands in, 256 of them per 1 MiB read with 4 KiB pages, one with 2 MiB pages. QEMU's anonymous
# guest RAM gets transparent huge pages (MADV_HUGEPAGE); wisp's memfd RAM does not (shmem THP
# is off by default), which is most of the difference in the 4 KiB-page row.
have_huge=0
huge_before=$(cat /proc/sys/vm/nr_hugepages 2>/dev/null || echo 0)
huge_free=$(awk '/^HugePages_Free:/ {print $2}' /proc/meminfo 2>/dev/null || echo 0)
if [ "$have_direct" = 1 ] && [ "${huge_free:-0}" -lt 64 ] && [ -w /proc/sys/vm/nr_hugepages ]; then
	echo $((huge_before + 64 - huge_free)) >/proc/sys/vm/nr_hugepages 2>/dev/null || true
	trap 'echo "$huge_before" >/proc/sys/vm/nr_hugepages 2>/dev/null || true; rm -rf "$tmp"' EXIT
	huge_free=$(awk '/^HugePages_Free:/ {print $2}' /proc/meminfo)
fi
[ "$have_direct" = 1 ] && [ "${huge_free:-0}" -ge 64 ] && have_huge=1

# QEMU's microvm: modern virtio-mmio (force-legacy=false), devices on the command line
# (acpi=off); -cpu host fails on PVM hosts unless arch-capabilities is left out.
# shellcheck disable=SC2054 # the commas belong to QEMU's options
# qemu_run [CACHE]: CACHE writeback (page cache, the default) or none (O_DIRECT).
qemu_run() {
	guest_run "qemu cache=${1:-writeback}" qemu-system-x86_64 \
		-M microvm,x-option-roms=off,isa-serial=on,rtc=off,acpi=off -accel kvm \
		-cpu host,-arch-capabilities -m 128 -smp 1 -nographic -nodefaults -no-user-config \
		-serial stdio -no-reboot -global virtio-mmio.force-legacy=false \
		-drive "id=d0,file=$IMG,format=raw,if=none,cache=${1:-writeback},aio=io_uring" \
		-device virtio-blk-device,drive=d0 -kernel "$GUEST" \
		-append "console=ttyS0 wisp.test=blk-bench wisp.arg=$BLK_MS"
}

# fio_run RW BS DEPTH [DIRECT]: one fio job on the image (DIRECT: 0, the default, or 1);
# sets IOPS and MIBS (terse v3: field 7 is the read bandwidth in KiB/s, field 8 the read IOPS).
fio_run() {
	local line
	line=$(fio --name="$1" --filename="$IMG" --rw="$1" --bs="$2" --iodepth="$3" \
		--ioengine=io_uring --direct="${4:-0}" --size="${SIZE_MIB}M" --runtime="$FIO_RUNTIME" \
		--time_based --norandommap --randrepeat=0 --output-format=terse)
	IOPS=$(cut -d';' -f8 <<<"$line")
	MIBS=$(awk -F';' '{printf "%.2f", $7 / 1024}' <<<"$line")
	if [ -z "$IOPS" ] || [ "$IOPS" = 0 ]; then
		echo "blk: fio $1: no figure: $line" >&2
		exit 1
	fi
}

have_qemu=0
command -v qemu-system-x86_64 >/dev/null && have_qemu=1
for ((run = 0; run < RUNS; run++)); do
	wisp_run async
	echo "$IOPS" >>"$tmp/async.iops"
	echo "$MIBS" >>"$tmp/async.mibs"
	wisp_run sync
	echo "$IOPS" >>"$tmp/sync.iops"
	echo "$MIBS" >>"$tmp/sync.mibs"
	if [ "$have_qemu" = 1 ]; then
		qemu_run
		echo "$IOPS" >>"$tmp/qemu.iops"
		echo "$MIBS" >>"$tmp/qemu.mibs"
	fi
	fio_run randread 4k 32
	echo "$IOPS" >>"$tmp/fio.iops"
	fio_run read 1M 8
	echo "$MIBS" >>"$tmp/fio.mibs"
	[ "$have_direct" = 1 ] || continue
	wisp_run async none
	echo "$IOPS" >>"$tmp/async-direct.iops"
	echo "$MIBS" >>"$tmp/async-direct.mibs"
	if [ "$have_huge" = 1 ]; then
		wisp_run async none 2M
		echo "$IOPS" >>"$tmp/async-direct-huge.iops"
		echo "$MIBS" >>"$tmp/async-direct-huge.mibs"
	fi
	if [ "$have_qemu" = 1 ]; then
		qemu_run none
		echo "$IOPS" >>"$tmp/qemu-direct.iops"
		echo "$MIBS" >>"$tmp/qemu-direct.mibs"
	fi
	fio_run randread 4k 32 1
	echo "$IOPS" >>"$tmp/fio-direct.iops"
	fio_run read 1M 8 1
	echo "$MIBS" >>"$tmp/fio-direct.mibs"
	cat "$IMG" >/dev/null # back in the page cache for the next run's page-cache rows
done

# report WHO FILE-PREFIX [MODE]: the randread and seqread lines of one VMM against host fio
# in the same mode (MODE empty: page cache, fio --direct=0; "direct": O_DIRECT, fio --direct=1).
report() {
	local iops mibs host_iops host_mibs mode=${3:+ $3} fio=fio${3:+-direct}
	iops=$(median <"$tmp/$2.iops")
	mibs=$(median <"$tmp/$2.mibs")
	host_iops=$(median <"$tmp/$fio.iops")
	host_mibs=$(median <"$tmp/$fio.mibs")
	awk -v who="$1" -v g="$iops" -v h="$host_iops" -v m="$mode" \
		'BEGIN {printf "blk randread%s: %s %d IOPS, host fio %d IOPS, ratio %d%%\n", m, who, g, h, 100 * g / h}'
	awk -v who="$1" -v g="$mibs" -v h="$host_mibs" -v m="$mode" \
		'BEGIN {printf "blk seqread%s: %s %.0f MiB/s, host fio %.0f MiB/s, ratio %d%%\n", m, who, g, h, 100 * g / h}'
}
host_iops=$(median <"$tmp/fio.iops")
echo "blk: 256 MiB file on $(stat -f -c %T "$tmp"), guest $BLK_MS ms per phase, fio ${FIO_RUNTIME} s, median of $RUNS"
echo "blk: page cache (file read beforehand; wisp default, QEMU cache=writeback, fio --direct=0):"
report "wisp" async
report "wisp (io=sync)" sync
if [ "$have_qemu" = 1 ]; then
	report "qemu microvm" qemu
else
	echo "blk: qemu microvm n/a (qemu-system-x86_64 not installed)"
fi
if [ "$have_direct" = 1 ]; then
	echo "blk: O_DIRECT (wisp cache=none, QEMU cache=none aio=io_uring, fio --direct=1):"
	report "wisp" async-direct direct
	if [ "$have_huge" = 1 ]; then
		report "wisp (huge_pages 2M)" async-direct-huge direct
	else
		echo "blk: wisp (huge_pages 2M) n/a (fewer than 64 free 2 MiB pages, vm.nr_hugepages)"
	fi
	[ "$have_qemu" = 1 ] && report "qemu microvm" qemu-direct direct
else
	echo "blk: O_DIRECT rows n/a ($tmp is on tmpfs: set BLK_DIR to a disk file system)"
fi
awk -v g="$(median <"$tmp/async.iops")" -v h="$host_iops" \
	'BEGIN {printf "blk target: Async >= 70%% of host IOPS at QD32: %s\n", (g >= 0.7 * h) ? "met" : "missed"}'

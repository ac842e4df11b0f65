/*
 * bench_blk.c - blk-bench: virtio-blk read throughput measured from inside the guest.
 *
 *   wisp.test=blk-bench [wisp.arg=MS (2000)] [wisp.dev=0]
 *
 * Two phases on the whole capacity of the selected drive, each running for wisp.arg ms:
 *   randread  4 KiB reads at 4 KiB-aligned random offsets, BENCH_RAND_QD always in flight
 *   seqread   1 MiB reads (less if SIZE_MAX x SEG_MAX is smaller), BENCH_SEQ_QD in flight,
 *             wrapping at the end of the drive
 * Output (then PASS; a request with a non-OK status or a stall of wisp.timeout_ms fails):
 *   BLKBENCH randread qd=32 bs=4096 ops=N ms=M iops=I
 *   BLKBENCH seqread bs=1048576 bytes=N ms=M mib_s=X
 *
 * Why it looks like this: set-up runs at CPL0, the request loops at CPL3 (on PVM hosts CPL0
 * is emulated at ~1.5 us per instruction, CPL3 runs natively). The loop polls the used ring,
 * never takes an interrupt, and writes QueueNotify itself (the MMIO window is user-mapped; the
 * VMM turns the write into an ioeventfd). With VIRTIO_RING_F_EVENT_IDX it notifies only when
 * the device's avail_event asks for it, and it keeps used_event far ahead so the device
 * never raises an interrupt (we poll). A request is header + data segments + status in one
 * descriptor slot of its own: 3 descriptors for 4 KiB, so no indirect tables are needed.
 * Time is the TSC, calibrated at CPL0; ms is measured from the first submission to the last
 * completion (the drain is included, so ops/ms is exact).
 * Data buffers live at BENCH_BUF_ADDR, outside the image (8 MiB of .noinit would make every
 * boot's image bigger); the memory map must show RAM there.
 */
#include "virtio.h"

#define BENCH_RAND_QD  32
#define BENCH_RAND_BS  4096
#define BENCH_SEQ_QD   8
#define BENCH_SEQ_BS   (1024 * 1024)
#define BENCH_SLOTS    32 /* max(RAND_QD, SEQ_QD) */
#define BENCH_STRIDE   8  /* descriptors per slot: header, up to 6 data segments, status */
#define BENCH_QUEUE    (BENCH_SLOTS * BENCH_STRIDE)
#define BENCH_BUF_ADDR 0x1000000ULL /* 16 MiB; BENCH_SEQ_QD MiB of buffers from here */
#define BENCH_BUF_SIZE (BENCH_SEQ_QD * BENCH_SEQ_BS)

#define VIRTIO_BLK_CFG_SIZE_MAX 8 /* config offsets (virtio 1.x, 5.2.4) */
#define VIRTIO_BLK_CFG_SEG_MAX  12

struct bench_slot {
	struct virtio_blk_req_hdr hdr;
	u8 status;
} __aligned(32);

/* One phase's parameters (set at CPL0) and results (written at CPL3). */
struct bench_run {
	u32 qd, bs, segs; /* requests in flight, bytes per request, data descriptors each */
	bool random;
	u64 ms;                 /* how long to keep submitting */
	u64 ops, tsc;           /* completed requests; TSC ticks first submit -> last completion */
	u32 bad_status, bad_id; /* the first failure, for the message */
	long err;
};

#define BENCH_ERR_STATUS -1
#define BENCH_ERR_ID     -2
#define BENCH_ERR_STALL  -3

static struct virtio_dev devs[VIRTIO_MAX_DEVS] __noinit;
static struct virtq q;
static struct bench_slot slots[BENCH_SLOTS] __noinit;
static u64 capacity; /* sectors */
static u64 timeout_ms;
static u32 size_max; /* bytes per data segment, 0 = no limit */
static u64 next_sector, rng = 0x9e3779b97f4a7c15ULL;

/* xorshift64: cheap and good enough to scatter offsets. */
static u64 rand64(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

/* Fills slot s with a read of r->bs bytes at the next offset and makes it available. */
static void bench_submit(struct bench_run *r, u32 s)
{
	volatile struct virtq_desc *d = &q.desc[s * BENCH_STRIDE];
	u16 head = s * BENCH_STRIDE;
	u64 buf = BENCH_BUF_ADDR + (u64)s * r->bs, sector;
	u32 secs = r->bs / VIRTIO_BLK_SECTOR, seg_len = r->bs / r->segs, i;

	if (r->random) {
		sector = rand64() % (capacity / secs) * secs;
	} else {
		if (next_sector + secs > capacity)
			next_sector = 0;
		sector = next_sector;
		next_sector += secs;
	}
	slots[s].hdr.sector = sector;
	slots[s].status = 0xff;
	for (i = 0; i < r->segs; i++)
		d[1 + i] =
		    (struct virtq_desc){buf + i * seg_len, seg_len,
		                        VIRTQ_DESC_F_NEXT | VIRTQ_DESC_F_WRITE, head + 2 + i};
	d[0].next = head + 1; /* header and status descriptors: bench_prepare() */
	virtq_push(&q, head);
}

/* The loop (CPL3): keep r->qd requests in flight until r->ms pass, then drain. */
static long bench_loop(u64 arg)
{
	struct bench_run *r = (struct bench_run *)arg;
	u64 start, stop, stall, now;
	u32 inflight = 0, s;
	u16 old;

	start = rdtsc();
	stop = start + r->ms * tsc_khz(NULL);
	old = q.avail_idx;
	for (s = 0; s < r->qd; s++, inflight++)
		bench_submit(r, s);
	virtq_kick(&q, old);
	stall = start + timeout_ms * tsc_khz(NULL);
	while (inflight) {
		bool more = (s64)(rdtsc() - stop) < 0;

		if (q.used->idx == q.used_seen) {
			if ((s64)(rdtsc() - stall) > 0)
				return BENCH_ERR_STALL;
			cpu_relax();
			continue;
		}
		barrier(); /* index before the elements */
		old = q.avail_idx;
		while (q.used->idx != q.used_seen) {
			u32 id = q.used->ring[q.used_seen % q.size].id;

			q.used_seen++;
			inflight--;
			if (id % BENCH_STRIDE || id / BENCH_STRIDE >= r->qd) {
				r->bad_id = id;
				return BENCH_ERR_ID;
			}
			s = id / BENCH_STRIDE;
			if (slots[s].status != VIRTIO_BLK_S_OK) {
				r->bad_status = slots[s].status;
				return BENCH_ERR_STATUS;
			}
			r->ops++;
			if (more) {
				bench_submit(r, s);
				inflight++;
			}
		}
		/* No interrupts, ever: keep used_event half the index space ahead. */
		*virtq_used_event(&q) = q.used_seen + 0x7fff;
		if (q.avail_idx != old)
			virtq_kick(&q, old);
		now = rdtsc();
		stall = now + timeout_ms * tsc_khz(NULL);
		r->tsc = now - start;
	}
	return 0;
}

/* Descriptors that never change: every slot's header and status descriptor. */
static void bench_prepare(struct bench_run *r)
{
	u32 s;

	for (s = 0; s < BENCH_SLOTS; s++) {
		volatile struct virtq_desc *d = &q.desc[s * BENCH_STRIDE];

		slots[s].hdr = (struct virtio_blk_req_hdr){.type = VIRTIO_BLK_T_IN};
		d[0] = (struct virtq_desc){(u64)&slots[s].hdr, sizeof(slots[s].hdr),
		                           VIRTQ_DESC_F_NEXT, 0};
		d[1 + r->segs] =
		    (struct virtq_desc){(u64)&slots[s].status, 1, VIRTQ_DESC_F_WRITE, 0};
	}
	next_sector = 0;
}

static void bench_run(struct bench_run *r)
{
	const char *what = r->random ? "randread" : "seqread";

	bench_prepare(r);
	r->err = cpl3_run(bench_loop, (u64)r);
	if (r->err == BENCH_ERR_STALL)
		test_fail("%s: requests still pending after %lu ms", what, timeout_ms);
	if (r->err == BENCH_ERR_ID)
		test_fail("%s: used ring returned descriptor %u, not a request head", what,
		          r->bad_id);
	if (r->err == BENCH_ERR_STATUS)
		test_fail("%s: status %u", what, r->bad_status);
	if (r->ops == 0 || r->tsc == 0)
		test_fail("%s: nothing completed", what);
}

/* Fails unless [addr, addr + size) is usable RAM. */
static void bench_check_ram(u64 addr, u64 size)
{
	static struct mem_range map[64] __noinit;
	const char *why = NULL;
	int i, n = bootinfo_memmap(map, ARRAY_SIZE(map), &why);

	if (n < 0)
		test_fail("%s", why);
	for (i = 0; i < n; i++)
		if (map[i].type == 1 && map[i].addr <= addr &&
		    addr + size <= map[i].addr + map[i].size)
			return;
	test_fail("no RAM for the buffers at %#lx-%#lx (give the VM more memory)", addr,
	          addr + size - 1);
}

/* Bytes per sequential request and their data segments, within SIZE_MAX and SEG_MAX. */
static void bench_seq_shape(struct bench_run *r, u64 features, u32 seg_max)
{
	u32 segs = 1, bs = BENCH_SEQ_BS;

	if (!(features & 1ULL << VIRTIO_BLK_F_SEG_MAX) || seg_max == 0)
		seg_max = 1;
	if (seg_max > BENCH_STRIDE - 2)
		seg_max = BENCH_STRIDE - 2;
	if (size_max) {
		while (segs < seg_max && bs / segs > size_max)
			segs *= 2;
		while (bs / segs > size_max || (bs / segs) % 4096)
			bs /= 2; /* the limits are small: a smaller request */
	}
	r->bs = bs;
	r->segs = segs;
}

static u64 mib_per_s_x100(u64 bytes, u64 us)
{
	return bytes * 100 / us * 1000000 / (1024 * 1024);
}

static __noreturn void test_blk_bench(void)
{
	int n, index = cmdline_get_u64("wisp.dev", 0);
	struct virtio_dev *dev;
	struct bench_run rnd = {
	    .qd = BENCH_RAND_QD, .bs = BENCH_RAND_BS, .segs = 1, .random = true};
	struct bench_run seq = {.qd = BENCH_SEQ_QD};
	u64 features, khz, us, wanted;
	u32 seg_max;

	rnd.ms = seq.ms = cmdline_get_u64("wisp.arg", 2000);
	timeout_ms = cmdline_get_u64("wisp.timeout_ms", 5000);
	bench_check_ram(BENCH_BUF_ADDR, BENCH_BUF_SIZE);
	n = virtio_discover(devs, VIRTIO_MAX_DEVS);
	dev = virtio_find(devs, n, VIRTIO_ID_BLOCK, index);
	if (!dev)
		test_fail("no virtio-blk device %d (%d virtio devices on the command line)", index,
		          n);
	khz = tsc_khz(NULL); /* calibrated at CPL0, before the CPL3 loops need it */
	wanted = 1ULL << VIRTIO_BLK_F_SIZE_MAX | 1ULL << VIRTIO_BLK_F_SEG_MAX |
	         1ULL << VIRTIO_RING_F_EVENT_IDX;
	features = virtio_init(dev, wanted);
	capacity = (u64)virtio_read32(dev, VIRTIO_MMIO_CONFIG + 4) << 32 |
	           virtio_read32(dev, VIRTIO_MMIO_CONFIG);
	if (features & 1ULL << VIRTIO_BLK_F_SIZE_MAX)
		size_max = virtio_read32(dev, VIRTIO_MMIO_CONFIG + VIRTIO_BLK_CFG_SIZE_MAX);
	seg_max = virtio_read32(dev, VIRTIO_MMIO_CONFIG + VIRTIO_BLK_CFG_SEG_MAX);
	virtq_setup(&q, dev, 0, BENCH_QUEUE);
	q.event_idx = features & 1ULL << VIRTIO_RING_F_EVENT_IDX;
	virtio_ready(dev);
	if (q.size < BENCH_QUEUE)
		test_fail("queue size %u < %u", q.size, BENCH_QUEUE);
	bench_seq_shape(&seq, features, seg_max);
	if (capacity < BENCH_SEQ_BS / VIRTIO_BLK_SECTOR)
		test_fail("capacity %lu sectors: the drive must hold at least 1 MiB", capacity);
	gprintf("BLK dev=%d capacity=%lu event_idx=%d seg_max=%u size_max=%u tsc_khz=%lu\n", index,
	        capacity, q.event_idx, seg_max, size_max, khz);

	bench_run(&rnd);
	us = rnd.tsc * 1000 / khz;
	gprintf("BLKBENCH randread qd=%u bs=%u ops=%lu ms=%lu iops=%lu\n", rnd.qd, rnd.bs, rnd.ops,
	        us / 1000, rnd.ops * 1000000 / us);
	bench_run(&seq);
	us = seq.tsc * 1000 / khz;
	n = mib_per_s_x100(seq.ops * seq.bs, us) % 100;
	gprintf("BLKBENCH seqread bs=%u bytes=%lu ms=%lu mib_s=%lu.%02d\n", seq.bs,
	        seq.ops * seq.bs, us / 1000, mib_per_s_x100(seq.ops * seq.bs, us) / 100, n);
	test_pass();
}
GUEST_TEST("blk-bench", test_blk_bench);

/*
 * tests_blk.c - virtio-blk tests: blk-rw, blk-flush, blk-ro, blk-id, blk-range, blk-many,
 * blk-loop (blk-unaligned: test_blk_unaligned.c, through blk.h).
 *
 * Common parameters: wisp.dev = which virtio-blk device (0 = first on the command line),
 * wisp.arg = first sector (default 1), wisp.timeout_ms = per-request wait (default 5000).
 * blk-flush also takes wisp.hold = ms to wait after its BLK_FLUSH line (default 0), so that
 * a host script can kill the VMM while the guest still runs.
 * A request is three descriptors (header, data, status) in slot s at descriptors 3s..3s+2,
 * so BLK_SLOTS requests can be in flight on a queue of at least 3 * BLK_SLOTS entries.
 *
 * Data pattern (host scripts may check the backing file): the 8-byte little-endian word at
 * disk byte offset o holds 0x5749535000000000 + o / 8 ("WISP" tag + word index).
 */
#include "blk.h"

#define BLK_RW_BYTES 4096

static struct virtio_dev devs[VIRTIO_MAX_DEVS] __noinit;
struct blk_slot slots[BLK_SLOTS] __noinit;
static u8 data[BLK_SLOTS][BLK_RW_BYTES] __noinit __aligned(4096);

static u64 blk_config64(struct blk *b, u32 off)
{
	u32 gen, lo, hi, tries;

	for (tries = 0; tries < 100; tries++) {
		gen = virtio_read32(b->dev, VIRTIO_MMIO_CONFIG_GENERATION);
		lo = virtio_read32(b->dev, VIRTIO_MMIO_CONFIG + off);
		hi = virtio_read32(b->dev, VIRTIO_MMIO_CONFIG + off + 4);
		if (gen == virtio_read32(b->dev, VIRTIO_MMIO_CONFIG_GENERATION))
			return (u64)hi << 32 | lo;
	}
	test_fail("virtio-blk config generation never settles");
}

void blk_open(struct blk *b)
{
	int n = virtio_discover(devs, VIRTIO_MAX_DEVS);
	int index = cmdline_get_u64("wisp.dev", 0);

	memset(b, 0, sizeof(*b));
	b->timeout_ms = cmdline_get_u64("wisp.timeout_ms", 5000);
	b->dev = virtio_find(devs, n, VIRTIO_ID_BLOCK, index);
	if (!b->dev)
		test_fail("no virtio-blk device %d (%d virtio devices on the command line)", index,
		          n);
	tsc_khz(NULL); /* calibrate before the first deadline */
	b->features = virtio_init(b->dev, 1ULL << VIRTIO_BLK_F_RO | 1ULL << VIRTIO_BLK_F_FLUSH);
	b->capacity = blk_config64(b, 0);
	virtq_setup(&b->q, b->dev, 0, 128);
	virtio_ready(b->dev);
	gprintf("BLK dev=%d capacity=%lu ro=%d flush=%d queue_size=%u\n", index, b->capacity,
	        !!(b->features & 1ULL << VIRTIO_BLK_F_RO),
	        !!(b->features & 1ULL << VIRTIO_BLK_F_FLUSH), b->q.size);
}

/* Queues request `slot` (no notify). len 0: no data descriptor. */
static void blk_push(struct blk *b, int slot, u32 type, u64 sector, void *buf, u32 len)
{
	volatile struct virtq_desc *d = &b->q.desc[3 * slot];
	struct blk_slot *s = &slots[slot];
	bool device_writes = type == VIRTIO_BLK_T_IN || type == VIRTIO_BLK_T_GET_ID;
	u16 head = 3 * slot;

	s->hdr = (struct virtio_blk_req_hdr){.type = type, .sector = sector};
	s->status = 0xff; /* the device must overwrite it */
	d[0] = (struct virtq_desc){(u64)&s->hdr, sizeof(s->hdr), VIRTQ_DESC_F_NEXT, head + 1};
	if (len) {
		d[1] = (struct virtq_desc){
		    (u64)buf, len, VIRTQ_DESC_F_NEXT | (device_writes ? VIRTQ_DESC_F_WRITE : 0),
		    head + 2};
		d[2] = (struct virtq_desc){(u64)&s->status, 1, VIRTQ_DESC_F_WRITE, 0};
	} else {
		d[0].next = head + 2;
		d[2] = (struct virtq_desc){(u64)&s->status, 1, VIRTQ_DESC_F_WRITE, 0};
	}
	virtq_push(&b->q, head);
}

void blk_wait(struct blk *b, int count)
{
	u64 deadline = tsc_deadline_ms(b->timeout_ms);
	struct virtq_used_elem e;
	int i;

	for (i = 0; i < count; i++) {
		if (!virtq_pop(&b->q, deadline, &e))
			test_fail("%d of %d requests still pending after %lu ms", count - i, count,
			          b->timeout_ms);
		if (e.id % 3 || e.id / 3 >= BLK_SLOTS)
			test_fail("used ring returned descriptor %u, not a request head", e.id);
	}
}

u8 blk_request(struct blk *b, u32 type, u64 sector, void *buf, u32 len)
{
	blk_push(b, 0, type, sector, buf, len);
	virtq_notify(&b->q);
	blk_wait(b, 1);
	return slots[0].status;
}

void pattern_fill(u64 *buf, u64 sector, u32 len)
{
	u32 i;

	for (i = 0; i < len / 8; i++)
		buf[i] = PATTERN_TAG + sector * (VIRTIO_BLK_SECTOR / 8) + i;
}

long pattern_check(const u64 *buf, u64 sector, u32 len)
{
	u32 i;

	for (i = 0; i < len / 8; i++)
		if (buf[i] != PATTERN_TAG + sector * (VIRTIO_BLK_SECTOR / 8) + i)
			return i;
	return -1;
}

u64 first_sector(struct blk *b, u64 sectors)
{
	u64 sector = cmdline_get_u64("wisp.arg", 1);

	if (sector > b->capacity || sectors > b->capacity - sector)
		test_fail("sectors %lu-%lu are past the capacity %lu", sector, sector + sectors - 1,
		          b->capacity);
	return sector;
}

static __noreturn void test_blk_rw(void)
{
	struct blk b;
	u64 sector;
	u8 status;
	long bad;

	blk_open(&b);
	sector = first_sector(&b, BLK_RW_BYTES / VIRTIO_BLK_SECTOR);
	pattern_fill((u64 *)data[0], sector, BLK_RW_BYTES);
	status = blk_request(&b, VIRTIO_BLK_T_OUT, sector, data[0], BLK_RW_BYTES);
	if (status != VIRTIO_BLK_S_OK)
		test_fail("write of sector %lu: status %u", sector, status);
	memset(data[0], 0xa5, BLK_RW_BYTES);
	status = blk_request(&b, VIRTIO_BLK_T_IN, sector, data[0], BLK_RW_BYTES);
	if (status != VIRTIO_BLK_S_OK)
		test_fail("read of sector %lu: status %u", sector, status);
	bad = pattern_check((const u64 *)data[0], sector, BLK_RW_BYTES);
	if (bad >= 0)
		test_fail("read back differs at byte %ld: %#lx", bad * 8, ((u64 *)data[0])[bad]);
	gprintf("BLK_RW sector=%lu bytes=%u ok\n", sector, BLK_RW_BYTES);
	test_pass();
}
GUEST_TEST("blk-rw", test_blk_rw);

long hold_ms(u64 ms)
{
	u64 end = tsc_deadline_ms(ms);

	while ((s64)(rdtsc() - end) < 0)
		cpu_relax();
	return 0;
}

static __noreturn void test_blk_flush(void)
{
	u64 hold = cmdline_get_u64("wisp.hold", 0);
	struct blk b;
	u64 sector;
	u8 status;

	blk_open(&b);
	sector = first_sector(&b, 1);
	pattern_fill((u64 *)data[0], sector, VIRTIO_BLK_SECTOR);
	status = blk_request(&b, VIRTIO_BLK_T_OUT, sector, data[0], VIRTIO_BLK_SECTOR);
	if (status != VIRTIO_BLK_S_OK)
		test_fail("write of sector %lu: status %u", sector, status);
	status = blk_request(&b, VIRTIO_BLK_T_FLUSH, 0, NULL, 0);
	gprintf("BLK_FLUSH status=%u\n", status);
	if (status != VIRTIO_BLK_S_OK)
		test_fail("flush: status %u", status);
	if (hold) {
		gprintf("BLK_HOLD ms=%lu\n", hold);
		cpl3_run(hold_ms, hold);
	}
	test_pass();
}
GUEST_TEST("blk-flush", test_blk_flush);

/* blk-loop: a write and a read-back of the next sector every wisp.ms ms (10), wisp.count
 * times (0: until the disk ends), from wisp.arg on: for snapshots, where the device must go
 * on working in a restored process. Line n wrote sector wisp.arg + n. */
static __noreturn void test_blk_loop(void)
{
	u64 count = cmdline_get_u64("wisp.count", 0), ms = cmdline_get_u64("wisp.ms", 10);
	struct blk b;
	u64 sector;
	u8 status;
	long bad;

	blk_open(&b);
	sector = first_sector(&b, 1);
	for (u64 n = 0; count == 0 || n < count; n++, sector++) {
		if (sector >= b.capacity)
			test_fail("the disk ended after %lu writes", n);
		pattern_fill((u64 *)data[0], sector, VIRTIO_BLK_SECTOR);
		status = blk_request(&b, VIRTIO_BLK_T_OUT, sector, data[0], VIRTIO_BLK_SECTOR);
		if (status != VIRTIO_BLK_S_OK)
			test_fail("line %lu: write of sector %lu: status %u", n, sector, status);
		memset(data[0], 0xa5, VIRTIO_BLK_SECTOR);
		status = blk_request(&b, VIRTIO_BLK_T_IN, sector, data[0], VIRTIO_BLK_SECTOR);
		if (status != VIRTIO_BLK_S_OK)
			test_fail("line %lu: read of sector %lu: status %u", n, sector, status);
		bad = pattern_check((const u64 *)data[0], sector, VIRTIO_BLK_SECTOR);
		if (bad >= 0)
			test_fail("line %lu: sector %lu read back differs at byte %ld", n, sector,
			          bad * 8);
		gprintf("BLK_LOOP %lu sector=%lu ok\n", n, sector);
		cpl3_run(hold_ms, ms);
	}
	test_pass();
}
GUEST_TEST("blk-loop", test_blk_loop);

/* blk-ro: the device offers VIRTIO_BLK_F_RO, reads work, a write gets IOERR. */
static __noreturn void test_blk_ro(void)
{
	struct blk b;
	u64 sector;
	u8 rd, wr;

	blk_open(&b);
	sector = first_sector(&b, 1);
	rd = blk_request(&b, VIRTIO_BLK_T_IN, sector, data[0], VIRTIO_BLK_SECTOR);
	pattern_fill((u64 *)data[1], sector, VIRTIO_BLK_SECTOR);
	wr = blk_request(&b, VIRTIO_BLK_T_OUT, sector, data[1], VIRTIO_BLK_SECTOR);
	gprintf("BLK_RO read=%u write=%u\n", rd, wr);
	if (!(b.features & 1ULL << VIRTIO_BLK_F_RO))
		test_fail("device does not offer VIRTIO_BLK_F_RO");
	if (rd != VIRTIO_BLK_S_OK)
		test_fail("read of sector %lu: status %u", sector, rd);
	if (wr != VIRTIO_BLK_S_IOERR)
		test_fail("write to a read-only drive: status %u, expected %u (IOERR)", wr,
		          VIRTIO_BLK_S_IOERR);
	test_pass();
}
GUEST_TEST("blk-ro", test_blk_ro);

static __noreturn void test_blk_id(void)
{
	struct blk b;
	u8 status;
	size_t len;

	blk_open(&b);
	memset(data[0], 0, VIRTIO_BLK_ID_BYTES + 1);
	status = blk_request(&b, VIRTIO_BLK_T_GET_ID, 0, data[0], VIRTIO_BLK_ID_BYTES);
	if (status != VIRTIO_BLK_S_OK)
		test_fail("GET_ID: status %u", status);
	/* The id is NUL-terminated only when shorter than 20 bytes. */
	len = strnlen((const char *)data[0], VIRTIO_BLK_ID_BYTES);
	gprintf("BLK_ID %.*s\n", (int)len, (const char *)data[0]);
	test_pass();
}
GUEST_TEST("blk-id", test_blk_id);

/* blk-range: a read at the capacity and one straddling it must both get IOERR. */
static __noreturn void test_blk_range(void)
{
	struct blk b;
	u8 past, straddle;

	blk_open(&b);
	if (b.capacity == 0)
		test_fail("capacity is 0");
	past = blk_request(&b, VIRTIO_BLK_T_IN, b.capacity, data[0], VIRTIO_BLK_SECTOR);
	straddle = blk_request(&b, VIRTIO_BLK_T_IN, b.capacity - 1, data[0], 2 * VIRTIO_BLK_SECTOR);
	gprintf("BLK_RANGE capacity=%lu past_end=%u straddle=%u\n", b.capacity, past, straddle);
	if (past != VIRTIO_BLK_S_IOERR || straddle != VIRTIO_BLK_S_IOERR)
		test_fail("out-of-range reads: status %u and %u, expected %u (IOERR)", past,
		          straddle, VIRTIO_BLK_S_IOERR);
	test_pass();
}
GUEST_TEST("blk-range", test_blk_range);

/* blk-many: 32 writes in flight (one notify), then 32 reads in flight, all checked. */
static __noreturn void test_blk_many(void)
{
	struct blk b;
	u64 sector;
	int i;

	blk_open(&b);
	if (b.q.size < 3 * BLK_SLOTS)
		test_fail("queue size %u < %u: cannot keep %d requests in flight", b.q.size,
		          3 * BLK_SLOTS, BLK_SLOTS);
	sector = first_sector(&b, BLK_SLOTS);
	for (i = 0; i < BLK_SLOTS; i++) {
		pattern_fill((u64 *)data[i], sector + i, VIRTIO_BLK_SECTOR);
		blk_push(&b, i, VIRTIO_BLK_T_OUT, sector + i, data[i], VIRTIO_BLK_SECTOR);
	}
	virtq_notify(&b.q);
	blk_wait(&b, BLK_SLOTS);
	for (i = 0; i < BLK_SLOTS; i++)
		if (slots[i].status != VIRTIO_BLK_S_OK)
			test_fail("write %d (sector %lu): status %u", i, sector + i,
			          slots[i].status);
	gprintf("BLK_MANY inflight=%d writes ok\n", BLK_SLOTS);

	for (i = 0; i < BLK_SLOTS; i++) {
		memset(data[i], 0xa5, VIRTIO_BLK_SECTOR);
		blk_push(&b, i, VIRTIO_BLK_T_IN, sector + i, data[i], VIRTIO_BLK_SECTOR);
	}
	virtq_notify(&b.q);
	blk_wait(&b, BLK_SLOTS);
	for (i = 0; i < BLK_SLOTS; i++) {
		if (slots[i].status != VIRTIO_BLK_S_OK)
			test_fail("read %d (sector %lu): status %u", i, sector + i,
			          slots[i].status);
		if (pattern_check((const u64 *)data[i], sector + i, VIRTIO_BLK_SECTOR) >= 0)
			test_fail("read %d (sector %lu): data differs", i, sector + i);
	}
	gprintf("BLK_MANY inflight=%d reads ok\n", BLK_SLOTS);
	test_pass();
}
GUEST_TEST("blk-many", test_blk_many);

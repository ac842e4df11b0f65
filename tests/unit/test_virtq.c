/* test_virtq.c - split virtqueue: chain walking, malformed chains, used ring, EVENT_IDX. */
#include "tests/unit/test_virtq_ring.h"
#include "tests/unit/unit.h"

#include <linux/virtio_config.h>

#define F_INDIRECT (1ULL << VIRTIO_RING_F_INDIRECT_DESC)
#define F_EVENT    (1ULL << VIRTIO_RING_F_EVENT_IDX)
#define F_ALL      (F_INDIRECT | F_EVENT | (1ULL << VIRTIO_F_VERSION_1))

static struct virtq_chain chain;

UNIT_TEST(virtq_config_validation)
{
	struct tring t;
	struct virtq_config c;

	tr_init(&t, 16, ~0ULL);
	c = t.cfg;
	CHECK(virtq_config_valid(&t.mem, &c));
	c.size = 256;
	CHECK(virtq_config_valid(&t.mem, &c));
	c.size = 0;
	CHECK(!virtq_config_valid(&t.mem, &c));
	c.size = 24; /* not a power of 2 */
	CHECK(!virtq_config_valid(&t.mem, &c));
	c.size = 512; /* above QueueNumMax */
	CHECK(!virtq_config_valid(&t.mem, &c));
	c = t.cfg;
	c.desc_gpa = TR_DESC + 8; /* desc needs 16 */
	CHECK(!virtq_config_valid(&t.mem, &c));
	c = t.cfg;
	c.avail_gpa = TR_AVAIL + 1;
	CHECK(!virtq_config_valid(&t.mem, &c));
	c = t.cfg;
	c.used_gpa = TR_USED + 2; /* used needs 4 */
	CHECK(!virtq_config_valid(&t.mem, &c));
	c = t.cfg;
	c.used_gpa = TR_RAM_SIZE - 8; /* runs past the end of RAM */
	CHECK(!virtq_config_valid(&t.mem, &c));
	c = t.cfg;
	c.desc_gpa = 0xfffffffffffffff0ULL; /* overflow */
	CHECK(!virtq_config_valid(&t.mem, &c));
	CHECK(virtq_setup(&t.q, &t.mem, &c, F_ALL, NULL) < 0);
	CHECK(!virtq_ready(&t.q));
	CHECK_EQ(virtq_pop(&t.q, &chain), -1);
	tr_fini(&t);
}

UNIT_TEST(virtq_normal_chain)
{
	struct tring t;

	tr_init(&t, 16, F_ALL);
	CHECK_EQ(virtq_pop(&t.q, &chain), 0);
	tr_desc(&t, 3, TR_DATA, 16, VRING_DESC_F_NEXT, 7);
	tr_desc(&t, 7, TR_DATA + 0x1000, 512, VRING_DESC_F_NEXT | VRING_DESC_F_WRITE, 1);
	tr_desc(&t, 1, TR_DATA + 0x2000, 1, VRING_DESC_F_WRITE, 0);
	tr_avail(&t, 3);
	CHECK_EQ(virtq_pop(&t.q, &chain), 1);
	CHECK_EQ(chain.err, VIRTQ_CHAIN_OK);
	CHECK(chain.complete);
	CHECK_EQ(chain.head, 3);
	CHECK_EQ(chain.nread, 1);
	CHECK_EQ(chain.nwrite, 2);
	CHECK_EQ(chain.read_bytes, 16);
	CHECK_EQ(chain.write_bytes, 513);
	CHECK(chain.iov[0].iov_base == t.ram + TR_DATA);
	CHECK(chain.iov[1].iov_base == t.ram + TR_DATA + 0x1000);
	CHECK_EQ(chain.iov[1].iov_len, 512);
	CHECK(virtq_chain_tail(&chain) == t.ram + TR_DATA + 0x2000);
	CHECK_EQ(virtq_pop(&t.q, &chain), 0);

	virtq_push(&t.q, 3, 513);
	CHECK_EQ(tr_used_idx(&t), 1);
	CHECK_EQ(tr_used_id(&t, 0), 3);
	CHECK_EQ(tr_used_len(&t, 0), 513);
	CHECK_EQ(atomic_load(&t.errors), 0);
	tr_fini(&t);
}

static bool page_dirty(const struct tring *t, uint64_t gpa)
{
	uint64_t pg = gpa / GUEST_MEM_PAGE;

	return t->mem.dirty[pg / 64] >> (pg % 64) & 1;
}

/* Diff snapshots: what the device may write (writable buffers, the used ring) is marked, what
 * it only reads is not. */
UNIT_TEST(virtq_marks_device_writable_pages_dirty)
{
	struct tring t;

	tr_init(&t, 16, ~0ULL);
	CHECK_EQ(guest_mem_track_dirty(&t.mem), 0);
	CHECK_EQ(virtq_setup(&t.q, &t.mem, &t.cfg, F_ALL, &t.errors), 0);
	tr_desc(&t, 0, TR_DATA, 16, VRING_DESC_F_NEXT, 1);
	/* 2 bytes straddling a page boundary: both pages */
	tr_desc(&t, 1, TR_DATA + 0x3fff, 2, VRING_DESC_F_WRITE, 0);
	tr_avail(&t, 0);
	CHECK_EQ(virtq_pop(&t.q, &chain), 1);
	CHECK(!page_dirty(&t, TR_DATA));
	CHECK(page_dirty(&t, TR_DATA + 0x3000));
	CHECK(page_dirty(&t, TR_DATA + 0x4000));
	CHECK(!page_dirty(&t, TR_DATA + 0x5000));
	CHECK(!page_dirty(&t, TR_DESC)); /* the driver's: KVM's dirty log has it */
	virtq_push(&t.q, 0, 2);
	CHECK(page_dirty(&t, TR_USED));
	CHECK(!page_dirty(&t, TR_AVAIL));
	free(t.mem.dirty);
	tr_fini(&t);
}

UNIT_TEST(virtq_indirect_chain)
{
	struct tring t;
	const uint64_t table = TR_DATA + 0x8000;

	tr_init(&t, 8, F_ALL);
	tr_desc_at(&t, table, 0, TR_DATA, 16, VRING_DESC_F_NEXT, 2);
	tr_desc_at(&t, table, 2, TR_DATA + 0x100, 4096, VRING_DESC_F_NEXT, 1);
	tr_desc_at(&t, table, 1, TR_DATA + 0x2000, 1, VRING_DESC_F_WRITE, 0);
	tr_desc(&t, 5, table, 3 * 16, VRING_DESC_F_INDIRECT, 0);
	tr_avail(&t, 5);
	CHECK_EQ(virtq_pop(&t.q, &chain), 1);
	CHECK_EQ(chain.err, VIRTQ_CHAIN_OK);
	CHECK_EQ(chain.head, 5);
	CHECK_EQ(chain.nread, 2);
	CHECK_EQ(chain.nwrite, 1);
	CHECK_EQ(chain.read_bytes, 16 + 4096);
	CHECK(chain.iov[1].iov_base == t.ram + TR_DATA + 0x100);
	CHECK(virtq_chain_tail(&chain) == t.ram + TR_DATA + 0x2000);
	tr_fini(&t);
}

/* Each malformed indirect use fails its chain and leaves the queue usable. */
UNIT_TEST(virtq_indirect_malformed)
{
	struct tring t;
	const uint64_t table = TR_DATA + 0x8000;
	struct {
		uint32_t len;
		uint16_t flags;
		uint64_t addr;
		uint64_t features;
	} cases[] = {
	    {32, VRING_DESC_F_INDIRECT, table, F_EVENT},                      /* not negotiated */
	    {32, VRING_DESC_F_INDIRECT | VRING_DESC_F_NEXT, table, F_ALL},    /* with NEXT */
	    {0, VRING_DESC_F_INDIRECT, table, F_ALL},                         /* empty */
	    {24, VRING_DESC_F_INDIRECT, table, F_ALL},                        /* not n * 16 */
	    {32, VRING_DESC_F_INDIRECT, TR_RAM_SIZE - 16, F_ALL},             /* past RAM */
	    {16 * (VIRTQ_MAX_SIZE + 1), VRING_DESC_F_INDIRECT, table, F_ALL}, /* too big */
	};

	for (unsigned i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		tr_init(&t, 8, cases[i].features);
		tr_desc_at(&t, table, 0, TR_DATA, 16, VRING_DESC_F_NEXT, 1);
		tr_desc_at(&t, table, 1, TR_DATA + 0x100, 1, VRING_DESC_F_WRITE, 0);
		tr_desc(&t, 0, cases[i].addr, cases[i].len, cases[i].flags, 1);
		tr_avail(&t, 0);
		CHECK_EQ(virtq_pop(&t.q, &chain), 1);
		if (chain.err != VIRTQ_CHAIN_BAD_INDIRECT)
			UNIT_FAIL("case %u: err %d", i, chain.err);
		CHECK(!chain.complete);
		CHECK(virtq_chain_tail(&chain) == NULL);
		virtq_push(&t.q, chain.head, 0);
		/* still working */
		tr_desc(&t, 2, TR_DATA, 8, 0, 0);
		tr_avail(&t, 2);
		CHECK_EQ(virtq_pop(&t.q, &chain), 1);
		CHECK_EQ(chain.err, VIRTQ_CHAIN_OK);
		tr_fini(&t);
	}
}

UNIT_TEST(virtq_nested_and_late_indirect)
{
	struct tring t;
	const uint64_t table = TR_DATA + 0x8000;

	tr_init(&t, 8, F_ALL);
	/* an indirect table containing an indirect descriptor */
	tr_desc_at(&t, table, 0, table, 32, VRING_DESC_F_INDIRECT, 0);
	tr_desc(&t, 0, table, 32, VRING_DESC_F_INDIRECT, 0);
	tr_avail(&t, 0);
	CHECK_EQ(virtq_pop(&t.q, &chain), 1);
	CHECK_EQ(chain.err, VIRTQ_CHAIN_BAD_INDIRECT);
	/* an indirect descriptor after a direct one */
	tr_desc(&t, 1, TR_DATA, 16, VRING_DESC_F_NEXT, 2);
	tr_desc(&t, 2, table, 32, VRING_DESC_F_INDIRECT, 0);
	tr_avail(&t, 1);
	CHECK_EQ(virtq_pop(&t.q, &chain), 1);
	CHECK_EQ(chain.err, VIRTQ_CHAIN_BAD_INDIRECT);
	tr_fini(&t);
}

UNIT_TEST(virtq_loop_is_bounded)
{
	struct tring t;
	const uint64_t table = TR_DATA + 0x8000;

	tr_init(&t, 4, F_ALL);
	tr_desc(&t, 0, TR_DATA, 16, VRING_DESC_F_NEXT, 1);
	tr_desc(&t, 1, TR_DATA, 16, VRING_DESC_F_NEXT, 0);
	tr_avail(&t, 0);
	CHECK_EQ(virtq_pop(&t.q, &chain), 1);
	CHECK_EQ(chain.err, VIRTQ_CHAIN_TOO_LONG);
	CHECK(!chain.complete);
	CHECK(chain.nread <= 4);
	/* self loop */
	tr_desc(&t, 2, TR_DATA, 16, VRING_DESC_F_NEXT | VRING_DESC_F_WRITE, 2);
	tr_avail(&t, 2);
	CHECK_EQ(virtq_pop(&t.q, &chain), 1);
	CHECK_EQ(chain.err, VIRTQ_CHAIN_TOO_LONG);
	/* a loop inside an indirect table is bounded by its length / 16 */
	tr_desc_at(&t, table, 0, TR_DATA, 16, VRING_DESC_F_NEXT, 1);
	tr_desc_at(&t, table, 1, TR_DATA, 16, VRING_DESC_F_NEXT, 0);
	tr_desc(&t, 3, table, 32, VRING_DESC_F_INDIRECT, 0);
	tr_avail(&t, 3);
	CHECK_EQ(virtq_pop(&t.q, &chain), 1);
	CHECK_EQ(chain.err, VIRTQ_CHAIN_TOO_LONG);
	CHECK_EQ(chain.nread, 2);
	tr_fini(&t);
}

UNIT_TEST(virtq_longest_chain_is_queue_size)
{
	struct tring t;

	tr_init(&t, 8, F_ALL);
	for (uint16_t i = 0; i < 8; i++)
		tr_desc(&t, i, TR_DATA, 1, i < 7 ? VRING_DESC_F_NEXT : 0, i + 1);
	tr_avail(&t, 0);
	CHECK_EQ(virtq_pop(&t.q, &chain), 1);
	CHECK_EQ(chain.err, VIRTQ_CHAIN_OK);
	CHECK_EQ(chain.nread, 8);
	/* starting at 1, the chain would need index 8: out of the table */
	tr_avail(&t, 1);
	tr_desc(&t, 7, TR_DATA, 1, VRING_DESC_F_NEXT, 8);
	CHECK_EQ(virtq_pop(&t.q, &chain), 1);
	CHECK_EQ(chain.err, VIRTQ_CHAIN_BAD_NEXT);
	tr_fini(&t);
}

UNIT_TEST(virtq_buffer_outside_ram)
{
	struct tring t;

	tr_init(&t, 8, F_ALL);
	tr_desc(&t, 0, TR_DATA, 16, VRING_DESC_F_NEXT, 1);
	tr_desc(&t, 1, TR_RAM_SIZE - 100, 512, VRING_DESC_F_NEXT | VRING_DESC_F_WRITE, 2);
	tr_desc(&t, 2, TR_DATA + 0x100, 1, VRING_DESC_F_WRITE, 0);
	tr_avail(&t, 0);
	CHECK_EQ(virtq_pop(&t.q, &chain), 1);
	CHECK_EQ(chain.err, VIRTQ_CHAIN_BAD_BUFFER);
	CHECK(chain.complete);
	CHECK(chain.iov[1].iov_base == NULL);
	/* the status byte is still reachable, so a device can fail the request properly */
	CHECK(virtq_chain_tail(&chain) == t.ram + TR_DATA + 0x100);
	/* an address near 2^64 must not wrap around */
	tr_desc(&t, 3, 0xffffffffffffff00ULL, 0x200, VRING_DESC_F_WRITE, 0);
	tr_avail(&t, 3);
	CHECK_EQ(virtq_pop(&t.q, &chain), 1);
	CHECK_EQ(chain.err, VIRTQ_CHAIN_BAD_BUFFER);
	CHECK(virtq_chain_tail(&chain) == NULL);
	tr_fini(&t);
}

UNIT_TEST(virtq_writable_before_readable)
{
	struct tring t;

	tr_init(&t, 8, F_ALL);
	tr_desc(&t, 0, TR_DATA, 16, VRING_DESC_F_NEXT | VRING_DESC_F_WRITE, 1);
	tr_desc(&t, 1, TR_DATA + 0x100, 16, VRING_DESC_F_NEXT, 2);
	tr_desc(&t, 2, TR_DATA + 0x200, 1, VRING_DESC_F_WRITE, 0);
	tr_avail(&t, 0);
	CHECK_EQ(virtq_pop(&t.q, &chain), 1);
	CHECK_EQ(chain.err, VIRTQ_CHAIN_BAD_ORDER);
	CHECK(chain.complete);
	CHECK(virtq_chain_tail(&chain) == t.ram + TR_DATA + 0x200);
	tr_fini(&t);
}

UNIT_TEST(virtq_bad_head_and_runaway_idx)
{
	struct tring t;

	tr_init(&t, 8, F_ALL);
	tr_desc(&t, 1, TR_DATA, 4, 0, 0);
	tr_avail(&t, 8); /* head out of range: skipped, counted */
	tr_avail(&t, 1);
	CHECK_EQ(virtq_pop(&t.q, &chain), 1);
	CHECK_EQ(chain.head, 1);
	CHECK_EQ(atomic_load(&t.errors), 1);
	/* avail idx 9 entries ahead of a size-8 queue: the ring itself is broken */
	tr_put16(&t, TR_AVAIL + 2, t.avail_idx + 9);
	CHECK_EQ(virtq_pop(&t.q, &chain), -1);
	CHECK(!virtq_ready(&t.q));
	CHECK_EQ(atomic_load(&t.errors), 2);
	tr_fini(&t);
}

UNIT_TEST(virtq_event_idx_suppression)
{
	struct tring t;

	tr_init(&t, 8, F_ALL);
	/* popping an empty ring arms avail_event at the next index */
	CHECK_EQ(virtq_pop(&t.q, &chain), 0);
	CHECK_EQ(tr_avail_event(&t), 0);
	tr_desc(&t, 0, TR_DATA, 4, 0, 0);
	for (int i = 0; i < 3; i++)
		tr_avail(&t, 0);
	for (int i = 0; i < 3; i++)
		CHECK_EQ(virtq_pop(&t.q, &chain), 1);
	CHECK_EQ(virtq_pop(&t.q, &chain), 0);
	CHECK_EQ(tr_avail_event(&t), 3);

	/* used_event 0: the first completion interrupts, the next ones do not */
	tr_set_used_event(&t, 0);
	virtq_push(&t.q, 0, 0);
	CHECK(virtq_should_notify(&t.q));
	virtq_push(&t.q, 0, 0);
	virtq_push(&t.q, 0, 0);
	CHECK(!virtq_should_notify(&t.q));
	/* the driver asks for an interrupt once used idx passes 4 */
	tr_set_used_event(&t, 4);
	virtq_push(&t.q, 0, 0);
	CHECK(!virtq_should_notify(&t.q)); /* used idx 4: event 4 not yet crossed */
	virtq_push(&t.q, 0, 0);
	CHECK(virtq_should_notify(&t.q)); /* 4 -> 5 crosses it */
	/* nothing pushed: nothing to say */
	CHECK(!virtq_should_notify(&t.q));
	tr_fini(&t);
}

UNIT_TEST(virtq_no_interrupt_flag)
{
	struct tring t;

	tr_init(&t, 8, F_INDIRECT);
	virtq_push(&t.q, 0, 0);
	CHECK(virtq_should_notify(&t.q));
	tr_put16(&t, TR_AVAIL, VRING_AVAIL_F_NO_INTERRUPT);
	virtq_push(&t.q, 0, 0);
	CHECK(!virtq_should_notify(&t.q));
	tr_put16(&t, TR_AVAIL, 0);
	CHECK(!virtq_should_notify(&t.q)); /* nothing new */
	tr_fini(&t);
}

/* The 16-bit free-running indices wrap; ring slots and event math must follow. */
UNIT_TEST(virtq_index_wraparound)
{
	struct tring t;
	uint16_t start = 65533;

	tr_init(&t, 4, F_ALL);
	t.q.last_avail = start;
	t.q.used_idx = start;
	t.q.signalled_used = start;
	t.avail_idx = start;
	tr_put16(&t, TR_AVAIL + 2, start);
	tr_put16(&t, TR_USED + 2, start);
	for (uint16_t i = 0; i < 4; i++)
		tr_desc(&t, i, TR_DATA + 0x100u * i, 8, 0, 0);
	for (int round = 0; round < 3; round++) {
		for (uint16_t i = 0; i < 4; i++)
			tr_avail(&t, i);
		for (uint16_t i = 0; i < 4; i++) {
			CHECK_EQ(virtq_pop(&t.q, &chain), 1);
			CHECK_EQ(chain.head, i);
			virtq_push(&t.q, chain.head, i);
		}
		CHECK_EQ(virtq_pop(&t.q, &chain), 0);
		CHECK_EQ(tr_avail_event(&t), t.avail_idx);
	}
	CHECK_EQ(tr_used_idx(&t), (uint16_t)(start + 12));
	CHECK_EQ(tr_used_id(&t, (uint16_t)(start + 11)), 3);
	/* used_event just before the wrap, used idx crossing it */
	tr_set_used_event(&t, 65535);
	t.q.signalled_used = 65534;
	t.q.used_idx = 1;
	CHECK(virtq_should_notify(&t.q));
	t.q.signalled_used = 2;
	t.q.used_idx = 5;
	CHECK(!virtq_should_notify(&t.q));
	tr_fini(&t);
}

UNIT_TEST(virtq_iov_copy)
{
	uint8_t a[3] = {1, 2, 3}, b[4] = {4, 5, 6, 7}, out[8] = {0};
	struct iovec iov[3] = {{a, 3}, {NULL, 0}, {b, 4}};
	uint8_t src[3] = {9, 9, 9};

	CHECK_EQ(virtq_iov_to_buf(iov, 3, 2, out, 8), 5);
	CHECK_EQ(out[0], 3);
	CHECK_EQ(out[1], 4);
	CHECK_EQ(out[4], 7);
	CHECK_EQ(virtq_iov_to_buf(iov, 3, 7, out, 8), 0);
	CHECK_EQ(virtq_iov_from_buf(iov, 3, 2, src, 3), 3);
	CHECK_EQ(a[2], 9);
	CHECK_EQ(b[1], 9);
	CHECK_EQ(b[2], 6);
}

/* A batch of used elements (a merged RX frame) becomes visible all at once: used->idx does not
 * move while elements are filled, then moves by the whole count, wrapping with the ring. */
UNIT_TEST(virtq_fill_flush_publishes_once)
{
	struct tring t;

	tr_init(&t, 4, F_ALL);
	virtq_push(&t.q, 0, 10); /* ring position 0; the batch below wraps past the end */
	virtq_push(&t.q, 1, 11);
	virtq_push(&t.q, 2, 12);
	CHECK_EQ(tr_used_idx(&t), 3);
	virtq_fill(&t.q, 0, 3, 100);
	virtq_fill(&t.q, 1, 0, 101);
	virtq_fill(&t.q, 2, 1, 102);
	CHECK_EQ(tr_used_idx(&t), 3); /* nothing published yet */
	virtq_flush(&t.q, 3);
	CHECK_EQ(tr_used_idx(&t), 6);
	CHECK_EQ(tr_used_id(&t, 3), 3);
	CHECK_EQ(tr_used_len(&t, 3), 100);
	CHECK_EQ(tr_used_id(&t, 0), 0); /* position 4 wrapped to slot 0 */
	CHECK_EQ(tr_used_len(&t, 0), 101);
	CHECK_EQ(tr_used_id(&t, 1), 1);
	CHECK_EQ(tr_used_len(&t, 1), 102);
	tr_fini(&t);
}

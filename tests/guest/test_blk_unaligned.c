/*
 * test_blk_unaligned.c - blk-unaligned: requests whose data buffers O_DIRECT could not take.
 *
 * A guest may hand virtio-blk data in any pieces at any address: here a write and a read whose
 * data are two descriptors at odd addresses with lengths that are not multiples of 512, each
 * followed by the opposite kind of request with one 4 KiB-aligned buffer (the one O_DIRECT
 * takes), so that what goes through the host page cache and what bypasses it must agree. With
 * cache=none wisp routes the first kind around O_DIRECT (virtio/blk_io.h); every request must
 * succeed and read back the data pattern of tests_blk.c. Parameters as tests_blk.c (wisp.dev,
 * wisp.arg = first sector, 8 sectors used).
 */
#include "blk.h"

#define UNALIGNED_BYTES 4096
#define UNALIGNED_HEAD  3 /* slot 1's descriptors on (tests_blk.c's slot layout) */

struct piece {
	void *buf;
	u32 len;
};

static u8 buffers[2][UNALIGNED_BYTES + 64] __noinit __aligned(4096);
static u8 stage[UNALIGNED_BYTES] __noinit __aligned(4096);

/* One request whose data is the n (<= 4) pieces, in order; returns its status byte. */
static u8 chain_request(struct blk *b, u32 type, u64 sector, const struct piece *p, unsigned n)
{
	volatile struct virtq_desc *d = &b->q.desc[UNALIGNED_HEAD];
	struct blk_slot *s = &slots[UNALIGNED_HEAD / 3];
	u16 flags = type == VIRTIO_BLK_T_IN ? VIRTQ_DESC_F_WRITE : 0;
	unsigned i;

	s->hdr = (struct virtio_blk_req_hdr){.type = type, .sector = sector};
	s->status = 0xff;
	d[0] = (struct virtq_desc){(u64)&s->hdr, sizeof(s->hdr), VIRTQ_DESC_F_NEXT,
	                           UNALIGNED_HEAD + 1};
	for (i = 0; i < n; i++)
		d[1 + i] = (struct virtq_desc){(u64)p[i].buf, p[i].len, flags | VIRTQ_DESC_F_NEXT,
		                               (u16)(UNALIGNED_HEAD + 2 + i)};
	d[1 + n] = (struct virtq_desc){(u64)&s->status, 1, VIRTQ_DESC_F_WRITE, 0};
	virtq_push(&b->q, UNALIGNED_HEAD);
	virtq_notify(&b->q);
	blk_wait(b, 1);
	return s->status;
}

/* Copies between stage and the pieces (to_pieces: stage -> pieces). */
static void scatter(const struct piece *p, unsigned n, int to_pieces)
{
	u32 off = 0;

	for (unsigned i = 0; i < n; off += p[i].len, i++)
		if (to_pieces)
			memcpy(p[i].buf, stage + off, p[i].len);
		else
			memcpy(stage + off, p[i].buf, p[i].len);
}

static void expect_ok(u8 status, const char *what, u64 sector)
{
	if (status != VIRTIO_BLK_S_OK)
		test_fail("%s at sector %lu: status %u", what, sector, status);
}

static void expect_pattern(const void *buf, u64 sector, u32 len, const char *what)
{
	long bad = pattern_check(buf, sector, len);

	if (bad >= 0)
		test_fail("%s: differs at byte %ld: %#lx", what, bad * 8, ((const u64 *)buf)[bad]);
}

static __noreturn void test_blk_unaligned(void)
{
	/* 100 + 924 bytes at addresses 3 and 7 past a page; 700 + 3396 at 1 and 5. */
	const struct piece wr[] = {{buffers[0] + 3, 100}, {buffers[1] + 7, 924}};
	const struct piece rd[] = {{buffers[1] + 1, 700}, {buffers[0] + 5, 3396}};
	const struct piece aligned[] = {{buffers[0], UNALIGNED_BYTES}};
	struct piece aligned_1k = {buffers[0], 1024};
	struct blk b;
	u64 sector;

	blk_open(&b);
	sector = first_sector(&b, UNALIGNED_BYTES / VIRTIO_BLK_SECTOR);

	/* unaligned write, aligned read back */
	pattern_fill((u64 *)stage, sector, 1024);
	scatter(wr, 2, 1);
	expect_ok(chain_request(&b, VIRTIO_BLK_T_OUT, sector, wr, 2), "unaligned write", sector);
	memset(buffers[0], 0xa5, 1024);
	expect_ok(chain_request(&b, VIRTIO_BLK_T_IN, sector, &aligned_1k, 1), "aligned read",
	          sector);
	expect_pattern(buffers[0], sector, 1024, "aligned read after an unaligned write");

	/* aligned write, unaligned read back */
	pattern_fill((u64 *)buffers[0], sector, UNALIGNED_BYTES);
	expect_ok(chain_request(&b, VIRTIO_BLK_T_OUT, sector, aligned, 1), "aligned write", sector);
	memset(buffers[0], 0x5a, sizeof(buffers[0]));
	memset(buffers[1], 0x5a, sizeof(buffers[1]));
	expect_ok(chain_request(&b, VIRTIO_BLK_T_IN, sector, rd, 2), "unaligned read", sector);
	scatter(rd, 2, 0);
	expect_pattern(stage, sector, UNALIGNED_BYTES, "unaligned read after an aligned write");
	gprintf("BLK_UNALIGNED sector=%lu ok\n", sector);
	test_pass();
}
GUEST_TEST("blk-unaligned", test_blk_unaligned);

/*
 * blk.h - the test guest's virtio-blk driver pieces shared by the blk test files
 * (tests_blk.c defines them; test_blk_unaligned.c and test_faults.c use them too).
 *
 * A request made by tests_blk.c is three descriptors in slot s (3s..3s+2: header, data,
 * status); a test that builds longer chains uses the descriptors of slots it leaves unused,
 * with its head at a multiple of 3 (blk_wait() checks that).
 */
#ifndef GUEST_BLK_H
#define GUEST_BLK_H

#include "virtio.h"

#define BLK_SLOTS   32
#define PATTERN_TAG 0x5749535000000000ULL

struct blk_slot {
	struct virtio_blk_req_hdr hdr;
	u8 status;
} __aligned(32);

struct blk {
	struct virtio_dev *dev;
	struct virtq q;
	u64 features;
	u64 capacity; /* in 512-byte sectors */
	u64 timeout_ms;
};

extern struct blk_slot slots[BLK_SLOTS];

/* Finds, initialises and reports the device selected by wisp.dev (queue size 128). */
void blk_open(struct blk *b);
/* Waits for `count` completions; fails on a timeout or a foreign descriptor id. */
void blk_wait(struct blk *b, int count);
/* One request (header, data of len bytes unless 0, status), synchronously; returns its status
 * byte. Fails the test when it does not complete within b->timeout_ms. */
u8 blk_request(struct blk *b, u32 type, u64 sector, void *buf, u32 len);
/* CPL3 (cpl3_run): spins until ms milliseconds pass (CPL0 spinning is emulated and costly on
 * PVM). Returns 0. */
long hold_ms(u64 ms);
/* The data pattern (tests_blk.c) for len bytes from sector on, into buf / checked in buf:
 * pattern_check returns the index of the first word that differs, or -1. */
void pattern_fill(u64 *buf, u64 sector, u32 len);
long pattern_check(const u64 *buf, u64 sector, u32 len);
/* wisp.arg (default 1), checked to leave room for `sectors` sectors. */
u64 first_sector(struct blk *b, u64 sectors);

#endif

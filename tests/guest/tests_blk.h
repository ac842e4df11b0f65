/*
 * tests_blk.h - the virtio-blk request helpers of tests_blk.c, shared with other blk tests
 * (test_faults_blk.c).
 */
#ifndef TESTS_BLK_H
#define TESTS_BLK_H

#include "virtio.h"

struct blk {
	struct virtio_dev *dev;
	struct virtq q;
	u64 features;
	u64 capacity; /* in 512-byte sectors */
	u64 timeout_ms;
};

/* Finds, initialises and reports (BLK dev=... line) the device selected by wisp.dev; reads
 * wisp.timeout_ms. Fails the test when there is no such device. */
void blk_open(struct blk *b);
/* One request (header, data of len bytes unless 0, status), synchronously; returns its status
 * byte. Fails the test when it does not complete within b->timeout_ms. */
u8 blk_request(struct blk *b, u32 type, u64 sector, void *buf, u32 len);
/* The data pattern (see tests_blk.c) of len bytes starting at sector. */
void pattern_fill(u64 *buf, u64 sector, u32 len);
/* wisp.arg (default 1), checked so that `sectors` sectors from it fit the capacity. */
u64 first_sector(struct blk *b, u64 sectors);
/* CPL3 (cpl3_run): spins until ms milliseconds pass (CPL0 spinning is emulated and costly on
 * PVM). Returns 0. */
long hold_ms(u64 ms);

#endif

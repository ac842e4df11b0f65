/*
 * test_virtq_ring.h - a guest driver's side of a split virtqueue, for unit tests.
 *
 * 1 MiB of guest RAM in a host buffer; the rings sit at fixed addresses and the test writes
 * descriptors and avail entries the way a driver would (little-endian, through the buffer).
 */
#ifndef WISP_TEST_VIRTQ_RING_H
#define WISP_TEST_VIRTQ_RING_H

#include <endian.h>
#include <stdlib.h>
#include <string.h>

#include "virtio/virtq.h"

#define TR_RAM_SIZE (1u << 20)
#define TR_DESC     0x1000u  /* up to 256 * 16 bytes */
#define TR_AVAIL    0x3000u  /* up to 6 + 512 bytes */
#define TR_USED     0x4000u  /* up to 6 + 2048 bytes */
#define TR_DATA     0x10000u /* buffers from here */

struct tring {
	uint8_t *ram;
	struct guest_mem mem;
	struct virtq q;
	struct virtq_config cfg;
	atomic_ulong errors;
	uint16_t avail_idx;
};

static inline void tr_init(struct tring *t, uint16_t size, uint64_t features)
{
	memset(t, 0, sizeof(*t));
	t->ram = aligned_alloc(4096, TR_RAM_SIZE);
	memset(t->ram, 0, TR_RAM_SIZE);
	guest_mem_init_buffer(&t->mem, t->ram, TR_RAM_SIZE);
	t->cfg = (struct virtq_config){size, TR_DESC, TR_AVAIL, TR_USED};
	if (features != ~0ULL)
		virtq_setup(&t->q, &t->mem, &t->cfg, features, &t->errors);
}

static inline void tr_fini(struct tring *t)
{
	free(t->ram);
}

static inline void tr_desc_at(struct tring *t, uint64_t table, uint16_t i, uint64_t addr,
                              uint32_t len, uint16_t flags, uint16_t next)
{
	struct vring_desc d = {htole64(addr), htole32(len), htole16(flags), htole16(next)};

	memcpy(t->ram + table + 16u * i, &d, sizeof(d));
}

static inline void tr_desc(struct tring *t, uint16_t i, uint64_t addr, uint32_t len, uint16_t flags,
                           uint16_t next)
{
	tr_desc_at(t, TR_DESC, i, addr, len, flags, next);
}

static inline void tr_put16(struct tring *t, uint64_t gpa, uint16_t v)
{
	v = htole16(v);
	memcpy(t->ram + gpa, &v, 2);
}

static inline uint16_t tr_get16(struct tring *t, uint64_t gpa)
{
	uint16_t v;

	memcpy(&v, t->ram + gpa, 2);
	return le16toh(v);
}

static inline uint32_t tr_get32(struct tring *t, uint64_t gpa)
{
	uint32_t v;

	memcpy(&v, t->ram + gpa, 4);
	return le32toh(v);
}

/* Publishes head in the avail ring (size = t->cfg.size). */
static inline void tr_avail(struct tring *t, uint16_t head)
{
	tr_put16(t, TR_AVAIL + 4 + 2u * (t->avail_idx % t->cfg.size), head);
	t->avail_idx++;
	tr_put16(t, TR_AVAIL + 2, t->avail_idx);
}

static inline uint16_t tr_used_idx(struct tring *t)
{
	return tr_get16(t, TR_USED + 2);
}

static inline uint32_t tr_used_id(struct tring *t, uint16_t i)
{
	return tr_get32(t, TR_USED + 4 + 8u * (i % t->cfg.size));
}

static inline uint32_t tr_used_len(struct tring *t, uint16_t i)
{
	return tr_get32(t, TR_USED + 8 + 8u * (i % t->cfg.size));
}

/* used_event (driver -> device) and avail_event (device -> driver). */
static inline void tr_set_used_event(struct tring *t, uint16_t v)
{
	tr_put16(t, TR_AVAIL + 4 + 2u * t->cfg.size, v);
}

static inline uint16_t tr_avail_event(struct tring *t)
{
	return tr_get16(t, TR_USED + 4 + 8u * t->cfg.size);
}

#endif

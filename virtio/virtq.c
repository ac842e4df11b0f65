/* virtq.c - split virtqueue, device side (see virtq.h for the contracts). */
#include "virtio/virtq.h"

#include <endian.h>
#include <linux/virtio_config.h>
#include <string.h>

/* Byte sizes of the three ring areas (spec 2.7: "Virtqueue Part Sizes"), event fields
 * included (we always map them: they are part of the area whether or not EVENT_IDX is on). */
static uint64_t desc_bytes(uint16_t size)
{
	return 16ULL * size;
}

static uint64_t avail_bytes(uint16_t size)
{
	return 6ULL + 2ULL * size;
}

static uint64_t used_bytes(uint16_t size)
{
	return 6ULL + 8ULL * size;
}

static void count_error(struct virtq *q)
{
	if (q->errors)
		atomic_fetch_add_explicit(q->errors, 1, memory_order_relaxed);
}

bool virtq_config_valid(const struct guest_mem *mem, const struct virtq_config *cfg)
{
	uint16_t n = cfg->size;

	if (n == 0 || n > VIRTQ_MAX_SIZE || (n & (n - 1)) != 0)
		return false;
	if (cfg->desc_gpa % VRING_DESC_ALIGN_SIZE || cfg->avail_gpa % VRING_AVAIL_ALIGN_SIZE ||
	    cfg->used_gpa % VRING_USED_ALIGN_SIZE)
		return false;
	return guest_mem_range_ok(mem, cfg->desc_gpa, desc_bytes(n)) &&
	       guest_mem_range_ok(mem, cfg->avail_gpa, avail_bytes(n)) &&
	       guest_mem_range_ok(mem, cfg->used_gpa, used_bytes(n));
}

int virtq_setup(struct virtq *q, const struct guest_mem *mem, const struct virtq_config *cfg,
                uint64_t features, atomic_ulong *errors)
{
	virtq_reset(q);
	if (!virtq_config_valid(mem, cfg))
		return -1;
	q->mem = mem;
	q->cfg = *cfg;
	q->avail = guest_mem_ptr(mem, cfg->avail_gpa, avail_bytes(cfg->size));
	q->used = guest_mem_ptr(mem, cfg->used_gpa, used_bytes(cfg->size));
	q->event_idx = features & (1ULL << VIRTIO_RING_F_EVENT_IDX);
	q->indirect = features & (1ULL << VIRTIO_RING_F_INDIRECT_DESC);
	q->errors = errors;
	q->size = cfg->size;
	return 0;
}

void virtq_reset(struct virtq *q)
{
	memset(q, 0, sizeof(*q));
}

/* Loads of fields the guest writes concurrently. Aligned by virtq_config_valid(). */
static uint16_t load_avail_idx(const struct virtq *q)
{
	return le16toh(__atomic_load_n(&q->avail->idx, __ATOMIC_ACQUIRE));
}

static uint16_t load_avail_ring(const struct virtq *q, uint16_t slot)
{
	return le16toh(__atomic_load_n(&q->avail->ring[slot & (q->size - 1)], __ATOMIC_RELAXED));
}

/* used_event lives just after the avail ring; avail_event just after the used ring. */
static uint16_t load_used_event(const struct virtq *q)
{
	return le16toh(__atomic_load_n(&q->avail->ring[q->size], __ATOMIC_RELAXED));
}

/* The used ring as wisp writes it (flags, idx, ring, avail_event), for Diff snapshots. */
static void used_written(const struct virtq *q)
{
	guest_mem_mark_dirty(q->mem, q->used, 6 + 8u * q->size);
}

static void store_avail_event(struct virtq *q, uint16_t val)
{
	__virtio16 *p = (__virtio16 *)&q->used->ring[q->size];

	__atomic_store_n(p, htole16(val), __ATOMIC_RELAXED);
	used_written(q);
}

/* Reads descriptor i of a table at table_gpa into *d (one copy through the accessor). */
static int read_desc(const struct virtq *q, uint64_t table_gpa, uint32_t i, struct vring_desc *d)
{
	struct vring_desc raw;

	if (guest_mem_read(q->mem, table_gpa + 16ULL * i, &raw, sizeof(raw)) < 0)
		return -1;
	d->addr = le64toh(raw.addr);
	d->len = le32toh(raw.len);
	d->flags = le16toh(raw.flags);
	d->next = le16toh(raw.next);
	return 0;
}

/* Appends one data buffer to the chain; records order and range errors but keeps walking so
 * that the tail (status byte) can still be found. */
static void add_buffer(struct virtq *q, struct virtq_chain *c, const struct vring_desc *d)
{
	bool writable = d->flags & VRING_DESC_F_WRITE;
	struct iovec *v = &c->iov[c->nread + c->nwrite];

	v->iov_len = d->len;
	v->iov_base = guest_mem_ptr(q->mem, d->addr, d->len);
	if (!v->iov_base && !c->err)
		c->err = VIRTQ_CHAIN_BAD_BUFFER;
	if (writable) {
		/* the device may write it: dirty for a Diff snapshot from now on */
		guest_mem_mark_dirty(q->mem, v->iov_base, d->len);
		c->nwrite++;
		c->write_bytes += d->len;
	} else {
		if (c->nwrite && !c->err)
			c->err = VIRTQ_CHAIN_BAD_ORDER;
		c->nread++;
		c->read_bytes += d->len;
	}
	c->tail_writable = writable;
}

/*
 * Walks a descriptor list starting at index first in a table of n entries at table_gpa.
 * At most max descriptors are taken; a walk that would take more (a loop or an oversized
 * chain) fails. Indirect descriptors are accepted only when allow_indirect (the head of a
 * direct chain) and are then the whole chain.
 */
static int walk(struct virtq *q, struct virtq_chain *c, uint64_t table_gpa, uint32_t n,
                uint16_t first, uint32_t max, bool allow_indirect);

static int walk_indirect(struct virtq *q, struct virtq_chain *c, const struct vring_desc *d)
{
	if (!q->indirect || (d->flags & VRING_DESC_F_NEXT) || d->len == 0 || d->len % 16 ||
	    d->len / 16 > VIRTQ_MAX_SIZE || !guest_mem_range_ok(q->mem, d->addr, d->len)) {
		c->err = VIRTQ_CHAIN_BAD_INDIRECT;
		return -1;
	}
	/* The indirect table is its own descriptor list, indices relative to its start. */
	return walk(q, c, d->addr, d->len / 16, 0, d->len / 16, false);
}

static int walk(struct virtq *q, struct virtq_chain *c, uint64_t table_gpa, uint32_t n,
                uint16_t first, uint32_t max, bool allow_indirect)
{
	struct vring_desc d;
	uint32_t i = first;

	for (uint32_t taken = 0;; taken++) {
		if (taken == max) {
			c->err = VIRTQ_CHAIN_TOO_LONG;
			return -1;
		}
		if (i >= n) {
			c->err = VIRTQ_CHAIN_BAD_NEXT;
			return -1;
		}
		if (read_desc(q, table_gpa, i, &d) < 0) {
			c->err =
			    VIRTQ_CHAIN_BAD_INDIRECT; /* only an indirect table can fail here */
			return -1;
		}
		if (d.flags & VRING_DESC_F_INDIRECT) {
			if (!allow_indirect || taken != 0) {
				c->err = VIRTQ_CHAIN_BAD_INDIRECT;
				return -1;
			}
			return walk_indirect(q, c, &d);
		}
		add_buffer(q, c, &d);
		if (!(d.flags & VRING_DESC_F_NEXT))
			return 0;
		i = d.next;
	}
}

static void chain_init(struct virtq_chain *c, uint16_t head)
{
	c->head = head;
	c->nread = 0;
	c->nwrite = 0;
	c->err = VIRTQ_CHAIN_OK;
	c->complete = false;
	c->tail_writable = false;
	c->read_bytes = 0;
	c->write_bytes = 0;
}

/* Number of entries published by the driver and not yet consumed; re-arms avail_event and
 * looks again before reporting an empty ring. -1 when avail->idx is implausible. */
static int avail_pending(struct virtq *q)
{
	uint16_t pending = (uint16_t)(load_avail_idx(q) - q->last_avail);

	if (pending == 0 && q->event_idx) {
		store_avail_event(q, q->last_avail);
		/* The store above must be visible before we read idx again, or the driver may
		 * read the old avail_event, skip its notification, and we miss its buffer. */
		__atomic_thread_fence(__ATOMIC_SEQ_CST);
		pending = (uint16_t)(load_avail_idx(q) - q->last_avail);
	}
	if (pending > q->size)
		return -1;
	return pending;
}

int virtq_pop(struct virtq *q, struct virtq_chain *chain)
{
	for (;;) {
		int pending;
		uint16_t head;

		if (!virtq_ready(q))
			return -1;
		pending = avail_pending(q);
		if (pending < 0) {
			q->broken = true;
			count_error(q);
			return -1;
		}
		if (pending == 0)
			return 0;
		/* load_avail_idx() was an acquire: the ring entry it covers is published. */
		head = load_avail_ring(q, q->last_avail);
		q->last_avail++;
		if (head >= q->size) {
			count_error(q);
			continue; /* bounded: pending shrinks by one per round */
		}
		chain_init(chain, head);
		if (walk(q, chain, q->cfg.desc_gpa, q->size, head, q->size, true) == 0)
			chain->complete = true;
		return 1;
	}
}

int virtq_chain_at(struct virtq *q, uint16_t head, struct virtq_chain *chain)
{
	if (!virtq_ready(q) || head >= q->size)
		return -1;
	chain_init(chain, head);
	if (walk(q, chain, q->cfg.desc_gpa, q->size, head, q->size, true) == 0)
		chain->complete = true;
	return 0;
}

void virtq_fill(struct virtq *q, uint16_t offset, uint16_t head, uint32_t len)
{
	vring_used_elem_t *e;

	if (q->size == 0)
		return;
	e = &q->used->ring[(uint16_t)(q->used_idx + offset) & (q->size - 1)];
	__atomic_store_n(&e->id, htole32(head), __ATOMIC_RELAXED);
	__atomic_store_n(&e->len, htole32(len), __ATOMIC_RELAXED);
}

void virtq_flush(struct virtq *q, uint16_t count)
{
	if (q->size == 0)
		return;
	q->used_idx += count;
	/* Release: the elements are visible before the index that publishes them. */
	__atomic_store_n(&q->used->idx, htole16(q->used_idx), __ATOMIC_RELEASE);
	used_written(q);
}

void virtq_push(struct virtq *q, uint16_t head, uint32_t len)
{
	virtq_fill(q, 0, head, len);
	virtq_flush(q, 1);
}

bool virtq_should_notify(struct virtq *q)
{
	uint16_t old = q->signalled_used, now = q->used_idx;

	if (q->size == 0)
		return false;
	q->signalled_used = now;
	/* Our used->idx store must be visible before we read the driver's suppression state;
	 * otherwise the driver may decide to wait just as we decide not to interrupt. */
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	if (!q->event_idx) {
		uint16_t flags = le16toh(__atomic_load_n(&q->avail->flags, __ATOMIC_RELAXED));

		return old != now && !(flags & VRING_AVAIL_F_NO_INTERRUPT);
	}
	return vring_need_event(load_used_event(q), now, old);
}

uint8_t *virtq_chain_tail(const struct virtq_chain *c)
{
	const struct iovec *v;

	if (!c->complete || !c->tail_writable || c->nread + c->nwrite == 0)
		return NULL;
	v = &c->iov[c->nread + c->nwrite - 1];
	if (!v->iov_base || v->iov_len == 0)
		return NULL;
	return (uint8_t *)v->iov_base + v->iov_len - 1;
}

/* Copies len bytes between a flat buffer and the iovec list, skipping skip bytes of the list
 * first; to_iov says the direction. Returns the bytes copied (less when the list ends). */
static size_t iov_copy(const struct iovec *iov, unsigned n, size_t skip, uint8_t *buf, size_t len,
                       bool to_iov)
{
	size_t done = 0;

	for (unsigned i = 0; i < n && done < len; i++) {
		size_t take;
		uint8_t *part;

		if (skip >= iov[i].iov_len) {
			skip -= iov[i].iov_len;
			continue;
		}
		take = iov[i].iov_len - skip;
		if (take > len - done)
			take = len - done;
		part = (uint8_t *)iov[i].iov_base + skip;
		if (to_iov)
			memcpy(part, buf + done, take);
		else
			memcpy(buf + done, part, take);
		done += take;
		skip = 0;
	}
	return done;
}

size_t virtq_iov_to_buf(const struct iovec *iov, unsigned n, size_t skip, void *dst, size_t len)
{
	return iov_copy(iov, n, skip, dst, len, false);
}

size_t virtq_iov_from_buf(const struct iovec *iov, unsigned n, size_t skip, const void *src,
                          size_t len)
{
	/* The cast is safe: with to_iov set, iov_copy() only reads buf. */
	return iov_copy(iov, n, skip, (uint8_t *)src, len, true);
}

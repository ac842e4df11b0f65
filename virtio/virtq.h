/*
 * virtq.h - split virtqueue, device side (virtio 1.x, spec 2.7).
 *
 * A virtq is the device's view of one queue: three guest-memory areas (descriptor table,
 * driver/"avail" ring, device/"used" ring) that the guest driver fills concurrently with us.
 * Everything the guest wrote is hostile and may change under our feet:
 *   - every area and buffer is checked through guest_mem (vmm/guest_mem.h); the ring areas are
 *     checked once, whole, at virtq_setup() and then indexed only with indices masked by the
 *     queue size, so no host pointer is ever computed from an unchecked guest value;
 *   - each descriptor is copied once into host memory before it is looked at (no double fetch);
 *   - avail->idx is loaded with acquire semantics before the ring entries it publishes, and
 *     used->idx is stored with release semantics after the used entries it publishes; the
 *     notification checks (EVENT_IDX) use full fences, as the spec's memory model requires;
 *   - a chain walk is bounded by the queue size (an indirect table by its length / 16), so a
 *     looping chain terminates; a malformed chain is reported in chain->err and consumed, and
 *     the queue keeps working.
 *
 * Structures and constants are the Linux uapi ones (<linux/virtio_ring.h>); the ring is
 * little-endian, converted with le16toh()/le32toh()/le64toh().
 *
 * Threads: a virtq belongs to its device's event-loop work. virtq_setup(), virtq_reset(),
 * virtq_pop(), virtq_push() and virtq_should_notify() are called on the event-loop thread (or
 * a single-threaded test or fuzzer) only; none of them takes a lock.
 */
#ifndef WISP_VIRTQ_H
#define WISP_VIRTQ_H

#include <linux/virtio_ring.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/uio.h>

#include "vmm/guest_mem.h"

/* Largest queue wisp offers (QueueNumMax) and longest chain it accepts (direct or indirect). */
#define VIRTQ_MAX_SIZE 256

/* What the driver programmed through the transport registers for one queue. */
struct virtq_config {
	uint16_t size;      /* QueueNum: power of 2, 1..VIRTQ_MAX_SIZE */
	uint64_t desc_gpa;  /* QueueDesc: 16-byte aligned, 16 * size bytes */
	uint64_t avail_gpa; /* QueueDriver: 2-byte aligned, 6 + 2 * size bytes */
	uint64_t used_gpa;  /* QueueDevice: 4-byte aligned, 6 + 8 * size bytes */
};

/* Why a chain was refused (chain->err). */
enum virtq_chain_err {
	VIRTQ_CHAIN_OK = 0,
	VIRTQ_CHAIN_BAD_NEXT, /* next index >= queue size (or >= indirect table length) */
	VIRTQ_CHAIN_TOO_LONG, /* more descriptors than the bound: a loop or an oversized chain */
	VIRTQ_CHAIN_BAD_INDIRECT, /* indirect not negotiated, nested, not at the head, with NEXT,
	                             length 0 or not a multiple of 16, or table outside RAM */
	VIRTQ_CHAIN_BAD_BUFFER,   /* a buffer lies (partly) outside RAM */
	VIRTQ_CHAIN_BAD_ORDER,    /* a device-readable buffer after a device-writable one */
};

/*
 * One popped descriptor chain, as host iovecs in chain order: iov[0..nread) are
 * device-readable (the driver's request), iov[nread..nread+nwrite) device-writable (room for
 * the reply). Every iov_base was returned by guest_mem_ptr() for exactly iov_len bytes, except
 * for a buffer outside RAM, whose iov_base is NULL (chain->err is then BAD_BUFFER).
 *
 * When err != OK the device must not use the data; it fails the request and still returns
 * head with virtq_push() (used length 0, or 1 if it wrote an error status to the byte
 * virtq_chain_tail() gives).
 */
struct virtq_chain {
	uint16_t head; /* descriptor index to hand back with virtq_push() */
	uint16_t nread;
	uint16_t nwrite;
	enum virtq_chain_err err;
	bool complete;       /* the walk reached the end of the chain (err may still be set) */
	bool tail_writable;  /* the last buffer walked is device-writable */
	uint64_t read_bytes; /* sum of the readable lengths */
	uint64_t write_bytes;
	struct iovec iov[VIRTQ_MAX_SIZE];
};

struct virtq {
	const struct guest_mem *mem;
	uint16_t size;  /* 0 while not set up */
	bool event_idx; /* VIRTIO_F_EVENT_IDX negotiated */
	bool indirect;  /* VIRTIO_RING_F_INDIRECT_DESC negotiated */
	bool broken;    /* the driver broke the ring itself (avail idx ran ahead): stopped */
	struct virtq_config cfg;
	/* Host views of the checked ring areas (see the top comment). */
	struct vring_avail *avail;
	struct vring_used *used;
	uint16_t last_avail;     /* next avail ring slot to consume (free-running) */
	uint16_t used_idx;       /* our copy of used->idx (free-running) */
	uint16_t signalled_used; /* used_idx when virtq_should_notify() last ran */
	/* Counts ring-level errors (bad head index, runaway avail idx); may be NULL. Chain errors
	 * are reported to the device in chain->err and counted by it. */
	atomic_ulong *errors;
};

/* True when cfg describes a usable queue: size a power of 2 in [1, VIRTQ_MAX_SIZE], each area
 * aligned (desc 16, avail 2, used 4) and wholly inside one RAM slot. */
bool virtq_config_valid(const struct guest_mem *mem, const struct virtq_config *cfg);

/* Starts using a queue with the negotiated features (VIRTIO_F_EVENT_IDX and
 * VIRTIO_RING_F_INDIRECT_DESC bits are looked at). Indices start at 0. errors may be NULL.
 * 0, or -1 when !virtq_config_valid() (the queue is left reset). */
int virtq_setup(struct virtq *q, const struct guest_mem *mem, const struct virtq_config *cfg,
                uint64_t features, atomic_ulong *errors);
/* Forgets the queue (device reset); virtq_ready() is false afterwards. */
void virtq_reset(struct virtq *q);
static inline bool virtq_ready(const struct virtq *q)
{
	return q->size != 0 && !q->broken;
}

/*
 * Takes the next available chain.
 *   1: *chain filled (check chain->err); the caller owes one virtq_push() of chain->head.
 *   0: nothing available. With EVENT_IDX, avail_event has been re-armed before saying so, so
 *      the driver's next addition will notify us.
 *  -1: the queue is broken (not set up, or the driver moved avail->idx more than size ahead);
 *      the device should ask for a reset (virtio_mmio_needs_reset()).
 * Heads >= size are consumed, counted in *errors and skipped (there is nothing to return).
 */
int virtq_pop(struct virtq *q, struct virtq_chain *chain);

/* Walks the chain at head again, as virtq_pop() did when it handed it out: for a device
 * restored from a snapshot that still holds chains it had popped (the driver does not touch
 * a chain until it comes back in the used ring). 0 and *chain (check chain->err), or -1 when
 * the queue is not usable or head is out of range. */
int virtq_chain_at(struct virtq *q, uint16_t head, struct virtq_chain *chain);

/* Returns chain head to the driver with len bytes written into its writable buffers. */
void virtq_push(struct virtq *q, uint16_t head, uint32_t len);
/* Batched return: virtq_fill() writes used element used_idx + offset without publishing it;
 * virtq_flush() publishes count filled elements with one used->idx store. A device that returns
 * several chains as one unit (a merged virtio-net RX frame) fills them all, then flushes, so
 * the driver never sees part of the unit. */
void virtq_fill(struct virtq *q, uint16_t offset, uint16_t head, uint32_t len);
void virtq_flush(struct virtq *q, uint16_t count);

/* True when the driver wants an interrupt for what was pushed since the previous call
 * (VRING_AVAIL_F_NO_INTERRUPT, or used_event with vring_need_event() under EVENT_IDX).
 * Call once after a batch of pushes. */
bool virtq_should_notify(struct virtq *q);

/* Host pointer of the chain's last byte when the status byte of a request is reachable there:
 * the walk completed and the last buffer is device-writable, in RAM and not empty. Else NULL.
 * Devices whose request ends with a status byte (blk) write their error there. */
uint8_t *virtq_chain_tail(const struct virtq_chain *chain);

/* Copies up to len bytes starting skip bytes into iov[0..n) to dst; returns bytes copied. */
size_t virtq_iov_to_buf(const struct iovec *iov, unsigned n, size_t skip, void *dst, size_t len);
/* Copies up to len bytes from src into iov[0..n) starting skip bytes in; returns bytes copied. */
size_t virtq_iov_from_buf(const struct iovec *iov, unsigned n, size_t skip, const void *src,
                          size_t len);

#endif

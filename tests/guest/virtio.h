/*
 * virtio.h - the guest's own virtio 1.x definitions (it cannot include host headers) and the
 * small polled driver library in virtio.c: virtio-mmio version 2 (modern) transport, split
 * virtqueues, no interrupts (the used ring is polled, with bounded waits).
 */
#ifndef WISP_GUEST_VIRTIO_H
#define WISP_GUEST_VIRTIO_H

#include "guest.h"

/* virtio-mmio registers (virtio 1.x, 4.2.2). */
#define VIRTIO_MMIO_MAGIC_VALUE         0x000 /* "virt" */
#define VIRTIO_MMIO_VERSION             0x004 /* 2 = modern */
#define VIRTIO_MMIO_DEVICE_ID           0x008
#define VIRTIO_MMIO_VENDOR_ID           0x00c
#define VIRTIO_MMIO_DEVICE_FEATURES     0x010
#define VIRTIO_MMIO_DEVICE_FEATURES_SEL 0x014
#define VIRTIO_MMIO_DRIVER_FEATURES     0x020
#define VIRTIO_MMIO_DRIVER_FEATURES_SEL 0x024
#define VIRTIO_MMIO_QUEUE_SEL           0x030
#define VIRTIO_MMIO_QUEUE_NUM_MAX       0x034
#define VIRTIO_MMIO_QUEUE_NUM           0x038
#define VIRTIO_MMIO_QUEUE_READY         0x044
#define VIRTIO_MMIO_QUEUE_NOTIFY        0x050
#define VIRTIO_MMIO_INTERRUPT_STATUS    0x060
#define VIRTIO_MMIO_INTERRUPT_ACK       0x064
#define VIRTIO_MMIO_STATUS              0x070
#define VIRTIO_MMIO_QUEUE_DESC_LOW      0x080
#define VIRTIO_MMIO_QUEUE_DESC_HIGH     0x084
#define VIRTIO_MMIO_QUEUE_DRIVER_LOW    0x090
#define VIRTIO_MMIO_QUEUE_DRIVER_HIGH   0x094
#define VIRTIO_MMIO_QUEUE_DEVICE_LOW    0x0a0
#define VIRTIO_MMIO_QUEUE_DEVICE_HIGH   0x0a4
#define VIRTIO_MMIO_CONFIG_GENERATION   0x0fc
#define VIRTIO_MMIO_CONFIG              0x100

#define VIRTIO_MMIO_MAGIC 0x74726976

/* Device status bits. */
#define VIRTIO_STATUS_ACKNOWLEDGE 1
#define VIRTIO_STATUS_DRIVER      2
#define VIRTIO_STATUS_DRIVER_OK   4
#define VIRTIO_STATUS_FEATURES_OK 8
#define VIRTIO_STATUS_NEEDS_RESET 64
#define VIRTIO_STATUS_FAILED      128

#define VIRTIO_F_VERSION_1          32
#define VIRTIO_RING_F_INDIRECT_DESC 28
#define VIRTIO_RING_F_EVENT_IDX     29

#define VIRTIO_ID_NET   1
#define VIRTIO_ID_BLOCK 2

/* Split virtqueue (virtio 1.x, 2.7). */
#define VIRTQ_DESC_F_NEXT          1
#define VIRTQ_DESC_F_WRITE         2
#define VIRTQ_AVAIL_F_NO_INTERRUPT 1

struct virtq_desc {
	u64 addr;
	u32 len;
	u16 flags;
	u16 next;
} __packed;

struct virtq_avail {
	u16 flags;
	u16 idx;
	u16 ring[]; /* followed by used_event (EVENT_IDX only) */
} __packed;

struct virtq_used_elem {
	u32 id;
	u32 len;
} __packed;

struct virtq_used {
	u16 flags;
	u16 idx;
	struct virtq_used_elem ring[];
} __packed;

/* virtio-blk (virtio 1.x, 5.2). */
#define VIRTIO_BLK_F_SIZE_MAX 1
#define VIRTIO_BLK_F_SEG_MAX  2
#define VIRTIO_BLK_F_RO       5
#define VIRTIO_BLK_F_BLK_SIZE 6
#define VIRTIO_BLK_F_FLUSH    9

#define VIRTIO_BLK_T_IN     0
#define VIRTIO_BLK_T_OUT    1
#define VIRTIO_BLK_T_FLUSH  4
#define VIRTIO_BLK_T_GET_ID 8

#define VIRTIO_BLK_S_OK     0
#define VIRTIO_BLK_S_IOERR  1
#define VIRTIO_BLK_S_UNSUPP 2

#define VIRTIO_BLK_ID_BYTES 20
#define VIRTIO_BLK_SECTOR   512

struct virtio_blk_req_hdr {
	u32 type;
	u32 reserved;
	u64 sector;
} __packed;

/* ---- the driver library (virtio.c) ---- */

#define VIRTIO_MAX_DEVS 18

/* One virtio-mmio device from a virtio_mmio.device= word. */
struct virtio_dev {
	u64 base;
	u32 irq;
	u32 device_id; /* 0: no device behind this window */
	u64 features;  /* offered by the device */
};

/* One queue; memory for up to VIRTQ_MAX_SIZE entries comes from virtio.c. */
#define VIRTQ_MAX_SIZE 256
struct virtq {
	struct virtio_dev *dev;
	u16 index, size;
	volatile struct virtq_desc *desc;
	volatile struct virtq_avail *avail;
	volatile struct virtq_used *used;
	u16 avail_idx;  /* next free avail slot (free-running) */
	u16 used_seen;  /* used entries consumed (free-running) */
	bool event_idx; /* VIRTIO_RING_F_EVENT_IDX negotiated: set by the caller */
};

/* The EVENT_IDX fields: used_event after the avail ring (written by us), avail_event after
 * the used ring (written by the device). */
static inline volatile u16 *virtq_used_event(struct virtq *q)
{
	return (volatile u16 *)((u64)q->avail + 4 + 2 * q->size);
}
static inline volatile u16 *virtq_avail_event(struct virtq *q)
{
	return (volatile u16 *)((u64)q->used + 4 + 8 * q->size);
}

/* The virtio-mmio devices the DSDT describes (acpi_dsdt.c): up to max of them, base and irq
 * filled in; 0 when there are no ACPI tables. */
int acpi_virtio_devices(struct virtio_dev *devs, int max);

/* Parses every virtio_mmio.device=<size>@<addr>:<irq>[:<id>] word and probes the windows.
 * Returns the number of devices found (fails the test on a malformed word). */
int virtio_discover(struct virtio_dev *devs, int max);
/* The index-th device with this device id, or NULL. */
struct virtio_dev *virtio_find(struct virtio_dev *devs, int n, u32 device_id, int index);
/* Reset, ACKNOWLEDGE|DRIVER, negotiate VERSION_1 plus `wanted` & offered, FEATURES_OK.
 * Returns the negotiated features; fails the test if the device refuses. */
u64 virtio_init(struct virtio_dev *dev, u64 wanted);
/* Sets up queue `index` with up to `size` entries (a power of two, <= VIRTQ_MAX_SIZE). One
 * queue at a time: the library has memory for one. */
void virtq_setup(struct virtq *q, struct virtio_dev *dev, u16 index, u16 size);
/* Bytes of ring memory for a queue of n entries: descriptors, avail ring, then the used ring
 * on the next page (event fields included), rounded up to whole pages so that arrays of
 * rings stay aligned. */
#define VIRTQ_PAGES(b)     (((b) + 4095) / 4096 * 4096)
#define VIRTQ_MEM_BYTES(n) VIRTQ_PAGES(VIRTQ_PAGES(16 * (n) + 6 + 2 * (n)) + 6 + 8 * (n))
/* The same with the caller's ring memory (4 KiB aligned, VIRTQ_MEM_BYTES(size) bytes, zeroed
 * here), for drivers with several queues; size may exceed VIRTQ_MAX_SIZE. */
void virtq_setup_mem(struct virtq *q, struct virtio_dev *dev, u16 index, u16 size, void *mem);
/* Sets DRIVER_OK. */
void virtio_ready(struct virtio_dev *dev);
/* Publishes the chain starting at descriptor head (no notify). */
void virtq_push(struct virtq *q, u16 head);
void virtq_notify(struct virtq *q);
/* Notifies for the entries pushed since avail index old, unless EVENT_IDX is on and the
 * device's avail_event says it will look anyway. Returns true if it wrote QueueNotify.
 * CPL0 or CPL3. */
bool virtq_kick(struct virtq *q, u16 old);
/* Waits for the next used element until the TSC passes deadline; false on timeout. */
bool virtq_pop(struct virtq *q, u64 deadline, struct virtq_used_elem *out);
u32 virtio_read32(struct virtio_dev *dev, u32 reg);
void virtio_write32(struct virtio_dev *dev, u32 reg, u32 v);

#endif

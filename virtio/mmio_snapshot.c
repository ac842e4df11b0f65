/*
 * mmio_snapshot.c - a virtio-mmio transport's state in a snapshot (section "VMIO").
 *
 * Layout (docs/snapshot-format.md), little-endian:
 *   u32 device_id, u32 nqueues, u32 status, u32 device_features_sel,
 *   u32 driver_features_sel, u32 queue_sel, u64 driver_features, u32 config_generation,
 *   u32 interrupt_status, u32 flags (bit 0: active), u32 0, u64 features (negotiated),
 *   then per queue: u32 size, u32 flags (bit 0: ready, bit 1: broken), u64 desc, u64 avail,
 *   u64 used, u32 last_avail | used_idx << 16, u32 signalled_used.
 * The virtqueue's host views (avail, used) are not saved: restore sets the queue up again
 * over the new process's RAM, from the same guest-physical addresses.
 */
#include "virtio/mmio.h"

#include <stdio.h>
#include <string.h>

#include "vmm/layout.h"
#include "vmm/snapshot/snapfile.h"

#define FLAG_ACTIVE  0x1u
#define QFLAG_READY  0x1u
#define QFLAG_BROKEN 0x2u
#define STATUS_KNOWN_BITS                                                                          \
	(VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER | VIRTIO_CONFIG_S_FEATURES_OK |      \
	 VIRTIO_CONFIG_S_DRIVER_OK | VIRTIO_CONFIG_S_FAILED | VIRTIO_CONFIG_S_NEEDS_RESET)
#define INT_KNOWN_BITS (VIRTIO_MMIO_INT_VRING | VIRTIO_MMIO_INT_CONFIG)

uint32_t virtio_mmio_instance(const struct virtio_mmio *t)
{
	/* base 0: a transport of a unit test or fuzzer, alone in its "VM" */
	if (t->base < LAYOUT_VIRTIO_MMIO_BASE)
		return 0;
	return (uint32_t)((t->base - LAYOUT_VIRTIO_MMIO_BASE) / LAYOUT_VIRTIO_MMIO_SIZE);
}

void virtio_mmio_save(const struct virtio_mmio *t, struct snap_writer *w)
{
	struct virtio_mmio *m = (struct virtio_mmio *)t; /* the lock only */

	pthread_mutex_lock(&m->lock);
	snap_begin(w, SNAP_TAG_VIRTIO_MMIO, virtio_mmio_instance(t));
	snap_put_u32(w, t->ops->device_id);
	snap_put_u32(w, t->nqueues);
	snap_put_u32(w, t->status);
	snap_put_u32(w, t->device_features_sel);
	snap_put_u32(w, t->driver_features_sel);
	snap_put_u32(w, t->queue_sel);
	snap_put_u64(w, t->driver_features);
	snap_put_u32(w, atomic_load(&t->config_generation));
	snap_put_u32(w, atomic_load(&t->interrupt_status));
	snap_put_u32(w, t->active ? FLAG_ACTIVE : 0);
	snap_put_u32(w, 0);
	snap_put_u64(w, t->features);
	for (unsigned i = 0; i < t->nqueues; i++) {
		const struct virtio_mmio_queue_regs *r = &t->qregs[i];
		const struct virtq *q = &t->queues[i];

		snap_put_u32(w, r->cfg.size);
		snap_put_u32(w, (r->ready ? QFLAG_READY : 0) | (q->broken ? QFLAG_BROKEN : 0));
		snap_put_u64(w, r->cfg.desc_gpa);
		snap_put_u64(w, r->cfg.avail_gpa);
		snap_put_u64(w, r->cfg.used_gpa);
		snap_put_u32(w, (uint32_t)q->last_avail | (uint32_t)q->used_idx << 16);
		snap_put_u32(w, q->signalled_used);
	}
	snap_end(w);
	pthread_mutex_unlock(&m->lock);
}

/* One queue as read from the section. */
struct saved_queue {
	struct virtq_config cfg;
	uint32_t flags;
	uint16_t last_avail, used_idx, signalled_used;
};

static int bad(char *err, size_t errlen, const struct virtio_mmio *t, const char *why)
{
	snprintf(err, errlen, "%s state (virtio-mmio slot %u): %s", t->ops->name,
	         virtio_mmio_instance(t), why);
	return -1;
}

int virtio_mmio_restore(struct virtio_mmio *t, const struct snap_section *s, char *err,
                        size_t errlen)
{
	struct saved_queue q[VIRTIO_MMIO_MAX_QUEUES];
	struct snap_cursor c;
	uint32_t device_id, nqueues, status, dfsel, drfsel, qsel, gen, isr, flags;
	uint64_t driver_features, features, offered;

	snap_cursor_init(&c, s);
	device_id = snap_get_u32(&c);
	nqueues = snap_get_u32(&c);
	if (c.bad || device_id != t->ops->device_id || nqueues != t->nqueues)
		return bad(err, errlen, t, "saved for another kind of device");
	status = snap_get_u32(&c);
	dfsel = snap_get_u32(&c);
	drfsel = snap_get_u32(&c);
	qsel = snap_get_u32(&c);
	driver_features = snap_get_u64(&c);
	gen = snap_get_u32(&c);
	isr = snap_get_u32(&c);
	flags = snap_get_u32(&c);
	(void)snap_get_u32(&c);
	features = snap_get_u64(&c);
	for (unsigned i = 0; i < nqueues; i++) {
		uint32_t idx;

		q[i].cfg.size = (uint16_t)snap_get_u32(&c);
		q[i].flags = snap_get_u32(&c);
		q[i].cfg.desc_gpa = snap_get_u64(&c);
		q[i].cfg.avail_gpa = snap_get_u64(&c);
		q[i].cfg.used_gpa = snap_get_u64(&c);
		idx = snap_get_u32(&c);
		q[i].last_avail = (uint16_t)idx;
		q[i].used_idx = (uint16_t)(idx >> 16);
		q[i].signalled_used = (uint16_t)snap_get_u32(&c);
	}
	if (!snap_cursor_done(&c))
		return bad(err, errlen, t, "malformed section");
	pthread_mutex_lock(&t->lock);
	offered = t->ops->features(t->dev) | VIRTIO_MMIO_TRANSPORT_FEATURES;
	pthread_mutex_unlock(&t->lock);
	if (status & ~STATUS_KNOWN_BITS || isr & ~INT_KNOWN_BITS || flags & ~FLAG_ACTIVE)
		return bad(err, errlen, t, "unknown status, interrupt or flag bits");
	if (driver_features & ~offered || features & ~offered)
		return bad(err, errlen, t, "features this device does not offer");
	if ((flags & FLAG_ACTIVE) && !(status & VIRTIO_CONFIG_S_DRIVER_OK))
		return bad(err, errlen, t, "active without DRIVER_OK");
	for (unsigned i = 0; i < nqueues; i++) {
		if (q[i].flags & ~(QFLAG_READY | QFLAG_BROKEN))
			return bad(err, errlen, t, "unknown queue flags");
		if ((q[i].flags & QFLAG_READY) && !virtq_config_valid(t->mem, &q[i].cfg))
			return bad(err, errlen, t, "a ready queue outside guest RAM or misaligned");
		if (q[i].cfg.size > VIRTQ_MAX_SIZE)
			return bad(err, errlen, t, "a queue larger than the device offers");
	}

	pthread_mutex_lock(&t->lock);
	t->status = status;
	t->device_features_sel = dfsel;
	t->driver_features_sel = drfsel;
	t->queue_sel = qsel;
	t->driver_features = driver_features;
	atomic_store(&t->config_generation, gen);
	atomic_store(&t->interrupt_status, isr);
	for (unsigned i = 0; i < nqueues; i++) {
		t->qregs[i].cfg = q[i].cfg;
		t->qregs[i].ready = q[i].flags & QFLAG_READY;
	}
	pthread_mutex_unlock(&t->lock);
	t->active = flags & FLAG_ACTIVE;
	t->features = t->active ? features : 0;
	for (unsigned i = 0; i < nqueues; i++) {
		struct virtq *vq = &t->queues[i];

		virtq_reset(vq);
		if (!t->active || !(q[i].flags & QFLAG_READY))
			continue;
		/* Cannot fail: the configuration was checked above against the same RAM. */
		if (virtq_setup(vq, t->mem, &q[i].cfg, features, &t->errors) < 0)
			return bad(err, errlen, t, "a queue cannot be set up");
		vq->last_avail = q[i].last_avail;
		vq->used_idx = q[i].used_idx;
		vq->signalled_used = q[i].signalled_used;
		vq->broken = q[i].flags & QFLAG_BROKEN;
	}
	return 0;
}

/*
 * fuzz_virtq.c - the split virtqueue and the virtio-mmio transport against hostile guests.
 *
 * Input layout:
 *   byte 0      queue size = 1 << (b & 15) (sizes above 256 or 0 must be refused)
 *   byte 1      driver features: bit 0 INDIRECT_DESC, bit 1 EVENT_IDX, bit 2 omit VERSION_1
 *   bytes 2..41 eight register writes {u8 offset / 4, u32 value} after the normal bring-up
 *   the rest    guest RAM image (FUZZ_RAM bytes, zero-padded): descriptor table at 0,
 *               avail ring at 0x1000, used ring at 0x2000, buffers anywhere
 * The device pops every chain, reads every readable byte and writes every writable one (so
 * ASan sees any iovec outside RAM), pushes it back and asks whether to interrupt.
 */
#include <stdlib.h>
#include <string.h>

#include "virtio/mmio.h"

#define FUZZ_RAM   0x4000u
#define FUZZ_DESC  0x0u
#define FUZZ_AVAIL 0x1000u
#define FUZZ_USED  0x2000u
#define FUZZ_HDR   42u

struct fuzz_dev {
	struct virtio_mmio t;
	struct virtq_chain chain;
	unsigned long sink;
};

static uint64_t dev_features(void *dev)
{
	(void)dev;
	return 0;
}

static void dev_config_read(void *dev, uint32_t off, uint8_t *data, uint32_t len)
{
	(void)dev;
	(void)off;
	memset(data, 0, len);
}

static int dev_activate(void *dev, uint64_t features)
{
	(void)dev;
	(void)features;
	return 0;
}

static void touch_chain(struct fuzz_dev *d, const struct virtq_chain *c)
{
	for (unsigned i = 0; i < c->nread + c->nwrite; i++) {
		uint8_t *p = c->iov[i].iov_base;

		if (!p)
			continue;
		for (size_t j = 0; j < c->iov[i].iov_len; j++) {
			if (i < c->nread)
				d->sink += p[j];
			else
				p[j] = (uint8_t)j;
		}
	}
}

static void dev_notify(void *dev, unsigned qidx)
{
	struct fuzz_dev *d = dev;
	struct virtq *q = virtio_mmio_queue(&d->t, qidx);
	int rc;

	/* bounded: a queue holds at most size chains at once, and the driver cannot add any
	 * while we run */
	while ((rc = virtq_pop(q, &d->chain)) == 1) {
		if (d->chain.err == VIRTQ_CHAIN_OK)
			touch_chain(d, &d->chain);
		else if (virtq_chain_tail(&d->chain))
			*virtq_chain_tail(&d->chain) = 0xff;
		virtq_push(q, d->chain.head, (uint32_t)d->chain.write_bytes);
	}
	if (rc < 0)
		virtio_mmio_needs_reset(&d->t);
	virtio_mmio_signal_used(&d->t, qidx);
}

static const struct virtio_device_ops fuzz_ops = {
    .name = "fuzz",
    .device_id = 2,
    .features = dev_features,
    .config_read = dev_config_read,
    .activate = dev_activate,
    .queue_notify = dev_notify,
};

static void env_irq(void *opaque)
{
	(void)opaque;
}

static void env_kick(void *opaque, int qidx)
{
	struct fuzz_dev *d = opaque;

	if (qidx < 0)
		virtio_mmio_handle_control(&d->t);
	else
		virtio_mmio_handle_notify(&d->t, (unsigned)qidx);
}

static void wr(struct fuzz_dev *d, uint64_t off, uint32_t v)
{
	virtio_mmio_write(&d->t, off, (const uint8_t *)&v, 4);
}

static void bring_up(struct fuzz_dev *d, const uint8_t *data)
{
	uint32_t f = 0;

	if (data[1] & 1)
		f |= 1u << VIRTIO_RING_F_INDIRECT_DESC;
	if (data[1] & 2)
		f |= 1u << VIRTIO_RING_F_EVENT_IDX;
	wr(d, VIRTIO_MMIO_STATUS, VIRTIO_CONFIG_S_ACKNOWLEDGE);
	wr(d, VIRTIO_MMIO_STATUS, VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER);
	wr(d, VIRTIO_MMIO_DRIVER_FEATURES, f);
	wr(d, VIRTIO_MMIO_DRIVER_FEATURES_SEL, 1);
	wr(d, VIRTIO_MMIO_DRIVER_FEATURES, data[1] & 4 ? 0 : 1); /* VERSION_1 */
	wr(d, VIRTIO_MMIO_STATUS, 0xb);
	wr(d, VIRTIO_MMIO_QUEUE_SEL, 0);
	wr(d, VIRTIO_MMIO_QUEUE_NUM, 1u << (data[0] & 15));
	wr(d, VIRTIO_MMIO_QUEUE_DESC_LOW, FUZZ_DESC);
	wr(d, VIRTIO_MMIO_QUEUE_AVAIL_LOW, FUZZ_AVAIL);
	wr(d, VIRTIO_MMIO_QUEUE_USED_LOW, FUZZ_USED);
	wr(d, VIRTIO_MMIO_QUEUE_READY, 1);
	wr(d, VIRTIO_MMIO_STATUS, 0xf);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct fuzz_dev d;
	struct virtio_mmio_env env = {env_irq, env_kick, &d};
	struct guest_mem mem;
	uint8_t *ram;

	if (size < FUZZ_HDR)
		return 0;
	ram = aligned_alloc(4096, FUZZ_RAM);
	memset(ram, 0, FUZZ_RAM);
	memcpy(ram, data + FUZZ_HDR, size - FUZZ_HDR < FUZZ_RAM ? size - FUZZ_HDR : FUZZ_RAM);
	guest_mem_init_buffer(&mem, ram, FUZZ_RAM);
	virtio_mmio_init(&d.t, &mem, &fuzz_ops, &d, 2, &env);
	bring_up(&d, data);
	wr(&d, VIRTIO_MMIO_QUEUE_NOTIFY, 0);
	for (unsigned i = 0; i < 8; i++) {
		const uint8_t *w = data + 2 + 5 * i;
		uint32_t v;

		memcpy(&v, w + 1, 4);
		wr(&d, (uint64_t)w[0] * 4, v);
	}
	wr(&d, VIRTIO_MMIO_QUEUE_NOTIFY, 0);
	virtio_mmio_reset(&d.t);
	virtio_mmio_fini(&d.t);
	free(ram);
	return 0;
}

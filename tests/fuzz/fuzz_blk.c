/*
 * fuzz_blk.c - virtio-blk request parsing and execution against hostile guests.
 *
 * Input layout:
 *   byte 0      queue size = 1 << (b & 15)
 *   byte 1      driver features: bit 0 INDIRECT_DESC, bit 1 EVENT_IDX
 *   byte 2      drive: bit 0 read-only, bit 1 Writeback cache
 *   bytes 3..22 four register writes {u8 offset / 4, u32 value} after the bring-up
 *   the rest    guest RAM image (FUZZ_RAM bytes, zero-padded): descriptor table at 0,
 *               avail ring at 0x1000, used ring at 0x2000, headers/data/status anywhere
 * The disk is a 16-sector memfd, emptied before each input; the Sync engine runs requests.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <linux/virtio_blk.h>

#include "virtio/blk.h"

#define FUZZ_RAM     0x4000u
#define FUZZ_HDR     23u
#define FUZZ_SECTORS 16

struct fuzz_ctx {
	struct virtio_mmio t;
};

static void env_irq(void *opaque)
{
	(void)opaque;
}

static void env_kick(void *opaque, int qidx)
{
	struct fuzz_ctx *c = opaque;

	if (qidx < 0)
		virtio_mmio_handle_control(&c->t);
	else
		virtio_mmio_handle_notify(&c->t, (unsigned)qidx);
}

static void wr(struct fuzz_ctx *c, uint64_t off, uint32_t v)
{
	virtio_mmio_write(&c->t, off, (const uint8_t *)&v, 4);
}

static void bring_up(struct fuzz_ctx *c, const uint8_t *data)
{
	uint32_t f = (1u << VIRTIO_BLK_F_FLUSH) | (1u << VIRTIO_BLK_F_SEG_MAX) |
	             (1u << VIRTIO_BLK_F_BLK_SIZE);

	if (data[1] & 1)
		f |= 1u << VIRTIO_RING_F_INDIRECT_DESC;
	if (data[1] & 2)
		f |= 1u << VIRTIO_RING_F_EVENT_IDX;
	if (data[2] & 1)
		f |= 1u << VIRTIO_BLK_F_RO;
	wr(c, VIRTIO_MMIO_STATUS, VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER);
	wr(c, VIRTIO_MMIO_DRIVER_FEATURES, f);
	wr(c, VIRTIO_MMIO_DRIVER_FEATURES_SEL, 1);
	wr(c, VIRTIO_MMIO_DRIVER_FEATURES, 1); /* VERSION_1 */
	wr(c, VIRTIO_MMIO_STATUS, 0xb);
	wr(c, VIRTIO_MMIO_QUEUE_NUM, 1u << (data[0] & 15));
	wr(c, VIRTIO_MMIO_QUEUE_DESC_LOW, 0);
	wr(c, VIRTIO_MMIO_QUEUE_AVAIL_LOW, 0x1000);
	wr(c, VIRTIO_MMIO_QUEUE_USED_LOW, 0x2000);
	wr(c, VIRTIO_MMIO_QUEUE_READY, 1);
	wr(c, VIRTIO_MMIO_STATUS, 0xf);
}

/* The backing "file": a memfd reached through /proc so blk opens it like a path. */
static const char *disk_path(void)
{
	static char path[64];
	static int fd = -1;

	if (fd < 0) {
		fd = memfd_create("fuzz-blk-disk", MFD_CLOEXEC);
		snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	}
	if (ftruncate(fd, 0) < 0 || ftruncate(fd, FUZZ_SECTORS * 512) < 0)
		abort();
	return path;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct fuzz_ctx c;
	struct virtio_mmio_env env = {env_irq, env_kick, &c};
	struct drive_config cfg;
	struct guest_mem mem;
	struct blk_dev *b;
	char err[256];
	uint8_t *ram;

	if (size < FUZZ_HDR)
		return 0;
	memset(&cfg, 0, sizeof(cfg));
	snprintf(cfg.id, sizeof(cfg.id), "fuzz");
	cfg.path_on_host = (char *)disk_path();
	cfg.is_read_only = data[2] & 1;
	cfg.cache_type = data[2] & 2 ? CACHE_WRITEBACK : CACHE_UNSAFE;
	cfg.io_engine = IO_ENGINE_SYNC;
	ram = aligned_alloc(4096, FUZZ_RAM);
	memset(ram, 0, FUZZ_RAM);
	memcpy(ram, data + FUZZ_HDR, size - FUZZ_HDR < FUZZ_RAM ? size - FUZZ_HDR : FUZZ_RAM);
	guest_mem_init_buffer(&mem, ram, FUZZ_RAM);
	b = blk_dev_new(&cfg, &mem, NULL, err, sizeof(err));
	if (!b)
		abort(); /* the harness itself is broken */
	virtio_mmio_init(&c.t, &mem, &blk_virtio_ops, b, 1, &env);
	blk_dev_attach(b, &c.t);
	bring_up(&c, data);
	wr(&c, VIRTIO_MMIO_QUEUE_NOTIFY, 0);
	for (unsigned i = 0; i < 4; i++) {
		const uint8_t *w = data + 3 + 5 * i;
		uint32_t v;

		memcpy(&v, w + 1, 4);
		wr(&c, (uint64_t)w[0] * 4, v);
	}
	wr(&c, VIRTIO_MMIO_QUEUE_NOTIFY, 0);
	virtio_mmio_reset(&c.t);
	blk_dev_free(b);
	virtio_mmio_fini(&c.t);
	free(ram);
	return 0;
}

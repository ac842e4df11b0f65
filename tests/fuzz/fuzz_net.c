/*
 * fuzz_net.c - virtio-net against a hostile guest and arbitrary frames from the tap.
 *
 * Input layout:
 *   [0]      driver features: bit 0 MRG_RXBUF, 1 INDIRECT_DESC, 2 EVENT_IDX, 3 GUEST_TSO4
 *            (+GUEST_CSUM), 4 HOST_TSO4 (+CSUM)
 *   [1], [2] RX / TX queue size, as log2 (mod 9: 1..256)
 *   [3]      number of operations (at most FUZZ_MAX_OPS), then 4 bytes per operation
 *            {op, a, b_lo, b_hi} (see run_op: ring updates, notifies, tap frames, resets,
 *            config reads, rate limits that block for good)
 *   rest     the initial guest RAM image (rings, descriptors, buffers), from address 0
 * The rings sit at fixed addresses; descriptors and buffers point wherever the input says.
 * The tap is a SOCK_DGRAM socketpair; the host side sends frames and drains what TX wrote.
 * Rate limiters are either unlimited or blocked for good, so a run depends on the input only.
 */
#include <endian.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <linux/virtio_net.h>

#include "virtio/mmio.h"
#include "virtio/net.h"
#include "vmm/log.h"

#define FUZZ_RAM       0x10000u
#define FUZZ_MAX_OPS   64
#define FUZZ_FRAME_MAX 70000u
#define RX_DESC        0x0000u
#define RX_AVAIL       0x1000u
#define RX_USED        0x1400u
#define TX_DESC        0x2000u
#define TX_AVAIL       0x3000u
#define TX_USED        0x3400u

#define F(bit) (1ULL << (bit))

struct fuzz {
	uint8_t *ram;
	struct guest_mem mem;
	struct virtio_mmio t;
	struct net *n;
	int peer;
	uint64_t features;
	uint16_t qsize[2];
};

static void env_irq(void *opaque)
{
	(void)opaque;
}

static void env_kick(void *opaque, int qidx)
{
	struct fuzz *f = opaque;

	if (qidx < 0)
		virtio_mmio_handle_control(&f->t);
	else
		virtio_mmio_handle_notify(&f->t, (unsigned)qidx);
}

static void reg(struct fuzz *f, uint64_t off, uint32_t v)
{
	virtio_mmio_write(&f->t, off, (const uint8_t *)&v, 4);
}

static void queue(struct fuzz *f, unsigned i, uint32_t desc, uint32_t avail, uint32_t used)
{
	reg(f, VIRTIO_MMIO_QUEUE_SEL, i);
	reg(f, VIRTIO_MMIO_QUEUE_NUM, f->qsize[i]);
	reg(f, VIRTIO_MMIO_QUEUE_DESC_LOW, desc);
	reg(f, VIRTIO_MMIO_QUEUE_AVAIL_LOW, avail);
	reg(f, VIRTIO_MMIO_QUEUE_USED_LOW, used);
	reg(f, VIRTIO_MMIO_QUEUE_READY, 1);
}

static void driver_start(struct fuzz *f)
{
	uint32_t st = VIRTIO_CONFIG_S_ACKNOWLEDGE;

	reg(f, VIRTIO_MMIO_STATUS, 0);
	reg(f, VIRTIO_MMIO_STATUS, st);
	reg(f, VIRTIO_MMIO_STATUS, st |= VIRTIO_CONFIG_S_DRIVER);
	reg(f, VIRTIO_MMIO_DRIVER_FEATURES_SEL, 0);
	reg(f, VIRTIO_MMIO_DRIVER_FEATURES, (uint32_t)f->features);
	reg(f, VIRTIO_MMIO_DRIVER_FEATURES_SEL, 1);
	reg(f, VIRTIO_MMIO_DRIVER_FEATURES, (uint32_t)(f->features >> 32));
	reg(f, VIRTIO_MMIO_STATUS, st |= VIRTIO_CONFIG_S_FEATURES_OK);
	queue(f, 0, RX_DESC, RX_AVAIL, RX_USED);
	queue(f, 1, TX_DESC, TX_AVAIL, TX_USED);
	reg(f, VIRTIO_MMIO_STATUS, st | VIRTIO_CONFIG_S_DRIVER_OK);
}

static uint64_t pick_features(uint8_t b)
{
	uint64_t feat = F(VIRTIO_F_VERSION_1) | F(VIRTIO_NET_F_MAC);

	if (b & 1)
		feat |= F(VIRTIO_NET_F_MRG_RXBUF);
	if (b & 2)
		feat |= F(VIRTIO_RING_F_INDIRECT_DESC);
	if (b & 4)
		feat |= F(VIRTIO_RING_F_EVENT_IDX);
	if (b & 8)
		feat |= F(VIRTIO_NET_F_GUEST_CSUM) | F(VIRTIO_NET_F_GUEST_TSO4);
	if (b & 16)
		feat |= F(VIRTIO_NET_F_CSUM) | F(VIRTIO_NET_F_HOST_TSO4);
	return feat;
}

/* The driver publishes count more avail entries (their contents come from the RAM image). */
static void avail_add(struct fuzz *f, unsigned qi, uint8_t count)
{
	uint64_t at = (qi ? TX_AVAIL : RX_AVAIL) + 2;
	uint16_t idx;

	memcpy(&idx, f->ram + at, 2);
	idx = htole16((uint16_t)(le16toh(idx) + count));
	memcpy(f->ram + at, &idx, 2);
}

static void host_send(struct fuzz *f, uint32_t len, uint8_t seed)
{
	static uint8_t frame[FUZZ_FRAME_MAX];

	if (len > sizeof(frame))
		len = sizeof(frame);
	memset(frame, seed, len);
	if (send(f->peer, frame, len, MSG_DONTWAIT) < 0) {
		/* full: the device is not reading; fine */
	}
}

static void host_drain(struct fuzz *f)
{
	static uint8_t buf[FUZZ_FRAME_MAX];

	while (recv(f->peer, buf, sizeof(buf), MSG_DONTWAIT) > 0)
		;
}

/* A limiter that lets a few frames or bytes through and then blocks for good (refill in
 * ~1000 years), so that runs stay independent of time. */
static void limit(struct fuzz *f, uint8_t how)
{
	struct rate_limiter_config lim = {0};
	struct token_bucket_config tb = {.set = true, .size = 1 + how / 4, .refill_time_ms = ~0ULL};
	char err[128];

	if (how & 2)
		lim.bandwidth = tb;
	else
		lim.ops = tb;
	net_update(NULL, "fuzz0", how & 1 ? &lim : NULL, how & 1 ? NULL : &lim, err, sizeof(err));
	(void)f;
}

static void run_op(struct fuzz *f, const uint8_t *op)
{
	uint32_t b = op[2] | (uint32_t)op[3] << 8;

	switch (op[0] % 11) {
	case 0:
		avail_add(f, op[1] & 1, op[1] >> 1);
		break;
	case 1:
		reg(f, VIRTIO_MMIO_QUEUE_NOTIFY, op[1] & 1);
		break;
	case 2:
		host_send(f, b + (op[1] & 1 ? 0x10000 : 0), op[1]);
		break;
	case 3:
		net_handle_tap(f->n, EPOLLIN | EPOLLOUT);
		break;
	case 4:
		driver_start(f);
		break;
	case 5:
		host_drain(f);
		break;
	case 6:
		f->ram[b % FUZZ_RAM] = op[1]; /* the guest rewrites memory under the device */
		break;
	case 7:
		net_handle_rx_timer(f->n, EPOLLIN);
		net_handle_tx_timer(f->n, EPOLLIN);
		break;
	case 8:
		reg(f, VIRTIO_MMIO_STATUS, 0);
		virtio_mmio_handle_control(&f->t);
		break;
	case 9: {
		uint8_t buf[8];

		virtio_mmio_read(&f->t, VIRTIO_MMIO_CONFIG + (b % 0x100), buf, 1 + op[1] % 8);
		break;
	}
	case 10:
		limit(f, op[1]);
		break;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const struct net_config cfg = {.id = "fuzz0"};
	struct virtio_mmio_env env = {env_irq, env_kick, NULL};
	struct fuzz *f;
	unsigned nops;
	size_t ops_end;
	int sv[2];

	if (size < 4)
		return 0;
	log_set_level(LOG_ERROR);
	nops = data[3] % (FUZZ_MAX_OPS + 1);
	ops_end = 4 + 4 * (size_t)nops;
	if (ops_end > size)
		return 0;
	if (socketpair(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv) < 0)
		return 0;
	f = calloc(1, sizeof(*f));
	f->ram = calloc(1, FUZZ_RAM);
	memcpy(f->ram, data + ops_end, size - ops_end < FUZZ_RAM ? size - ops_end : FUZZ_RAM);
	guest_mem_init_buffer(&f->mem, f->ram, FUZZ_RAM);
	f->peer = sv[1];
	f->features = pick_features(data[0]);
	f->qsize[0] = (uint16_t)(1u << (data[1] % 9));
	f->qsize[1] = (uint16_t)(1u << (data[2] % 9));
	f->n = net_new(&cfg, sv[0]);
	if (!f->n)
		abort();
	env.opaque = f;
	virtio_mmio_init(&f->t, &f->mem, &net_virtio_ops, f->n, 2, &env);
	net_attach(f->n, &f->t);
	driver_start(f);
	for (unsigned i = 0; i < nops; i++)
		run_op(f, data + 4 + 4 * i);
	/* Always end with a full round, so every input reaches RX and TX. */
	reg(f, VIRTIO_MMIO_QUEUE_NOTIFY, 0);
	reg(f, VIRTIO_MMIO_QUEUE_NOTIFY, 1);
	net_handle_tap(f->n, EPOLLIN | EPOLLOUT);
	net_free(f->n);
	virtio_mmio_fini(&f->t);
	close(f->peer);
	free(f->ram);
	free(f);
	return 0;
}

/* test_mmio.c - virtio-mmio v2 transport: registers, status machine, queues, interrupts. */
#include "tests/unit/test_virtq_ring.h"
#include "tests/unit/unit.h"
#include "virtio/mmio.h"
#include "vmm/snapshot/snapfile.h"

#include <linux/virtio_ids.h>
#include <stdlib.h>

#define FAKE_FEATURE (1ULL << 5)

struct fake_dev {
	struct virtio_mmio *t;
	uint8_t config[8];
	unsigned activations, resets, notifies, irqs;
	uint64_t features;
	int activate_rc;
};

static uint64_t fake_features(void *dev)
{
	(void)dev;
	return FAKE_FEATURE;
}

static void fake_config_read(void *dev, uint32_t off, uint8_t *data, uint32_t len)
{
	struct fake_dev *f = dev;

	for (uint32_t i = 0; i < len; i++)
		data[i] = off + i < sizeof(f->config) ? f->config[off + i] : 0;
}

static int fake_activate(void *dev, uint64_t features)
{
	struct fake_dev *f = dev;

	f->activations++;
	f->features = features;
	return f->activate_rc;
}

static void fake_notify(void *dev, unsigned qidx)
{
	struct fake_dev *f = dev;

	(void)qidx;
	f->notifies++;
}

static void fake_reset(void *dev)
{
	((struct fake_dev *)dev)->resets++;
}

static const struct virtio_device_ops fake_ops = {
    .name = "fake",
    .device_id = VIRTIO_ID_BLOCK,
    .features = fake_features,
    .config_read = fake_config_read,
    .activate = fake_activate,
    .queue_notify = fake_notify,
    .reset = fake_reset,
};

/* The event loop, run synchronously. */
static void fake_irq(void *opaque)
{
	((struct fake_dev *)opaque)->irqs++;
}

static void fake_kick(void *opaque, int qidx)
{
	struct fake_dev *f = opaque;

	if (qidx < 0)
		virtio_mmio_handle_control(f->t);
	else
		virtio_mmio_handle_notify(f->t, (unsigned)qidx);
}

static struct virtio_mmio tp;
static struct fake_dev fd;
static struct tring ring;

static void setup(void)
{
	struct virtio_mmio_env env = {fake_irq, fake_kick, &fd};

	memset(&fd, 0, sizeof(fd));
	memcpy(fd.config, "\x01\x02\x03\x04\x05\x06\x07\x08", 8);
	tr_init(&ring, 16, ~0ULL);
	virtio_mmio_init(&tp, &ring.mem, &fake_ops, &fd, 2, &env);
	fd.t = &tp;
}

static void teardown(void)
{
	virtio_mmio_fini(&tp);
	tr_fini(&ring);
}

static uint32_t rd(uint64_t off)
{
	uint32_t v;

	virtio_mmio_read(&tp, off, (uint8_t *)&v, 4);
	return v;
}

static void wr(uint64_t off, uint32_t v)
{
	virtio_mmio_write(&tp, off, (const uint8_t *)&v, 4);
}

static void negotiate(uint64_t features)
{
	wr(VIRTIO_MMIO_STATUS, VIRTIO_CONFIG_S_ACKNOWLEDGE);
	wr(VIRTIO_MMIO_STATUS, VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER);
	wr(VIRTIO_MMIO_DRIVER_FEATURES_SEL, 0);
	wr(VIRTIO_MMIO_DRIVER_FEATURES, (uint32_t)features);
	wr(VIRTIO_MMIO_DRIVER_FEATURES_SEL, 1);
	wr(VIRTIO_MMIO_DRIVER_FEATURES, (uint32_t)(features >> 32));
	wr(VIRTIO_MMIO_STATUS, rd(VIRTIO_MMIO_STATUS) | VIRTIO_CONFIG_S_FEATURES_OK);
}

static void setup_queue(uint32_t sel, const struct virtq_config *c)
{
	wr(VIRTIO_MMIO_QUEUE_SEL, sel);
	wr(VIRTIO_MMIO_QUEUE_NUM, c->size);
	wr(VIRTIO_MMIO_QUEUE_DESC_LOW, (uint32_t)c->desc_gpa);
	wr(VIRTIO_MMIO_QUEUE_DESC_HIGH, (uint32_t)(c->desc_gpa >> 32));
	wr(VIRTIO_MMIO_QUEUE_AVAIL_LOW, (uint32_t)c->avail_gpa);
	wr(VIRTIO_MMIO_QUEUE_AVAIL_HIGH, (uint32_t)(c->avail_gpa >> 32));
	wr(VIRTIO_MMIO_QUEUE_USED_LOW, (uint32_t)c->used_gpa);
	wr(VIRTIO_MMIO_QUEUE_USED_HIGH, (uint32_t)(c->used_gpa >> 32));
	wr(VIRTIO_MMIO_QUEUE_READY, 1);
}

#define ALL_FEATURES (FAKE_FEATURE | VIRTIO_MMIO_TRANSPORT_FEATURES)

UNIT_TEST(mmio_identity_registers)
{
	setup();
	CHECK_EQ(rd(VIRTIO_MMIO_MAGIC_VALUE), 0x74726976);
	CHECK_EQ(rd(VIRTIO_MMIO_VERSION), 2);
	CHECK_EQ(rd(VIRTIO_MMIO_DEVICE_ID), VIRTIO_ID_BLOCK);
	CHECK_EQ(rd(VIRTIO_MMIO_VENDOR_ID), VIRTIO_MMIO_VENDOR_WISP);
	CHECK_EQ(rd(VIRTIO_MMIO_DEVICE_FEATURES), (uint32_t)ALL_FEATURES);
	wr(VIRTIO_MMIO_DEVICE_FEATURES_SEL, 1);
	CHECK_EQ(rd(VIRTIO_MMIO_DEVICE_FEATURES), 1); /* VERSION_1 is bit 32 */
	wr(VIRTIO_MMIO_DEVICE_FEATURES_SEL, 2);
	CHECK_EQ(rd(VIRTIO_MMIO_DEVICE_FEATURES), 0);
	CHECK_EQ(rd(VIRTIO_MMIO_QUEUE_NUM_MAX), VIRTQ_MAX_SIZE);
	wr(VIRTIO_MMIO_QUEUE_SEL, 2); /* only 2 queues */
	CHECK_EQ(rd(VIRTIO_MMIO_QUEUE_NUM_MAX), 0);
	CHECK_EQ(rd(VIRTIO_MMIO_STATUS), 0);
	CHECK_EQ(rd(VIRTIO_MMIO_SHM_LEN_LOW), 0xffffffff);
	/* only aligned 32-bit register accesses */
	uint16_t half = 0x1234;
	virtio_mmio_read(&tp, VIRTIO_MMIO_MAGIC_VALUE, (uint8_t *)&half, 2);
	CHECK_EQ(half, 0);
	CHECK_EQ(atomic_load(&tp.errors), 1);
	teardown();
}

UNIT_TEST(mmio_feature_negotiation)
{
	setup();
	negotiate(ALL_FEATURES);
	CHECK_EQ(rd(VIRTIO_MMIO_STATUS), VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER |
	                                     VIRTIO_CONFIG_S_FEATURES_OK);
	/* features are frozen after FEATURES_OK */
	wr(VIRTIO_MMIO_DRIVER_FEATURES_SEL, 0);
	wr(VIRTIO_MMIO_DRIVER_FEATURES, 0);
	CHECK_EQ(tp.driver_features, ALL_FEATURES);
	CHECK_EQ(atomic_load(&tp.errors), 1);
	teardown();
}

UNIT_TEST(mmio_refuses_driver_without_version_1)
{
	setup();
	negotiate(FAKE_FEATURE | (1ULL << VIRTIO_RING_F_INDIRECT_DESC)); /* a legacy driver */
	CHECK_EQ(rd(VIRTIO_MMIO_STATUS), VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER);
	CHECK(atomic_load(&tp.errors) >= 1);
	/* and DRIVER_OK cannot follow */
	wr(VIRTIO_MMIO_STATUS, rd(VIRTIO_MMIO_STATUS) | VIRTIO_CONFIG_S_DRIVER_OK);
	CHECK(!(rd(VIRTIO_MMIO_STATUS) & VIRTIO_CONFIG_S_DRIVER_OK));
	CHECK_EQ(fd.activations, 0);
	teardown();
}

UNIT_TEST(mmio_refuses_unoffered_features)
{
	setup();
	negotiate(ALL_FEATURES | (1ULL << 7));
	CHECK(!(rd(VIRTIO_MMIO_STATUS) & VIRTIO_CONFIG_S_FEATURES_OK));
	teardown();
}

UNIT_TEST(mmio_status_order)
{
	setup();
	wr(VIRTIO_MMIO_STATUS, VIRTIO_CONFIG_S_DRIVER); /* DRIVER before ACKNOWLEDGE */
	CHECK_EQ(rd(VIRTIO_MMIO_STATUS), 0);
	wr(VIRTIO_MMIO_STATUS, VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER);
	CHECK_EQ(rd(VIRTIO_MMIO_STATUS), VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER);
	wr(VIRTIO_MMIO_STATUS, VIRTIO_CONFIG_S_ACKNOWLEDGE); /* clearing a bit */
	CHECK_EQ(rd(VIRTIO_MMIO_STATUS), VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER);
	wr(VIRTIO_MMIO_STATUS, rd(VIRTIO_MMIO_STATUS) | VIRTIO_CONFIG_S_DRIVER_OK);
	CHECK(!(rd(VIRTIO_MMIO_STATUS) & VIRTIO_CONFIG_S_DRIVER_OK));
	wr(VIRTIO_MMIO_STATUS, rd(VIRTIO_MMIO_STATUS) | VIRTIO_CONFIG_S_FAILED);
	CHECK(rd(VIRTIO_MMIO_STATUS) & VIRTIO_CONFIG_S_FAILED);
	CHECK_EQ(atomic_load(&tp.errors), 3);
	teardown();
}

UNIT_TEST(mmio_queue_setup_validation)
{
	struct virtq_config c = ring.cfg;

	setup();
	c = ring.cfg;
	negotiate(ALL_FEATURES);
	c.size = 12; /* not a power of 2 */
	setup_queue(0, &c);
	CHECK_EQ(rd(VIRTIO_MMIO_QUEUE_READY), 0);
	c.size = 512; /* above QueueNumMax */
	setup_queue(0, &c);
	CHECK_EQ(rd(VIRTIO_MMIO_QUEUE_READY), 0);
	c = ring.cfg;
	c.used_gpa += 2; /* misaligned */
	setup_queue(0, &c);
	CHECK_EQ(rd(VIRTIO_MMIO_QUEUE_READY), 0);
	c = ring.cfg;
	c.avail_gpa = 1ULL << 40; /* not RAM */
	setup_queue(0, &c);
	CHECK_EQ(rd(VIRTIO_MMIO_QUEUE_READY), 0);
	CHECK_EQ(atomic_load(&tp.errors), 5);
	setup_queue(0, &ring.cfg);
	CHECK_EQ(rd(VIRTIO_MMIO_QUEUE_READY), 1);
	CHECK_EQ(rd(VIRTIO_MMIO_QUEUE_NUM), 16);
	CHECK_EQ(rd(VIRTIO_MMIO_QUEUE_DESC_LOW), TR_DESC);
	/* a ready queue cannot be moved */
	wr(VIRTIO_MMIO_QUEUE_DESC_LOW, 0x8000);
	CHECK_EQ(rd(VIRTIO_MMIO_QUEUE_DESC_LOW), TR_DESC);
	/* a queue that does not exist */
	setup_queue(3, &ring.cfg);
	CHECK_EQ(rd(VIRTIO_MMIO_QUEUE_READY), 0);
	teardown();
}

UNIT_TEST(mmio_driver_ok_activates_and_notifies)
{
	setup();
	negotiate(ALL_FEATURES);
	setup_queue(0, &ring.cfg);
	CHECK_EQ(fd.activations, 0);
	wr(VIRTIO_MMIO_STATUS, rd(VIRTIO_MMIO_STATUS) | VIRTIO_CONFIG_S_DRIVER_OK);
	CHECK_EQ(fd.activations, 1);
	CHECK_EQ(fd.features, ALL_FEATURES);
	CHECK(tp.active);
	CHECK(virtq_ready(&tp.queues[0]));
	CHECK(!virtq_ready(&tp.queues[1])); /* never made ready */
	CHECK(tp.queues[0].event_idx);
	CHECK_EQ(fd.notifies, 1); /* the once-over after activation */
	wr(VIRTIO_MMIO_QUEUE_NOTIFY, 0);
	CHECK_EQ(fd.notifies, 2);
	wr(VIRTIO_MMIO_QUEUE_NOTIFY, 1); /* not ready: ignored */
	wr(VIRTIO_MMIO_QUEUE_NOTIFY, 7); /* no such queue */
	CHECK_EQ(fd.notifies, 2);
	/* queue registers are frozen once running */
	wr(VIRTIO_MMIO_QUEUE_SEL, 1);
	wr(VIRTIO_MMIO_QUEUE_NUM, 8);
	CHECK_EQ(rd(VIRTIO_MMIO_QUEUE_NUM), 0);
	teardown();
}

UNIT_TEST(mmio_activate_failure_needs_reset)
{
	setup();
	fd.activate_rc = -1;
	negotiate(ALL_FEATURES);
	setup_queue(0, &ring.cfg);
	wr(VIRTIO_MMIO_STATUS, rd(VIRTIO_MMIO_STATUS) | VIRTIO_CONFIG_S_DRIVER_OK);
	CHECK(rd(VIRTIO_MMIO_STATUS) & VIRTIO_CONFIG_S_NEEDS_RESET);
	CHECK(!tp.active);
	CHECK_EQ(rd(VIRTIO_MMIO_INTERRUPT_STATUS), VIRTIO_MMIO_INT_CONFIG);
	CHECK_EQ(fd.irqs, 1);
	teardown();
}

UNIT_TEST(mmio_reset)
{
	setup();
	negotiate(ALL_FEATURES);
	setup_queue(0, &ring.cfg);
	wr(VIRTIO_MMIO_STATUS, rd(VIRTIO_MMIO_STATUS) | VIRTIO_CONFIG_S_DRIVER_OK);
	virtq_push(&tp.queues[0], 0, 0);
	virtio_mmio_signal_used(&tp, 0);
	CHECK_EQ(rd(VIRTIO_MMIO_INTERRUPT_STATUS), VIRTIO_MMIO_INT_VRING);
	wr(VIRTIO_MMIO_STATUS, 0);
	CHECK_EQ(rd(VIRTIO_MMIO_STATUS), 0);
	CHECK_EQ(rd(VIRTIO_MMIO_INTERRUPT_STATUS), 0);
	CHECK_EQ(rd(VIRTIO_MMIO_QUEUE_READY), 0);
	CHECK_EQ(rd(VIRTIO_MMIO_QUEUE_NUM), 0);
	CHECK(!tp.active);
	CHECK(!virtq_ready(&tp.queues[0]));
	CHECK_EQ(fd.resets, 2); /* one before activation, one now */
	CHECK_EQ(tp.driver_features, 0);
	/* and the device comes up again */
	negotiate(ALL_FEATURES);
	setup_queue(0, &ring.cfg);
	wr(VIRTIO_MMIO_STATUS, rd(VIRTIO_MMIO_STATUS) | VIRTIO_CONFIG_S_DRIVER_OK);
	CHECK_EQ(fd.activations, 2);
	CHECK(tp.active);
	/* a VM reset from the loop side */
	virtio_mmio_reset(&tp);
	CHECK_EQ(rd(VIRTIO_MMIO_STATUS), 0);
	CHECK(!tp.active);
	teardown();
}

/* A reset and a re-activation queued before the loop runs are done in that order. */
UNIT_TEST(mmio_reset_then_activate_pending)
{
	struct virtio_mmio_env env;

	setup();
	env = tp.env;
	tp.env.kick = (void (*)(void *, int))fake_notify; /* the loop is busy: kicks pile up */
	tp.env.opaque = &fd;
	negotiate(ALL_FEATURES);
	setup_queue(0, &ring.cfg);
	wr(VIRTIO_MMIO_STATUS, 0);
	negotiate(ALL_FEATURES);
	setup_queue(0, &ring.cfg);
	wr(VIRTIO_MMIO_STATUS, rd(VIRTIO_MMIO_STATUS) | VIRTIO_CONFIG_S_DRIVER_OK);
	tp.env = env;
	fd.notifies = 0;
	virtio_mmio_handle_notify(&tp, 0); /* runs the control work first */
	CHECK(tp.active);
	CHECK_EQ(fd.activations, 1);
	CHECK_EQ(fd.notifies, 2); /* activation's once-over, then the notify itself */
	teardown();
}

UNIT_TEST(mmio_interrupt_status_and_ack)
{
	setup();
	negotiate(ALL_FEATURES & ~(1ULL << VIRTIO_RING_F_EVENT_IDX));
	setup_queue(0, &ring.cfg);
	wr(VIRTIO_MMIO_STATUS, rd(VIRTIO_MMIO_STATUS) | VIRTIO_CONFIG_S_DRIVER_OK);
	virtq_push(&tp.queues[0], 0, 0);
	virtio_mmio_signal_used(&tp, 0);
	CHECK_EQ(fd.irqs, 1);
	virtio_mmio_signal_config(&tp);
	CHECK_EQ(fd.irqs, 2);
	CHECK_EQ(rd(VIRTIO_MMIO_INTERRUPT_STATUS), VIRTIO_MMIO_INT_VRING | VIRTIO_MMIO_INT_CONFIG);
	wr(VIRTIO_MMIO_INTERRUPT_ACK, VIRTIO_MMIO_INT_VRING);
	CHECK_EQ(rd(VIRTIO_MMIO_INTERRUPT_STATUS), VIRTIO_MMIO_INT_CONFIG);
	wr(VIRTIO_MMIO_INTERRUPT_ACK, VIRTIO_MMIO_INT_CONFIG);
	CHECK_EQ(rd(VIRTIO_MMIO_INTERRUPT_STATUS), 0);
	/* the driver suppressed interrupts: none */
	tr_put16(&ring, TR_AVAIL, VRING_AVAIL_F_NO_INTERRUPT);
	virtq_push(&tp.queues[0], 0, 0);
	virtio_mmio_signal_used(&tp, 0);
	CHECK_EQ(fd.irqs, 2);
	CHECK_EQ(rd(VIRTIO_MMIO_INTERRUPT_STATUS), 0);
	teardown();
}

UNIT_TEST(mmio_config_space_and_generation)
{
	uint8_t b[8];
	uint64_t q = 0;
	uint32_t gen;

	setup();
	virtio_mmio_read(&tp, VIRTIO_MMIO_CONFIG + 2, b, 1);
	CHECK_EQ(b[0], 3);
	virtio_mmio_read(&tp, VIRTIO_MMIO_CONFIG + 1, b, 2);
	CHECK_EQ(b[0], 2);
	CHECK_EQ(b[1], 3);
	virtio_mmio_read(&tp, VIRTIO_MMIO_CONFIG, (uint8_t *)&q, 8);
	CHECK_EQ(q, 0x0807060504030201ULL);
	q = 0;
	virtio_mmio_read(&tp, VIRTIO_MMIO_CONFIG + 6, (uint8_t *)&q, 4); /* runs past: zeroes */
	CHECK_EQ(q, 0x0807);
	/* read-only config (no config_write): writes are ignored */
	b[0] = 0xff;
	virtio_mmio_write(&tp, VIRTIO_MMIO_CONFIG, b, 1);
	virtio_mmio_read(&tp, VIRTIO_MMIO_CONFIG, b, 1);
	CHECK_EQ(b[0], 1);
	/* outside the window */
	virtio_mmio_read(&tp, 0x1000, b, 1);
	CHECK_EQ(b[0], 0);
	gen = rd(VIRTIO_MMIO_CONFIG_GENERATION);
	virtio_mmio_signal_config(&tp);
	CHECK_EQ(rd(VIRTIO_MMIO_CONFIG_GENERATION), gen + 1);
	CHECK_EQ(fd.irqs, 0); /* no driver yet: no interrupt */
	teardown();
}

UNIT_TEST(mmio_needs_reset_keeps_status)
{
	setup();
	negotiate(ALL_FEATURES);
	setup_queue(0, &ring.cfg);
	wr(VIRTIO_MMIO_STATUS, rd(VIRTIO_MMIO_STATUS) | VIRTIO_CONFIG_S_DRIVER_OK);
	virtio_mmio_needs_reset(&tp);
	CHECK(rd(VIRTIO_MMIO_STATUS) & VIRTIO_CONFIG_S_NEEDS_RESET);
	CHECK(rd(VIRTIO_MMIO_STATUS) & VIRTIO_CONFIG_S_DRIVER_OK);
	CHECK_EQ(rd(VIRTIO_MMIO_INTERRUPT_STATUS), VIRTIO_MMIO_INT_CONFIG);
	/* the driver echoing NEEDS_RESET back is not an error; reset clears it */
	wr(VIRTIO_MMIO_STATUS, 0);
	CHECK_EQ(rd(VIRTIO_MMIO_STATUS), 0);
	teardown();
}

/* ---- snapshot (mmio_snapshot.c) ---- */

/* The transport tp saved alone into a state file; *s is its section (the caller frees *buf). */
static bool save_alone(uint8_t **buf, struct snap_reader *r, struct snap_section *s)
{
	struct snap_writer w;
	size_t len;
	char err[200];

	snap_writer_init(&w, "test");
	virtio_mmio_save(&tp, &w);
	return snap_finish(&w, buf, &len) == 0 && snap_open(r, *buf, len, err, sizeof(err)) == 0 &&
	       snap_find(r, SNAP_TAG_VIRTIO_MMIO, 0, s);
}

UNIT_TEST(mmio_snapshot_round_trip_keeps_registers_and_queue_indices)
{
	struct virtio_mmio t2;
	struct fake_dev fd2 = {0};
	struct virtio_mmio_env env = {fake_irq, fake_kick, &fd2};
	struct snap_reader r;
	struct snap_section s;
	uint8_t *buf;
	char err[200];

	setup();
	negotiate(ALL_FEATURES);
	setup_queue(0, &ring.cfg);
	wr(VIRTIO_MMIO_STATUS, rd(VIRTIO_MMIO_STATUS) | VIRTIO_CONFIG_S_DRIVER_OK);
	tp.queues[0].last_avail = 7;
	tp.queues[0].used_idx = 5;
	tp.queues[0].signalled_used = 4;
	atomic_store(&tp.interrupt_status, VIRTIO_MMIO_INT_VRING);
	CHECK(save_alone(&buf, &r, &s));

	virtio_mmio_init(&t2, &ring.mem, &fake_ops, &fd2, 2, &env);
	fd2.t = &t2;
	CHECK_EQ(virtio_mmio_restore(&t2, &s, err, sizeof(err)), 0);
	CHECK(t2.active);
	CHECK_EQ(t2.features, ALL_FEATURES);
	CHECK_EQ(t2.status, tp.status);
	CHECK_EQ(t2.driver_features, ALL_FEATURES);
	CHECK_EQ(atomic_load(&t2.interrupt_status), VIRTIO_MMIO_INT_VRING);
	CHECK(virtq_ready(&t2.queues[0]));
	CHECK(!virtq_ready(&t2.queues[1]));
	CHECK(t2.queues[0].event_idx);
	CHECK_EQ(t2.queues[0].last_avail, 7);
	CHECK_EQ(t2.queues[0].used_idx, 5);
	CHECK_EQ(t2.queues[0].signalled_used, 4);
	CHECK_EQ(fd2.activations, 0); /* the device's own restore is the caller's */
	CHECK_EQ(t2.qregs[0].cfg.desc_gpa, ring.cfg.desc_gpa);
	virtio_mmio_fini(&t2);
	free(buf);
	teardown();
}

UNIT_TEST(mmio_snapshot_refuses_other_devices_and_bad_queues_unchanged)
{
	static const struct virtio_device_ops net_like = {
	    .name = "fake-net",
	    .device_id = VIRTIO_ID_NET,
	    .features = fake_features,
	    .config_read = fake_config_read,
	    .activate = fake_activate,
	    .queue_notify = fake_notify,
	};
	struct virtio_mmio t2;
	struct fake_dev fd2 = {0};
	struct virtio_mmio_env env = {fake_irq, fake_kick, &fd2};
	struct snap_reader r;
	struct snap_section s;
	uint8_t *buf, copy[512];
	struct snap_section bad;
	char err[200];

	setup();
	negotiate(ALL_FEATURES);
	setup_queue(0, &ring.cfg);
	wr(VIRTIO_MMIO_STATUS, rd(VIRTIO_MMIO_STATUS) | VIRTIO_CONFIG_S_DRIVER_OK);
	CHECK(save_alone(&buf, &r, &s));

	virtio_mmio_init(&t2, &ring.mem, &net_like, &fd2, 2, &env);
	CHECK_EQ(virtio_mmio_restore(&t2, &s, err, sizeof(err)), -1);
	CHECK_CONTAINS(err, "saved for another kind of device");
	virtio_mmio_fini(&t2);

	virtio_mmio_init(&t2, &ring.mem, &fake_ops, &fd2, 2, &env);
	CHECK(s.len <= sizeof(copy));
	memcpy(copy, s.data, s.len);
	bad = s;
	bad.data = copy;
	/* queue 0's descriptor table (offset 64) far outside RAM */
	memset(copy + 64, 0xff, 8);
	CHECK_EQ(virtio_mmio_restore(&t2, &bad, err, sizeof(err)), -1);
	CHECK_CONTAINS(err, "a ready queue outside guest RAM");
	CHECK_EQ(t2.status, 0);
	CHECK(!t2.active);
	/* an unknown status bit */
	memcpy(copy, s.data, s.len);
	copy[8] |= 0x20;
	CHECK_EQ(virtio_mmio_restore(&t2, &bad, err, sizeof(err)), -1);
	CHECK_CONTAINS(err, "unknown status");
	/* features the device never offered */
	memcpy(copy, s.data, s.len);
	copy[24 + 7] |= 0x80;
	CHECK_EQ(virtio_mmio_restore(&t2, &bad, err, sizeof(err)), -1);
	CHECK_CONTAINS(err, "features this device does not offer");
	/* one byte short */
	memcpy(copy, s.data, s.len);
	bad.len = s.len - 1;
	CHECK_EQ(virtio_mmio_restore(&t2, &bad, err, sizeof(err)), -1);
	CHECK_CONTAINS(err, "malformed section");
	CHECK_EQ(t2.status, 0);
	virtio_mmio_fini(&t2);
	free(buf);
	teardown();
}

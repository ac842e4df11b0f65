/*
 * virtio.c - a minimal polled virtio-mmio (version 2) driver library: discovery from the
 * command line, feature negotiation, one split virtqueue, push/notify/pop.
 *
 * Contract: CPL0 or CPL3 for the MMIO accessors (the window is user-mapped), CPL0 for the
 * setup functions (they may fail the test). Memory barriers: x86 keeps stores in order and
 * loads in order, so compiler barriers around the ring index updates suffice.
 */
#include "virtio.h"

/* Ring memory for one queue of VIRTQ_MAX_SIZE: descriptors 16 B each (align 16), available
 * ring 6 + 2 N (align 2), used ring 6 + 8 N (align 4). Zeroed by virtq_setup(). */
static u8 ring_mem[VIRTQ_MEM_BYTES(VIRTQ_MAX_SIZE)] __noinit __aligned(4096);

u32 virtio_read32(struct virtio_dev *dev, u32 reg)
{
	return mmio_read32(dev->base + reg);
}

void virtio_write32(struct virtio_dev *dev, u32 reg, u32 v)
{
	mmio_write32(dev->base + reg, v);
}

/* Number with an optional K/M/G suffix, as Linux's memparse. */
static bool parse_size(const char *s, size_t len, u64 *out)
{
	u64 mult = 1;

	if (len && (s[len - 1] == 'K' || s[len - 1] == 'k'))
		mult = 1024;
	else if (len && (s[len - 1] == 'M' || s[len - 1] == 'm'))
		mult = 1024 * 1024;
	else if (len && (s[len - 1] == 'G' || s[len - 1] == 'g'))
		mult = 1024 * 1024 * 1024;
	if (mult != 1)
		len--;
	if (!parse_u64(s, len, out))
		return false;
	*out *= mult;
	return true;
}

static size_t span_until(const char *s, size_t len, char c)
{
	size_t i = 0;

	while (i < len && s[i] != c)
		i++;
	return i;
}

/* "<size>@<addr>:<irq>[:<id>]" */
static bool parse_device(const char *v, size_t len, struct virtio_dev *d)
{
	size_t a = span_until(v, len, '@'), b, c;
	u64 size, irq;

	if (a == len || !parse_size(v, a, &size))
		return false;
	v += a + 1;
	len -= a + 1;
	b = span_until(v, len, ':');
	if (b == len || !parse_u64(v, b, &d->base))
		return false;
	v += b + 1;
	len -= b + 1;
	c = span_until(v, len, ':');
	if (!parse_u64(v, c, &irq))
		return false;
	d->irq = irq;
	/* The window must be in the uncached, user-mapped MMIO hole and hold the registers. */
	return size >= 0x200 && d->base >= 0xc0000000 && d->base + size <= 0x100000000ULL;
}

/* Reads a device's identity and features; fails the test when the window holds no virtio-mmio
 * version 2 device. */
static void virtio_probe(struct virtio_dev *d, int n)
{
	if (virtio_read32(d, VIRTIO_MMIO_MAGIC_VALUE) != VIRTIO_MMIO_MAGIC)
		test_fail("no virtio-mmio magic at %#lx", d->base);
	if (virtio_read32(d, VIRTIO_MMIO_VERSION) != 2)
		test_fail("virtio-mmio at %#lx is version %u, not 2", d->base,
		          virtio_read32(d, VIRTIO_MMIO_VERSION));
	d->device_id = virtio_read32(d, VIRTIO_MMIO_DEVICE_ID);
	virtio_write32(d, VIRTIO_MMIO_DEVICE_FEATURES_SEL, 1);
	d->features = (u64)virtio_read32(d, VIRTIO_MMIO_DEVICE_FEATURES) << 32;
	virtio_write32(d, VIRTIO_MMIO_DEVICE_FEATURES_SEL, 0);
	d->features |= virtio_read32(d, VIRTIO_MMIO_DEVICE_FEATURES);
	gprintf("VIRTIO dev=%d base=%#lx irq=%u id=%u features=%#lx\n", n, d->base, d->irq,
	        d->device_id, d->features);
}

/* The devices on the command line (virtio_mmio.device=, wisp --no-acpi or acpi=off), else the
 * ones the DSDT describes (acpi_dsdt.c). Prints "VIRTIO via=cmdline|acpi" first. */
int virtio_discover(struct virtio_dev *devs, int max)
{
	size_t pos = 0, len;
	const char *v;
	int n = 0;

	if (!cmdline_next("virtio_mmio.device", &pos, &len)) {
		gprintf("VIRTIO via=acpi\n");
		n = acpi_virtio_devices(devs, max);
		for (int i = 0; i < n; i++) {
			if (devs[i].base < 0xc0000000 || devs[i].base + 0x200 > 0x100000000ULL)
				test_fail("DSDT: virtio-mmio window %#lx outside the MMIO hole",
				          devs[i].base);
			virtio_probe(&devs[i], i);
		}
		return n;
	}
	gprintf("VIRTIO via=cmdline\n");
	pos = 0;
	while ((v = cmdline_next("virtio_mmio.device", &pos, &len)) && n < max) {
		struct virtio_dev *d = &devs[n];

		memset(d, 0, sizeof(*d));
		if (!parse_device(v, len, d))
			test_fail("bad virtio_mmio.device=%.*s", (int)len, v);
		virtio_probe(d, n);
		n++;
	}
	return n;
}

struct virtio_dev *virtio_find(struct virtio_dev *devs, int n, u32 device_id, int index)
{
	int i;

	for (i = 0; i < n; i++)
		if (devs[i].device_id == device_id && index-- == 0)
			return &devs[i];
	return NULL;
}

u64 virtio_init(struct virtio_dev *dev, u64 wanted)
{
	u64 features = (wanted | (1ULL << VIRTIO_F_VERSION_1)) & dev->features;
	u32 status;

	if (!(dev->features & (1ULL << VIRTIO_F_VERSION_1)))
		test_fail("virtio device at %#lx does not offer VIRTIO_F_VERSION_1", dev->base);
	virtio_write32(dev, VIRTIO_MMIO_STATUS, 0); /* reset */
	if (virtio_read32(dev, VIRTIO_MMIO_STATUS) != 0)
		test_fail("virtio device at %#lx did not reset", dev->base);
	virtio_write32(dev, VIRTIO_MMIO_STATUS, VIRTIO_STATUS_ACKNOWLEDGE);
	virtio_write32(dev, VIRTIO_MMIO_STATUS, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER);
	virtio_write32(dev, VIRTIO_MMIO_DRIVER_FEATURES_SEL, 0);
	virtio_write32(dev, VIRTIO_MMIO_DRIVER_FEATURES, (u32)features);
	virtio_write32(dev, VIRTIO_MMIO_DRIVER_FEATURES_SEL, 1);
	virtio_write32(dev, VIRTIO_MMIO_DRIVER_FEATURES, features >> 32);
	status = VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER | VIRTIO_STATUS_FEATURES_OK;
	virtio_write32(dev, VIRTIO_MMIO_STATUS, status);
	if (!(virtio_read32(dev, VIRTIO_MMIO_STATUS) & VIRTIO_STATUS_FEATURES_OK))
		test_fail("virtio device at %#lx refused features %#lx", dev->base, features);
	return features;
}

void virtq_setup(struct virtq *q, struct virtio_dev *dev, u16 index, u16 size)
{
	if (size > VIRTQ_MAX_SIZE)
		size = VIRTQ_MAX_SIZE;
	virtq_setup_mem(q, dev, index, size, ring_mem);
}

void virtq_setup_mem(struct virtq *q, struct virtio_dev *dev, u16 index, u16 size, void *mem)
{
	u32 max;
	u64 desc, avail, used;

	virtio_write32(dev, VIRTIO_MMIO_QUEUE_SEL, index);
	if (virtio_read32(dev, VIRTIO_MMIO_QUEUE_READY))
		test_fail("virtio queue %u already ready after reset", index);
	max = virtio_read32(dev, VIRTIO_MMIO_QUEUE_NUM_MAX);
	if (max == 0)
		test_fail("virtio queue %u does not exist", index);
	if (size > max)
		size = max;
	while (size & (size - 1)) /* round down to a power of two */
		size &= size - 1;

	memset(mem, 0, VIRTQ_MEM_BYTES(size));
	desc = (u64)mem;
	avail = desc + 16 * size;
	used = (avail + 6 + 2 * size + 4095) & ~4095ULL; /* own page: tidy, not required */
	*q = (struct virtq){
	    .dev = dev,
	    .index = index,
	    .size = size,
	    .desc = (void *)desc,
	    .avail = (void *)avail,
	    .used = (void *)used,
	};
	q->avail->flags = VIRTQ_AVAIL_F_NO_INTERRUPT; /* we poll */

	virtio_write32(dev, VIRTIO_MMIO_QUEUE_NUM, size);
	virtio_write32(dev, VIRTIO_MMIO_QUEUE_DESC_LOW, (u32)desc);
	virtio_write32(dev, VIRTIO_MMIO_QUEUE_DESC_HIGH, desc >> 32);
	virtio_write32(dev, VIRTIO_MMIO_QUEUE_DRIVER_LOW, (u32)avail);
	virtio_write32(dev, VIRTIO_MMIO_QUEUE_DRIVER_HIGH, avail >> 32);
	virtio_write32(dev, VIRTIO_MMIO_QUEUE_DEVICE_LOW, (u32)used);
	virtio_write32(dev, VIRTIO_MMIO_QUEUE_DEVICE_HIGH, used >> 32);
	virtio_write32(dev, VIRTIO_MMIO_QUEUE_READY, 1);
	if (!virtio_read32(dev, VIRTIO_MMIO_QUEUE_READY))
		test_fail("virtio queue %u refused (size %u at %#lx)", index, size, desc);
}

void virtio_ready(struct virtio_dev *dev)
{
	u32 status = virtio_read32(dev, VIRTIO_MMIO_STATUS);

	virtio_write32(dev, VIRTIO_MMIO_STATUS, status | VIRTIO_STATUS_DRIVER_OK);
	status = virtio_read32(dev, VIRTIO_MMIO_STATUS);
	if (status & (VIRTIO_STATUS_NEEDS_RESET | VIRTIO_STATUS_FAILED))
		test_fail("virtio device at %#lx status %#x after DRIVER_OK", dev->base, status);
}

void virtq_push(struct virtq *q, u16 head)
{
	q->avail->ring[q->avail_idx % q->size] = head;
	barrier(); /* ring entry before index */
	q->avail_idx++;
	q->avail->idx = q->avail_idx;
}

void virtq_notify(struct virtq *q)
{
	barrier(); /* index before the doorbell */
	virtio_write32(q->dev, VIRTIO_MMIO_QUEUE_NOTIFY, q->index);
}

bool virtq_kick(struct virtq *q, u16 old)
{
	u16 event;

	if (!q->event_idx) {
		virtq_notify(q);
		return true;
	}
	/*
	 * Store (avail idx) then load (avail_event): x86 may reorder exactly that pair, and a
	 * device that re-armed avail_event just before our store would then never be told.
	 */
	asm volatile("mfence" ::: "memory");
	event = *virtq_avail_event(q);
	/* vring_need_event(): did the index move past event since old? */
	if ((u16)(q->avail_idx - event - 1) >= (u16)(q->avail_idx - old))
		return false;
	virtq_notify(q);
	return true;
}

bool virtq_pop(struct virtq *q, u64 deadline, struct virtq_used_elem *out)
{
	while (q->used->idx == q->used_seen) {
		if ((s64)(rdtsc() - deadline) > 0)
			return false;
		cpu_relax();
	}
	barrier(); /* index before the element */
	out->id = q->used->ring[q->used_seen % q->size].id;
	out->len = q->used->ring[q->used_seen % q->size].len;
	q->used_seen++;
	return true;
}

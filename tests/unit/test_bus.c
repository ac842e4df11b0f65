/*
 * test_bus.c - port I/O / MMIO address dispatch (vmm/bus.c): registration rules, dispatch with
 * offsets, unclaimed accesses (all-ones reads, counted), straddling accesses, and the binary
 * search over a full table. Rejected registrations log an error on stderr; that is expected.
 */
#include "tests/unit/unit.h"
#include "vmm/bus.h"

/* A device that records its last access. */
struct rec {
	unsigned reads, writes;
	uint64_t offset;
	uint32_t len;
	uint8_t fill;       /* what reads return */
	uint8_t written[8]; /* last write's bytes */
};

static void rec_read(void *dev, uint64_t offset, uint8_t *data, uint32_t len)
{
	struct rec *r = dev;

	r->reads++;
	r->offset = offset;
	r->len = len;
	memset(data, r->fill, len);
}

static void rec_write(void *dev, uint64_t offset, const uint8_t *data, uint32_t len)
{
	struct rec *r = dev;

	r->writes++;
	r->offset = offset;
	r->len = len;
	memcpy(r->written, data, len < 8 ? len : 8);
}

static const struct device_ops rec_ops = {.name = "rec", .read = rec_read, .write = rec_write};
static const struct device_ops read_only_ops = {.name = "ro", .read = rec_read};
static const struct device_ops write_only_ops = {.name = "wo", .write = rec_write};

static struct bus bus; /* 64 ranges: keep it off the stack */

UNIT_TEST(bus_register_rejects_empty_and_wrapping)
{
	struct rec d = {0};

	bus_init(&bus, "test");
	CHECK_STR_EQ(bus.name, "test");
	CHECK_EQ(bus.nranges, 0);
	CHECK_EQ(bus_register(&bus, 0x100, 0, &rec_ops, &d), -1);
	CHECK_EQ(bus_register(&bus, UINT64_MAX, 2, &rec_ops, &d), -1);
	CHECK_EQ(bus_register(&bus, 0xfffffffffffff000ULL, 0x2000, &rec_ops, &d), -1);
	CHECK_EQ(bus.nranges, 0);
	CHECK_EQ(bus_register(&bus, UINT64_MAX - 1, 1, &rec_ops, &d), 0);
	CHECK_EQ(bus.nranges, 1);
}

UNIT_TEST(bus_register_rejects_overlaps)
{
	struct rec a = {0}, b = {0};

	bus_init(&bus, "pio");
	CHECK_EQ(bus_register(&bus, 0x3f8, 8, &rec_ops, &a), 0);
	CHECK_EQ(bus_register(&bus, 0x3f8, 8, &rec_ops, &b), -1);     /* identical */
	CHECK_EQ(bus_register(&bus, 0x3f0, 9, &rec_ops, &b), -1);     /* overlaps the first byte */
	CHECK_EQ(bus_register(&bus, 0x3ff, 4, &rec_ops, &b), -1);     /* overlaps the last byte */
	CHECK_EQ(bus_register(&bus, 0x3fa, 1, &rec_ops, &b), -1);     /* inside */
	CHECK_EQ(bus_register(&bus, 0x300, 0x200, &rec_ops, &b), -1); /* around */
	CHECK_EQ(bus.nranges, 1);
	/* Adjacent on both sides is fine. */
	CHECK_EQ(bus_register(&bus, 0x3f0, 8, &rec_ops, &b), 0);
	CHECK_EQ(bus_register(&bus, 0x400, 1, &rec_ops, &b), 0);
	CHECK_EQ(bus.nranges, 3);
	CHECK_EQ(bus.ranges[0].base, 0x3f0);
	CHECK_EQ(bus.ranges[1].base, 0x3f8);
	CHECK_EQ(bus.ranges[2].base, 0x400);
}

UNIT_TEST(bus_register_full_table)
{
	struct rec d = {0};

	bus_init(&bus, "mmio");
	for (unsigned i = 0; i < BUS_MAX_RANGES; i++)
		CHECK_EQ(bus_register(&bus, 0x1000ULL * i, 0x10, &rec_ops, &d), 0);
	CHECK_EQ(bus.nranges, BUS_MAX_RANGES);
	CHECK_EQ(bus_register(&bus, 0x1000000, 1, &rec_ops, &d), -1);
	CHECK_EQ(bus.nranges, BUS_MAX_RANGES);
	/* The table is intact after the refusal. */
	CHECK(bus_find(&bus, 0x1000ULL * (BUS_MAX_RANGES - 1), 1) != NULL);
	CHECK(bus_find(&bus, 0x1000000, 1) == NULL);
}

UNIT_TEST(bus_dispatch_with_offsets)
{
	struct rec com = {.fill = 0x11}, kbd = {.fill = 0x22}, virtio = {.fill = 0x33};
	uint8_t data[8];

	bus_init(&bus, "pio");
	CHECK_EQ(bus_register(&bus, 0x3f8, 8, &rec_ops, &com), 0);
	CHECK_EQ(bus_register(&bus, 0x60, 1, &rec_ops, &kbd), 0);
	CHECK_EQ(bus_register(&bus, 0xd0000000, 0x1000, &rec_ops, &virtio), 0);

	bus_read(&bus, 0x3fd, data, 1);
	CHECK_EQ(com.reads, 1);
	CHECK_EQ(com.offset, 5);
	CHECK_EQ(com.len, 1);
	CHECK_EQ(data[0], 0x11);

	bus_write(&bus, 0x60, (const uint8_t *)"\xf4", 1);
	CHECK_EQ(kbd.writes, 1);
	CHECK_EQ(kbd.offset, 0);
	CHECK_EQ(kbd.written[0], 0xf4);

	bus_write(&bus, 0xd0000070, (const uint8_t *)"\x01\x02\x03\x04", 4);
	CHECK_EQ(virtio.writes, 1);
	CHECK_EQ(virtio.offset, 0x70);
	CHECK_EQ(virtio.len, 4);
	CHECK_EQ(memcmp(virtio.written, "\x01\x02\x03\x04", 4), 0);

	memset(data, 0, sizeof(data));
	bus_read(&bus, 0xd0000ff8, data, 8); /* the last 8 bytes of the range */
	CHECK_EQ(virtio.reads, 1);
	CHECK_EQ(virtio.offset, 0xff8);
	CHECK_EQ(virtio.len, 8);
	CHECK_EQ(data[7], 0x33);

	/* Nobody else was called, nothing counted as unclaimed. */
	CHECK_EQ(com.writes + kbd.reads, 0);
	CHECK_EQ(bus.unclaimed_reads, 0);
	CHECK_EQ(bus.unclaimed_writes, 0);
}

UNIT_TEST(bus_unclaimed_reads_all_ones_and_counts)
{
	struct rec com = {.fill = 0x11};
	uint8_t data[8];

	bus_init(&bus, "pio");
	CHECK_EQ(bus_register(&bus, 0x3f8, 8, &rec_ops, &com), 0);
	memset(data, 0, sizeof(data));
	bus_read(&bus, 0x2f8, data, 4); /* COM2: nobody */
	for (unsigned i = 0; i < 4; i++)
		CHECK_EQ(data[i], 0xff);
	CHECK_EQ(data[4], 0); /* only len bytes */
	CHECK_EQ(bus.unclaimed_reads, 1);
	bus_read(&bus, 0x400, data, 1); /* one past the end */
	bus_read(&bus, 0x3f7, data, 1); /* one before */
	CHECK_EQ(bus.unclaimed_reads, 3);
	CHECK_EQ(bus.unclaimed_writes, 0);
	bus_write(&bus, 0x80, (const uint8_t *)"\x00", 1);
	bus_write(&bus, 0x400, (const uint8_t *)"\x00", 1);
	CHECK_EQ(bus.unclaimed_writes, 2);
	CHECK_EQ(bus.unclaimed_reads, 3);
	CHECK_EQ(com.reads + com.writes, 0);
}

UNIT_TEST(bus_empty_bus_is_all_unclaimed)
{
	uint8_t v = 0;

	bus_init(&bus, "mmio");
	CHECK(bus_find(&bus, 0, 1) == NULL);
	bus_read(&bus, 0, &v, 1);
	CHECK_EQ(v, 0xff);
	CHECK_EQ(bus.unclaimed_reads, 1);
}

UNIT_TEST(bus_straddling_access_is_unclaimed)
{
	struct rec a = {.fill = 0x11}, b = {.fill = 0x22};
	uint8_t data[8] = {0};

	bus_init(&bus, "mmio");
	CHECK_EQ(bus_register(&bus, 0x1000, 0x10, &rec_ops, &a), 0);
	CHECK_EQ(bus_register(&bus, 0x1010, 0x10, &rec_ops, &b), 0);
	/* Starts in a, ends in b: neither device sees it. */
	bus_read(&bus, 0x100e, data, 4);
	CHECK_EQ(memcmp(data, "\xff\xff\xff\xff", 4), 0);
	bus_write(&bus, 0x100c, data, 8);
	/* Starts in the last range and runs past the end of everything. */
	bus_read(&bus, 0x101f, data, 2);
	CHECK_EQ(a.reads + a.writes + b.reads + b.writes, 0);
	CHECK_EQ(bus.unclaimed_reads, 2);
	CHECK_EQ(bus.unclaimed_writes, 1);
	/* The same addresses, fitting, are claimed. */
	bus_read(&bus, 0x100c, data, 4);
	CHECK_EQ(a.reads, 1);
	CHECK_EQ(a.offset, 0xc);
	CHECK(bus_find(&bus, 0x100f, 1) == &bus.ranges[0]);
	CHECK(bus_find(&bus, 0x100f, 2) == NULL);
	CHECK(bus_find(&bus, 0x1010, 0x10) == &bus.ranges[1]);
	CHECK(bus_find(&bus, 0x1010, 0x11) == NULL);
	/* A length that would overflow a naive addr + len. */
	CHECK(bus_find(&bus, 0x1010, UINT32_MAX) == NULL);
}

UNIT_TEST(bus_missing_ops_are_unclaimed)
{
	struct rec ro = {.fill = 0x44}, wo = {0};
	uint8_t v = 0;

	bus_init(&bus, "pio");
	CHECK_EQ(bus_register(&bus, 0x10, 1, &read_only_ops, &ro), 0);
	CHECK_EQ(bus_register(&bus, 0x20, 1, &write_only_ops, &wo), 0);
	bus_write(&bus, 0x10, &v, 1);
	CHECK_EQ(bus.unclaimed_writes, 1);
	bus_read(&bus, 0x20, &v, 1);
	CHECK_EQ(v, 0xff);
	CHECK_EQ(bus.unclaimed_reads, 1);
	bus_read(&bus, 0x10, &v, 1);
	CHECK_EQ(v, 0x44);
	bus_write(&bus, 0x20, (const uint8_t *)"\x9", 1);
	CHECK_EQ(wo.writes, 1);
	CHECK_EQ(bus.unclaimed_reads, 1);
	CHECK_EQ(bus.unclaimed_writes, 1);
}

UNIT_TEST(bus_binary_search_many_ranges)
{
	static struct rec devs[BUS_MAX_RANGES];
	/* Registered out of order: i -> (i * 37) % 64 is a permutation of 0..63. */
	bus_init(&bus, "mmio");
	for (unsigned i = 0; i < BUS_MAX_RANGES; i++) {
		unsigned k = (i * 37) % BUS_MAX_RANGES;

		CHECK_EQ(
		    bus_register(&bus, 0x10000ULL * k + 0x100, 0x10 * (k + 1), &rec_ops, &devs[k]),
		    0);
	}
	for (unsigned i = 1; i < bus.nranges; i++)
		CHECK(bus.ranges[i - 1].base < bus.ranges[i].base);
	for (unsigned k = 0; k < BUS_MAX_RANGES; k++) {
		uint64_t base = 0x10000ULL * k + 0x100, len = 0x10 * (k + 1);
		const struct bus_range *r;

		r = bus_find(&bus, base, 1);
		CHECK(r != NULL);
		CHECK(r->dev == &devs[k]);
		CHECK_EQ(r->base, base);
		CHECK_EQ(r->len, len);
		r = bus_find(&bus, base + len - 1, 1);
		CHECK(r != NULL);
		CHECK(r->dev == &devs[k]);
		CHECK(bus_find(&bus, base + len, 1) == NULL);
		CHECK(bus_find(&bus, base - 1, 1) == NULL);
		CHECK(bus_find(&bus, base + len / 2, (uint32_t)(len - len / 2)) == r);
	}
	/* Below the first and above the last. */
	CHECK(bus_find(&bus, 0, 1) == NULL);
	CHECK(bus_find(&bus, 0xffff, 1) == NULL);
	CHECK(bus_find(&bus, UINT64_MAX, 1) == NULL);
	/* Dispatch reaches the right device with the right offset. */
	{
		uint8_t v;

		bus_read(&bus, 0x10000ULL * 42 + 0x100 + 0x99, &v, 1);
		CHECK_EQ(devs[42].reads, 1);
		CHECK_EQ(devs[42].offset, 0x99);
	}
}

/*
 * test_e820.c - the E820 map for several RAM sizes. The map depends only on the slot layout, so
 * RAM is laid out over a NULL buffer (never dereferenced): 6 GiB costs nothing.
 */
#include "tests/unit/unit.h"
#include "vmm/layout.h"
#include "vmm/boot/loader.h"

#define CHECK_E820(e, a, s, t)                                                                     \
	do {                                                                                       \
		CHECK_EQ((e).addr, (a));                                                           \
		CHECK_EQ((e).size, (s));                                                           \
		CHECK_EQ((e).type, (t));                                                           \
	} while (0)

UNIT_TEST(e820_128mib)
{
	struct guest_mem mem;
	struct boot_e820_entry map[8];

	guest_mem_init_buffer(&mem, NULL, 128ULL << 20);
	CHECK_EQ(loader_e820_map(&mem, map, 8), 3);
	CHECK_E820(map[0], 0, 0x9fc00, LOADER_E820_RAM);
	CHECK_E820(map[1], 0x9fc00, 0x100000 - 0x9fc00, LOADER_E820_RESERVED);
	CHECK_E820(map[2], 0x100000, (128ULL << 20) - 0x100000, LOADER_E820_RAM);
}

UNIT_TEST(e820_low_ram_ends_below_ebda)
{
	struct guest_mem mem;
	struct boot_e820_entry map[8];

	guest_mem_init_buffer(&mem, NULL, 128ULL << 20);
	CHECK_EQ(loader_e820_map(&mem, map, 8), 3);
	/* The MP table must not be in RAM the guest may reuse. */
	CHECK_EQ(map[0].addr + map[0].size, LAYOUT_MPTABLE);
	CHECK(LAYOUT_MPTABLE >= map[1].addr && LAYOUT_EBDA_END <= map[1].addr + map[1].size);
}

UNIT_TEST(e820_exactly_3gib_has_no_high_ram)
{
	struct guest_mem mem;
	struct boot_e820_entry map[8];

	guest_mem_init_buffer(&mem, NULL, 3ULL << 30);
	CHECK_EQ(loader_e820_map(&mem, map, 8), 3);
	CHECK_E820(map[2], 0x100000, LAYOUT_MMIO_HOLE - 0x100000, LOADER_E820_RAM);
}

UNIT_TEST(e820_6gib_splits_around_mmio_hole)
{
	struct guest_mem mem;
	struct boot_e820_entry map[8];

	guest_mem_init_buffer(&mem, NULL, 6ULL << 30);
	CHECK_EQ(loader_e820_map(&mem, map, 8), 4);
	CHECK_E820(map[0], 0, 0x9fc00, LOADER_E820_RAM);
	CHECK_E820(map[1], 0x9fc00, 0x60400, LOADER_E820_RESERVED);
	CHECK_E820(map[2], 0x100000, 0xc0000000ULL - 0x100000, LOADER_E820_RAM);
	CHECK_E820(map[3], 0x100000000ULL, 3ULL << 30, LOADER_E820_RAM);
	/* Nothing in the hole. */
	for (unsigned i = 0; i < 4; i++)
		CHECK(map[i].addr + map[i].size <= LAYOUT_MMIO_HOLE ||
		      map[i].addr >= LAYOUT_MMIO_HOLE_END);
}

UNIT_TEST(e820_hand_built_slots)
{
	/* A layout set by hand, as a restored snapshot could have it. */
	struct guest_mem mem = {.memfd = -1, .nslots = 2};
	struct boot_e820_entry map[8];

	mem.slots[0] = (struct guest_mem_slot){.gpa = 0, .size = 0x40000000};
	mem.slots[1] = (struct guest_mem_slot){.gpa = LAYOUT_HIGH_RAM, .size = 0x1000};
	CHECK_EQ(loader_e820_map(&mem, map, 8), 4);
	CHECK_E820(map[2], 0x100000, 0x40000000 - 0x100000, LOADER_E820_RAM);
	CHECK_E820(map[3], LAYOUT_HIGH_RAM, 0x1000, LOADER_E820_RAM);
}

UNIT_TEST(e820_respects_max_and_tiny_ram)
{
	struct guest_mem mem;
	struct boot_e820_entry map[8];

	guest_mem_init_buffer(&mem, NULL, 6ULL << 30);
	CHECK_EQ(loader_e820_map(&mem, map, 2), 2);
	CHECK_EQ(loader_e820_map(&mem, map, 0), 0);
	guest_mem_init_buffer(&mem, NULL, 512 << 10);
	CHECK_EQ(loader_e820_map(&mem, map, 8), 1);
	CHECK_E820(map[0], 0, 512 << 10, LOADER_E820_RAM);
	mem.nslots = 0;
	CHECK_EQ(loader_e820_map(&mem, map, 8), 0);
}

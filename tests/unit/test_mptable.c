/*
 * test_mptable.c - the MP floating pointer and configuration table, read back by the byte
 * offsets of the Intel MP Specification 1.4 (chapter 4).
 */
#include "tests/unit/unit.h"
#include "vmm/layout.h"
#include "vmm/boot/mptable.h"

#include <stdlib.h>

#define MPT_RAM (2ULL << 20)

static uint64_t rd(const uint8_t *p, unsigned size)
{
	uint64_t v = 0;

	memcpy(&v, p, size);
	return v;
}

static uint8_t sum8(const uint8_t *p, size_t len)
{
	uint8_t s = 0;

	for (size_t i = 0; i < len; i++)
		s += p[i];
	return s;
}

/* Checks the whole table for n vCPUs; reports through the test's failure flag. */
static void check_mptable(bool *unit_failed, unsigned n)
{
	struct guest_mem mem;
	uint8_t *ram = calloc(1, MPT_RAM);
	char err[256] = "";
	unsigned counts[5] = {0}, irqs = 0;

	if (!ram)
		UNIT_FAIL("calloc");
	guest_mem_init_buffer(&mem, ram, MPT_RAM);
	CHECK_EQ(mptable_write(&mem, n, err, sizeof(err)), 0);

	const uint8_t *fp = ram + LAYOUT_MPTABLE;
	CHECK(memcmp(fp, "_MP_", 4) == 0);
	CHECK_EQ(rd(fp + 4, 4), LAYOUT_MPTABLE + 16);
	CHECK_EQ(fp[8], 1);
	CHECK_EQ(fp[9], 4);
	CHECK_EQ(sum8(fp, 16), 0);
	CHECK_EQ(fp[11], 0); /* feature 1: table present, not a default configuration */

	const uint8_t *ct = ram + rd(fp + 4, 4);
	uint16_t len = (uint16_t)rd(ct + 4, 2), count = (uint16_t)rd(ct + 34, 2);
	CHECK(memcmp(ct, "PCMP", 4) == 0);
	CHECK_EQ(ct[6], 4);
	CHECK_EQ(sum8(ct, len), 0);
	CHECK_EQ(rd(ct + 36, 4), LAYOUT_LAPIC);
	CHECK_EQ(count, n + 1 + 1 + 24 + 2);
	CHECK(LAYOUT_MPTABLE + 16 + len <= LAYOUT_EBDA_END);
	CHECK_EQ(16 + len, mptable_size(n));

	const uint8_t *e = ct + 44, *end = ct + len;
	for (unsigned i = 0; i < count; i++) {
		CHECK(e < end && e[0] <= 4);
		counts[e[0]]++;
		switch (e[0]) {
		case 0: /* processor */
			CHECK_EQ(e[1], counts[0] - 1);
			CHECK_EQ(e[3], counts[0] == 1 ? 0x3 : 0x1);
			e += 20;
			continue;
		case 1:
			CHECK_EQ(e[1], 0);
			CHECK(memcmp(e + 2, "ISA   ", 6) == 0);
			break;
		case 2:
			CHECK_EQ(e[1], n);
			CHECK_EQ(e[3], 1);
			CHECK_EQ(rd(e + 4, 4), LAYOUT_IOAPIC);
			break;
		case 3: /* I/O interrupt: INT, ISA bus irq k -> IOAPIC n pin k */
			CHECK_EQ(e[1], 0);
			CHECK_EQ(e[4], 0);
			CHECK_EQ(e[5], irqs);
			CHECK_EQ(e[6], n);
			CHECK_EQ(e[7], irqs);
			irqs++;
			break;
		case 4: /* local interrupt: LINT0 ExtINT, LINT1 NMI, all local APICs */
			CHECK_EQ(e[1], counts[4] == 1 ? 3 : 1);
			CHECK_EQ(e[6], 0xff);
			CHECK_EQ(e[7], counts[4] - 1);
			break;
		}
		e += 8;
	}
	CHECK(e == end);
	CHECK_EQ(counts[0], n);
	CHECK_EQ(counts[1], 1);
	CHECK_EQ(counts[2], 1);
	CHECK_EQ(counts[3], 24);
	CHECK_EQ(counts[4], 2);
	free(ram);
}

UNIT_TEST(mptable_one_vcpu)
{
	check_mptable(unit_failed, 1);
}

UNIT_TEST(mptable_32_vcpus_fit_below_ebda_end)
{
	CHECK(mptable_size(32) <= LAYOUT_EBDA_END - LAYOUT_MPTABLE);
	check_mptable(unit_failed, 32);
}

UNIT_TEST(mptable_rejects_bad_counts_and_small_ram)
{
	struct guest_mem mem;
	uint8_t *ram = calloc(1, MPT_RAM);
	char err[256] = "";

	CHECK(ram);
	guest_mem_init_buffer(&mem, ram, MPT_RAM);
	CHECK_EQ(mptable_write(&mem, 0, err, sizeof(err)), -1);
	CHECK_CONTAINS(err, "at least one vCPU");
	CHECK_EQ(mptable_write(&mem, 64, err, sizeof(err)), -1);
	CHECK_CONTAINS(err, "64 vCPUs");
	guest_mem_init_buffer(&mem, ram, 512 << 10);
	CHECK_EQ(mptable_write(&mem, 1, err, sizeof(err)), -1);
	CHECK_CONTAINS(err, "too small");
	free(ram);
}

/*
 * test_guest_mem.c - RAM layout around the MMIO hole and the one checked accessor
 * (vmm/guest_mem.c).
 *
 * Small layouts run over real buffers. Layouts above 3 GiB are checked through the slot
 * arithmetic only (a NULL base, never dereferenced), and the accessor's two-slot behaviour
 * through a struct guest_mem whose slots are set by hand over two small buffers placed at the
 * real guest addresses (0 and 4 GiB): nothing allocates gigabytes.
 */
#include "tests/unit/unit.h"
#include "vmm/guest_mem.h"
#include "vmm/layout.h"

#include <errno.h>
#include <stdlib.h>
#include <unistd.h>

#define SMALL (64 * 1024)

static uint8_t low_buf[SMALL], high_buf[SMALL];

/* Two slots: [0, SMALL) over low_buf and [4 GiB, 4 GiB + SMALL) over high_buf. */
static void two_slots(struct guest_mem *m)
{
	memset(m, 0, sizeof(*m));
	m->memfd = -1;
	m->base = low_buf;
	m->size = 2 * SMALL;
	m->nslots = 2;
	m->slots[0] = (struct guest_mem_slot){.gpa = 0, .size = SMALL, .host = low_buf};
	m->slots[1] = (struct guest_mem_slot){
	    .gpa = LAYOUT_HIGH_RAM, .size = SMALL, .host = high_buf, .file_off = SMALL};
}

UNIT_TEST(guest_mem_small_layout_is_one_slot)
{
	struct guest_mem m;

	guest_mem_init_buffer(&m, low_buf, SMALL);
	CHECK_EQ(m.memfd, -1);
	CHECK(m.base == low_buf);
	CHECK_EQ(m.size, SMALL);
	CHECK_EQ(m.nslots, 1);
	CHECK_EQ(m.slots[0].gpa, 0);
	CHECK_EQ(m.slots[0].size, SMALL);
	CHECK(m.slots[0].host == low_buf);
	CHECK_EQ(m.slots[0].file_off, 0);
	CHECK_EQ(guest_mem_low_end(&m), SMALL);
}

UNIT_TEST(guest_mem_layout_3gib_fits_below_hole)
{
	struct guest_mem m;

	guest_mem_init_buffer(&m, NULL, LAYOUT_MMIO_HOLE);
	CHECK_EQ(m.nslots, 1);
	CHECK_EQ(m.slots[0].size, LAYOUT_MMIO_HOLE);
	CHECK_EQ(guest_mem_low_end(&m), LAYOUT_MMIO_HOLE);
}

UNIT_TEST(guest_mem_layout_above_3gib_splits_at_hole)
{
	struct guest_mem m;

	/* One byte more than fits below the hole: it goes to 4 GiB. */
	guest_mem_init_buffer(&m, NULL, LAYOUT_MMIO_HOLE + 4096);
	CHECK_EQ(m.nslots, 2);
	CHECK_EQ(m.slots[0].gpa, 0);
	CHECK_EQ(m.slots[0].size, LAYOUT_MMIO_HOLE);
	CHECK_EQ(m.slots[1].gpa, LAYOUT_HIGH_RAM);
	CHECK_EQ(m.slots[1].size, 4096);
	/* The memfd has no hole: high RAM follows low RAM in the file and the mapping. */
	CHECK_EQ(m.slots[1].file_off, LAYOUT_MMIO_HOLE);
	CHECK_EQ((uintptr_t)m.slots[1].host - (uintptr_t)m.slots[0].host, LAYOUT_MMIO_HOLE);
	CHECK_EQ(guest_mem_low_end(&m), LAYOUT_MMIO_HOLE);

	guest_mem_init_buffer(&m, NULL, 16ULL << 30);
	CHECK_EQ(m.nslots, 2);
	CHECK_EQ(m.size, 16ULL << 30);
	CHECK_EQ(m.slots[1].size, (16ULL << 30) - LAYOUT_MMIO_HOLE);
	CHECK_EQ(m.slots[0].size + m.slots[1].size, m.size);
	/* High RAM ends below the PVM limit for any size guest_mem_init accepts. */
	CHECK(m.slots[1].gpa + m.slots[1].size <= LAYOUT_GPA_LIMIT);
}

UNIT_TEST(guest_mem_ptr_bounds_one_slot)
{
	struct guest_mem m;

	guest_mem_init_buffer(&m, low_buf, SMALL);
	CHECK(guest_mem_ptr(&m, 0, 1) == low_buf);
	CHECK(guest_mem_ptr(&m, 0, SMALL) == low_buf);
	CHECK(guest_mem_ptr(&m, 100, 28) == low_buf + 100);
	CHECK(guest_mem_ptr(&m, SMALL - 1, 1) == low_buf + SMALL - 1);
	/* Past the end, or crossing it. */
	CHECK(guest_mem_ptr(&m, SMALL, 1) == NULL);
	CHECK(guest_mem_ptr(&m, SMALL - 1, 2) == NULL);
	CHECK(guest_mem_ptr(&m, 0, SMALL + 1) == NULL);
	CHECK(guest_mem_ptr(&m, SMALL + 4096, 1) == NULL);
	/* len 0: anywhere inside, and at the very end, is a valid (empty) range. */
	CHECK(guest_mem_ptr(&m, 0, 0) == low_buf);
	CHECK(guest_mem_ptr(&m, 17, 0) == low_buf + 17);
	CHECK(guest_mem_ptr(&m, SMALL, 0) == low_buf + SMALL);
	CHECK(guest_mem_ptr(&m, SMALL + 1, 0) == NULL);
}

UNIT_TEST(guest_mem_ptr_overflow)
{
	struct guest_mem m;

	guest_mem_init_buffer(&m, low_buf, SMALL);
	CHECK(guest_mem_ptr(&m, UINT64_MAX, 1) == NULL);
	CHECK(guest_mem_ptr(&m, UINT64_MAX, 0) == NULL);
	CHECK(guest_mem_ptr(&m, UINT64_MAX - 1, 2) == NULL);
	CHECK(guest_mem_ptr(&m, 0, UINT64_MAX) == NULL);
	CHECK(guest_mem_ptr(&m, 1, UINT64_MAX) == NULL);
	CHECK(guest_mem_ptr(&m, 16, UINT64_MAX - 15) == NULL); /* gpa + len wraps to 0 */
	CHECK(guest_mem_ptr(&m, 16, UINT64_MAX - 8) == NULL);  /* wraps to 7 */
	CHECK(guest_mem_ptr(&m, SMALL - 1, UINT64_MAX) == NULL);
	CHECK(!guest_mem_range_ok(&m, 4096, UINT64_MAX - 4095));

	two_slots(&m);
	CHECK(guest_mem_ptr(&m, LAYOUT_HIGH_RAM + 8, UINT64_MAX - LAYOUT_HIGH_RAM) == NULL);
	CHECK(guest_mem_ptr(&m, LAYOUT_HIGH_RAM, UINT64_MAX) == NULL);
	CHECK(guest_mem_ptr(&m, UINT64_MAX - 4095, 4096) == NULL);
}

UNIT_TEST(guest_mem_ptr_two_slots)
{
	struct guest_mem m;

	two_slots(&m);
	CHECK(guest_mem_ptr(&m, 0, SMALL) == low_buf);
	CHECK(guest_mem_ptr(&m, LAYOUT_HIGH_RAM, 1) == high_buf);
	CHECK(guest_mem_ptr(&m, LAYOUT_HIGH_RAM + 4096, SMALL - 4096) == high_buf + 4096);
	CHECK(guest_mem_ptr(&m, LAYOUT_HIGH_RAM + SMALL, 0) == high_buf + SMALL);
	CHECK(guest_mem_ptr(&m, LAYOUT_HIGH_RAM + SMALL, 1) == NULL);
	CHECK(guest_mem_ptr(&m, LAYOUT_HIGH_RAM + SMALL - 1, 2) == NULL);
	/* In the gap between the slots (the hole, in a real layout). */
	CHECK(guest_mem_ptr(&m, SMALL, 1) == NULL);
	CHECK(guest_mem_ptr(&m, LAYOUT_MMIO_HOLE, 1) == NULL);
	CHECK(guest_mem_ptr(&m, LAYOUT_VIRTIO_MMIO_BASE, 4) == NULL);
	CHECK(guest_mem_ptr(&m, LAYOUT_LAPIC, 0) == NULL);
	CHECK(guest_mem_ptr(&m, LAYOUT_HIGH_RAM - 1, 1) == NULL);
	/* Crossing from one slot into the next is refused even though both ends are RAM. */
	CHECK(guest_mem_ptr(&m, SMALL - 8, 16) == NULL);
	CHECK(guest_mem_ptr(&m, 0, LAYOUT_HIGH_RAM + 1) == NULL);
	CHECK(guest_mem_ptr(&m, LAYOUT_HIGH_RAM - 1, 2) == NULL);
}

UNIT_TEST(guest_mem_ptr_real_hole_boundaries)
{
	/* A > 3 GiB layout by hand: slot 0 ends at the hole, slot 1 starts at 4 GiB. The host
	 * pointers only matter for the two pages checked, so each slot maps one small buffer
	 * positioned at the addresses tested. */
	struct guest_mem m;

	two_slots(&m);
	m.slots[0].gpa = LAYOUT_MMIO_HOLE - SMALL; /* stands for the top of [0, 3 GiB) */
	CHECK(guest_mem_ptr(&m, LAYOUT_MMIO_HOLE - 1, 1) == low_buf + SMALL - 1);
	CHECK(guest_mem_ptr(&m, LAYOUT_MMIO_HOLE, 0) == low_buf + SMALL);
	CHECK(guest_mem_ptr(&m, LAYOUT_MMIO_HOLE, 1) == NULL);
	CHECK(guest_mem_ptr(&m, LAYOUT_MMIO_HOLE - 2, 4) == NULL);
	CHECK(guest_mem_ptr(&m, LAYOUT_MMIO_HOLE_END - 1, 1) == NULL);
	CHECK(guest_mem_ptr(&m, LAYOUT_MMIO_HOLE_END, 1) == high_buf);
}

UNIT_TEST(guest_mem_ptr_slot_ending_at_top_of_address_space)
{
	/* A slot whose end is 2^64 (gpa + size wraps): the accessor must not overflow. */
	struct guest_mem m;

	two_slots(&m);
	m.slots[1].gpa = 0ULL - SMALL;
	CHECK(guest_mem_ptr(&m, UINT64_MAX, 1) == high_buf + SMALL - 1);
	CHECK(guest_mem_ptr(&m, 0ULL - SMALL, SMALL) == high_buf);
	CHECK(guest_mem_ptr(&m, UINT64_MAX, 2) == NULL);
	CHECK(guest_mem_ptr(&m, 0ULL - SMALL, SMALL + 1) == NULL);
	CHECK(guest_mem_ptr(&m, UINT64_MAX - 3, UINT64_MAX) == NULL);
}

UNIT_TEST(guest_mem_read_write_round_trip)
{
	struct guest_mem m;
	uint8_t out[300], in[300];

	memset(low_buf, 0, sizeof(low_buf));
	guest_mem_init_buffer(&m, low_buf, SMALL);
	for (unsigned i = 0; i < sizeof(out); i++)
		out[i] = (uint8_t)(i * 13 + 1);
	CHECK_EQ(guest_mem_write(&m, 0x1234, out, sizeof(out)), 0);
	CHECK_EQ(memcmp(low_buf + 0x1234, out, sizeof(out)), 0);
	CHECK_EQ(low_buf[0x1233], 0);
	CHECK_EQ(low_buf[0x1234 + sizeof(out)], 0);
	memset(in, 0, sizeof(in));
	CHECK_EQ(guest_mem_read(&m, 0x1234, in, sizeof(in)), 0);
	CHECK_EQ(memcmp(in, out, sizeof(in)), 0);
	/* Exactly at the end. */
	CHECK_EQ(guest_mem_write(&m, SMALL - 4, "wisp", 4), 0);
	memset(in, 0, sizeof(in));
	CHECK_EQ(guest_mem_read(&m, SMALL - 4, in, 4), 0);
	CHECK_EQ(memcmp(in, "wisp", 4), 0);
	/* len 0 at the end is a no-op success. */
	CHECK_EQ(guest_mem_write(&m, SMALL, out, 0), 0);
	CHECK_EQ(guest_mem_read(&m, SMALL, in, 0), 0);
}

UNIT_TEST(guest_mem_failed_access_touches_nothing)
{
	struct guest_mem m;
	uint8_t out[16], in[16];

	memset(low_buf, 0, sizeof(low_buf));
	memset(out, 0x77, sizeof(out));
	memset(in, 0x55, sizeof(in));
	guest_mem_init_buffer(&m, low_buf, SMALL);
	/* Crossing the end: nothing is written, not even the part inside RAM. */
	CHECK_EQ(guest_mem_write(&m, SMALL - 8, out, 16), -1);
	for (unsigned i = SMALL - 8; i < SMALL; i++)
		CHECK_EQ(low_buf[i], 0);
	CHECK_EQ(guest_mem_read(&m, SMALL - 8, in, 16), -1);
	for (unsigned i = 0; i < 16; i++)
		CHECK_EQ(in[i], 0x55);
	CHECK_EQ(guest_mem_write(&m, UINT64_MAX, out, 1), -1);
	CHECK_EQ(guest_mem_read(&m, 8, in, UINT64_MAX), -1);
	CHECK(!guest_mem_range_ok(&m, SMALL - 8, 16));
	CHECK(guest_mem_range_ok(&m, SMALL - 8, 8));
}

UNIT_TEST(guest_mem_two_slot_round_trip)
{
	struct guest_mem m;
	uint64_t v = 0x1122334455667788ULL, r = 0;

	memset(high_buf, 0, sizeof(high_buf));
	two_slots(&m);
	CHECK_EQ(guest_mem_write(&m, LAYOUT_HIGH_RAM + 0x100, &v, sizeof(v)), 0);
	CHECK_EQ(memcmp(high_buf + 0x100, &v, sizeof(v)), 0);
	CHECK_EQ(guest_mem_read(&m, LAYOUT_HIGH_RAM + 0x100, &r, sizeof(r)), 0);
	CHECK_EQ(r, v);
	CHECK_EQ(guest_mem_write(&m, SMALL - 4, &v, sizeof(v)), -1);
	CHECK_EQ(guest_mem_write(&m, LAYOUT_MMIO_HOLE, &v, sizeof(v)), -1);
}

UNIT_TEST(guest_mem_destroy_buffer_leaves_it_alone)
{
	struct guest_mem m;

	low_buf[5] = 0x42;
	guest_mem_init_buffer(&m, low_buf, SMALL);
	guest_mem_destroy(&m);
	CHECK_EQ(low_buf[5], 0x42);
	CHECK_EQ(m.memfd, -1);
	CHECK_EQ(m.nslots, 0);
	CHECK(m.base == NULL);
	CHECK(guest_mem_ptr(&m, 0, 0) == NULL);
	/* Twice is harmless. */
	guest_mem_destroy(&m);
	CHECK_EQ(m.memfd, -1);
}

UNIT_TEST(guest_mem_init_rejects_bad_sizes)
{
	struct guest_mem m;

	CHECK_EQ(guest_mem_init(&m, 0), -EINVAL);
	/* More than fits: 3 GiB below the hole plus [4 GiB, 2^43) above it (the PVM limit). */
	CHECK_EQ(guest_mem_init(&m, LAYOUT_GPA_LIMIT - LAYOUT_HIGH_RAM + LAYOUT_MMIO_HOLE + 1),
	         -EINVAL);
	CHECK_EQ(guest_mem_init(&m, UINT64_MAX), -EINVAL);
}

UNIT_TEST(guest_mem_init_memfd_small)
{
	struct guest_mem m;
	uint32_t v = 0xc0ffee, r = 0;
	int rc = guest_mem_init(&m, 2ULL << 20);

	CHECK_EQ(rc, 0);
	CHECK(m.memfd >= 0);
	CHECK_EQ(m.nslots, 1);
	CHECK_EQ(m.slots[0].size, 2ULL << 20);
	CHECK_EQ(guest_mem_write(&m, (2ULL << 20) - 4, &v, 4), 0);
	CHECK_EQ(guest_mem_read(&m, (2ULL << 20) - 4, &r, 4), 0);
	CHECK_EQ(r, v);
	/* RAM starts zeroed. */
	CHECK_EQ(*(uint8_t *)guest_mem_ptr(&m, 0x1000, 1), 0);
	guest_mem_destroy(&m);
	CHECK_EQ(m.memfd, -1);
	CHECK_EQ(m.nslots, 0);
}

/* guest_mem_zero on wisp's memfd: partial pages are written, whole pages punched out of the
 * file (holes: no host memory), the bytes around the range untouched. */
UNIT_TEST(guest_mem_zero_memfd_punches_whole_pages)
{
	struct guest_mem m;
	uint8_t *p;

	CHECK_EQ(guest_mem_init(&m, 2ULL << 20), 0);
	p = guest_mem_ptr(&m, 0, 0x10000);
	memset(p, 0xaa, 0x5000);
	/* head 0x1800-0x2000, whole pages 0x2000-0x4000, tail 0x4000-0x4200 */
	CHECK_EQ(guest_mem_zero(&m, 0x1800, 0x2a00), 0);
	/* the two whole pages are a hole again (looked at first: reading a shmem hole through
	 * the mapping allocates it); the page with the tail still has data */
	CHECK_EQ(lseek(m.memfd, 0x2000, SEEK_DATA), 0x4000);
	CHECK_EQ(p[0x17ff], 0xaa);
	for (unsigned i = 0x1800; i < 0x4200; i++)
		if (p[i] != 0) {
			CHECK_EQ(i, 0); /* names the first wrong byte */
			break;
		}
	CHECK_EQ(p[0x4200], 0xaa);
	/* never-touched RAM stays unallocated: no data anywhere past 0x5000 */
	CHECK_EQ(guest_mem_zero(&m, 0x10000, 0x8000), 0);
	CHECK_EQ(lseek(m.memfd, 0x5000, SEEK_DATA), -1);
	CHECK_EQ(errno, ENXIO);
	/* a range not wholly RAM is refused and nothing changes */
	CHECK_EQ(guest_mem_zero(&m, (2ULL << 20) - 0x1000, 0x2000), -1);
	CHECK_EQ(guest_mem_zero(&m, 0, 0), 0);
	CHECK_EQ(p[0], 0xaa);
	guest_mem_destroy(&m);
}

/* A snapshot's memory file (MAP_PRIVATE) is never punched: the mapping reads zeros, the file
 * keeps its bytes. A plain buffer is memset. */
UNIT_TEST(guest_mem_zero_private_file_and_buffer)
{
	char path[] = "/tmp/wisp-unit-mem.XXXXXX";
	static uint8_t page[3 * 4096];
	struct guest_mem m;
	uint8_t back = 0;
	int fd = mkstemp(path);

	CHECK(fd >= 0);
	unlink(path);
	memset(page, 0xaa, sizeof(page));
	CHECK_EQ(write(fd, page, sizeof(page)), (ssize_t)sizeof(page));
	CHECK_EQ(guest_mem_init_file(&m, fd, sizeof(page)), 0);
	CHECK_EQ(guest_mem_zero(&m, 0x1000, 0x1000), 0);
	CHECK_EQ(*(uint8_t *)guest_mem_ptr(&m, 0x1000, 1), 0);
	CHECK_EQ(*(uint8_t *)guest_mem_ptr(&m, 0x2000, 1), 0xaa);
	CHECK_EQ(pread(fd, &back, 1, 0x1000), 1);
	CHECK_EQ(back, 0xaa);
	guest_mem_destroy(&m);
	close(fd);

	guest_mem_init_buffer(&m, page, sizeof(page));
	CHECK_EQ(guest_mem_zero(&m, 0x800, 0x1000), 0);
	CHECK_EQ(page[0x7ff], 0xaa);
	CHECK_EQ(page[0x800], 0);
	CHECK_EQ(page[0x17ff], 0);
	CHECK_EQ(page[0x1800], 0xaa);
}

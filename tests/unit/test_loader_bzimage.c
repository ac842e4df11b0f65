/* test_loader_bzimage.c - bzImage setup header parsing, placement and rejections. */
#include "tests/unit/unit.h"
#include "tests/unit/loader_test_images.h"
#include "vmm/layout.h"
#include "vmm/boot/loader.h"

#include <stdlib.h>

static uint8_t bz_img[TEST_BZ_SIZE + 0x800];

/* Loads len bytes of bz_img into fresh 64 MiB RAM. *first is the byte at the load address
 * (0 when the load failed), *untouched whether RAM stayed all zero. */
static int load_bz(size_t len, enum boot_protocol proto, struct kernel_info *info, char *err,
                   size_t errlen, uint8_t *first, bool *untouched)
{
	struct guest_mem mem;
	uint8_t *ram = test_mem_new(&mem, TEST_MEM_SIZE);
	int rc;

	if (!ram)
		return -2;
	err[0] = '\0';
	rc = loader_load_kernel(&mem, bz_img, len, proto, info, err, errlen);
	*first = rc == 0 ? ram[info->load_start] : 0;
	*untouched = true;
	for (uint64_t i = 0; i < TEST_MEM_SIZE; i += 4096)
		if (ram[i] || ram[i + 1]) {
			*untouched = false;
			break;
		}
	free(ram);
	return rc;
}

/* Builds the default bzImage, applies mutate (with hdr in scope), expects rejection. */
#define EXPECT_BZ_REJECTED(mutate_stmt, len, needle)                                               \
	do {                                                                                       \
		struct kernel_info info;                                                           \
		struct setup_header hdr;                                                           \
		char err[256];                                                                     \
		uint8_t first;                                                                     \
		bool untouched;                                                                    \
		test_build_bzimage(bz_img);                                                        \
		test_get_hdr(bz_img, &hdr);                                                        \
		mutate_stmt;                                                                       \
		test_put_hdr(bz_img, &hdr);                                                        \
		CHECK_EQ(load_bz((len), BOOT_PROTOCOL_AUTO, &info, err, sizeof(err), &first,       \
		                 &untouched),                                                      \
		         -1);                                                                      \
		CHECK_CONTAINS(err, needle);                                                       \
		CHECK(untouched);                                                                  \
	} while (0)

UNIT_TEST(loader_bzimage_loads_at_pref_address)
{
	struct kernel_info info;
	char err[256];
	uint8_t first;
	bool untouched;

	test_build_bzimage(bz_img);
	CHECK_EQ(
	    load_bz(TEST_BZ_SIZE, BOOT_PROTOCOL_AUTO, &info, err, sizeof(err), &first, &untouched),
	    0);
	CHECK_EQ(info.format, KERNEL_FORMAT_BZIMAGE);
	CHECK_EQ(info.mode, BOOT_ENTRY_LINUX64);
	CHECK_EQ(info.load_start, TEST_BZ_PREF);
	CHECK_EQ(info.entry, TEST_BZ_PREF + 0x200);
	/* init_size (8 MiB) is larger than the payload: it decides the reserved range. */
	CHECK_EQ(info.load_end, TEST_BZ_PREF + TEST_BZ_INIT_SIZE);
	CHECK(info.has_setup_header);
	CHECK_EQ(info.setup_header.version, 0x020f);
	CHECK_EQ(info.setup_header.code32_start, TEST_BZ_PREF);
	CHECK_EQ(info.cmdline_max, 2047);
	CHECK_EQ(info.initrd_addr_max, 0x7fffffff);
	/* The protected-mode code starts right after the setup sectors. */
	CHECK_EQ(first, bz_img[TEST_BZ_SETUP_SIZE]);
}

UNIT_TEST(loader_bzimage_copies_protected_mode_bytes)
{
	struct guest_mem mem;
	struct kernel_info info;
	char err[256];
	uint8_t *ram = test_mem_new(&mem, TEST_MEM_SIZE);

	CHECK(ram);
	test_build_bzimage(bz_img);
	CHECK_EQ(loader_load_kernel(&mem, bz_img, TEST_BZ_SIZE, BOOT_PROTOCOL_LINUX, &info, err,
	                            sizeof(err)),
	         0);
	CHECK(memcmp(ram + TEST_BZ_PREF, bz_img + TEST_BZ_SETUP_SIZE, TEST_BZ_PAYLOAD) == 0);
	/* Nothing of the setup sectors lands in RAM. */
	CHECK_EQ(ram[TEST_BZ_PREF - 1], 0);
	CHECK_EQ(ram[LAYOUT_HIMEM], 0);
	free(ram);
}

UNIT_TEST(loader_bzimage_setup_sects_zero_means_four)
{
	struct kernel_info info;
	struct setup_header hdr;
	char err[256];
	uint8_t first;
	bool untouched;

	test_build_bzimage(bz_img);
	test_get_hdr(bz_img, &hdr);
	hdr.setup_sects = 0;
	test_put_hdr(bz_img, &hdr);
	bz_img[5 * 512] = 0xc3;
	CHECK_EQ(
	    load_bz(TEST_BZ_SIZE, BOOT_PROTOCOL_AUTO, &info, err, sizeof(err), &first, &untouched),
	    0);
	CHECK_EQ(first, 0xc3);
}

UNIT_TEST(loader_bzimage_relocates_to_kernel_alignment)
{
	struct kernel_info info;
	struct setup_header hdr;
	char err[256];
	uint8_t first;
	bool untouched;

	/* A misaligned pref_address: the lowest 2 MiB-aligned address above 1 MiB. */
	test_build_bzimage(bz_img);
	test_get_hdr(bz_img, &hdr);
	hdr.pref_address = TEST_BZ_PREF + 0x1000;
	test_put_hdr(bz_img, &hdr);
	CHECK_EQ(
	    load_bz(TEST_BZ_SIZE, BOOT_PROTOCOL_AUTO, &info, err, sizeof(err), &first, &untouched),
	    0);
	CHECK_EQ(info.load_start, 0x200000);
	CHECK_EQ(info.entry, 0x200200);
	/* A pref_address past RAM, 16 MiB alignment. */
	hdr.pref_address = 1ULL << 30;
	hdr.kernel_alignment = 0x1000000;
	test_put_hdr(bz_img, &hdr);
	CHECK_EQ(
	    load_bz(TEST_BZ_SIZE, BOOT_PROTOCOL_AUTO, &info, err, sizeof(err), &first, &untouched),
	    0);
	CHECK_EQ(info.load_start, 0x1000000);
	CHECK_EQ(info.load_start % hdr.kernel_alignment, 0);
	/* pref_address 0: "if nonzero"; falls back to 1 MiB rounded up. */
	hdr.pref_address = 0;
	hdr.kernel_alignment = 0x100000;
	test_put_hdr(bz_img, &hdr);
	CHECK_EQ(
	    load_bz(TEST_BZ_SIZE, BOOT_PROTOCOL_AUTO, &info, err, sizeof(err), &first, &untouched),
	    0);
	CHECK_EQ(info.load_start, LAYOUT_HIMEM);
}

UNIT_TEST(loader_bzimage_rejects_bad_magic_and_version)
{
	EXPECT_BZ_REJECTED(hdr.boot_flag = 0x55aa, TEST_BZ_SIZE, "boot_flag");
	EXPECT_BZ_REJECTED(hdr.version = 0x020b, TEST_BZ_SIZE, "older than 2.12");
	EXPECT_BZ_REJECTED(hdr.version = 0x0100, TEST_BZ_SIZE, "older than 2.12");
	EXPECT_BZ_REJECTED(hdr.loadflags = 0, TEST_BZ_SIZE, "zImage");
	EXPECT_BZ_REJECTED(hdr.xloadflags = XLF_CAN_BE_LOADED_ABOVE_4G, TEST_BZ_SIZE,
	                   "XLF_KERNEL_64");
}

UNIT_TEST(loader_bzimage_rejects_truncated_header)
{
	/* Header claims to end at 0x26c, file stops at 0x240. */
	EXPECT_BZ_REJECTED((void)0, 0x240, "past the end of the image");
	/* A header that ends before init_size. */
	EXPECT_BZ_REJECTED(hdr.jump = 0x20eb, TEST_BZ_SIZE, "before init_size");
}

UNIT_TEST(loader_bzimage_rejects_missing_payload)
{
	EXPECT_BZ_REJECTED((void)0, TEST_BZ_SETUP_SIZE, "no protected-mode kernel");
	EXPECT_BZ_REJECTED(hdr.setup_sects = 200, TEST_BZ_SIZE, "no protected-mode kernel");
	EXPECT_BZ_REJECTED((void)0, TEST_BZ_SETUP_SIZE + 0x200, "too short for the 64-bit entry");
}

UNIT_TEST(loader_bzimage_rejects_bad_placement)
{
	EXPECT_BZ_REJECTED(hdr.kernel_alignment = 0, TEST_BZ_SIZE, "power of two");
	EXPECT_BZ_REJECTED(hdr.kernel_alignment = 0x300000, TEST_BZ_SIZE, "power of two");
	EXPECT_BZ_REJECTED(hdr.kernel_alignment = 0x80000000u, TEST_BZ_SIZE, "power of two");
	/* init_size bigger than RAM. */
	EXPECT_BZ_REJECTED(hdr.init_size = 0x7fffffff, TEST_BZ_SIZE, "bzImage kernel");
	EXPECT_BZ_REJECTED(hdr.init_size = 63u << 20, TEST_BZ_SIZE, "past guest RAM");
	/* Non-relocatable: only pref_address will do. */
	EXPECT_BZ_REJECTED((hdr.relocatable_kernel = 0, hdr.pref_address = 60ULL << 20),
	                   TEST_BZ_SIZE, "non-relocatable");
	EXPECT_BZ_REJECTED((hdr.relocatable_kernel = 0, hdr.pref_address = 0x10000), TEST_BZ_SIZE,
	                   "boot structures");
	EXPECT_BZ_REJECTED((hdr.relocatable_kernel = 0, hdr.pref_address = UINT64_MAX - 0x1000),
	                   TEST_BZ_SIZE, "wraps");
}

UNIT_TEST(loader_bzimage_rejects_pvh_protocol)
{
	struct kernel_info info;
	char err[256];
	uint8_t first;
	bool untouched;

	test_build_bzimage(bz_img);
	CHECK_EQ(
	    load_bz(TEST_BZ_SIZE, BOOT_PROTOCOL_PVH, &info, err, sizeof(err), &first, &untouched),
	    -1);
	CHECK_CONTAINS(err, "no PVH entry");
	CHECK(untouched);
}

/*
 * test_boot_params.c - the zero page field by field at the offsets boot.rst and zero-page.rst
 * give, command line limits and initrd placement.
 *
 * Fields are read back from guest RAM by raw offset (not through struct boot_params) so a
 * mistake in the structure wisp uses would show.
 */
#include "tests/unit/unit.h"
#include "tests/unit/loader_test_images.h"
#include "vmm/layout.h"
#include "vmm/boot/loader.h"

#include <stddef.h>
#include <stdlib.h>

static uint8_t bp_bz[TEST_BZ_SIZE];
static uint8_t bp_elf[TEST_ELF_SIZE];

static uint64_t zp(const uint8_t *ram, unsigned off, unsigned size)
{
	uint64_t v = 0;

	memcpy(&v, ram + LAYOUT_ZERO_PAGE + off, size);
	return v;
}

/* The uapi structure agrees with the documented offsets. */
UNIT_TEST(bootparams_uapi_offsets_match_protocol)
{
	CHECK_EQ(sizeof(struct boot_params), 4096);
	CHECK_EQ(offsetof(struct boot_params, hdr), 0x1f1);
	CHECK_EQ(offsetof(struct boot_params, hdr.type_of_loader), 0x210);
	CHECK_EQ(offsetof(struct boot_params, hdr.loadflags), 0x211);
	CHECK_EQ(offsetof(struct boot_params, hdr.ramdisk_image), 0x218);
	CHECK_EQ(offsetof(struct boot_params, hdr.heap_end_ptr), 0x224);
	CHECK_EQ(offsetof(struct boot_params, hdr.cmd_line_ptr), 0x228);
	CHECK_EQ(offsetof(struct boot_params, hdr.cmdline_size), 0x238);
	CHECK_EQ(offsetof(struct boot_params, hdr.pref_address), 0x258);
	CHECK_EQ(offsetof(struct boot_params, hdr.init_size), 0x260);
	CHECK_EQ(offsetof(struct boot_params, e820_entries), 0x1e8);
	CHECK_EQ(offsetof(struct boot_params, e820_table), 0x2d0);
	CHECK_EQ(offsetof(struct boot_params, ext_cmd_line_ptr), 0xc8);
}

UNIT_TEST(bootparams_bzimage_zero_page_fields)
{
	static const uint8_t initrd[0x3001] = {0x11};
	struct guest_mem mem;
	struct kernel_info info;
	struct setup_header hdr;
	char err[256] = "";
	uint64_t initrd_gpa = 0;
	uint8_t *ram = test_mem_new(&mem, TEST_MEM_SIZE);

	CHECK(ram);
	test_build_bzimage(bp_bz);
	/* Loader-owned fields with garbage in the image: wisp must overwrite them. */
	test_get_hdr(bp_bz, &hdr);
	hdr.setup_data = 0xdeadbeef;
	hdr.cmd_line_ptr = 0x1234;
	hdr.ramdisk_image = 0x5678;
	hdr.type_of_loader = 0x21;
	test_put_hdr(bp_bz, &hdr);
	CHECK_EQ(loader_load_kernel(&mem, bp_bz, sizeof(bp_bz), BOOT_PROTOCOL_AUTO, &info, err,
	                            sizeof(err)),
	         0);
	CHECK_EQ(
	    loader_load_initrd(&mem, &info, initrd, sizeof(initrd), &initrd_gpa, err, sizeof(err)),
	    0);
	CHECK_EQ(loader_write_boot_info(&mem, &info, "console=ttyS0 root=/dev/vda", initrd_gpa,
	                                sizeof(initrd), err, sizeof(err)),
	         0);
	/* The image's setup header, copied. */
	CHECK_EQ(zp(ram, 0x1f1, 1), TEST_BZ_SETUP_SECTS);
	CHECK_EQ(zp(ram, 0x1fa, 2), 0xffff);
	CHECK_EQ(zp(ram, 0x1fe, 2), 0xaa55);
	CHECK_EQ(zp(ram, 0x200, 2), 0x6aeb);
	CHECK_EQ(zp(ram, 0x202, 4), 0x53726448);
	CHECK_EQ(zp(ram, 0x206, 2), 0x020f);
	CHECK_EQ(zp(ram, 0x22c, 4), 0x7fffffff);
	CHECK_EQ(zp(ram, 0x230, 4), 0x200000);
	CHECK_EQ(zp(ram, 0x234, 1), 1);
	CHECK_EQ(zp(ram, 0x236, 2), XLF_KERNEL_64 | XLF_CAN_BE_LOADED_ABOVE_4G);
	CHECK_EQ(zp(ram, 0x238, 4), 2047);
	CHECK_EQ(zp(ram, 0x258, 8), TEST_BZ_PREF);
	CHECK_EQ(zp(ram, 0x260, 4), TEST_BZ_INIT_SIZE);
	/* Loader-written fields. */
	CHECK_EQ(zp(ram, 0x210, 1), 0xff);
	CHECK_EQ(zp(ram, 0x211, 1), LOADED_HIGH | CAN_USE_HEAP);
	CHECK_EQ(zp(ram, 0x214, 4), TEST_BZ_PREF);
	CHECK_EQ(zp(ram, 0x224, 2), 0xde00);
	CHECK_EQ(zp(ram, 0x228, 4), LAYOUT_CMDLINE);
	CHECK_EQ(zp(ram, 0xc8, 4), 0);
	CHECK_EQ(zp(ram, 0x218, 4), initrd_gpa);
	CHECK_EQ(zp(ram, 0x21c, 4), sizeof(initrd));
	CHECK_EQ(zp(ram, 0xc0, 4), 0);
	CHECK_EQ(zp(ram, 0xc4, 4), 0);
	CHECK_EQ(zp(ram, 0x250, 8), 0); /* setup_data */
	CHECK_EQ(zp(ram, 0x1ef, 1), 0); /* sentinel */
	CHECK_EQ(zp(ram, 0x70, 8), 0);  /* acpi_rsdp_addr */
	/* E820: 3 entries of 20 bytes at 0x2d0. */
	CHECK_EQ(zp(ram, 0x1e8, 1), 3);
	CHECK_EQ(zp(ram, 0x2d0, 8), 0);
	CHECK_EQ(zp(ram, 0x2d8, 8), LAYOUT_MPTABLE);
	CHECK_EQ(zp(ram, 0x2e0, 4), 1);
	CHECK_EQ(zp(ram, 0x2e4, 8), LAYOUT_MPTABLE);
	CHECK_EQ(zp(ram, 0x2ec, 8), 0x100000 - LAYOUT_MPTABLE);
	CHECK_EQ(zp(ram, 0x2f4, 4), 2);
	CHECK_EQ(zp(ram, 0x2f8, 8), 0x100000);
	CHECK_EQ(zp(ram, 0x300, 8), TEST_MEM_SIZE - 0x100000);
	CHECK_EQ(zp(ram, 0x308, 4), 1);
	CHECK_EQ(zp(ram, 0x30c, 8), 0);
	CHECK_STR_EQ((const char *)ram + LAYOUT_CMDLINE, "console=ttyS0 root=/dev/vda");
	free(ram);
}

UNIT_TEST(bootparams_elf_gets_minimal_header)
{
	struct guest_mem mem;
	struct kernel_info info;
	char err[256] = "";
	uint8_t *ram = test_mem_new(&mem, TEST_MEM_SIZE);

	CHECK(ram);
	test_build_elf(bp_elf, false);
	CHECK_EQ(loader_load_kernel(&mem, bp_elf, sizeof(bp_elf), BOOT_PROTOCOL_AUTO, &info, err,
	                            sizeof(err)),
	         0);
	CHECK_EQ(loader_write_boot_info(&mem, &info, NULL, 0, 0, err, sizeof(err)), 0);
	CHECK_EQ(zp(ram, 0x1fe, 2), 0xaa55);
	CHECK_EQ(zp(ram, 0x202, 4), 0x53726448);
	CHECK_EQ(zp(ram, 0x206, 2), 0x020c);
	CHECK_EQ(zp(ram, 0x210, 1), 0xff);
	CHECK_EQ(zp(ram, 0x211, 1), LOADED_HIGH);
	CHECK_EQ(zp(ram, 0x224, 2), 0);
	CHECK_EQ(zp(ram, 0x228, 4), LAYOUT_CMDLINE);
	CHECK_EQ(zp(ram, 0x22c, 4), 0x37ffffff);
	CHECK_EQ(zp(ram, 0x230, 4), 0x200000);
	CHECK_EQ(zp(ram, 0x236, 2), XLF_KERNEL_64);
	CHECK_EQ(zp(ram, 0x238, 4), 2047);
	CHECK_EQ(zp(ram, 0x218, 4), 0);
	CHECK_EQ(zp(ram, 0x21c, 4), 0);
	CHECK_EQ(zp(ram, 0x1e8, 1), 3);
	/* NULL command line: an empty string. */
	CHECK_EQ(ram[LAYOUT_CMDLINE], 0);
	free(ram);
}

/* Addresses above 4 GiB split into the 32-bit field and its ext_ upper half. */
UNIT_TEST(bootparams_ext_fields_carry_upper_halves)
{
	struct guest_mem mem;
	struct kernel_info info = {.has_setup_header = false};
	struct boot_params bp;

	guest_mem_init_buffer(&mem, NULL, 6ULL << 30);
	bootparams_build(&bp, &mem, &info, 0x100020000ULL, 0x123456000ULL, 0x100000123ULL);
	CHECK_EQ(bp.hdr.cmd_line_ptr, 0x20000);
	CHECK_EQ(bp.ext_cmd_line_ptr, 1);
	CHECK_EQ(bp.hdr.ramdisk_image, 0x23456000);
	CHECK_EQ(bp.ext_ramdisk_image, 1);
	CHECK_EQ(bp.hdr.ramdisk_size, 0x123);
	CHECK_EQ(bp.ext_ramdisk_size, 1);
	CHECK_EQ(bp.e820_entries, 4);
	CHECK_EQ(bp.e820_table[3].addr, LAYOUT_HIGH_RAM);
}

/* Writes a command line of n 'x' characters; returns the loader's result. */
static int write_cmdline(const struct guest_mem *mem, const struct kernel_info *info, size_t n,
                         char *err, size_t errlen)
{
	char *line = malloc(n + 1);
	int rc;

	if (!line)
		return -2;
	memset(line, 'x', n);
	line[n] = '\0';
	rc = loader_write_boot_info(mem, info, line, 0, 0, err, errlen);
	free(line);
	return rc;
}

UNIT_TEST(bootparams_cmdline_limits)
{
	struct guest_mem mem;
	struct kernel_info info;
	struct setup_header hdr;
	char err[256] = "";
	uint8_t *ram = test_mem_new(&mem, TEST_MEM_SIZE);

	CHECK(ram);
	/* ELF: COMMAND_LINE_SIZE 2048 with the NUL. */
	test_build_elf(bp_elf, false);
	CHECK_EQ(loader_load_kernel(&mem, bp_elf, sizeof(bp_elf), BOOT_PROTOCOL_AUTO, &info, err,
	                            sizeof(err)),
	         0);
	CHECK_EQ(write_cmdline(&mem, &info, 2047, err, sizeof(err)), 0);
	CHECK_EQ(ram[LAYOUT_CMDLINE + 2046], 'x');
	CHECK_EQ(ram[LAYOUT_CMDLINE + 2047], 0);
	CHECK_EQ(write_cmdline(&mem, &info, 2048, err, sizeof(err)), -1);
	CHECK_CONTAINS(err, "2048 bytes");
	CHECK_CONTAINS(err, "at most 2047");
	/* bzImage: the header's cmdline_size, without the NUL. */
	test_build_bzimage(bp_bz);
	test_get_hdr(bp_bz, &hdr);
	hdr.cmdline_size = 100;
	test_put_hdr(bp_bz, &hdr);
	CHECK_EQ(loader_load_kernel(&mem, bp_bz, sizeof(bp_bz), BOOT_PROTOCOL_AUTO, &info, err,
	                            sizeof(err)),
	         0);
	CHECK_EQ(write_cmdline(&mem, &info, 100, err, sizeof(err)), 0);
	CHECK_EQ(write_cmdline(&mem, &info, 101, err, sizeof(err)), -1);
	CHECK_CONTAINS(err, "at most 100");
	/* A huge cmdline_size is capped by the room at LAYOUT_CMDLINE. */
	hdr.cmdline_size = 0xffffffff;
	test_put_hdr(bp_bz, &hdr);
	CHECK_EQ(loader_load_kernel(&mem, bp_bz, sizeof(bp_bz), BOOT_PROTOCOL_AUTO, &info, err,
	                            sizeof(err)),
	         0);
	CHECK_EQ(info.cmdline_max, LAYOUT_CMDLINE_MAX - 1);
	CHECK_EQ(write_cmdline(&mem, &info, LAYOUT_CMDLINE_MAX, err, sizeof(err)), -1);
	free(ram);
}

/* Loads the default bzImage (kernel 16 MiB .. 24 MiB) with initrd_addr_max = max. */
static int load_bz_with_max(const struct guest_mem *mem, uint32_t max, struct kernel_info *info)
{
	struct setup_header hdr;
	char err[256];

	test_build_bzimage(bp_bz);
	test_get_hdr(bp_bz, &hdr);
	hdr.initrd_addr_max = max;
	test_put_hdr(bp_bz, &hdr);
	return loader_load_kernel(mem, bp_bz, sizeof(bp_bz), BOOT_PROTOCOL_AUTO, info, err,
	                          sizeof(err));
}

UNIT_TEST(initrd_placed_at_top_of_low_ram_page_aligned)
{
	struct guest_mem mem;
	struct kernel_info info;
	char err[256] = "";
	uint64_t gpa = 0;
	uint8_t *ram = test_mem_new(&mem, TEST_MEM_SIZE);
	uint8_t *initrd = malloc(0x3001);

	CHECK(ram && initrd);
	memset(initrd, 0x77, 0x3001);
	CHECK_EQ(load_bz_with_max(&mem, 0x7fffffff, &info), 0);
	CHECK_EQ(loader_load_initrd(&mem, &info, initrd, 0x3001, &gpa, err, sizeof(err)), 0);
	CHECK_EQ(gpa, TEST_MEM_SIZE - 0x4000);
	CHECK_EQ(gpa % 4096, 0);
	CHECK(gpa >= info.load_end);
	CHECK_EQ(ram[gpa], 0x77);
	CHECK_EQ(ram[gpa + 0x3000], 0x77);
	free(initrd);
	free(ram);
}

UNIT_TEST(initrd_respects_initrd_addr_max)
{
	struct guest_mem mem;
	struct kernel_info info;
	char err[256] = "";
	uint64_t gpa = 0;
	static const uint8_t initrd[0x1800] = {1};
	uint8_t *ram = test_mem_new(&mem, TEST_MEM_SIZE);

	CHECK(ram);
	CHECK_EQ(load_bz_with_max(&mem, 0x2ffffff, &info), 0);
	CHECK_EQ(loader_load_initrd(&mem, &info, initrd, sizeof(initrd), &gpa, err, sizeof(err)),
	         0);
	CHECK(gpa + sizeof(initrd) - 1 <= 0x2ffffff);
	CHECK_EQ(gpa, 0x2ffe000);
	/* Exactly at the limit: a page ending on initrd_addr_max. */
	CHECK_EQ(loader_load_initrd(&mem, &info, initrd, 0x1000, &gpa, err, sizeof(err)), 0);
	CHECK_EQ(gpa, 0x2fff000);
	free(ram);
}

UNIT_TEST(initrd_rejected_when_it_does_not_fit)
{
	struct guest_mem mem;
	struct kernel_info info;
	char err[256] = "";
	uint64_t gpa = 0xdead;
	uint8_t *ram = test_mem_new(&mem, TEST_MEM_SIZE);
	size_t room = TEST_MEM_SIZE - (TEST_BZ_PREF + TEST_BZ_INIT_SIZE);
	uint8_t *initrd = calloc(1, room + 1);

	CHECK(ram && initrd);
	CHECK_EQ(load_bz_with_max(&mem, 0x7fffffff, &info), 0);
	/* Exactly the room between the kernel's init_size end and the top of RAM. */
	CHECK_EQ(loader_load_initrd(&mem, &info, initrd, room, &gpa, err, sizeof(err)), 0);
	CHECK_EQ(gpa, info.load_end);
	/* One byte more would overlap the kernel. */
	CHECK_EQ(loader_load_initrd(&mem, &info, initrd, room + 1, &gpa, err, sizeof(err)), -1);
	CHECK_CONTAINS(err, "does not fit");
	CHECK_EQ(loader_load_initrd(&mem, &info, initrd, 0, &gpa, err, sizeof(err)), -1);
	CHECK_CONTAINS(err, "empty");
	/* initrd_addr_max below the kernel: nothing fits. */
	CHECK_EQ(load_bz_with_max(&mem, 0xffffff, &info), 0);
	CHECK_EQ(loader_load_initrd(&mem, &info, initrd, 0x1000, &gpa, err, sizeof(err)), -1);
	CHECK_CONTAINS(err, "does not fit");
	free(initrd);
	free(ram);
}

UNIT_TEST(bootparams_rejects_initrd_outside_ram)
{
	struct guest_mem mem;
	struct kernel_info info;
	char err[256] = "";
	uint8_t *ram = test_mem_new(&mem, TEST_MEM_SIZE);

	CHECK(ram);
	test_build_elf(bp_elf, false);
	CHECK_EQ(loader_load_kernel(&mem, bp_elf, sizeof(bp_elf), BOOT_PROTOCOL_AUTO, &info, err,
	                            sizeof(err)),
	         0);
	CHECK_EQ(loader_write_boot_info(&mem, &info, "", TEST_MEM_SIZE - 0x1000, 0x2000, err,
	                                sizeof(err)),
	         -1);
	CHECK_CONTAINS(err, "initrd");
	free(ram);
}

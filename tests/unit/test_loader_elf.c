/* test_loader_elf.c - ELF64 vmlinux loading and every malformed-image rejection. */
#include "tests/unit/unit.h"
#include "tests/unit/loader_test_images.h"
#include "vmm/layout.h"
#include "vmm/boot/loader.h"

#include <stdlib.h>

/* Loads img (len bytes) into fresh 64 MiB RAM; returns the loader's result. After a failure,
 * *untouched tells whether guest RAM stayed all zero (a rejected image writes nothing). */
static int load_elf(const uint8_t *img, size_t len, enum boot_protocol proto,
                    struct kernel_info *info, char *err, size_t errlen, bool *untouched)
{
	struct guest_mem mem;
	uint8_t *ram = test_mem_new(&mem, TEST_MEM_SIZE);
	int rc;

	if (!ram)
		return -2;
	err[0] = '\0';
	rc = loader_load_kernel(&mem, img, len, proto, info, err, errlen);
	*untouched = true;
	for (uint64_t i = 0; i < TEST_MEM_SIZE; i += 8) {
		uint64_t v;

		memcpy(&v, ram + i, 8);
		if (v) {
			*untouched = false;
			break;
		}
	}
	free(ram);
	return rc;
}

/* Builds the default ELF, lets mutate() break it, and expects a rejection naming needle. */
#define EXPECT_ELF_REJECTED(mutate_stmt, len, needle)                                              \
	do {                                                                                       \
		static uint8_t img[TEST_ELF_SIZE];                                                 \
		struct kernel_info info;                                                           \
		char err[256];                                                                     \
		bool untouched;                                                                    \
		Elf64_Ehdr eh;                                                                     \
		Elf64_Phdr ph;                                                                     \
		(void)eh;                                                                          \
		(void)ph;                                                                          \
		test_build_elf(img, false);                                                        \
		test_get_ehdr(img, &eh);                                                           \
		test_get_phdr(img, 0, &ph);                                                        \
		mutate_stmt;                                                                       \
		CHECK_EQ(                                                                          \
		    load_elf(img, (len), BOOT_PROTOCOL_AUTO, &info, err, sizeof(err), &untouched), \
		    -1);                                                                           \
		CHECK_CONTAINS(err, needle);                                                       \
		CHECK(untouched);                                                                  \
	} while (0)

UNIT_TEST(loader_elf_loads_segments_at_paddr)
{
	static uint8_t img[TEST_ELF_SIZE];
	struct guest_mem mem;
	struct kernel_info info;
	char err[256] = "";
	uint8_t *ram = test_mem_new(&mem, TEST_MEM_SIZE);

	CHECK(ram);
	test_build_elf(img, false);
	/* Garbage where the bss goes: the loader must zero it. */
	memset(ram + TEST_ELF_SEG0 + 0x100, 0xee, 0x1f00);
	CHECK_EQ(
	    loader_load_kernel(&mem, img, sizeof(img), BOOT_PROTOCOL_AUTO, &info, err, sizeof(err)),
	    0);
	CHECK_EQ(info.format, KERNEL_FORMAT_ELF);
	CHECK_EQ(info.mode, BOOT_ENTRY_LINUX64);
	CHECK_EQ(info.entry, TEST_ELF_ENTRY);
	CHECK_EQ(info.load_start, TEST_ELF_SEG0);
	CHECK_EQ(info.load_end, TEST_ELF_SEG1 + 0x80);
	CHECK(!info.has_setup_header);
	CHECK_EQ(info.cmdline_max, 2047);
	CHECK_EQ(info.initrd_addr_max, 0x37ffffff);
	CHECK_EQ(ram[TEST_ELF_SEG0], 0xa0);
	CHECK_EQ(ram[TEST_ELF_SEG0 + 0xff], 0x9f);
	for (unsigned i = 0x100; i < 0x2000; i++)
		CHECK_EQ(ram[TEST_ELF_SEG0 + i], 0);
	CHECK_EQ(ram[TEST_ELF_SEG1], 0x5a);
	CHECK_EQ(ram[TEST_ELF_SEG1 + 0x7f], 0x5a);
	CHECK_EQ(ram[TEST_ELF_SEG1 + 0x80], 0);
	free(ram);
}

UNIT_TEST(loader_elf_accepts_et_dyn)
{
	static uint8_t img[TEST_ELF_SIZE];
	struct kernel_info info;
	char err[256];
	bool untouched;
	Elf64_Ehdr eh;

	test_build_elf(img, false);
	test_get_ehdr(img, &eh);
	eh.e_type = ET_DYN;
	test_put_ehdr(img, &eh);
	CHECK_EQ(
	    load_elf(img, sizeof(img), BOOT_PROTOCOL_AUTO, &info, err, sizeof(err), &untouched), 0);
	CHECK(!untouched);
}

UNIT_TEST(loader_rejects_empty_and_garbage)
{
	static const uint8_t garbage[600] = {1, 2, 3, 4};
	struct kernel_info info;
	char err[256];
	bool untouched;

	CHECK_EQ(load_elf(garbage, 0, BOOT_PROTOCOL_AUTO, &info, err, sizeof(err), &untouched), -1);
	CHECK_CONTAINS(err, "empty");
	CHECK_EQ(load_elf(NULL, 0, BOOT_PROTOCOL_AUTO, &info, err, sizeof(err), &untouched), -1);
	CHECK_EQ(load_elf(garbage, sizeof(garbage), BOOT_PROTOCOL_AUTO, &info, err, sizeof(err),
	                  &untouched),
	         -1);
	CHECK_CONTAINS(err, "neither ELF");
	CHECK(untouched);
}

UNIT_TEST(loader_elf_rejects_truncated_header)
{
	EXPECT_ELF_REJECTED((void)0, 10, "truncated");
	EXPECT_ELF_REJECTED((void)0, sizeof(Elf64_Ehdr) - 1, "truncated");
}

UNIT_TEST(loader_elf_rejects_wrong_class_endianness_machine_type)
{
	EXPECT_ELF_REJECTED(img[EI_CLASS] = 3, TEST_ELF_SIZE, "neither ELFCLASS64 nor ELFCLASS32");
	EXPECT_ELF_REJECTED(img[EI_DATA] = ELFDATA2MSB, TEST_ELF_SIZE, "little endian");
	EXPECT_ELF_REJECTED(img[EI_VERSION] = 0, TEST_ELF_SIZE, "EV_CURRENT");
	EXPECT_ELF_REJECTED((eh.e_machine = EM_386, test_put_ehdr(img, &eh)), TEST_ELF_SIZE,
	                    "not x86-64");
	EXPECT_ELF_REJECTED((eh.e_type = ET_REL, test_put_ehdr(img, &eh)), TEST_ELF_SIZE,
	                    "not an executable");
	EXPECT_ELF_REJECTED((eh.e_phentsize = 32, test_put_ehdr(img, &eh)), TEST_ELF_SIZE,
	                    "program header size");
}

UNIT_TEST(loader_elf_rejects_bad_program_header_table)
{
	EXPECT_ELF_REJECTED((eh.e_phnum = 0, test_put_ehdr(img, &eh)), TEST_ELF_SIZE,
	                    "no program headers");
	EXPECT_ELF_REJECTED((eh.e_phnum = 0xffff, test_put_ehdr(img, &eh)), TEST_ELF_SIZE,
	                    "program headers");
	EXPECT_ELF_REJECTED((eh.e_phoff = TEST_ELF_SIZE - 100, test_put_ehdr(img, &eh)),
	                    TEST_ELF_SIZE, "run past the end");
	/* An offset near 2^64 must not wrap into the image. */
	EXPECT_ELF_REJECTED((eh.e_phoff = UINT64_MAX - 8, test_put_ehdr(img, &eh)), TEST_ELF_SIZE,
	                    "run past the end");
	/* The headers themselves are cut off by a short file. */
	EXPECT_ELF_REJECTED((void)0, TEST_PHDR(2) + 10, "run past the end");
}

UNIT_TEST(loader_elf_rejects_bad_segment_sizes)
{
	EXPECT_ELF_REJECTED((ph.p_filesz = 0x3000, test_put_phdr(img, 0, &ph)), TEST_ELF_SIZE,
	                    "exceeds p_memsz");
	EXPECT_ELF_REJECTED((ph.p_offset = TEST_ELF_SIZE - 0x10, test_put_phdr(img, 0, &ph)),
	                    TEST_ELF_SIZE, "run past the end of the image");
	EXPECT_ELF_REJECTED((ph.p_offset = UINT64_MAX - 0x10, test_put_phdr(img, 0, &ph)),
	                    TEST_ELF_SIZE, "run past the end of the image");
	/* Segment data cut off by truncating the file. */
	EXPECT_ELF_REJECTED((void)0, 0x1080, "segment 0");
	EXPECT_ELF_REJECTED((ph.p_paddr = UINT64_MAX - 0x1000, test_put_phdr(img, 0, &ph)),
	                    TEST_ELF_SIZE, "overflows");
}

UNIT_TEST(loader_elf_rejects_segments_over_boot_structures)
{
	/* The zero page, the page tables, the command line: all below 1 MiB. */
	EXPECT_ELF_REJECTED((ph.p_paddr = LAYOUT_ZERO_PAGE, test_put_phdr(img, 0, &ph)),
	                    TEST_ELF_SIZE, "boot structures below 1 MiB");
	EXPECT_ELF_REJECTED((ph.p_paddr = LAYOUT_PML4, test_put_phdr(img, 0, &ph)), TEST_ELF_SIZE,
	                    "boot structures");
	EXPECT_ELF_REJECTED((ph.p_paddr = LAYOUT_CMDLINE, test_put_phdr(img, 0, &ph)),
	                    TEST_ELF_SIZE, "boot structures");
	/* Ends exactly at 1 MiB: still below it. */
	EXPECT_ELF_REJECTED((ph.p_paddr = LAYOUT_HIMEM - 0x2000, test_put_phdr(img, 0, &ph)),
	                    TEST_ELF_SIZE, "boot structures");
}

UNIT_TEST(loader_elf_rejects_segments_outside_ram)
{
	EXPECT_ELF_REJECTED((ph.p_paddr = TEST_MEM_SIZE - 0x1000, test_put_phdr(img, 0, &ph)),
	                    TEST_ELF_SIZE, "past guest RAM");
	EXPECT_ELF_REJECTED((ph.p_paddr = TEST_MEM_SIZE, test_put_phdr(img, 0, &ph)), TEST_ELF_SIZE,
	                    "past guest RAM");
	EXPECT_ELF_REJECTED((ph.p_paddr = LAYOUT_VIRTIO_MMIO_BASE, test_put_phdr(img, 0, &ph)),
	                    TEST_ELF_SIZE, "MMIO hole");
	EXPECT_ELF_REJECTED((ph.p_paddr = LAYOUT_MMIO_HOLE - 0x1000, test_put_phdr(img, 0, &ph)),
	                    TEST_ELF_SIZE, "MMIO hole");
}

UNIT_TEST(loader_elf_rejects_overlapping_segments)
{
	/* Segment 1 moved into segment 0's bss. */
	EXPECT_ELF_REJECTED((test_get_phdr(img, 1, &ph), ph.p_paddr = TEST_ELF_SEG0 + 0x1ff0,
	                     test_put_phdr(img, 1, &ph)),
	                    TEST_ELF_SIZE, "segments 0 and 1 overlap");
	/* Segment 1 wholly containing segment 0. */
	EXPECT_ELF_REJECTED((test_get_phdr(img, 1, &ph), ph.p_paddr = TEST_ELF_SEG0 - 0x1000,
	                     ph.p_memsz = 0x10000, test_put_phdr(img, 1, &ph)),
	                    TEST_ELF_SIZE, "overlap");
}

UNIT_TEST(loader_elf_rejects_bad_entry_and_no_load)
{
	EXPECT_ELF_REJECTED((eh.e_entry = 0x300000, test_put_ehdr(img, &eh)), TEST_ELF_SIZE,
	                    "entry point 0x300000");
	EXPECT_ELF_REJECTED((ph.p_type = PT_NULL, test_put_phdr(img, 0, &ph),
	                     test_get_phdr(img, 1, &ph), ph.p_type = PT_NULL,
	                     test_put_phdr(img, 1, &ph)),
	                    TEST_ELF_SIZE, "no loadable");
}

/* The range check on its own, with RAM that is never touched (a fake 2 GiB layout): the 64-bit
 * entry needs the kernel inside the 1 GiB identity map, the 32-bit PVH entry does not. */
UNIT_TEST(loader_kernel_range_identity_map_limit)
{
	struct guest_mem mem;
	char err[256] = "";

	guest_mem_init_buffer(&mem, NULL, 2ULL << 30);
	CHECK_EQ(loader_check_kernel_range(&mem, BOOT_ENTRY_LINUX64, 0x3ff00000, 0x40000000, "k",
	                                   err, sizeof(err)),
	         0);
	CHECK_EQ(loader_check_kernel_range(&mem, BOOT_ENTRY_LINUX64, 0x3ff00000, 0x40001000, "k",
	                                   err, sizeof(err)),
	         -1);
	CHECK_CONTAINS(err, "1 GiB");
	CHECK_EQ(loader_check_kernel_range(&mem, BOOT_ENTRY_PVH32, 0x3ff00000, 0x40001000, "k", err,
	                                   sizeof(err)),
	         0);
	CHECK_EQ(loader_check_kernel_range(&mem, BOOT_ENTRY_PVH32, 0x2000000, 0x1000000, "k", err,
	                                   sizeof(err)),
	         -1);
	CHECK_CONTAINS(err, "wraps");
}

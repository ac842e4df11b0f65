/*
 * test_loader_pvh.c - PVH note detection and hvm_start_info, read back at the byte offsets of
 * Xen's start_info.h (version 1).
 */
#include "tests/unit/unit.h"
#include "tests/unit/loader_test_images.h"
#include "vmm/layout.h"
#include "vmm/boot/loader.h"
#include "vmm/boot/pvh.h"

#include <stdlib.h>

static uint8_t pvh_img[TEST_ELF_SIZE + 0x200];

static uint64_t rd(const uint8_t *ram, uint64_t gpa, unsigned size)
{
	uint64_t v = 0;

	memcpy(&v, ram + gpa, size);
	return v;
}

static int load_pvh(struct guest_mem *mem, size_t len, enum boot_protocol proto,
                    struct kernel_info *info, char *err, size_t errlen)
{
	err[0] = '\0';
	return loader_load_kernel(mem, pvh_img, len, proto, info, err, errlen);
}

UNIT_TEST(loader_pvh_note_selects_pvh_entry)
{
	struct guest_mem mem;
	struct kernel_info info;
	char err[256];
	uint8_t *ram = test_mem_new(&mem, TEST_MEM_SIZE);

	CHECK(ram);
	test_build_elf(pvh_img, true);
	CHECK_EQ(load_pvh(&mem, TEST_ELF_SIZE, BOOT_PROTOCOL_AUTO, &info, err, sizeof(err)), 0);
	CHECK_EQ(info.mode, BOOT_ENTRY_PVH32);
	CHECK_EQ(info.entry, TEST_PVH_ENTRY);
	CHECK_EQ(load_pvh(&mem, TEST_ELF_SIZE, BOOT_PROTOCOL_PVH, &info, err, sizeof(err)), 0);
	CHECK_EQ(info.mode, BOOT_ENTRY_PVH32);
	/* Asking for the Linux protocol uses e_entry and the 64-bit entry. */
	CHECK_EQ(load_pvh(&mem, TEST_ELF_SIZE, BOOT_PROTOCOL_LINUX, &info, err, sizeof(err)), 0);
	CHECK_EQ(info.mode, BOOT_ENTRY_LINUX64);
	CHECK_EQ(info.entry, TEST_ELF_ENTRY);
	/* No note: PVH cannot be asked for. */
	test_build_elf(pvh_img, false);
	CHECK_EQ(load_pvh(&mem, TEST_ELF_SIZE, BOOT_PROTOCOL_PVH, &info, err, sizeof(err)), -1);
	CHECK_CONTAINS(err, "no PVH note");
	free(ram);
}

/* Replaces the notes with a single Xen note of descsz bytes holding value. */
static void put_xen_note(uint64_t value, uint32_t descsz, uint32_t namesz_override)
{
	Elf64_Phdr ph;
	size_t n;

	test_build_elf(pvh_img, true);
	n = test_put_note(pvh_img + 0x1200, "Xen", 18, &value, descsz);
	if (namesz_override)
		memcpy(pvh_img + 0x1200, &namesz_override, 4);
	test_get_phdr(pvh_img, 2, &ph);
	ph.p_filesz = n;
	test_put_phdr(pvh_img, 2, &ph);
}

UNIT_TEST(loader_pvh_note_value_sizes)
{
	struct guest_mem mem;
	struct kernel_info info;
	char err[256];
	uint8_t *ram = test_mem_new(&mem, TEST_MEM_SIZE);

	CHECK(ram);
	put_xen_note(TEST_PVH_ENTRY, 4, 0);
	CHECK_EQ(load_pvh(&mem, TEST_ELF_SIZE, BOOT_PROTOCOL_AUTO, &info, err, sizeof(err)), 0);
	CHECK_EQ(info.entry, TEST_PVH_ENTRY);
	put_xen_note(TEST_PVH_ENTRY, 2, 0);
	CHECK_EQ(load_pvh(&mem, TEST_ELF_SIZE, BOOT_PROTOCOL_AUTO, &info, err, sizeof(err)), -1);
	CHECK_CONTAINS(err, "expected 4 or 8");
	put_xen_note(0x100000000ULL | TEST_PVH_ENTRY, 8, 0);
	CHECK_EQ(load_pvh(&mem, TEST_ELF_SIZE, BOOT_PROTOCOL_AUTO, &info, err, sizeof(err)), -1);
	CHECK_CONTAINS(err, "not a 32-bit address");
	/* Entry outside every segment. */
	put_xen_note(0x300000, 8, 0);
	CHECK_EQ(load_pvh(&mem, TEST_ELF_SIZE, BOOT_PROTOCOL_AUTO, &info, err, sizeof(err)), -1);
	CHECK_CONTAINS(err, "entry point 0x300000");
	free(ram);
}

UNIT_TEST(loader_pvh_rejects_malformed_notes)
{
	struct guest_mem mem;
	struct kernel_info info;
	char err[256];
	Elf64_Phdr ph;
	uint8_t *ram = test_mem_new(&mem, TEST_MEM_SIZE);

	CHECK(ram);
	/* namesz near 2^32 must not wrap the walk. */
	put_xen_note(TEST_PVH_ENTRY, 8, 0xfffffffd);
	CHECK_EQ(load_pvh(&mem, TEST_ELF_SIZE, BOOT_PROTOCOL_AUTO, &info, err, sizeof(err)), -1);
	CHECK_CONTAINS(err, "runs past");
	/* PT_NOTE past the end of the file. */
	test_build_elf(pvh_img, true);
	test_get_phdr(pvh_img, 2, &ph);
	ph.p_offset = UINT64_MAX - 4;
	test_put_phdr(pvh_img, 2, &ph);
	CHECK_EQ(load_pvh(&mem, TEST_ELF_SIZE, BOOT_PROTOCOL_AUTO, &info, err, sizeof(err)), -1);
	CHECK_CONTAINS(err, "note segment 2");
	/* A note of another name with type 18 is not the PVH note. */
	test_build_elf(pvh_img, true);
	memcpy(pvh_img + 0x1200 + 20 + 12, "Xe!", 4); /* after the 20-byte GNU note */
	CHECK_EQ(load_pvh(&mem, TEST_ELF_SIZE, BOOT_PROTOCOL_AUTO, &info, err, sizeof(err)), 0);
	CHECK_EQ(info.mode, BOOT_ENTRY_LINUX64);
	free(ram);
}

/* Notes reachable only through a SHT_NOTE section (no PT_NOTE). */
UNIT_TEST(loader_pvh_note_in_section_only)
{
	struct guest_mem mem;
	struct kernel_info info;
	char err[256];
	Elf64_Ehdr eh;
	Elf64_Phdr ph;
	Elf64_Shdr sh[2] = {{.sh_type = SHT_NULL}, {.sh_type = SHT_NOTE}};
	uint8_t *ram = test_mem_new(&mem, TEST_MEM_SIZE);

	CHECK(ram);
	test_build_elf(pvh_img, true);
	test_get_phdr(pvh_img, 2, &ph);
	sh[1].sh_offset = ph.p_offset;
	sh[1].sh_size = ph.p_filesz;
	ph.p_type = PT_NULL;
	test_put_phdr(pvh_img, 2, &ph);
	memcpy(pvh_img + TEST_ELF_SIZE, sh, sizeof(sh));
	test_get_ehdr(pvh_img, &eh);
	eh.e_shoff = TEST_ELF_SIZE;
	eh.e_shnum = 2;
	eh.e_shentsize = sizeof(Elf64_Shdr);
	test_put_ehdr(pvh_img, &eh);
	CHECK_EQ(
	    load_pvh(&mem, TEST_ELF_SIZE + sizeof(sh), BOOT_PROTOCOL_AUTO, &info, err, sizeof(err)),
	    0);
	CHECK_EQ(info.mode, BOOT_ENTRY_PVH32);
	CHECK_EQ(info.entry, TEST_PVH_ENTRY);
	/* The same section table cut off by the end of the file. */
	CHECK_EQ(load_pvh(&mem, TEST_ELF_SIZE + sizeof(sh) - 1, BOOT_PROTOCOL_AUTO, &info, err,
	                  sizeof(err)),
	         -1);
	CHECK_CONTAINS(err, "section headers");
	free(ram);
}

UNIT_TEST(loader_pvh_start_info_fields)
{
	static const uint8_t initrd[0x2000] = {0x42};
	struct guest_mem mem;
	struct kernel_info info;
	char err[256];
	uint64_t initrd_gpa = 0, mm;
	uint8_t *ram = test_mem_new(&mem, TEST_MEM_SIZE);

	CHECK(ram);
	test_build_elf(pvh_img, true);
	CHECK_EQ(load_pvh(&mem, TEST_ELF_SIZE, BOOT_PROTOCOL_AUTO, &info, err, sizeof(err)), 0);
	CHECK_EQ(
	    loader_load_initrd(&mem, &info, initrd, sizeof(initrd), &initrd_gpa, err, sizeof(err)),
	    0);
	CHECK_EQ(initrd_gpa, TEST_MEM_SIZE - sizeof(initrd));
	CHECK_EQ(loader_write_boot_info(&mem, &info, "console=ttyS0", initrd_gpa, sizeof(initrd),
	                                err, sizeof(err)),
	         0);
	CHECK_EQ(rd(ram, LAYOUT_PVH_INFO + 0, 4), 0x336ec578);
	CHECK_EQ(rd(ram, LAYOUT_PVH_INFO + 4, 4), 1);
	CHECK_EQ(rd(ram, LAYOUT_PVH_INFO + 8, 4), 0);
	CHECK_EQ(rd(ram, LAYOUT_PVH_INFO + 12, 4), 1);
	CHECK_EQ(rd(ram, LAYOUT_PVH_INFO + 16, 8), LAYOUT_PVH_MODLIST);
	CHECK_EQ(rd(ram, LAYOUT_PVH_INFO + 24, 8), LAYOUT_CMDLINE);
	CHECK_EQ(rd(ram, LAYOUT_PVH_INFO + 32, 8), 0);
	mm = rd(ram, LAYOUT_PVH_INFO + 40, 8);
	CHECK(mm >= LAYOUT_PVH_INFO + 56 && mm % 8 == 0);
	CHECK_EQ(rd(ram, LAYOUT_PVH_INFO + 48, 4), 3);
	CHECK_EQ(rd(ram, LAYOUT_PVH_INFO + 52, 4), 0);
	/* memmap entries: addr, size, type, reserved (24 bytes). */
	CHECK_EQ(rd(ram, mm + 0, 8), 0);
	CHECK_EQ(rd(ram, mm + 8, 8), LAYOUT_MPTABLE);
	CHECK_EQ(rd(ram, mm + 16, 4), 1);
	CHECK_EQ(rd(ram, mm + 24, 8), LAYOUT_MPTABLE);
	CHECK_EQ(rd(ram, mm + 40, 4), 2);
	CHECK_EQ(rd(ram, mm + 48, 8), 0x100000);
	CHECK_EQ(rd(ram, mm + 56, 8), TEST_MEM_SIZE - 0x100000);
	CHECK_EQ(rd(ram, mm + 64, 4), 1);
	CHECK_EQ(rd(ram, mm + 68, 4), 0);
	/* The module: paddr, size, cmdline_paddr, reserved. */
	CHECK_EQ(rd(ram, LAYOUT_PVH_MODLIST + 0, 8), initrd_gpa);
	CHECK_EQ(rd(ram, LAYOUT_PVH_MODLIST + 8, 8), sizeof(initrd));
	CHECK_EQ(rd(ram, LAYOUT_PVH_MODLIST + 16, 8), 0);
	CHECK_EQ(rd(ram, LAYOUT_PVH_MODLIST + 24, 8), 0);
	CHECK_STR_EQ((const char *)ram + LAYOUT_CMDLINE, "console=ttyS0");
	/* PVH does not get a zero page. */
	CHECK_EQ(rd(ram, LAYOUT_ZERO_PAGE + 0x202, 4), 0);
	free(ram);
}

UNIT_TEST(loader_pvh_without_initrd_has_no_modules)
{
	struct guest_mem mem;
	struct kernel_info info;
	char err[256];
	uint8_t *ram = test_mem_new(&mem, TEST_MEM_SIZE);

	CHECK(ram);
	test_build_elf(pvh_img, true);
	CHECK_EQ(load_pvh(&mem, TEST_ELF_SIZE, BOOT_PROTOCOL_AUTO, &info, err, sizeof(err)), 0);
	CHECK_EQ(loader_write_boot_info(&mem, &info, "", 0, 0, err, sizeof(err)), 0);
	CHECK_EQ(rd(ram, LAYOUT_PVH_INFO + 12, 4), 0);
	CHECK_EQ(rd(ram, LAYOUT_PVH_INFO + 16, 8), 0);
	CHECK_EQ(rd(ram, LAYOUT_PVH_MODLIST, 8), 0);
	free(ram);
}

/*
 * loader_test_images.h - synthetic kernel images for the loader's unit tests (and the fuzz seed
 * generator): a small ELF64 vmlinux with two PT_LOAD segments and optional PVH note, and a
 * bzImage with a protocol 2.15 setup header. Tests build one, then break a field.
 *
 * ELF layout (TEST_ELF_SIZE bytes):
 *   0x0000 Elf64_Ehdr, e_entry TEST_ELF_ENTRY
 *   0x0040 program headers: [0] PT_LOAD text at 0x100000 (0x100 file bytes, 0x2000 in memory),
 *          [1] PT_LOAD data at 0x200000 (0x80 bytes), [2] PT_NOTE (PVH variant) or PT_NULL
 *   0x1000 segment 0 bytes (0xa0 + i), 0x1100 segment 1 bytes (0x5a), 0x1200 notes
 */
#ifndef WISP_TEST_LOADER_TEST_IMAGES_H
#define WISP_TEST_LOADER_TEST_IMAGES_H

#include <elf.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <asm/bootparam.h>

#include "vmm/guest_mem.h"

#define TEST_MEM_SIZE  (64ULL << 20)
#define TEST_ELF_SIZE  0x1300
#define TEST_ELF_ENTRY 0x100040ULL
#define TEST_PVH_ENTRY 0x100080ULL
#define TEST_ELF_SEG0  0x100000ULL
#define TEST_ELF_SEG1  0x200000ULL
#define TEST_PHDR(i)   (sizeof(Elf64_Ehdr) + (i) * sizeof(Elf64_Phdr))

/* Guest RAM over a calloc'd buffer; test_mem_free() releases it. */
static inline uint8_t *test_mem_new(struct guest_mem *mem, uint64_t size)
{
	uint8_t *buf = calloc(1, size);

	if (buf)
		guest_mem_init_buffer(mem, buf, size);
	return buf;
}

static inline void test_put_phdr(uint8_t *img, unsigned i, const Elf64_Phdr *ph)
{
	memcpy(img + TEST_PHDR(i), ph, sizeof(*ph));
}

static inline void test_get_phdr(const uint8_t *img, unsigned i, Elf64_Phdr *ph)
{
	memcpy(ph, img + TEST_PHDR(i), sizeof(*ph));
}

static inline void test_get_ehdr(const uint8_t *img, Elf64_Ehdr *eh)
{
	memcpy(eh, img, sizeof(*eh));
}

static inline void test_put_ehdr(uint8_t *img, const Elf64_Ehdr *eh)
{
	memcpy(img, eh, sizeof(*eh));
}

/* Writes one note at p; returns its padded size. */
static inline size_t test_put_note(uint8_t *p, const char *name, uint32_t type, const void *desc,
                                   uint32_t descsz)
{
	uint32_t namesz = (uint32_t)strlen(name) + 1, npad = (namesz + 3) & ~3u,
	         dpad = (descsz + 3) & ~3u;

	memcpy(p, &namesz, 4);
	memcpy(p + 4, &descsz, 4);
	memcpy(p + 8, &type, 4);
	memset(p + 12, 0, npad + dpad);
	memcpy(p + 12, name, namesz);
	memcpy(p + 12 + npad, desc, descsz);
	return 12 + npad + dpad;
}

/* Builds the ELF described above into img (TEST_ELF_SIZE bytes); pvh adds a GNU note and the
 * Xen PVH note (8-byte value TEST_PVH_ENTRY) in a PT_NOTE segment. */
static inline void test_build_elf(uint8_t *img, bool pvh)
{
	Elf64_Ehdr eh = {
	    .e_ident = {ELFMAG0, ELFMAG1, ELFMAG2, ELFMAG3, ELFCLASS64, ELFDATA2LSB, EV_CURRENT},
	    .e_type = ET_EXEC,
	    .e_machine = EM_X86_64,
	    .e_version = EV_CURRENT,
	    .e_entry = TEST_ELF_ENTRY,
	    .e_phoff = sizeof(Elf64_Ehdr),
	    .e_ehsize = sizeof(Elf64_Ehdr),
	    .e_phentsize = sizeof(Elf64_Phdr),
	    .e_phnum = 3,
	};
	Elf64_Phdr text = {.p_type = PT_LOAD,
	                   .p_flags = PF_R | PF_X,
	                   .p_offset = 0x1000,
	                   .p_vaddr = 0xffffffff81000000ULL,
	                   .p_paddr = TEST_ELF_SEG0,
	                   .p_filesz = 0x100,
	                   .p_memsz = 0x2000,
	                   .p_align = 0x1000};
	Elf64_Phdr data = {.p_type = PT_LOAD,
	                   .p_flags = PF_R | PF_W,
	                   .p_offset = 0x1100,
	                   .p_paddr = TEST_ELF_SEG1,
	                   .p_filesz = 0x80,
	                   .p_memsz = 0x80};
	Elf64_Phdr note = {.p_type = PT_NULL};
	uint64_t pvh_entry = TEST_PVH_ENTRY;
	uint32_t gnu_desc = 0x12345678;

	memset(img, 0, TEST_ELF_SIZE);
	test_put_ehdr(img, &eh);
	test_put_phdr(img, 0, &text);
	test_put_phdr(img, 1, &data);
	for (unsigned i = 0; i < 0x100; i++)
		img[0x1000 + i] = (uint8_t)(0xa0 + i);
	memset(img + 0x1100, 0x5a, 0x80);
	if (pvh) {
		size_t n = test_put_note(img + 0x1200, "GNU", 3, &gnu_desc, 4);

		n += test_put_note(img + 0x1200 + n, "Xen", 18, &pvh_entry, 8);
		note = (Elf64_Phdr){.p_type = PT_NOTE, .p_offset = 0x1200, .p_filesz = n};
	}
	test_put_phdr(img, 2, &note);
}

/* bzImage: setup_sects 3 (0x800 setup bytes), then TEST_BZ_PAYLOAD protected-mode bytes. */
#define TEST_BZ_SETUP_SECTS 3
#define TEST_BZ_SETUP_SIZE  ((TEST_BZ_SETUP_SECTS + 1) * 512)
#define TEST_BZ_PAYLOAD     0x1000
#define TEST_BZ_SIZE        (TEST_BZ_SETUP_SIZE + TEST_BZ_PAYLOAD)
#define TEST_BZ_PREF        0x1000000ULL
#define TEST_BZ_INIT_SIZE   0x800000U

static inline void test_get_hdr(const uint8_t *img, struct setup_header *hdr)
{
	memcpy(hdr, img + 0x1f1, sizeof(*hdr));
}

static inline void test_put_hdr(uint8_t *img, const struct setup_header *hdr)
{
	memcpy(img + 0x1f1, hdr, sizeof(*hdr));
}

static inline void test_build_bzimage(uint8_t *img)
{
	struct setup_header hdr = {
	    .setup_sects = TEST_BZ_SETUP_SECTS,
	    .syssize = TEST_BZ_PAYLOAD / 16,
	    .vid_mode = 0xffff,
	    .boot_flag = 0xaa55,
	    /* jmp short to 0x26c: the header ends at 0x202 + 0x6a */
	    .jump = 0x6aeb,
	    .header = 0x53726448,
	    .version = 0x020f,
	    .loadflags = LOADED_HIGH,
	    .code32_start = 0x100000,
	    .initrd_addr_max = 0x7fffffff,
	    .kernel_alignment = 0x200000,
	    .relocatable_kernel = 1,
	    .min_alignment = 21,
	    .xloadflags = XLF_KERNEL_64 | XLF_CAN_BE_LOADED_ABOVE_4G,
	    .cmdline_size = 2047,
	    .pref_address = TEST_BZ_PREF,
	    .init_size = TEST_BZ_INIT_SIZE,
	};

	memset(img, 0, TEST_BZ_SIZE);
	test_put_hdr(img, &hdr);
	for (unsigned i = 0; i < TEST_BZ_PAYLOAD; i++)
		img[TEST_BZ_SETUP_SIZE + i] = (uint8_t)(i * 7);
}

#endif

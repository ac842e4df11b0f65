/*
 * test_loader_elf32.c - 32-bit ELF kernels (vmm/boot/loader_elf.c): accepted through PVH only,
 * with the same checks as ELF64 (headers, segments inside the file and RAM, no overlap, the
 * entry inside a segment). Images are built here from <elf.h>'s Elf32 structures.
 */
#include "tests/unit/unit.h"
#include "tests/unit/loader_test_images.h"
#include "vmm/boot/loader.h"

#include <stdlib.h>

#define E32_SIZE  0x1300
#define E32_SEG0  0x100000u
#define E32_ENTRY 0x100080u

static uint8_t e32[E32_SIZE];

static void e32_put_phdr(unsigned i, const Elf32_Phdr *ph)
{
	memcpy(e32 + sizeof(Elf32_Ehdr) + i * sizeof(Elf32_Phdr), ph, sizeof(*ph));
}

/* A text segment at 1 MiB (0x100 file bytes, 0x2000 in memory), and a PT_NOTE with the Xen
 * PVH note (a 4-byte entry, as 32-bit kernels emit it) unless !pvh. */
static void e32_build(bool pvh, uint16_t machine)
{
	Elf32_Ehdr eh = {
	    .e_ident = {ELFMAG0, ELFMAG1, ELFMAG2, ELFMAG3, ELFCLASS32, ELFDATA2LSB, EV_CURRENT},
	    .e_type = ET_EXEC,
	    .e_machine = machine,
	    .e_version = EV_CURRENT,
	    .e_entry = E32_SEG0,
	    .e_phoff = sizeof(Elf32_Ehdr),
	    .e_ehsize = sizeof(Elf32_Ehdr),
	    .e_phentsize = sizeof(Elf32_Phdr),
	    .e_phnum = 2,
	};
	Elf32_Phdr text = {.p_type = PT_LOAD,
	                   .p_offset = 0x1000,
	                   .p_paddr = E32_SEG0,
	                   .p_filesz = 0x100,
	                   .p_memsz = 0x2000};
	Elf32_Phdr note = {.p_type = PT_NULL};
	uint32_t entry = E32_ENTRY;

	memset(e32, 0, sizeof(e32));
	memcpy(e32, &eh, sizeof(eh));
	e32_put_phdr(0, &text);
	for (unsigned i = 0; i < 0x100; i++)
		e32[0x1000 + i] = (uint8_t)(0x30 + i);
	if (pvh) {
		size_t n = test_put_note(e32 + 0x1200, "Xen", 18, &entry, 4);

		note = (Elf32_Phdr){.p_type = PT_NOTE, .p_offset = 0x1200, .p_filesz = (uint32_t)n};
	}
	e32_put_phdr(1, &note);
}

static int e32_load(struct guest_mem *mem, size_t len, enum boot_protocol proto,
                    struct kernel_info *info, char *err)
{
	err[0] = '\0';
	return loader_load_kernel(mem, e32, len, proto, info, err, 256);
}

UNIT_TEST(loader_elf32_with_pvh_note_boots_through_pvh)
{
	struct guest_mem mem;
	struct kernel_info info;
	char err[256];
	uint8_t *ram = test_mem_new(&mem, TEST_MEM_SIZE);

	CHECK(ram);
	for (unsigned m = 0; m < 2; m++) {
		e32_build(true, m ? EM_386 : EM_X86_64);
		memset(ram + E32_SEG0, 0xee, 0x2000);
		CHECK_EQ(e32_load(&mem, E32_SIZE, BOOT_PROTOCOL_AUTO, &info, err), 0);
		CHECK_EQ(info.mode, BOOT_ENTRY_PVH32);
		CHECK_EQ(info.entry, E32_ENTRY);
		CHECK_EQ(info.load_start, E32_SEG0);
		CHECK_EQ(info.load_end, E32_SEG0 + 0x2000);
		CHECK_EQ(ram[E32_SEG0], 0x30);
		CHECK_EQ(ram[E32_SEG0 + 0xff], 0x2f);
		CHECK_EQ(ram[E32_SEG0 + 0x100], 0); /* bss zeroed */
		CHECK_EQ(ram[E32_SEG0 + 0x1fff], 0);
		CHECK_EQ(e32_load(&mem, E32_SIZE, BOOT_PROTOCOL_PVH, &info, err), 0);
	}
	free(ram);
}

UNIT_TEST(loader_elf32_refuses_the_linux_protocol_and_a_missing_note)
{
	struct guest_mem mem;
	struct kernel_info info;
	char err[256];
	uint8_t *ram = test_mem_new(&mem, TEST_MEM_SIZE);

	CHECK(ram);
	e32_build(true, EM_386);
	CHECK_EQ(e32_load(&mem, E32_SIZE, BOOT_PROTOCOL_LINUX, &info, err), -1);
	CHECK_CONTAINS(err, "32-bit ELF boots only through PVH");
	e32_build(false, EM_386);
	CHECK_EQ(e32_load(&mem, E32_SIZE, BOOT_PROTOCOL_AUTO, &info, err), -1);
	CHECK_CONTAINS(err, "32-bit ELF without a PVH entry note");
	free(ram);
}

/* Each bad image is refused with its reason and leaves guest RAM untouched. */
#define EXPECT_E32_REJECTED(mutate_stmt, len, needle)                                              \
	do {                                                                                       \
		struct guest_mem mem;                                                              \
		struct kernel_info info;                                                           \
		char err[256];                                                                     \
		uint8_t *ram = test_mem_new(&mem, TEST_MEM_SIZE);                                  \
		Elf32_Ehdr eh;                                                                     \
		Elf32_Phdr ph;                                                                     \
		CHECK(ram);                                                                        \
		e32_build(true, EM_386);                                                           \
		memcpy(&eh, e32, sizeof(eh));                                                      \
		memcpy(&ph, e32 + sizeof(eh), sizeof(ph));                                         \
		mutate_stmt;                                                                       \
		memcpy(e32, &eh, sizeof(eh));                                                      \
		memcpy(e32 + sizeof(eh), &ph, sizeof(ph));                                         \
		CHECK_EQ(e32_load(&mem, len, BOOT_PROTOCOL_AUTO, &info, err), -1);                 \
		CHECK_CONTAINS(err, needle);                                                       \
		for (unsigned i = 0; i < 0x2000; i++)                                              \
			CHECK_EQ(ram[E32_SEG0 + i], 0);                                            \
		free(ram);                                                                         \
	} while (0)

UNIT_TEST(loader_elf32_rejects_bad_images)
{
	EXPECT_E32_REJECTED((void)0, sizeof(Elf32_Ehdr) - 1, "truncated");
	EXPECT_E32_REJECTED(eh.e_machine = EM_ARM, E32_SIZE, "not x86-64");
	EXPECT_E32_REJECTED(eh.e_phentsize = sizeof(Elf64_Phdr), E32_SIZE, "program header size");
	EXPECT_E32_REJECTED(eh.e_phoff = E32_SIZE - 8, E32_SIZE, "run past the end");
	EXPECT_E32_REJECTED(ph.p_offset = E32_SIZE - 0x10, E32_SIZE, "run past");
	EXPECT_E32_REJECTED(ph.p_filesz = 0x3000, E32_SIZE, "exceeds p_memsz");
	/* 0xfffff000 + 0x2000 wraps a 32-bit sum; here sizes are 64-bit and RAM ends far below. */
	EXPECT_E32_REJECTED(ph.p_paddr = 0xfffff000u, E32_SIZE, "ELF segment 0");
	EXPECT_E32_REJECTED(ph.p_paddr = 0x10000, E32_SIZE, "ELF segment 0");
	/* the PVH entry outside every segment */
	EXPECT_E32_REJECTED(ph.p_paddr = 0x300000, E32_SIZE, "outside every loaded segment");
}

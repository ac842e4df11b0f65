/*
 * loader.h - kernel images and the boot protocols.
 *
 * Three image formats are recognised from their bytes, never from the file name:
 *   - ELF64 x86-64 vmlinux: PT_LOAD segments at p_paddr, 64-bit Linux boot protocol entry at
 *     e_entry (physical), RSI = boot_params.
 *   - bzImage: setup header at 0x1f1 ("HdrS"), protected-mode kernel after the setup sectors,
 *     loaded at pref_address (relocatable, kernel_alignment honoured) or code32_start,
 *     64-bit entry at load address + 0x200 (needs XLF_KERNEL_64).
 *   - ELF with a PVH note (XEN_ELFNOTE_PHYS32_ENTRY): 32-bit protected-mode entry with
 *     EBX = hvm_start_info.
 * An ELF with a PVH note boots PVH under BOOT_PROTOCOL_AUTO (as Firecracker and QEMU do) and
 * the 64-bit Linux protocol when BOOT_PROTOCOL_LINUX is asked for.
 *
 * Every function works on images in memory so unit tests and fuzzers can feed them bytes;
 * every guest write goes through guest_mem_*(). Errors: -1 with a one-line message in err that
 * names the problem ("ELF segment 2 ends past guest RAM"), nothing written outside RAM.
 */
#ifndef WISP_LOADER_H
#define WISP_LOADER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <asm/bootparam.h>

#include "vmm/config.h"
#include "vmm/guest_mem.h"

/* How the boot vCPU enters the guest. */
enum boot_entry_mode {
	BOOT_ENTRY_LINUX64, /* long mode, paging on, RSI = LAYOUT_ZERO_PAGE */
	BOOT_ENTRY_PVH32,   /* protected mode, paging off, EBX = LAYOUT_PVH_INFO */
};

enum kernel_format { KERNEL_FORMAT_ELF, KERNEL_FORMAT_BZIMAGE };

struct kernel_info {
	enum kernel_format format;
	enum boot_entry_mode mode;
	uint64_t entry;        /* guest-physical entry point */
	uint64_t load_start;   /* lowest byte written */
	uint64_t load_end;     /* one past the highest byte written (incl. bss/init_size) */
	bool has_setup_header; /* bzImage: setup_header below, copied into boot_params */
	struct setup_header setup_header;
	uint32_t cmdline_max;     /* longest command line accepted, in bytes without the NUL */
	uint64_t initrd_addr_max; /* highest address an initrd byte may occupy */
	/* ACPI RSDP handed to the kernel (boot_params.acpi_rsdp_addr, hvm_start_info.rsdp_paddr),
	 * 0 for none. loader_load_kernel() clears it; the caller sets it once the tables are
	 * written (acpi_write_tables()), before loader_write_boot_info(). */
	uint64_t acpi_rsdp;
};

/* Identifies and loads a kernel image into guest RAM. */
int loader_load_kernel(const struct guest_mem *mem, const uint8_t *image, size_t len,
                       enum boot_protocol protocol, struct kernel_info *info, char *err,
                       size_t errlen);

/* Places an initrd of len bytes: page-aligned, as high as possible in low RAM, below
 * info->initrd_addr_max and above the kernel. Copies it. 0 with *gpa set, or -1 with err. */
int loader_load_initrd(const struct guest_mem *mem, const struct kernel_info *info,
                       const uint8_t *initrd, size_t len, uint64_t *gpa, char *err, size_t errlen);

/* The kernel command line: the user's args with wisp's device parameters (extra, each
 * preceded by a space: "root=/dev/vda rw", virtio_mmio.device=...) added to the kernel's part.
 * Linux hands everything after the first "--" word to init as its arguments, so extra goes
 * right before it when args has one ("A -- B" -> "A<extra> -- B"), at the end otherwise.
 * malloc'd, NULL when out of memory. */
char *loader_cmdline_join(const char *args, const char *extra);

/* Boot information for the protocol in info->mode: the zero page with setup header, E820 map,
 * command line, initrd fields and RSDP (BOOT_ENTRY_LINUX64), or hvm_start_info with memmap,
 * command line, module list and RSDP (BOOT_ENTRY_PVH32); the RSDP is info->acpi_rsdp. cmdline is
 * the whole line (NUL-terminated); initrd_len 0 for none. */
int loader_write_boot_info(const struct guest_mem *mem, const struct kernel_info *info,
                           const char *cmdline, uint64_t initrd_gpa, uint64_t initrd_len, char *err,
                           size_t errlen);

/* The E820 map wisp gives a guest of this RAM layout (also used for PVH's memmap).
 * Returns the number of entries written (at most max). */
unsigned loader_e820_map(const struct guest_mem *mem, struct boot_e820_entry *map, unsigned max);

/*
 * Pieces of the loader shared by its files (loader*.c, boot_params.c) and exposed for the unit
 * tests. Nothing outside the loader needs them.
 */

/* E820 / PVH memmap types (the two wisp uses). */
#define LOADER_E820_RAM      1
#define LOADER_E820_RESERVED 2

/* x86 COMMAND_LINE_SIZE: the longest line a kernel without a setup header keeps, NUL included. */
#define LOADER_COMMAND_LINE_SIZE 2048
/* boot.rst: "For boot protocols 2.02 or earlier ... the maximum address is 0x37FFFFFF". Used for
 * kernels that do not tell (ELF vmlinux, PVH). */
#define LOADER_INITRD_ADDR_MAX_DEFAULT 0x37ffffffULL
/* The boot page tables at LAYOUT_PML4..LAYOUT_PD identity-map the first 1 GiB with 2 MiB pages.
 * The 64-bit protocol needs the kernel (through init_size), the zero page and the command line
 * inside that map, so a BOOT_ENTRY_LINUX64 kernel must end below this address. */
#define LOADER_IDENTITY_MAP_END 0x40000000ULL

/* Checks that [start, end) may hold kernel bytes: at or above 1 MiB (below it are wisp's boot
 * structures), not empty or wrapping, wholly inside one RAM slot (not in the MMIO hole, not past
 * RAM) and, for BOOT_ENTRY_LINUX64, inside the boot identity map. what names the piece
 * ("ELF segment 2") in the message. 0 or -1 with err. */
int loader_check_kernel_range(const struct guest_mem *mem, enum boot_entry_mode mode,
                              uint64_t start, uint64_t end, const char *what, char *err,
                              size_t errlen);

/* True when the bytes start like an ELF file / carry "HdrS" at 0x202 (a Linux setup header). */
bool loader_is_elf(const uint8_t *image, size_t len);
bool loader_is_bzimage(const uint8_t *image, size_t len);

/* Format-specific halves of loader_load_kernel(); same contract. */
int loader_load_elf(const struct guest_mem *mem, const uint8_t *image, size_t len,
                    enum boot_protocol protocol, struct kernel_info *info, char *err,
                    size_t errlen);
int loader_load_bzimage(const struct guest_mem *mem, const uint8_t *image, size_t len,
                        enum boot_protocol protocol, struct kernel_info *info, char *err,
                        size_t errlen);

/* Fills *bp (the zero page) for a kernel: zeroed, the image's setup header (or a minimal one for
 * an ELF vmlinux), loader fields, command line pointer, initrd, info->acpi_rsdp and the E820 map
 * of mem.
 * Pure: writes nothing to guest RAM. */
void bootparams_build(struct boot_params *bp, const struct guest_mem *mem,
                      const struct kernel_info *info, uint64_t cmdline_gpa, uint64_t initrd_gpa,
                      uint64_t initrd_len);
/* The setup header wisp supplies for a kernel that has none (ELF vmlinux); see boot_params.c. */
void bootparams_default_header(struct setup_header *hdr);

#endif

/*
 * boot_params.c - the Linux zero page (struct boot_params) for the 64-bit boot protocol.
 *
 * boot.rst, "64-bit BOOT PROTOCOL": the loader zeroes struct boot_params, loads the kernel's
 * setup header into it, fills the loader-written header fields as in the 16-bit protocol, and
 * fills the other fields zero-page.rst describes (here: the command line and initrd extensions,
 * the E820 map). Fields wisp writes, with their offsets in the zero page:
 *   0x0c0 ext_ramdisk_image, 0x0c4 ext_ramdisk_size, 0x0c8 ext_cmd_line_ptr: upper 32 bits
 *   0x1e8 e820_entries, 0x2d0 e820_table: loader_e820_map()
 *   0x1ef sentinel: left 0 (we copy the header exactly, not the bytes around it)
 *   0x210 type_of_loader = 0xff: "undefined" loader, as boot.rst asks of loaders with no ID
 *   0x211 loadflags: CAN_USE_HEAP for a bzImage, see heap_end_ptr
 *   0x224 heap_end_ptr = 0xde00 for a bzImage: boot.rst's recipe (heap end 0xe000 - 0x200);
 *         the field is obligatory to write even though the 64-bit entry skips the real-mode
 *         code that uses the heap
 *   0x218 ramdisk_image, 0x21c ramdisk_size, 0x228 cmd_line_ptr: lower 32 bits
 *   0x250 setup_data = 0: no setup_data list
 *   0x070 acpi_rsdp_addr = info->acpi_rsdp (zero-page.rst: all protocols; older kernels ignore
 *         these bytes), so the kernel need not scan for the RSDP
 */
#include "vmm/boot/loader.h"

#include <string.h>

#define BOOTPARAMS_HDRS_MAGIC    0x53726448 /* "HdrS" read as a little-endian u32 */
#define BOOTPARAMS_BOOT_FLAG     0xaa55
#define BOOTPARAMS_LOADER_UNDEF  0xff
#define BOOTPARAMS_HEAP_END_PTR  0xde00
#define BOOTPARAMS_VID_NORMAL    0xffff   /* vid_mode "normal" */
#define BOOTPARAMS_DEFAULT_ALIGN 0x200000 /* x86-64 default CONFIG_PHYSICAL_ALIGN */

/*
 * A vmlinux has no setup header, yet the kernel reads a few header fields from the zero page.
 * What wisp supplies, and why:
 *   boot_flag 0xAA55, header "HdrS": the marks of a valid header.
 *   version 2.12: the newest protocol whose fields this zero page fills (ext_* fields,
 *     xloadflags); the kernel itself checks version only to parse setup_data (>= 2.09),
 *     which is 0 here.
 *   loadflags LOADED_HIGH: the kernel is at 1 MiB or above.
 *   xloadflags XLF_KERNEL_64: entered through the 64-bit protocol.
 *   kernel_alignment 2 MiB, relocatable_kernel 0: describe the already placed kernel; the
 *     values are informational once the kernel runs.
 *   cmdline_size 2047 and initrd_addr_max 0x37ffffff: the limits the loader applied.
 *   vid_mode 0xffff: "normal" text mode, as a header from the build would say.
 */
void bootparams_default_header(struct setup_header *hdr)
{
	memset(hdr, 0, sizeof(*hdr));
	hdr->boot_flag = BOOTPARAMS_BOOT_FLAG;
	hdr->header = BOOTPARAMS_HDRS_MAGIC;
	hdr->version = 0x020c;
	hdr->vid_mode = BOOTPARAMS_VID_NORMAL;
	hdr->loadflags = LOADED_HIGH;
	hdr->xloadflags = XLF_KERNEL_64;
	hdr->kernel_alignment = BOOTPARAMS_DEFAULT_ALIGN;
	hdr->cmdline_size = LOADER_COMMAND_LINE_SIZE - 1;
	hdr->initrd_addr_max = (uint32_t)LOADER_INITRD_ADDR_MAX_DEFAULT;
}

void bootparams_build(struct boot_params *bp, const struct guest_mem *mem,
                      const struct kernel_info *info, uint64_t cmdline_gpa, uint64_t initrd_gpa,
                      uint64_t initrd_len)
{
	memset(bp, 0, sizeof(*bp));
	if (info->has_setup_header) {
		bp->hdr = info->setup_header;
		bp->hdr.loadflags |= CAN_USE_HEAP;
		bp->hdr.heap_end_ptr = BOOTPARAMS_HEAP_END_PTR;
	} else {
		bootparams_default_header(&bp->hdr);
	}
	bp->hdr.type_of_loader = BOOTPARAMS_LOADER_UNDEF;
	/* Loader-owned: wisp passes no setup_data list, whatever the image's bytes said. */
	bp->hdr.setup_data = 0;
	/* KEEP_SEGMENTS is obsolete and only meaningful for the 32-bit entry. */
	bp->hdr.loadflags &= (uint8_t)~KEEP_SEGMENTS;
	bp->hdr.cmd_line_ptr = (uint32_t)cmdline_gpa;
	bp->ext_cmd_line_ptr = (uint32_t)(cmdline_gpa >> 32);
	if (initrd_len) {
		bp->hdr.ramdisk_image = (uint32_t)initrd_gpa;
		bp->ext_ramdisk_image = (uint32_t)(initrd_gpa >> 32);
		bp->hdr.ramdisk_size = (uint32_t)initrd_len;
		bp->ext_ramdisk_size = (uint32_t)(initrd_len >> 32);
	}
	bp->acpi_rsdp_addr = info->acpi_rsdp;
	bp->e820_entries = (uint8_t)loader_e820_map(mem, bp->e820_table, E820_MAX_ENTRIES_ZEROPAGE);
}

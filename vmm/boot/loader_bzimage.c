/*
 * loader_bzimage.c - bzImage kernels, per Documentation/arch/x86/boot.rst.
 *
 * The image is: setup sectors (boot sector + real-mode setup, (setup_sects + 1) * 512 bytes,
 * setup_sects 0 meaning 4) holding the setup header at 0x1f1, then the protected-mode kernel.
 * wisp uses the 64-bit boot protocol only: the real-mode code is never loaded or run; the
 * protected-mode kernel is copied to its load address and entered at load + 0x200 (startup_64)
 * in long mode with RSI = the zero page.
 *
 * Requirements, and why:
 *   - boot_flag 0xAA55 and "HdrS": the header is a Linux setup header.
 *   - protocol >= 2.12: xloadflags (2.12) is where a kernel states XLF_KERNEL_64, i.e. that the
 *     64-bit entry at 0x200 exists; 2.12 also implies pref_address/init_size (2.10) and
 *     cmdline_size (2.06), which wisp relies on.
 *   - LOADED_HIGH: the protected-mode code is meant for 1 MiB and up (a zImage is not).
 *   - the header must contain every field up to init_size, and lie inside the file.
 * Placement: a relocatable kernel at pref_address when that is kernel_alignment-aligned and fits
 * in RAM, else at the lowest kernel_alignment-aligned address at or above 1 MiB; a
 * non-relocatable kernel only at pref_address. The range reserved is
 * [load, load + max(protected-mode size, init_size)) and must lie in low RAM inside the boot
 * identity map. min_alignment (a fallback to smaller alignment) is not used.
 */
#include "vmm/boot/loader.h"
#include "vmm/log.h"
#include "vmm/layout.h"

#include <stddef.h>
#include <string.h>

#define BZ_HDR_OFFSET           0x1f1 /* struct setup_header in the image and the zero page */
#define BZ_BOOT_FLAG            0xaa55
#define BZ_MIN_VERSION          0x020c /* 2.12: xloadflags */
#define BZ_SECTOR               512
#define BZ_DEFAULT_SETUP_SECTS  4     /* boot.rst: "if this field is 0, the real value is 4" */
#define BZ_ENTRY64_OFFSET       0x200 /* startup_64, relative to the load address */
#define BZ_MAX_KERNEL_ALIGNMENT 0x40000000ULL

/* Offset, in the image, one past the last header byte wisp reads (init_size). */
#define BZ_HDR_NEEDED_END                                                                          \
	(BZ_HDR_OFFSET + offsetof(struct setup_header, init_size) + sizeof(uint32_t))

/*
 * The header ends at 0x202 + the byte at 0x201 (the operand of the jump at 0x200), as boot.rst
 * says. Copies it, clamped to the fields struct setup_header knows, into *hdr (zeroed first).
 */
static int bz_read_header(const uint8_t *image, size_t len, struct setup_header *hdr, char *err,
                          size_t errlen)
{
	size_t end = 0x202 + (size_t)image[0x201], copy;

	if (end > len)
		return error_set(err, errlen,
		                 "bzImage setup header ends at 0x%zx, past the end of the image "
		                 "(%zu bytes)",
		                 end, len);
	copy = end - BZ_HDR_OFFSET;
	if (copy > sizeof(*hdr))
		copy = sizeof(*hdr);
	memset(hdr, 0, sizeof(*hdr));
	memcpy(hdr, image + BZ_HDR_OFFSET, copy);
	if (hdr->boot_flag != BZ_BOOT_FLAG)
		return error_set(err, errlen, "bzImage boot_flag is 0x%04x, not 0xaa55",
		                 hdr->boot_flag);
	if (hdr->version < BZ_MIN_VERSION)
		return error_set(err, errlen,
		                 "bzImage boot protocol %u.%02u is older than 2.12 (no xloadflags, "
		                 "so no 64-bit entry)",
		                 hdr->version >> 8, hdr->version & 0xff);
	if (end < BZ_HDR_NEEDED_END)
		return error_set(err, errlen,
		                 "bzImage setup header ends at 0x%zx, before init_size (0x260) "
		                 "which protocol 2.%02u promises",
		                 end, hdr->version & 0xff);
	if (!(hdr->loadflags & LOADED_HIGH))
		return error_set(err, errlen, "zImage (LOADED_HIGH clear) is not supported");
	if (!(hdr->xloadflags & XLF_KERNEL_64))
		return error_set(err, errlen, "bzImage has no 64-bit entry (XLF_KERNEL_64 clear)");
	return 0;
}

/* Chooses the load address of a payload needing size bytes (see the file comment). */
static int bz_place(const struct guest_mem *mem, const struct setup_header *hdr, uint64_t size,
                    uint64_t *load, char *err, size_t errlen)
{
	uint64_t pref = hdr->pref_address ? hdr->pref_address : LAYOUT_HIMEM;
	uint64_t align = hdr->kernel_alignment;

	if (!hdr->relocatable_kernel) {
		*load = pref;
		return loader_check_kernel_range(mem, BOOT_ENTRY_LINUX64, pref, pref + size,
		                                 "non-relocatable bzImage kernel", err, errlen);
	}
	if (align == 0 || (align & (align - 1)) || align > BZ_MAX_KERNEL_ALIGNMENT)
		return error_set(
		    err, errlen,
		    "bzImage kernel_alignment 0x%llx is not a power of two up to 1 GiB",
		    (unsigned long long)align);
	/* pref + size may wrap for a hostile pref_address: the range check rejects a wrap. */
	if (pref % align == 0 && loader_check_kernel_range(mem, BOOT_ENTRY_LINUX64, pref,
	                                                   pref + size, "", NULL, 0) == 0) {
		*load = pref;
		return 0;
	}
	*load = (LAYOUT_HIMEM + align - 1) & ~(align - 1);
	return loader_check_kernel_range(mem, BOOT_ENTRY_LINUX64, *load, *load + size,
	                                 "bzImage kernel", err, errlen);
}

int loader_load_bzimage(const struct guest_mem *mem, const uint8_t *image, size_t len,
                        enum boot_protocol protocol, struct kernel_info *info, char *err,
                        size_t errlen)
{
	struct setup_header hdr;
	uint64_t setup_size, payload, size, load = 0;

	if (bz_read_header(image, len, &hdr, err, errlen) < 0)
		return -1;
	if (protocol == BOOT_PROTOCOL_PVH)
		return error_set(err, errlen,
		                 "boot protocol PVH asked for, but a bzImage has no PVH entry");
	setup_size = (uint64_t)((hdr.setup_sects ? hdr.setup_sects : BZ_DEFAULT_SETUP_SECTS) + 1) *
	             BZ_SECTOR;
	if (setup_size >= len)
		return error_set(err, errlen,
		                 "bzImage has no protected-mode kernel after its %llu setup bytes "
		                 "(image is %zu bytes)",
		                 (unsigned long long)setup_size, len);
	payload = len - setup_size;
	if (payload <= BZ_ENTRY64_OFFSET)
		return error_set(err, errlen,
		                 "bzImage protected-mode kernel is %llu bytes, too short for the "
		                 "64-bit entry at 0x200",
		                 (unsigned long long)payload);
	/* init_size: memory the kernel needs from its start before it reads the memory map. */
	size = hdr.init_size > payload ? hdr.init_size : payload;
	if (bz_place(mem, &hdr, size, &load, err, errlen) < 0)
		return -1;
	if (guest_mem_write(mem, load, image + setup_size, payload) < 0)
		return error_set(err, errlen, "bzImage kernel at 0x%llx does not fit in guest RAM",
		                 (unsigned long long)load);
	/* boot.rst: code32_start "defaults to the load address"; keep it truthful. */
	hdr.code32_start = (uint32_t)load;
	info->format = KERNEL_FORMAT_BZIMAGE;
	info->mode = BOOT_ENTRY_LINUX64;
	info->entry = load + BZ_ENTRY64_OFFSET;
	info->load_start = load;
	info->load_end = load + size;
	info->has_setup_header = true;
	info->setup_header = hdr;
	info->cmdline_max = hdr.cmdline_size; /* "without the terminating zero" */
	info->initrd_addr_max = hdr.initrd_addr_max;
	return 0;
}

/*
 * loader.c - kernel format detection and dispatch, initrd placement, boot information and the
 * E820 map (see loader.h). The format parsers live in loader_elf.c and loader_bzimage.c, the
 * zero page in boot_params.c, hvm_start_info in loader_pvh.c.
 *
 * Every byte of an image, and its length, is hostile: checks come before any use, sums are
 * written so they cannot overflow, and guest RAM is touched only through guest_mem_*().
 */
#include "vmm/boot/loader.h"
#include "vmm/layout.h"
#include "vmm/boot/pvh.h"

#include "vmm/log.h"
#include <elf.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#define LOADER_PAGE_SIZE 0x1000ULL

/* True when [start, end) meets the 32-bit MMIO hole. */
static bool range_meets_mmio_hole(uint64_t start, uint64_t end)
{
	return start < LAYOUT_MMIO_HOLE_END && end > LAYOUT_MMIO_HOLE;
}

int loader_check_kernel_range(const struct guest_mem *mem, enum boot_entry_mode mode,
                              uint64_t start, uint64_t end, const char *what, char *err,
                              size_t errlen)
{
	if (end <= start)
		return error_set(err, errlen, "%s is empty or wraps around (0x%llx..0x%llx)", what,
		                 (unsigned long long)start, (unsigned long long)end);
	if (start < LAYOUT_HIMEM)
		return error_set(err, errlen,
		                 "%s at 0x%llx overlaps wisp's boot structures below 1 MiB", what,
		                 (unsigned long long)start);
	if (range_meets_mmio_hole(start, end))
		return error_set(err, errlen, "%s (0x%llx..0x%llx) lies in the 32-bit MMIO hole",
		                 what, (unsigned long long)start, (unsigned long long)end);
	if (!guest_mem_range_ok(mem, start, end - start))
		return error_set(err, errlen, "%s (0x%llx..0x%llx) ends past guest RAM", what,
		                 (unsigned long long)start, (unsigned long long)end);
	if (mode == BOOT_ENTRY_LINUX64 && end > LOADER_IDENTITY_MAP_END)
		return error_set(err, errlen,
		                 "%s ends at 0x%llx, past the 1 GiB the 64-bit entry maps", what,
		                 (unsigned long long)end);
	return 0;
}

bool loader_is_elf(const uint8_t *image, size_t len)
{
	return len >= SELFMAG && memcmp(image, ELFMAG, SELFMAG) == 0;
}

bool loader_is_bzimage(const uint8_t *image, size_t len)
{
	/* "HdrS" at 0x202 is what marks a setup header of protocol 2.00 or later. */
	return len >= 0x206 && memcmp(image + 0x202, "HdrS", 4) == 0;
}

int loader_load_kernel(const struct guest_mem *mem, const uint8_t *image, size_t len,
                       enum boot_protocol protocol, struct kernel_info *info, char *err,
                       size_t errlen)
{
	int rc;

	memset(info, 0, sizeof(*info));
	if (!image || len == 0)
		return error_set(err, errlen, "kernel image is empty");
	/* ELF first: its magic is at offset 0, a setup header's is at 0x202. */
	if (loader_is_elf(image, len))
		rc = loader_load_elf(mem, image, len, protocol, info, err, errlen);
	else if (loader_is_bzimage(image, len))
		rc = loader_load_bzimage(mem, image, len, protocol, info, err, errlen);
	else
		return error_set(err, errlen,
		                 "kernel image is neither ELF (no \\177ELF at 0) nor bzImage "
		                 "(no HdrS at 0x202)");
	if (rc < 0)
		return rc;
	/* The line is copied to LAYOUT_CMDLINE, which has room for LAYOUT_CMDLINE_MAX bytes. */
	if (info->cmdline_max > LAYOUT_CMDLINE_MAX - 1)
		info->cmdline_max = LAYOUT_CMDLINE_MAX - 1;
	return 0;
}

/*
 * The initrd goes as high as possible in low RAM (Linux's convention, which keeps it clear of the
 * kernel's decompression and early allocations), page aligned, with its last byte at or below
 * initrd_addr_max. It never goes above 4 GiB: wisp's low RAM ends at the MMIO hole, and
 * XLF_CAN_BE_LOADED_ABOVE_4G is not needed for that, so it is not consulted.
 */
int loader_load_initrd(const struct guest_mem *mem, const struct kernel_info *info,
                       const uint8_t *initrd, size_t len, uint64_t *gpa, char *err, size_t errlen)
{
	uint64_t top = guest_mem_low_end(mem), floor = info->load_end, start;

	if (!initrd || len == 0)
		return error_set(err, errlen, "initrd is empty");
	/* initrd_addr_max is the highest byte the initrd may occupy, hence + 1. */
	if (info->initrd_addr_max < top)
		top = info->initrd_addr_max + 1;
	if (floor < LAYOUT_HIMEM)
		floor = LAYOUT_HIMEM;
	floor = (floor + LOADER_PAGE_SIZE - 1) & ~(LOADER_PAGE_SIZE - 1);
	if (top <= floor || len > top - floor)
		return error_set(err, errlen,
		                 "initrd of %zu bytes does not fit between the kernel end 0x%llx "
		                 "and 0x%llx (top of low RAM or initrd_addr_max)",
		                 len, (unsigned long long)floor, (unsigned long long)top);
	start = (top - len) & ~(LOADER_PAGE_SIZE - 1);
	if (start < floor) /* rounding down crossed the kernel */
		return error_set(err, errlen, "initrd of %zu bytes does not fit above the kernel",
		                 len);
	if (guest_mem_write(mem, start, initrd, len) < 0)
		return error_set(err, errlen, "initrd at 0x%llx is not in guest RAM",
		                 (unsigned long long)start);
	*gpa = start;
	return 0;
}

int loader_write_boot_info(const struct guest_mem *mem, const struct kernel_info *info,
                           const char *cmdline, uint64_t initrd_gpa, uint64_t initrd_len, char *err,
                           size_t errlen)
{
	struct boot_params bp;
	size_t cmdline_len;

	if (!cmdline)
		cmdline = "";
	cmdline_len = strlen(cmdline);
	if (cmdline_len > info->cmdline_max)
		return error_set(err, errlen,
		                 "kernel command line is %zu bytes, the kernel accepts at most %u",
		                 cmdline_len, info->cmdline_max);
	if (initrd_len && !guest_mem_range_ok(mem, initrd_gpa, initrd_len))
		return error_set(err, errlen, "initrd at 0x%llx (%llu bytes) is not in guest RAM",
		                 (unsigned long long)initrd_gpa, (unsigned long long)initrd_len);
	if (guest_mem_write(mem, LAYOUT_CMDLINE, cmdline, cmdline_len + 1) < 0)
		return error_set(err, errlen, "guest RAM too small for the command line at 0x%llx",
		                 (unsigned long long)LAYOUT_CMDLINE);
	if (info->mode == BOOT_ENTRY_PVH32)
		return loader_pvh_write_start_info(mem, LAYOUT_CMDLINE, initrd_gpa, initrd_len,
		                                   info->acpi_rsdp, err, errlen);
	bootparams_build(&bp, mem, info, LAYOUT_CMDLINE, initrd_gpa, initrd_len);
	if (guest_mem_write(mem, LAYOUT_ZERO_PAGE, &bp, sizeof(bp)) < 0)
		return error_set(err, errlen, "guest RAM too small for the zero page at 0x%llx",
		                 (unsigned long long)LAYOUT_ZERO_PAGE);
	return 0;
}

static void e820_add(struct boot_e820_entry *map, unsigned max, unsigned *n, uint64_t addr,
                     uint64_t size, uint32_t type)
{
	if (size == 0 || *n >= max)
		return;
	map[*n] = (struct boot_e820_entry){.addr = addr, .size = size, .type = type};
	(*n)++;
}

/*
 * The map: RAM below the MP table, the MP table page tail and the VGA/ROM hole reserved up to
 * 1 MiB, RAM from 1 MiB to the end of low RAM, then the high slot (RAM from 4 GiB) if any.
 * The MMIO hole is simply absent, as on real machines.
 */
unsigned loader_e820_map(const struct guest_mem *mem, struct boot_e820_entry *map, unsigned max)
{
	uint64_t low_end;
	unsigned n = 0;

	if (mem->nslots == 0)
		return 0;
	low_end = guest_mem_low_end(mem);
	e820_add(map, max, &n, 0, low_end < LAYOUT_MPTABLE ? low_end : LAYOUT_MPTABLE,
	         LOADER_E820_RAM);
	if (low_end > LAYOUT_MPTABLE)
		e820_add(map, max, &n, LAYOUT_MPTABLE, LAYOUT_HIMEM - LAYOUT_MPTABLE,
		         LOADER_E820_RESERVED);
	if (low_end > LAYOUT_HIMEM)
		e820_add(map, max, &n, LAYOUT_HIMEM, low_end - LAYOUT_HIMEM, LOADER_E820_RAM);
	for (unsigned i = 1; i < mem->nslots && i < 2; i++)
		e820_add(map, max, &n, mem->slots[i].gpa, mem->slots[i].size, LOADER_E820_RAM);
	return n;
}

char *loader_cmdline_join(const char *args, const char *extra)
{
	const char *p = args, *split = NULL;
	char *out;

	/* The first "--" that is a word of its own. */
	while ((p = strstr(p, "--")) != NULL) {
		if ((p == args || p[-1] == ' ') && (p[2] == ' ' || p[2] == '\0')) {
			split = p;
			break;
		}
		p += 2;
	}
	if (!split)
		return asprintf(&out, "%s%s", args, extra) < 0 ? NULL : out;
	/* "A -- B": A without its trailing spaces, then extra, then " -- B". */
	p = split;
	while (p > args && p[-1] == ' ')
		p--;
	if (asprintf(&out, "%.*s%s %s", (int)(p - args), args, extra, split) < 0)
		return NULL;
	return out;
}

/*
 * bootinfo.c - reads what the VMM handed over, in place (nothing is copied at CPL0).
 *
 * Linux 64-bit protocol: RSI = struct boot_params ("zero page", Documentation/arch/x86/
 * zero-page.rst): cmd_line_ptr at 0x228 (+ ext_cmd_line_ptr at 0x0c8 for the high 32 bits),
 * e820_entries (u8) at 0x1e8, e820_table (20-byte entries, up to 128) at 0x2d0.
 * PVH: EBX = struct hvm_start_info (Xen's arch-x86/hvm/start_info.h), described below.
 */
#include "guest.h"

#define BP_EXT_CMD_LINE_PTR 0x0c8
#define BP_E820_ENTRIES     0x1e8
#define BP_HDR_MAGIC        0x202 /* "HdrS" when the setup header was filled in */
#define BP_CMD_LINE_PTR     0x228
#define BP_E820_TABLE       0x2d0
#define BP_E820_MAX         128

struct e820_entry {
	u64 addr, size;
	u32 type;
} __packed;

#define HVM_START_MAGIC 0x336ec578

struct hvm_start_info {
	u32 magic;
	u32 version; /* memmap_* fields exist from version 1 */
	u32 flags;
	u32 nr_modules;
	u64 modlist_paddr;
	u64 cmdline_paddr;
	u64 rsdp_paddr;
	u64 memmap_paddr;
	u32 memmap_entries;
	u32 reserved;
} __packed;

struct hvm_memmap_entry {
	u64 addr, size;
	u32 type, reserved;
} __packed;

/* The command line is read in place; longer ones are cut (the VMM reserves 64 KiB). */
#define CMDLINE_MAX 0x10000
/* Everything the guest reads must be inside its identity map of RAM (first 3 GiB). */
#define BOOTINFO_LIMIT 0xc0000000ULL

struct boot_info boot;

const char *boot_protocol_name(int protocol)
{
	return protocol == BOOT_PVH ? "pvh" : protocol == BOOT_LINUX64 ? "linux64" : "?";
}

static bool addr_ok(u64 addr, u64 len)
{
	return addr && addr < BOOTINFO_LIMIT && len <= BOOTINFO_LIMIT - addr;
}

static void set_cmdline(u64 addr)
{
	if (!addr_ok(addr, 1)) {
		boot.cmdline = "";
		boot.cmdline_len = 0;
		return;
	}
	boot.cmdline = (const char *)addr;
	boot.cmdline_len = strnlen(boot.cmdline, CMDLINE_MAX);
}

const char *bootinfo_parse(int protocol, u64 info_addr)
{
	boot.protocol = protocol;
	boot.cmdline = "";
	if (protocol == BOOT_PVH) {
		const struct hvm_start_info *si = (const void *)info_addr;

		if (!addr_ok(info_addr, sizeof(*si)))
			return "hvm_start_info address out of range";
		if (si->magic != HVM_START_MAGIC)
			return "bad hvm_start_info magic";
		boot.raw = si;
		set_cmdline(si->cmdline_paddr);
		return NULL;
	}
	if (!addr_ok(info_addr, 4096))
		return "boot_params address out of range";
	boot.raw = (const void *)info_addr;
	set_cmdline(*(const u32 *)(info_addr + BP_CMD_LINE_PTR) |
	            (u64) * (const u32 *)(info_addr + BP_EXT_CMD_LINE_PTR) << 32);
	return NULL;
}

int bootinfo_memmap(struct mem_range *out, int max, const char **why)
{
	int i, n;

	if (boot.protocol == BOOT_PVH) {
		const struct hvm_start_info *si = boot.raw;
		const struct hvm_memmap_entry *e;

		if (si->version < 1 || si->memmap_entries == 0) {
			*why = "hvm_start_info has no memmap (version < 1 or 0 entries)";
			return -1;
		}
		n = si->memmap_entries;
		if (!addr_ok(si->memmap_paddr, (u64)n * sizeof(*e))) {
			*why = "hvm memmap address out of range";
			return -1;
		}
		e = (const void *)si->memmap_paddr;
		for (i = 0; i < n && i < max; i++)
			out[i] = (struct mem_range){e[i].addr, e[i].size, e[i].type};
		return i;
	}
	n = *((const u8 *)boot.raw + BP_E820_ENTRIES);
	if (n == 0 || n > BP_E820_MAX) {
		*why = n ? "boot_params e820_entries above 128" : "boot_params e820_entries is 0";
		return -1;
	}
	for (i = 0; i < n && i < max; i++) {
		const struct e820_entry *e = (const void *)((const u8 *)boot.raw + BP_E820_TABLE +
		                                            i * sizeof(struct e820_entry));

		out[i] = (struct mem_range){e->addr, e->size, e->type};
	}
	return i;
}

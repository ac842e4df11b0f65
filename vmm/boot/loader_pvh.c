/*
 * loader_pvh.c - hvm_start_info for PVH kernels (see pvh.h for the ABI and placement).
 *
 * The memmap is the same E820 map a Linux-protocol guest gets (loader_e820_map), so both boot
 * paths see one memory layout. Everything is built on the stack and written with
 * guest_mem_write(); a RAM too small for the fixed structures is an error, not a partial write.
 */
#include "vmm/boot/loader.h"
#include "vmm/log.h"
#include "vmm/layout.h"
#include "vmm/boot/pvh.h"

#include <string.h>

int loader_pvh_write_start_info(const struct guest_mem *mem, uint64_t cmdline_gpa,
                                uint64_t initrd_gpa, uint64_t initrd_len, uint64_t rsdp_gpa,
                                char *err, size_t errlen)
{
	struct boot_e820_entry e820[PVH_MEMMAP_MAX];
	struct hvm_memmap_table_entry memmap[PVH_MEMMAP_MAX];
	struct hvm_modlist_entry mod = {.paddr = initrd_gpa, .size = initrd_len};
	struct hvm_start_info start = {
	    .magic = PVH_START_MAGIC,
	    .version = PVH_START_VERSION,
	    .cmdline_paddr = cmdline_gpa,
	    .rsdp_paddr = rsdp_gpa,
	    .memmap_paddr = LAYOUT_PVH_INFO + PVH_MEMMAP_OFFSET,
	};
	unsigned n = loader_e820_map(mem, e820, PVH_MEMMAP_MAX);

	memset(memmap, 0, sizeof(memmap));
	for (unsigned i = 0; i < n; i++) {
		memmap[i].addr = e820[i].addr;
		memmap[i].size = e820[i].size;
		memmap[i].type = e820[i].type; /* E820 and PVH memmap types are the same numbers */
	}
	start.memmap_entries = n;
	if (initrd_len) {
		start.nr_modules = 1;
		start.modlist_paddr = LAYOUT_PVH_MODLIST;
		if (guest_mem_write(mem, LAYOUT_PVH_MODLIST, &mod, sizeof(mod)) < 0)
			return error_set(err, errlen,
			                 "guest RAM too small for the PVH module list");
	}
	if (guest_mem_write(mem, LAYOUT_PVH_INFO, &start, sizeof(start)) < 0 ||
	    guest_mem_write(mem, start.memmap_paddr, memmap, n * sizeof(memmap[0])) < 0)
		return error_set(err, errlen, "guest RAM too small for hvm_start_info at 0x%llx",
		                 (unsigned long long)LAYOUT_PVH_INFO);
	return 0;
}

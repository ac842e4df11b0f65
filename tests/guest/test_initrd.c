/*
 * test_initrd.c - initrd: where the VMM placed the initial ramdisk, and a checksum of it.
 *
 * The location comes from the boot information of either protocol:
 *   Linux: boot_params.hdr.ramdisk_image (0x218) / ramdisk_size (0x21c), high 32 bits in
 *          ext_ramdisk_image (0x0c0) / ext_ramdisk_size (0x0c4); initrd_addr_max at 0x22c.
 *   PVH:   hvm_start_info.nr_modules (0x0c) / modlist_paddr (0x10) -> hvm_modlist_entry
 *          {paddr, size, cmdline_paddr, reserved}; the initrd is module 0.
 * PASS needs what loader_load_initrd() guarantees: a non-empty, page-aligned range in usable
 * RAM, above this image, ending at or below initrd_addr_max (0x37ffffff unless a bzImage
 * says otherwise), and as high as that allows (less than a page below the top).
 *
 * The checksum (FNV-1a 32 over every byte) runs at CPL3: megabytes at CPL0 would take seconds
 * of emulation on PVM hosts. The host compares it with its own (tests/bats/initrd.bats).
 */
#include "guest.h"

#define BP_EXT_RAMDISK_IMAGE 0x0c0
#define BP_EXT_RAMDISK_SIZE  0x0c4
#define BP_RAMDISK_IMAGE     0x218
#define BP_RAMDISK_SIZE      0x21c
#define BP_INITRD_ADDR_MAX   0x22c

#define HVM_NR_MODULES    0x0c
#define HVM_MODLIST_PADDR 0x10

struct hvm_modlist_entry {
	u64 paddr, size, cmdline_paddr, reserved;
} __packed;

#define INITRD_ADDR_MAX_DEFAULT 0x37ffffffULL /* the loader's, for ELF kernels */
#define PAGE_SIZE               0x1000ULL
#define MAX_RANGES              32

#define FNV1A_OFFSET 0x811c9dc5u
#define FNV1A_PRIME  0x01000193u

extern char _end[]; /* guest.ld: end of the image, .noinit included */

struct initrd_span {
	u64 addr, size;
};

/* CPL3: FNV-1a 32 of the span's bytes. */
static long user_fnv1a(u64 arg)
{
	const struct initrd_span *s = (const void *)arg;
	const u8 *p = (const u8 *)s->addr;
	u32 h = FNV1A_OFFSET;

	for (u64 i = 0; i < s->size; i++)
		h = (h ^ p[i]) * FNV1A_PRIME;
	return h;
}

static u32 read32(const void *base, unsigned off)
{
	return *(const u32 *)((const u8 *)base + off);
}

/* The initrd as the boot information describes it; *addr_max is the highest byte allowed. */
static void initrd_find(struct initrd_span *s, u64 *addr_max, const char **via)
{
	if (boot.protocol == BOOT_PVH) {
		const struct hvm_modlist_entry *m;
		u64 list = *(const u64 *)((const u8 *)boot.raw + HVM_MODLIST_PADDR);

		*via = "hvm_start_info";
		*addr_max = INITRD_ADDR_MAX_DEFAULT;
		if (read32(boot.raw, HVM_NR_MODULES) == 0)
			test_fail("no initrd: hvm_start_info.nr_modules is 0");
		if (!list || list >= 0xc0000000ULL)
			test_fail("hvm_start_info.modlist_paddr %#lx out of range", list);
		m = phys(list);
		s->addr = m->paddr;
		s->size = m->size;
		return;
	}
	*via = "boot_params";
	*addr_max = read32(boot.raw, BP_INITRD_ADDR_MAX);
	s->addr = read32(boot.raw, BP_RAMDISK_IMAGE) | (u64)read32(boot.raw, BP_EXT_RAMDISK_IMAGE)
	                                                   << 32;
	s->size = read32(boot.raw, BP_RAMDISK_SIZE) | (u64)read32(boot.raw, BP_EXT_RAMDISK_SIZE)
	                                                  << 32;
	if (s->size == 0)
		test_fail("no initrd: boot_params ramdisk_size is 0");
}

/* The end of the usable RAM range holding [addr, addr + size), or 0 if none does. */
static u64 usable_end(u64 addr, u64 size)
{
	struct mem_range map[MAX_RANGES];
	const char *why = "";
	int n = bootinfo_memmap(map, MAX_RANGES, &why);

	if (n < 0)
		test_fail("no memory map: %s", why);
	for (int i = 0; i < n; i++)
		if (map[i].type == 1 && addr >= map[i].addr &&
		    addr + size <= map[i].addr + map[i].size)
			return map[i].addr + map[i].size;
	return 0;
}

static __noreturn void test_initrd(void)
{
	static struct initrd_span span;
	const char *via;
	u64 addr_max, end, top;
	u32 sum;

	initrd_find(&span, &addr_max, &via);
	end = span.addr + span.size;
	if (span.size == 0 || end < span.addr)
		test_fail("initrd at %#lx has bad size %lu", span.addr, span.size);
	if (span.addr & (PAGE_SIZE - 1))
		test_fail("initrd at %#lx is not page-aligned", span.addr);
	if (span.addr < (u64)_end)
		test_fail("initrd at %#lx overlaps the image (ends at %#lx)", span.addr, (u64)_end);
	if (end - 1 > addr_max)
		test_fail("initrd ends at %#lx, past initrd_addr_max %#lx", end, addr_max);
	top = usable_end(span.addr, span.size);
	if (!top)
		test_fail("initrd %#lx..%#lx is not inside usable RAM", span.addr, end);
	if (top > addr_max + 1)
		top = addr_max + 1;
	if (top - end >= PAGE_SIZE)
		test_fail("initrd ends at %#lx, not as high as possible (top %#lx)", end, top);
	sum = (u32)cpl3_run(user_fnv1a, (u64)&span);
	gprintf("INITRD addr=%#lx size=%lu sum=0x%08x via=%s\n", span.addr, span.size, sum, via);
	test_pass();
}
GUEST_TEST("initrd", test_initrd);

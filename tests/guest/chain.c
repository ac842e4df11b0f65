/*
 * chain.c - self-test of the 64-bit Linux entry where no loader for it is at hand.
 *
 * QEMU boots this ELF only through PVH. With `wisp.chain=linux64` on the command line the
 * PVH-booted guest plays the VMM: it writes a boot_params (setup header magic, command line
 * pointer, E820 copied from the hvm memmap), a fresh 1 GiB identity map and a GDT shaped
 * like Linux's boot GDT (code 0x10, data 0x18), then enters startup_64 with RSI pointing at
 * boot_params. startup_64 starts over (new GDT, CR3, .bss zeroed) and the banner then says
 * boot=linux64. Everything it builds is in .noinit, which that restart leaves alone.
 */
#include "guest.h"

#define BP_EXT_CMD_LINE_PTR 0x0c8
#define BP_E820_ENTRIES     0x1e8
#define BP_BOOT_FLAG        0x1fe
#define BP_HEADER           0x202
#define BP_VERSION          0x206
#define BP_TYPE_OF_LOADER   0x210
#define BP_CMD_LINE_PTR     0x228
#define BP_E820_TABLE       0x2d0

static u8 zero_page[4096] __noinit __aligned(4096);
static u64 chain_pml4[512] __noinit __aligned(4096);
static u64 chain_pdpt[512] __noinit __aligned(4096);
static u64 chain_pd[512] __noinit __aligned(4096);
static const u64 chain_gdt[4] __aligned(16) = {
    0, 0, 0x00af9b000000ffff, /* 0x10 code, 64-bit (Linux's __BOOT_CS) */
    0x00cf93000000ffff,       /* 0x18 data (__BOOT_DS) */
};

void startup_64(void); /* boot.S */

static void put16(u32 off, u16 v)
{
	memcpy(zero_page + off, &v, 2);
}

static void put32(u32 off, u32 v)
{
	memcpy(zero_page + off, &v, 4);
}

/* Builds boot_params from what PVH gave us; returns false (and *why) if it cannot. */
static bool chain_build_zero_page(const char **why)
{
	static struct mem_range map[128] __noinit;
	int i, n;

	n = bootinfo_memmap(map, ARRAY_SIZE(map), why);
	if (n < 0)
		return false;
	memset(zero_page, 0, sizeof(zero_page));
	put16(BP_BOOT_FLAG, 0xaa55);
	put32(BP_HEADER, 0x53726448); /* "HdrS" */
	put16(BP_VERSION, 0x020f);
	zero_page[BP_TYPE_OF_LOADER] = 0xff;
	put32(BP_CMD_LINE_PTR, (u32)(u64)boot.cmdline);
	put32(BP_EXT_CMD_LINE_PTR, (u64)boot.cmdline >> 32);
	zero_page[BP_E820_ENTRIES] = n;
	for (i = 0; i < n; i++) {
		u8 *e = zero_page + BP_E820_TABLE + i * 20;

		memcpy(e, &map[i].addr, 8);
		memcpy(e + 8, &map[i].size, 8);
		memcpy(e + 16, &map[i].type, 4);
	}
	return true;
}

__noreturn void chain_linux64(void)
{
	struct {
		u16 limit;
		u64 base;
	} __packed gdtr = {sizeof(chain_gdt) - 1, (u64)chain_gdt};
	const char *why = NULL;
	int i;

	if (!chain_build_zero_page(&why))
		test_fail("chain: %s", why);
	memset(chain_pml4, 0, sizeof(chain_pml4));
	memset(chain_pdpt, 0, sizeof(chain_pdpt));
	chain_pml4[0] = (u64)chain_pdpt | 0x3;
	chain_pdpt[0] = (u64)chain_pd | 0x3;
	for (i = 0; i < 512; i++)
		chain_pd[i] = ((u64)i << 21) | 0x83; /* present, writable, 2 MiB */
	gprintf("wisp-test-guest: chaining to startup_64 (boot_params at %p)\n", zero_page);
	asm volatile("lgdt %0\n\t"
	             "mov %1, %%cr3\n\t"
	             "mov $0x18, %%eax\n\t"
	             "mov %%eax, %%ds\n\t"
	             "mov %%eax, %%es\n\t"
	             "mov %%eax, %%ss\n\t"
	             "pushq $0x10\n\t"
	             "pushq %2\n\t"
	             "lretq"
	             :
	             : "m"(gdtr), "r"((u64)chain_pml4), "r"((u64)startup_64), "S"(zero_page)
	             : "rax", "memory");
	__builtin_unreachable();
}

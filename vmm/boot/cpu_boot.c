/* cpu_boot.c - boot register state and tables (see cpu_boot.h). */
#include "vmm/boot/cpu_boot.h"
#include "vmm/layout.h"

#include <string.h>

/* GDT descriptors: code/data base 0, limit 0xfffff pages (4 GiB), present, DPL 0.
 *   0x00af9b...: code, long mode (L=1, D=0), granularity 4K, execute/read, accessed
 *   0x00cf9b...: code, 32-bit (D=1), for PVH
 *   0x00cf93...: data, 32-bit, read/write, accessed
 *   0x00008b...0067: 32-bit TSS, busy, base 0, limit 0x67 bytes (G=0), as PVH requires */
#define GDT_CODE64 0x00af9b000000ffffULL
#define GDT_CODE32 0x00cf9b000000ffffULL
#define GDT_DATA   0x00cf93000000ffffULL
#define GDT_TSS    0x00008b0000000067ULL
#define TSS_LIMIT  0x67

#define PTE_PRESENT 0x1ULL
#define PTE_WRITE   0x2ULL
#define PTE_HUGE    0x80ULL

/* MSR numbers (Intel SDM vol. 4). */
#define MSR_IA32_SYSENTER_CS    0x174
#define MSR_IA32_SYSENTER_ESP   0x175
#define MSR_IA32_SYSENTER_EIP   0x176
#define MSR_STAR                0xc0000081
#define MSR_LSTAR               0xc0000082
#define MSR_CSTAR               0xc0000083
#define MSR_SYSCALL_MASK        0xc0000084
#define MSR_KERNEL_GS_BASE      0xc0000102
#define MSR_IA32_TSC            0x10
#define MSR_IA32_MISC_ENABLE    0x1a0
#define MSR_MTRR_DEF_TYPE       0x2ff
#define MISC_ENABLE_FAST_STRING 1ULL
#define MTRR_ENABLE_WB          ((1ULL << 11) | 6) /* MTRRs on, default type write-back */

int cpu_boot_write_tables(const struct guest_mem *mem, enum boot_entry_mode mode)
{
	uint64_t gdt[BOOT_GDT_ENTRIES] = {0};

	gdt[BOOT_GDT_CODE / 8] = mode == BOOT_ENTRY_LINUX64 ? GDT_CODE64 : GDT_CODE32;
	gdt[BOOT_GDT_DATA / 8] = GDT_DATA;
	gdt[BOOT_GDT_TSS / 8] = GDT_TSS;
	uint64_t *pd;

	_Static_assert(LAYOUT_GDT + sizeof(gdt) <= LAYOUT_IDT, "boot GDT overlaps the IDT");
	if (guest_mem_write(mem, LAYOUT_GDT, gdt, sizeof(gdt)) < 0)
		return -1;
	if (mode != BOOT_ENTRY_LINUX64)
		return 0;
	if (guest_mem_write(mem, LAYOUT_PML4, &(uint64_t){LAYOUT_PDPT | PTE_PRESENT | PTE_WRITE},
	                    8) < 0 ||
	    guest_mem_write(mem, LAYOUT_PDPT, &(uint64_t){LAYOUT_PD | PTE_PRESENT | PTE_WRITE}, 8) <
	        0)
		return -1;
	pd = guest_mem_ptr(mem, LAYOUT_PD, 512 * 8);
	if (!pd)
		return -1;
	for (uint64_t i = 0; i < 512; i++)
		pd[i] = (i << 21) | PTE_PRESENT | PTE_WRITE | PTE_HUGE;
	return 0;
}

static struct kvm_segment segment(uint16_t selector, uint8_t type, bool code64)
{
	return (struct kvm_segment){
	    .base = 0,
	    .limit = 0xffffffff,
	    .selector = selector,
	    .type = type,
	    .present = 1,
	    .dpl = 0,
	    .db = code64 ? 0 : 1, /* D must be 0 when L is 1 */
	    .s = 1,
	    .l = code64,
	    .g = 1,
	};
}

void cpu_boot_sregs(struct kvm_sregs *sregs, enum boot_entry_mode mode)
{
	bool long_mode = mode == BOOT_ENTRY_LINUX64;
	struct kvm_segment data = segment(BOOT_GDT_DATA, 3, false);

	sregs->cs = segment(BOOT_GDT_CODE, 11, long_mode);
	sregs->ds = sregs->es = sregs->fs = sregs->gs = sregs->ss = data;
	sregs->tr = (struct kvm_segment){
	    .selector = BOOT_GDT_TSS, .limit = TSS_LIMIT, .type = 11, .present = 1};
	sregs->gdt.base = LAYOUT_GDT;
	sregs->gdt.limit = BOOT_GDT_ENTRIES * 8 - 1;
	/* An empty IDT: the kernel installs its own before enabling interrupts. */
	sregs->idt.base = LAYOUT_IDT;
	sregs->idt.limit = 0;
	if (long_mode) {
		sregs->cr0 = CR0_PE | CR0_ET | CR0_PG;
		sregs->cr3 = LAYOUT_PML4;
		sregs->cr4 = CR4_PAE;
		sregs->efer = EFER_LME | EFER_LMA;
	} else {
		/* PVH: protected mode, paging off (PVH ABI, "x86/HVM direct boot ABI"). */
		sregs->cr0 = CR0_PE | CR0_ET;
		sregs->cr3 = 0;
		sregs->cr4 = 0;
		sregs->efer = 0;
	}
}

void cpu_boot_regs(struct kvm_regs *regs, enum boot_entry_mode mode, uint64_t entry)
{
	memset(regs, 0, sizeof(*regs));
	regs->rip = entry;
	regs->rflags = 0x2; /* bit 1 is reserved-as-one; interrupts off */
	regs->rsp = LAYOUT_BOOT_STACK;
	regs->rbp = LAYOUT_BOOT_STACK;
	if (mode == BOOT_ENTRY_LINUX64)
		regs->rsi = LAYOUT_ZERO_PAGE; /* 64-bit boot protocol: RSI = boot_params */
	else
		regs->rbx = LAYOUT_PVH_INFO; /* PVH: EBX = hvm_start_info */
}

unsigned cpu_boot_msrs(struct kvm_msr_entry *msrs, unsigned max)
{
	static const struct kvm_msr_entry boot_msrs[] = {
	    {.index = MSR_IA32_SYSENTER_CS},
	    {.index = MSR_IA32_SYSENTER_ESP},
	    {.index = MSR_IA32_SYSENTER_EIP},
	    {.index = MSR_STAR},
	    {.index = MSR_CSTAR},
	    {.index = MSR_KERNEL_GS_BASE},
	    {.index = MSR_SYSCALL_MASK},
	    {.index = MSR_LSTAR},
	    {.index = MSR_IA32_TSC},
	    {.index = MSR_IA32_MISC_ENABLE, .data = MISC_ENABLE_FAST_STRING},
	    {.index = MSR_MTRR_DEF_TYPE, .data = MTRR_ENABLE_WB},
	};
	unsigned n = sizeof(boot_msrs) / sizeof(boot_msrs[0]);

	if (n > max)
		n = max;
	memcpy(msrs, boot_msrs, n * sizeof(msrs[0]));
	return n;
}

/*
 * boot.S - the two boot entries, the PVH note, the GDT and the page tables.
 *
 * Image layout (linked at 0x100000, see guest.ld):
 *   0x100000  startup_32: PVH entry (32-bit protected mode, paging off, EBX = hvm_start_info)
 *   0x100200  startup_64: 64-bit Linux boot protocol entry (long mode, identity map of at least
 *             the first 1 GiB, RSI = boot_params). It is the ELF e_entry and, because the
 *             bzImage payload starts at 0x100000, the bzImage's "startup_64 at +0x200".
 * Both switch to the guest's own GDT and page tables (static data, nothing to build at CPL0:
 * CPL0 instructions are emulated at ~1.5 us each on PVM hosts) and meet in long_mode_common
 * with EDI = BOOT_LINUX64 or BOOT_PVH and RSI = the boot information address.
 */
#include "guest.h"

#define PTE_P   0x001
#define PTE_W   0x002
#define PTE_U   0x004
#define PTE_PWT 0x008
#define PTE_PCD 0x010
#define PTE_PS  0x080
#define PDE_RAM  (PTE_P | PTE_W | PTE_U | PTE_PS)
#define PDE_MMIO (PTE_P | PTE_W | PTE_U | PTE_PWT | PTE_PCD | PTE_PS)

	.section .head.text, "ax"

/* PVH: 32-bit, flat segments, paging off. 13 instructions to long mode. */
	.code32
	.globl startup_32
startup_32:
	cli
	cld
	lgdt	gdt_desc		/* 32-bit base: the GDT is below 4 GiB */
	movl	%cr4, %eax
	orl	$CR4_PAE, %eax
	movl	%eax, %cr4
	movl	$pml4, %eax
	movl	%eax, %cr3
	movl	$MSR_EFER, %ecx
	rdmsr
	orl	$EFER_LME, %eax
	wrmsr
	movl	%cr0, %eax
	orl	$(CR0_PG | CR0_PE), %eax
	movl	%eax, %cr0
	movl	%ebx, %esi		/* hvm_start_info (zero-extended in long mode) */
	movl	$BOOT_PVH, %edi
	ljmp	$GUEST_KERNEL_CS, $long_mode_common

/* The 64-bit Linux entry must sit at payload offset 0x200. */
	.org	0x200
	.code64
	.globl startup_64
startup_64:
	cli
	cld
	movl	$BOOT_LINUX64, %edi	/* RSI already holds boot_params */

/*
 * Common long-mode path. The VMM's identity map and ours agree on the low 1 GiB where this
 * code runs, so CR3 can change under our feet. CS is reloaded with a far return.
 */
long_mode_common:
	lgdt	gdt_desc(%rip)
	leaq	pml4(%rip), %rax
	movq	%rax, %cr3
	/* All our pages are user pages: SMEP/SMAP would fault CPL0; TSD would fault CPL3 rdtsc. */
	movq	%cr4, %rax
	andq	$~(CR4_TSD | CR4_SMEP | CR4_SMAP), %rax
	movq	%rax, %cr4
	movl	$GUEST_KERNEL_DS, %eax
	movl	%eax, %ds
	movl	%eax, %es
	movl	%eax, %ss
	xorl	%eax, %eax
	movl	%eax, %fs
	movl	%eax, %gs
	leaq	boot_stack_top(%rip), %rsp
	pushq	$GUEST_KERNEL_CS
	leaq	1f(%rip), %rax
	pushq	%rax
	lretq
1:
	/* Zero .bss (small: stacks and big buffers are in .noinit). One rep instruction. */
	movq	%rdi, %r8
	leaq	__bss_start(%rip), %rdi
	leaq	__bss_end(%rip), %rcx
	subq	%rdi, %rcx
	shrq	$3, %rcx
	xorl	%eax, %eax
	rep stosq
	movq	%r8, %rdi
	call	guest_main		/* (int protocol, u64 info): does not return */
2:	cli
	hlt
	jmp	2b

/* PVH ELF note: XEN_ELFNOTE_PHYS32_ENTRY (18), 32-bit physical entry address. */
	.section .note.Xen, "a"
	.balign 4
	.long	2f - 1f			/* namesz */
	.long	4f - 3f			/* descsz */
	.long	18			/* type: XEN_ELFNOTE_PHYS32_ENTRY */
1:	.asciz	"Xen"
2:	.balign 4
3:	.long	startup_32
4:

	.data
/*
 * GDT. Selectors in guest.h. User data precedes user code, the order SYSRET would want.
 * The TSS descriptor is complete at link time: guest.ld splits guest_tss's address (below
 * 4 GiB) into the fields below. ltr marks it busy; cpu_init() clears that before ltr.
 */
	.balign 16
	.globl gdt, gdt_tss
gdt:
	.quad	0
	.quad	0x00af9a000000ffff	/* 0x08 kernel code, 64-bit, DPL0 */
	.quad	0x00cf92000000ffff	/* 0x10 kernel data, DPL0 */
	.quad	0x00cff2000000ffff	/* 0x18 user data, DPL3 */
	.quad	0x00affa000000ffff	/* 0x20 user code, 64-bit, DPL3 */
gdt_tss:				/* 0x28 64-bit TSS (16 bytes) */
	.word	0x67			/* limit: sizeof(struct tss64) - 1 */
	.word	__tss_base_0_15
	.byte	__tss_base_16_23
	.byte	0x89			/* present, 64-bit available TSS */
	.byte	0
	.byte	__tss_base_24_31
	.long	0			/* base 63:32 */
	.long	0
gdt_end:
	.balign 8
	.word	0
	.globl gdt_desc
gdt_desc:
	.word	gdt_end - gdt - 1
	.quad	gdt

/*
 * Page tables: identity map of 0-4 GiB with 2 MiB pages, all user-accessible (the guest is
 * a test harness, not a protection boundary: CPL3 exists to run loops natively on PVM).
 * 0-3 GiB write-back, 3-4 GiB (MMIO hole: virtio-mmio, IOAPIC, LAPIC) uncached.
 */
	.balign 4096
	.globl pml4
pml4:
	.quad	pdpt + PTE_P + PTE_W + PTE_U
	.fill	511, 8, 0
pdpt:
	.quad	pd + 0x0000 + PTE_P + PTE_W + PTE_U
	.quad	pd + 0x1000 + PTE_P + PTE_W + PTE_U
	.quad	pd + 0x2000 + PTE_P + PTE_W + PTE_U
	.quad	pd + 0x3000 + PTE_P + PTE_W + PTE_U
	.fill	508, 8, 0
pd:
	.set	page, 0
	.rept	512 * 3
	.quad	(page << 21) + PDE_RAM
	.set	page, page + 1
	.endr
	.rept	512
	.quad	(page << 21) + PDE_MMIO
	.set	page, page + 1
	.endr

/* Boot stack (CPL0). The CPL3 trap stack and the user stack are in cpl3.c / cpu.c. */
	.section .noinit, "aw", @nobits
	.balign 16
	.skip	16384
boot_stack_top:

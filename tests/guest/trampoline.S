/*
 * trampoline.S - the AP start-up code. smp.c copies ap_trampoline..ap_trampoline_end to
 * GUEST_AP_TRAMPOLINE (a 4 KiB-aligned page below 1 MiB) and fills in ap_tramp_gdtr and
 * ap_tramp_cr3, then sends INIT-SIPI-SIPI with vector GUEST_AP_TRAMPOLINE >> 12.
 *
 * An AP starts in real mode at CS = vector << 8, IP = 0. It goes straight to long mode
 * (PAE, CR3, EFER.LME, then PE and PG in one CR0 write, then a far jump to a 64-bit code
 * segment): 12 instructions, all emulated on PVM, so no detour through 32-bit mode.
 * In long mode it increments ap_online and halts with interrupts off for good: it never
 * touches a stack, so APs need none.
 */
#include "guest.h"

	.section .rodata
	.code16
	.globl ap_trampoline, ap_trampoline_end, ap_tramp_gdtr, ap_tramp_cr3
ap_trampoline:
	cli
	lgdtl	%cs:(ap_tramp_gdtr - ap_trampoline)
	movl	%cs:(ap_tramp_cr3 - ap_trampoline), %eax
	movl	%eax, %cr3
	movl	%cr4, %eax
	orl	$CR4_PAE, %eax
	movl	%eax, %cr4
	movl	$MSR_EFER, %ecx
	rdmsr
	orl	$EFER_LME, %eax
	wrmsr
	movl	%cr0, %eax
	orl	$(CR0_PE | CR0_PG), %eax
	movl	%eax, %cr0
	ljmpl	$GUEST_KERNEL_CS, $ap_entry64
	.balign 4
ap_tramp_gdtr:			/* filled by smp.c: 16-bit limit, 32-bit base */
	.word	0
	.long	0
	.balign 4
ap_tramp_cr3:			/* filled by smp.c: the BSP's CR3 (below 4 GiB) */
	.long	0
ap_trampoline_end:

	.text
	.code64
ap_entry64:
	lock incl ap_online(%rip)
1:	cli
	hlt
	jmp	1b

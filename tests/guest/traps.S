/*
 * traps.S - exception and syscall entry stubs, CPL3 entry/exit, and the fault helpers of the
 * exception test.
 *
 * Every stub pushes a dummy error code where the CPU does not push one, then the vector, then
 * the general registers, giving struct trap_frame (guest.h) to trap_dispatch(). Interrupts stay
 * off throughout: the IDT holds interrupt gates only.
 */
#include "guest.h"

/* Vectors for which the CPU pushes an error code: 8, 10-14, 17, 21, 29, 30. */

	.text
	.macro trap_stub v
	.balign 16
trap_stub_\v:
	.if !(\v == 8 || (\v >= 10 && \v <= 14) || \v == 17 || \v == 21 || \v == 29 || \v == 30)
	pushq	$0			/* no CPU error code: keep the frame layout */
	.endif
	pushq	$\v
	jmp	trap_common
	.endm

	.globl	trap_stub_0, trap_stub_128	/* guest.ld checks their spacing for the IDT */
	.irp	v, 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31
	trap_stub \v
	.endr
	trap_stub 128

trap_common:
	pushq	%rax
	pushq	%rbx
	pushq	%rcx
	pushq	%rdx
	pushq	%rsi
	pushq	%rdi
	pushq	%rbp
	pushq	%r8
	pushq	%r9
	pushq	%r10
	pushq	%r11
	pushq	%r12
	pushq	%r13
	pushq	%r14
	pushq	%r15
	cld
	movq	%rsp, %rdi
	call	trap_dispatch
	popq	%r15
	popq	%r14
	popq	%r13
	popq	%r12
	popq	%r11
	popq	%r10
	popq	%r9
	popq	%r8
	popq	%rbp
	popq	%rdi
	popq	%rsi
	popq	%rdx
	popq	%rcx
	popq	%rbx
	popq	%rax
	addq	$16, %rsp		/* vector and error code */
	iretq

/*
 * The IDT, complete at link time: building it at boot cost ~600 instructions, each emulated
 * at ~1.5 us on PVM hosts. A gate splits its handler address into 16-bit fields, which a
 * relocation cannot do, so guest.ld provides the low and high halves of trap_stub_0
 * (__trap_stub_lo/hi) and checks that the 33 stubs lie 16 bytes apart within one 64 KiB
 * block: stub i is at trap_stub_0 + 16 i, vectors 0-31 are stubs 0-31, vector 0x80 stub 32.
 * The handlers are below 4 GiB (offset bits 63:32 are 0). Vectors 32-0x7f are not present.
 */
	.macro idt_gate stub, dpl, ist
	.word	__trap_stub_lo + 16 * \stub
	.word	GUEST_KERNEL_CS
	.byte	\ist
	.byte	0x8e | (\dpl << 5)	/* present, 64-bit interrupt gate */
	.word	__trap_stub_hi
	.long	0
	.long	0
	.endm

	.data
	.balign 16
idt:
	.irp	v, 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31
	.if \v == 8
	idt_gate \v, 0, 1			/* #DF on IST1 */
	.else
	idt_gate \v, 0, 0
	.endif
	.endr
	.fill	(SYSCALL_VECTOR - 32) * 16, 1, 0
	idt_gate 32, 3, 0			/* int $0x80 from CPL3 */
idt_end:
	.balign 8
	.word	0
	.globl	idt_desc
idt_desc:
	.word	idt_end - idt - 1
	.quad	idt

	.text
/*
 * long cpl3_enter(u64 rip, u64 arg, u64 user_rsp)
 * Saves the callee-saved registers and RSP (cpl3_saved_rsp), then iretq to rip at CPL3 with
 * RDI = arg, RSP = user_rsp, RFLAGS = 0x2 (IF=0, IOPL=0). Returns when CPL3 code makes the
 * SYS_EXIT syscall, whose handler calls cpl3_leave(code) on the trap stack.
 */
	.globl cpl3_enter
cpl3_enter:
	pushq	%rbx
	pushq	%rbp
	pushq	%r12
	pushq	%r13
	pushq	%r14
	pushq	%r15
	movq	%rsp, cpl3_saved_rsp(%rip)
	pushq	$(GUEST_USER_DS | 3)	/* SS */
	pushq	%rdx			/* RSP */
	pushq	$0x2			/* RFLAGS */
	pushq	$(GUEST_USER_CS | 3)	/* CS */
	pushq	%rdi			/* RIP */
	movq	%rsi, %rdi
	iretq

/* __noreturn void cpl3_leave(long code): unwinds to cpl3_enter's caller. */
	.globl cpl3_leave
cpl3_leave:
	movq	%rdi, %rax
	movq	cpl3_saved_rsp(%rip), %rsp
	popq	%r15
	popq	%r14
	popq	%r13
	popq	%r12
	popq	%rbp
	popq	%rbx
	ret

/* Where CPL3 functions run by cpl3_run() return to: SYS_EXIT with their return value. */
	.globl cpl3_return_stub
cpl3_return_stub:
	movq	%rax, %rdi
	movl	$SYS_EXIT, %eax
	int	$SYSCALL_VECTOR
	ud2				/* not reached */

/* Fault helpers: the faulting instruction is the first one, see trap_expect_vector. */
	.globl fault_ud, fault_de, fault_gp
fault_ud:
	ud2
	ret
fault_de:
	divl	fault_zero(%rip)
	ret
fault_gp:
	movabsq	0x8000000000000000, %rax	/* non-canonical address */
	ret

	.data
	.balign 8
cpl3_saved_rsp:
	.quad	0
	.globl fault_zero
fault_zero:
	.long	0

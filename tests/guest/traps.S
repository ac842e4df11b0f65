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

/* Table of the 32 exception stubs followed by the syscall stub, for cpu_init(). */
	.section .rodata
	.balign 8
	.globl trap_stubs
trap_stubs:
	.irp	v, 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31
	.quad	trap_stub_\v
	.endr
	.quad	trap_stub_128

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

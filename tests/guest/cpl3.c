/*
 * cpl3.c - running code at CPL3 and the syscall ABI it uses to reach CPL0.
 *
 * Why: on PVM hosts CPL3 code runs natively while CPL0 code is emulated (~1.5 us per
 * instruction), so loops that benchmarks or snapshot tests time run at CPL3. PVM raises #GP
 * for in/out at CPL3 even with IOPL=3, so CPL3 reaches ports through `int $0x80`:
 *   rax = number, rdi = first argument, rsi = second; result in rax; other registers kept.
 *   SYS_EXIT  (0) rdi = code         leave CPL3; cpl3_run() returns code
 *   SYS_WRITE (1) rdi = buf, rsi = n write n bytes to COM1 (one trap per line); returns n,
 *                                    or -1 if the buffer is not in the guest's RAM map
 *   SYS_OUTB  (2) rdi = port, rsi = value
 *   SYS_INB   (3) rdi = port         returns the byte
 *   other numbers return -1.
 * Memory-mapped I/O (virtio-mmio at 0xd0000000) needs no syscall: the MMIO hole is mapped
 * user-accessible and uncached.
 *
 * All guest pages are user-accessible, so CPL3 code is ordinary C in the same image; it must
 * only avoid privileged instructions and port I/O.
 */
#include "guest.h"

#define USER_RAM_LIMIT 0xc0000000ULL /* end of the RAM part of the identity map */

static u8 user_stack[32768] __noinit __aligned(16);

void cpl3_return_stub(void); /* traps.S */

long cpl3_run(long (*fn)(u64), u64 arg)
{
	u64 *sp = (u64 *)(user_stack + sizeof(user_stack));

	/* fn is entered as if called: return address on a 16-byte aligned stack. */
	*--sp = (u64)cpl3_return_stub;
	return cpl3_enter((u64)fn, arg, (u64)sp);
}

void syscall_handle(struct trap_frame *f)
{
	switch (f->rax) {
	case SYS_EXIT:
		cpl3_leave((long)f->rdi);
	case SYS_WRITE:
		if (f->rdi >= USER_RAM_LIMIT || f->rsi > USER_RAM_LIMIT - f->rdi) {
			f->rax = -1;
			return;
		}
		serial_write((const char *)f->rdi, f->rsi);
		f->rax = f->rsi;
		return;
	case SYS_OUTB:
		outb(f->rdi, f->rsi);
		f->rax = 0;
		return;
	case SYS_INB:
		f->rax = inb(f->rdi);
		return;
	default:
		f->rax = -1;
		return;
	}
}

/* ---- user-mode side ---- */

long user_syscall(long nr, u64 a, u64 b)
{
	long ret;

	asm volatile("int $0x80" : "=a"(ret) : "a"(nr), "D"(a), "S"(b) : "memory");
	return ret;
}

void user_write(const char *s, size_t len)
{
	user_syscall(SYS_WRITE, (u64)s, len);
}

void uprintf(const char *fmt, ...)
{
	char buf[256];
	va_list ap;
	size_t n;

	va_start(ap, fmt);
	n = vformat(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	user_write(buf, n);
}

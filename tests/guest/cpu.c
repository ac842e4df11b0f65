/*
 * cpu.c - TSS, IDT and the C side of traps.
 *
 * One TSS: RSP0 is the trap stack used when CPL3 code traps (syscalls, faults), IST1 a small
 * stack for #DF so that a broken kernel stack still ends in a FAIL line, not a silent triple
 * fault. The IDT (traps.S) covers the 32 exception vectors and the syscall vector 0x80 (DPL3);
 * nothing else can arrive because interrupts stay disabled.
 */
#include "guest.h"

struct tss64 {
	u32 reserved0;
	u64 rsp[3];
	u64 reserved1;
	u64 ist[7];
	u64 reserved2;
	u16 reserved3;
	u16 iomap_base;
} __packed;

struct desc_ptr {
	u16 limit;
	u64 base;
} __packed;

extern u64 gdt_tss[2];                 /* boot.S: the TSS descriptor */
extern const struct desc_ptr idt_desc; /* traps.S: the IDT, built at link time */

static u8 trap_stack[16384] __noinit __aligned(16);
static u8 df_stack[4096] __noinit __aligned(16);

/* Static, like the IDT: nothing is computed at boot. boot.S's descriptor says limit 0x67. */
struct tss64 guest_tss __aligned(16) = {
    .rsp = {(u64)trap_stack + sizeof(trap_stack)},
    .ist = {(u64)df_stack + sizeof(df_stack)},
    .iomap_base = sizeof(struct tss64), /* no I/O bitmap: CPL3 port I/O always traps */
};
_Static_assert(sizeof(struct tss64) == 0x68, "boot.S's TSS descriptor limit");

volatile int trap_expect_vector = -1, trap_expect_hits, trap_expect_cpl;

/*
 * Loads the TSS and the IDT (both complete at link time, see boot.S and traps.S). Safe to
 * run more than once: the descriptor's busy bit, set by an earlier ltr, is cleared first.
 * The i8259s are left alone: interrupts are never enabled (no sti anywhere, CPL3 runs with
 * IF=0), so their power-on vectors cannot alias exceptions.
 */
void cpu_init(void)
{
	gdt_tss[0] &= ~(2ULL << 40); /* type 0xb (busy) -> 0x9 (available) */
	asm volatile("ltr %w0" : : "r"(GUEST_TSS));
	asm volatile("lidt %0" : : "m"(idt_desc));
}

static const char *const exception_names[32] = {
    "#DE", "#DB", "NMI", "#BP", "#OF", "#BR", "#UD", "#NM", "#DF", "CSO", "#TS",
    "#NP", "#SS", "#GP", "#PF", "?15", "#MF", "#AC", "#MC", "#XM", "#VE", "#CP",
};

/* Called by trap_common with interrupts off, on the current stack (or RSP0/IST1). */
void trap_dispatch(struct trap_frame *f)
{
	int cpl = f->cs & 3;
	u64 cr2;

	if (f->vector == SYSCALL_VECTOR) {
		syscall_handle(f);
		return;
	}
	/*
	 * PVM hosts deliver `int $0x80` at CPL3 as #UD instead of through the DPL3 gate. The
	 * bytes at RIP tell: treat it as the syscall it is (still one trap per syscall).
	 */
	if (f->vector == 6 && cpl == 3 && f->rip < 0xc0000000 - 2 &&
	    ((const u8 *)f->rip)[0] == 0xcd && ((const u8 *)f->rip)[1] == SYSCALL_VECTOR) {
		f->rip += 2;
		syscall_handle(f);
		return;
	}
	if ((int)f->vector == trap_expect_vector) {
		/* Expected fault at the first instruction of a called function: emulate its ret. */
		trap_expect_hits++;
		trap_expect_cpl = cpl;
		f->rip = *(u64 *)f->rsp;
		f->rsp += 8;
		return;
	}
	asm volatile("mov %%cr2, %0" : "=r"(cr2));
	test_fail("unexpected exception %s vector=%lu error=%#lx rip=%#lx cpl=%d cr2=%#lx",
	          exception_names[f->vector] ? exception_names[f->vector] : "?", f->vector,
	          f->error, f->rip, cpl, cr2);
}

__noreturn void cpu_triple_fault(void)
{
	struct desc_ptr none = {0, 0};

	asm volatile("lidt %0; ud2" : : "m"(none));
	for (;;)
		asm volatile("cli; hlt");
}

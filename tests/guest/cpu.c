/*
 * cpu.c - TSS, IDT and the C side of traps.
 *
 * One TSS: RSP0 is the trap stack used when CPL3 code traps (syscalls, faults), IST1 a small
 * stack for #DF so that a broken kernel stack still ends in a FAIL line, not a silent triple
 * fault. The IDT covers the 32 exception vectors and the syscall vector 0x80 (DPL3); nothing
 * else can arrive because interrupts stay disabled (the i8259 is also masked).
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

struct idt_gate {
	u16 offset_low;
	u16 selector;
	u8 ist;
	u8 type_attr; /* P | DPL | 0xE (64-bit interrupt gate) */
	u16 offset_mid;
	u32 offset_high;
	u32 reserved;
} __packed;

struct desc_ptr {
	u16 limit;
	u64 base;
} __packed;

extern u64 gdt_tss[2];		      /* boot.S */
extern const u64 trap_stubs[33];      /* traps.S: vectors 0-31, then 0x80 */

static struct tss64 tss __aligned(16);
static struct idt_gate idt[SYSCALL_VECTOR + 1] __aligned(16);
static u8 trap_stack[16384] __noinit __aligned(16);
static u8 df_stack[4096] __noinit __aligned(16);

volatile int trap_expect_vector = -1, trap_expect_hits, trap_expect_cpl;

static void idt_set(int vector, u64 handler, int dpl, int ist)
{
	struct idt_gate *g = &idt[vector];

	g->offset_low = handler & 0xffff;
	g->selector = GUEST_KERNEL_CS;
	g->ist = ist;
	g->type_attr = 0x80 | (dpl << 5) | 0xe;
	g->offset_mid = (handler >> 16) & 0xffff;
	g->offset_high = handler >> 32;
	g->reserved = 0;
}

/*
 * Installs TSS and IDT and masks the legacy PIC. Safe to run more than once (the TSS
 * descriptor is rewritten, which clears its busy bit before ltr).
 */
void cpu_init(void)
{
	u64 base = (u64)&tss;
	struct desc_ptr idtr = {sizeof(idt) - 1, (u64)idt};
	int v;

	tss.rsp[0] = (u64)trap_stack + sizeof(trap_stack);
	tss.ist[0] = (u64)df_stack + sizeof(df_stack);
	tss.iomap_base = sizeof(tss); /* no I/O bitmap: CPL3 port I/O always traps */
	/* 64-bit available TSS (type 9), present, limit sizeof - 1. */
	gdt_tss[0] = (sizeof(tss) - 1) | ((base & 0xffffff) << 16) | (0x89ULL << 40) |
		     (((base >> 24) & 0xff) << 56);
	gdt_tss[1] = base >> 32;
	asm volatile("ltr %w0" : : "r"(GUEST_TSS));

	for (v = 0; v < 32; v++)
		idt_set(v, trap_stubs[v], 0, v == 8 ? 1 : 0);
	idt_set(SYSCALL_VECTOR, trap_stubs[32], 3, 0);
	asm volatile("lidt %0" : : "m"(idtr));

	/* Mask both i8259s: their power-on vectors (8-15) would alias exceptions. */
	outb(0x21, 0xff);
	outb(0xa1, 0xff);
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

/*
 * guest.h - the wisp test guest: shared declarations, its own memory map and the tiny
 * freestanding library it needs (no libc, no host headers).
 *
 * The guest is one image linked at 1 MiB (GUEST_LINK_ADDR). It runs at CPL0 on its own
 * identity-mapped page tables (4 GiB, 2 MiB pages, every page user-accessible, the 3-4 GiB
 * hole uncached) and can drop to CPL3 to run loops natively on PVM hosts. It never enables
 * interrupts: every wait polls, and every wait is bounded (except the interactive echo test).
 *
 * Guest memory map (physical, identity-mapped):
 *   0x0000_3000  AP real-mode trampoline (copied there by the smp test)   GUEST_AP_TRAMPOLINE
 *   0x0010_0000  image: PVH entry (startup_32), at +0x200 the 64-bit entry (startup_64),
 *                text, data (page tables, GDT), bss, stacks (.noinit, never zeroed)
 *   0x0400_0000  counter's wisp.touch area, up to the MMIO hole               GUEST_TOUCH_BASE
 *   0xc000_0000  MMIO hole, mapped uncached and user-accessible (virtio-mmio at 0xd000_0000)
 * Everything the VMM places below 1 MiB (zero page, hvm_start_info, command line, MP table)
 * is read in place and never written, except the trampoline page.
 */
#ifndef WISP_GUEST_H
#define WISP_GUEST_H

/* Segment selectors of the guest GDT (boot.S). User selectors are used with RPL 3. */
#define GUEST_KERNEL_CS 0x08
#define GUEST_KERNEL_DS 0x10
#define GUEST_USER_DS   0x18
#define GUEST_USER_CS   0x20
#define GUEST_TSS       0x28

#define GUEST_LINK_ADDR      0x100000
#define GUEST_TOUCH_BASE     0x4000000ULL  /* 64 MiB: above the image and net-bench's buffers */
#define GUEST_TOUCH_MAX_MIB  (3072 - 64)   /* up to the MMIO hole at 3 GiB */
#define GUEST_AP_TRAMPOLINE  0x3000        /* 4 KiB aligned, below 1 MiB: SIPI vector 0x03 */
#define LAYOUT_LAPIC_DEFAULT 0xfee00000ULL /* xAPIC MMIO, unless the MP table says otherwise */

/* Boot protocol flag passed from the entry stubs to guest_main(). */
#define BOOT_LINUX64 1
#define BOOT_PVH     2

/* Control registers and MSRs used by the entry code. */
#define CR0_PE   0x00000001
#define CR0_PG   0x80000000
#define CR4_TSD  0x00000004
#define CR4_PAE  0x00000020
#define CR4_SMEP 0x00100000
#define CR4_SMAP 0x00200000
#define MSR_EFER 0xc0000080
#define EFER_LME 0x00000100

/* The software interrupt CPL3 code uses to reach CPL0 (see cpl3.c and README.md). */
#define SYSCALL_VECTOR 0x80
#define SYS_EXIT       0 /* rdi = code: leaves CPL3, cpl3_run() returns code */
#define SYS_WRITE      1 /* rdi = buffer, rsi = length: writes to COM1, returns length or -1 */
#define SYS_OUTB       2 /* rdi = port, rsi = byte */
#define SYS_INB        3 /* rdi = port, returns the byte */

#ifndef __ASSEMBLER__

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef uint8_t u8;
typedef uint16_t u16;
typedef uint32_t u32;
typedef uint64_t u64;
typedef int8_t s8;
typedef int64_t s64;

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#define __packed      __attribute__((packed))
#define __noreturn    __attribute__((noreturn))
#define __aligned(n)  __attribute__((aligned(n)))
/* Large buffers and stacks live in .noinit: not zeroed at boot (zeroing costs time at CPL0). */
#define __noinit __attribute__((section(".noinit")))

/* A pointer to a fixed physical address (identity map). The empty asm hides the constant
 * from gcc, which otherwise warns about dereferencing addresses in its "null page". */
static inline void *phys(u64 addr)
{
	asm("" : "+r"(addr));
	return (void *)addr;
}

/* ---- port and MMIO access (CPL0 only for ports) ---- */
static inline void outb(u16 port, u8 v)
{
	asm volatile("outb %0, %1" : : "a"(v), "Nd"(port));
}
static inline u8 inb(u16 port)
{
	u8 v;
	asm volatile("inb %1, %0" : "=a"(v) : "Nd"(port));
	return v;
}
static inline void mmio_write32(u64 addr, u32 v)
{
	*(volatile u32 *)addr = v;
}
static inline u32 mmio_read32(u64 addr)
{
	return *(volatile u32 *)addr;
}
static inline u64 rdtsc(void)
{
	u32 lo, hi;
	asm volatile("rdtsc" : "=a"(lo), "=d"(hi));
	return ((u64)hi << 32) | lo;
}
static inline void cpu_relax(void)
{
	asm volatile("pause" ::: "memory");
}
static inline void barrier(void)
{
	asm volatile("" ::: "memory");
}
static inline void cpuid(u32 leaf, u32 sub, u32 *a, u32 *b, u32 *c, u32 *d)
{
	asm volatile("cpuid" : "=a"(*a), "=b"(*b), "=c"(*c), "=d"(*d) : "a"(leaf), "c"(sub));
}
static inline u64 rdmsr(u32 msr)
{
	u32 lo, hi;
	asm volatile("rdmsr" : "=a"(lo), "=d"(hi) : "c"(msr));
	return ((u64)hi << 32) | lo;
}
static inline void wrmsr(u32 msr, u64 v)
{
	asm volatile("wrmsr" : : "c"(msr), "a"((u32)v), "d"((u32)(v >> 32)));
}

/* ---- lib.c: the few string functions gcc may also emit calls to ---- */
void *memset(void *d, int c, size_t n);
void *memcpy(void *d, const void *s, size_t n);
int memcmp(const void *a, const void *b, size_t n);
size_t strnlen(const char *s, size_t max);
bool str_eq(const char *a, size_t alen, const char *b);
/* Parses a decimal or 0x-prefixed hex number of len bytes; false on any other byte or overflow. */
bool parse_u64(const char *s, size_t len, u64 *out);

/* ---- format.c: printf subset, usable at CPL0 and CPL3 (no side effects) ----
 * %s %.*s %c %d %u %x %lu %ld %lx %llu %llx %p %%, and '0'/width for numbers. Output is
 * truncated to size-1 bytes and NUL-terminated; returns the length written. */
size_t vformat(char *buf, size_t size, const char *fmt, va_list ap);
size_t format(char *buf, size_t size, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* ---- serial.c: COM1, polled (CPL0 only) ---- */
void serial_init(void);
void serial_write(const char *s, size_t len);
/* Returns a received byte, or -1 if none arrived within max_polls polls of LSR
 * (max_polls 0 = wait forever; only the interactive echo test does that). */
int serial_read(u64 max_polls);
void gprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* ---- bootinfo.c: what the VMM told us ---- */
struct mem_range {
	u64 addr, size;
	u32 type; /* E820 types: 1 = usable RAM */
};
struct boot_info {
	int protocol;        /* BOOT_LINUX64 or BOOT_PVH */
	const char *cmdline; /* in place in VMM memory, "" if none */
	size_t cmdline_len;
	const void *raw; /* boot_params or hvm_start_info */
};
extern struct boot_info boot;
/* Fills boot from the entry register; returns NULL or a reason why the info is unusable. */
const char *bootinfo_parse(int protocol, u64 info_addr);
/* Copies up to max memory map entries; returns the count or -1 (and *why) if there is none. */
int bootinfo_memmap(struct mem_range *out, int max, const char **why);
const char *boot_protocol_name(int protocol);

/* ---- cmdline.c ---- */
/* Finds "key=value" as a whole word; returns the value (not NUL-terminated) and its length. */
const char *cmdline_get(const char *key, size_t *len);
/* Iterates over every "key=value" word: *pos starts at 0 and is advanced past each match. */
const char *cmdline_next(const char *key, size_t *pos, size_t *len);
u64 cmdline_get_u64(const char *key, u64 def);

/* ---- cpu.c: GDT/TSS/IDT, traps ---- */
struct trap_frame {
	u64 r15, r14, r13, r12, r11, r10, r9, r8;
	u64 rbp, rdi, rsi, rdx, rcx, rbx, rax;
	u64 vector, error;
	u64 rip, cs, rflags, rsp, ss; /* pushed by the CPU */
};
void cpu_init(void);
/*
 * Expected exceptions: while trap_expect_vector == v, an exception v is counted in
 * trap_expect_hits (with the CPL in trap_expect_cpl) and "returned from": the handler pops
 * a return address from the interrupted stack, so the faulting instruction must be the
 * first one of a function entered by call (see the fault_* functions in traps.S).
 */
extern volatile int trap_expect_vector, trap_expect_hits, trap_expect_cpl;
void trap_dispatch(struct trap_frame *f);
/* Loads a zero-limit IDT and raises #UD: the CPU triple-faults (shutdown). */
__noreturn void cpu_triple_fault(void);
extern volatile u32 fault_zero; /* divisor for fault_de */
void fault_ud(void);
void fault_de(void);
void fault_gp(void);

/* ---- cpl3.c ---- */
/* Runs fn(arg) at CPL3 on the user stack until it returns or calls SYS_EXIT; returns its
 * value. CPL0 only; not reentrant. */
long cpl3_run(long (*fn)(u64), u64 arg);
long cpl3_enter(u64 rip, u64 arg, u64 user_rsp); /* traps.S */
__noreturn void cpl3_leave(long code);           /* traps.S: back into cpl3_enter's caller */
void syscall_handle(struct trap_frame *f);
/* User-mode side of the ABI (callable at CPL3 only). */
long user_syscall(long nr, u64 a, u64 b);
void user_write(const char *s, size_t len);
void uprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* ---- tsc.c ---- */
/* TSC frequency in kHz from kvmclock, CPUID or the PIT; src names the source. */
u64 tsc_khz(const char **src);
/* TSC value ms milliseconds from now. */
u64 tsc_deadline_ms(u64 ms);
void tsc_delay_us(u64 us);

/* ---- chain.c ---- */
/* Re-enters the image through startup_64 with a boot_params built from the PVH info. */
__noreturn void chain_linux64(void);

/* ---- main.c: test reporting ---- */
extern const char *test_name;
__noreturn void test_pass(void);
__noreturn void test_fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Stops the VM: i8042 reset, then a triple fault if the reset did not take. */
__noreturn void guest_reset(void);

/* ---- tests ---- */
struct guest_test {
	const char *name;
	__noreturn void (*run)(void);
};
#define GUEST_TEST(n, fn)                                                                          \
	static const struct guest_test __test_##fn                                                 \
	    __attribute__((used, section(".rodata.tests"), aligned(8))) = {n, fn}

#endif /* __ASSEMBLER__ */
#endif

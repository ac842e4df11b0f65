/*
 * test_cpu_boot.c - boot vCPU state and tables (vmm/boot/cpu_boot.c), field by field.
 *
 * The expectations come from the two entry contracts, not from cpu_boot.c:
 *   - Linux Documentation/arch/x86/boot.rst, "64-bit BOOT PROTOCOL": 64-bit mode with paging,
 *     the kernel, zero page and command line identity-mapped, flat 4 GiB code (execute/read)
 *     and data (read/write) segments loaded in CS and DS/ES/SS, interrupts disabled, %rsi =
 *     boot_params.
 *   - The PVH ABI (Xen docs/misc/pvh.pandoc): 32-bit protected mode, paging off, CR0.PE set
 *     and the other writeable CR0 bits clear, CR4 clear, flat 32-bit code and data segments,
 *     a 32-bit TSS in TR, EFLAGS.IF/TF/VM clear, %ebx = hvm_start_info.
 * GDT descriptors are decoded (Intel SDM vol. 3A 3.4.5) and compared with the segment
 * registers: a mismatch would be what the kernel sees when it reloads a selector.
 */
#include "tests/unit/unit.h"
#include "vmm/boot/cpu_boot.h"
#include "vmm/layout.h"

#include <stdlib.h>

#define RAM_SIZE (2ULL << 20)

#define CR0_CD    (1ull << 30)
#define CR0_NW    (1ull << 29)
#define RFLAGS_TF (1ull << 8)
#define RFLAGS_IF (1ull << 9)
#define RFLAGS_VM (1ull << 17)

#define PTE_P  0x1ULL
#define PTE_RW 0x2ULL
#define PTE_PS 0x80ULL

#define MSR_IA32_TSC          0x10
#define MSR_IA32_SYSENTER_CS  0x174
#define MSR_IA32_SYSENTER_ESP 0x175
#define MSR_IA32_SYSENTER_EIP 0x176
#define MSR_IA32_MISC_ENABLE  0x1a0
#define MSR_MTRR_DEF_TYPE     0x2ff
#define MSR_STAR              0xc0000081
#define MSR_LSTAR             0xc0000082
#define MSR_CSTAR             0xc0000083
#define MSR_SYSCALL_MASK      0xc0000084
#define MSR_KERNEL_GS_BASE    0xc0000102

struct ram {
	struct guest_mem mem;
	uint8_t *buf;
};

static void ram_init(struct ram *r, uint64_t size)
{
	r->buf = calloc(1, size);
	if (!r->buf)
		abort();
	guest_mem_init_buffer(&r->mem, r->buf, size);
}

static uint64_t ram_u64(const struct ram *r, uint64_t gpa)
{
	uint64_t v = 0xbadbadbadbadbadbULL;

	guest_mem_read(&r->mem, gpa, &v, sizeof(v));
	return v;
}

/* A GDT descriptor in kvm_segment terms; limit in bytes. */
static struct kvm_segment decode_descriptor(uint64_t d, uint16_t selector)
{
	uint32_t limit = (uint32_t)((d & 0xffff) | (((d >> 48) & 0xf) << 16));
	uint8_t g = (d >> 55) & 1;

	return (struct kvm_segment){
	    .base = ((d >> 16) & 0xffffff) | (((d >> 56) & 0xff) << 24),
	    .limit = g ? (limit << 12) | 0xfff : limit,
	    .selector = selector,
	    .type = (d >> 40) & 0xf,
	    .s = (d >> 44) & 1,
	    .dpl = (d >> 45) & 3,
	    .present = (d >> 47) & 1,
	    .avl = (d >> 52) & 1,
	    .l = (d >> 53) & 1,
	    .db = (d >> 54) & 1,
	    .g = g,
	};
}

/* What a vCPU with KVM's reset state holds before cpu_boot_sregs() (a few fields). */
static struct kvm_sregs kvm_default_sregs(void)
{
	struct kvm_sregs s;

	memset(&s, 0, sizeof(s));
	s.cr0 = 0x60000010; /* CD | NW | ET */
	s.apic_base = 0xfee00900;
	s.cs = (struct kvm_segment){.base = 0xffff0000,
	                            .limit = 0xffff,
	                            .selector = 0xf000,
	                            .type = 11,
	                            .present = 1,
	                            .s = 1};
	s.ldt = (struct kvm_segment){.limit = 0xffff, .type = 2, .present = 1};
	return s;
}

#define CHECK_SEGMENT_EQ(a, b)                                                                     \
	do {                                                                                       \
		CHECK_EQ((a).base, (b).base);                                                      \
		CHECK_EQ((a).limit, (b).limit);                                                    \
		CHECK_EQ((a).type, (b).type);                                                      \
		CHECK_EQ((a).s, (b).s);                                                            \
		CHECK_EQ((a).dpl, (b).dpl);                                                        \
		CHECK_EQ((a).present, (b).present);                                                \
		CHECK_EQ((a).l, (b).l);                                                            \
		CHECK_EQ((a).db, (b).db);                                                          \
		CHECK_EQ((a).g, (b).g);                                                            \
	} while (0)

/* A flat 4 GiB, DPL 0, present, code/data (S=1) segment. */
#define CHECK_FLAT(seg)                                                                            \
	do {                                                                                       \
		CHECK_EQ((seg).base, 0);                                                           \
		CHECK_EQ((seg).limit, 0xffffffffu);                                                \
		CHECK_EQ((seg).g, 1);                                                              \
		CHECK_EQ((seg).present, 1);                                                        \
		CHECK_EQ((seg).s, 1);                                                              \
		CHECK_EQ((seg).dpl, 0);                                                            \
	} while (0)

/* Type field: bit 3 code, bit 1 readable (code) / writable (data). */
#define CHECK_CODE_RX(seg)                                                                         \
	do {                                                                                       \
		CHECK_EQ((seg).type & 0x8, 0x8);                                                   \
		CHECK_EQ((seg).type & 0x2, 0x2);                                                   \
	} while (0)
#define CHECK_DATA_RW(seg)                                                                         \
	do {                                                                                       \
		CHECK_EQ((seg).type & 0x8, 0);                                                     \
		CHECK_EQ((seg).type & 0x2, 0x2);                                                   \
	} while (0)

/* Walks the boot page tables for a 4-level, 2 MiB-page translation; ~0 when not mapped. */
static uint64_t walk(const struct ram *r, uint64_t cr3, uint64_t va)
{
	uint64_t pml4e = ram_u64(r, cr3 + ((va >> 39) & 511) * 8);
	uint64_t pdpte, pde;

	if (!(pml4e & PTE_P))
		return ~0ULL;
	pdpte = ram_u64(r, (pml4e & 0x000ffffffffff000ULL) + ((va >> 30) & 511) * 8);
	if (!(pdpte & PTE_P) || (pdpte & PTE_PS))
		return ~0ULL;
	pde = ram_u64(r, (pdpte & 0x000ffffffffff000ULL) + ((va >> 21) & 511) * 8);
	if (!(pde & PTE_P) || !(pde & PTE_PS))
		return ~0ULL;
	return (pde & 0x000fffffffe00000ULL) | (va & 0x1fffff);
}

UNIT_TEST(cpu_boot_linux64_page_tables)
{
	struct ram r;
	int rc;

	ram_init(&r, RAM_SIZE);
	rc = cpu_boot_write_tables(&r.mem, BOOT_ENTRY_LINUX64);
	CHECK_EQ(rc, 0);
	CHECK_EQ(ram_u64(&r, LAYOUT_PML4), LAYOUT_PDPT | PTE_P | PTE_RW);
	CHECK_EQ(ram_u64(&r, LAYOUT_PDPT), LAYOUT_PD | PTE_P | PTE_RW);
	for (uint64_t i = 1; i < 512; i++) {
		CHECK_EQ(ram_u64(&r, LAYOUT_PML4 + i * 8), 0);
		CHECK_EQ(ram_u64(&r, LAYOUT_PDPT + i * 8), 0);
	}
	for (uint64_t i = 0; i < 512; i++)
		CHECK_EQ(ram_u64(&r, LAYOUT_PD + i * 8), (i << 21) | PTE_P | PTE_RW | PTE_PS);
	free(r.buf);
}

UNIT_TEST(cpu_boot_linux64_identity_maps_first_gib)
{
	/* Everything the 64-bit protocol needs mapped sits in the first GiB. */
	static const uint64_t mapped[] = {
	    0,
	    LAYOUT_GDT,
	    LAYOUT_ZERO_PAGE,
	    LAYOUT_BOOT_STACK - 8,
	    LAYOUT_CMDLINE,
	    LAYOUT_HIMEM,
	    0x1234567,
	    0x3fffffffULL,
	    0x20000000ULL + 0x1fffff,
	};
	struct ram r;

	ram_init(&r, RAM_SIZE);
	CHECK_EQ(cpu_boot_write_tables(&r.mem, BOOT_ENTRY_LINUX64), 0);
	for (unsigned i = 0; i < sizeof(mapped) / sizeof(mapped[0]); i++)
		CHECK_EQ(walk(&r, LAYOUT_PML4, mapped[i]), mapped[i]);
	/* Nothing above: the loader keeps LINUX64 kernels below 1 GiB. */
	CHECK_EQ(walk(&r, LAYOUT_PML4, 0x40000000ULL), ~0ULL);
	CHECK_EQ(walk(&r, LAYOUT_PML4, 0x8000000000ULL), ~0ULL);
	free(r.buf);
}

UNIT_TEST(cpu_boot_tables_do_not_overlap_other_boot_structures)
{
	/* The GDT, IDT, page tables, stack, zero page and PVH info each own their bytes. */
	CHECK(LAYOUT_GDT + BOOT_GDT_ENTRIES * 8 <= LAYOUT_IDT);
	CHECK(LAYOUT_IDT < LAYOUT_PVH_INFO);
	CHECK(LAYOUT_ZERO_PAGE + 4096 <= LAYOUT_BOOT_STACK);
	CHECK(LAYOUT_BOOT_STACK <= LAYOUT_PML4);
	CHECK(LAYOUT_PML4 + 4096 <= LAYOUT_PDPT);
	CHECK(LAYOUT_PDPT + 4096 <= LAYOUT_PD);
	CHECK(LAYOUT_PD + 4096 <= LAYOUT_CMDLINE);
	CHECK_EQ(LAYOUT_PML4 & 0xfff, 0);
	CHECK_EQ(LAYOUT_PDPT & 0xfff, 0);
	CHECK_EQ(LAYOUT_PD & 0xfff, 0);
}

UNIT_TEST(cpu_boot_linux64_gdt_matches_sregs)
{
	struct ram r;
	struct kvm_sregs s = kvm_default_sregs();
	uint64_t gdt[BOOT_GDT_ENTRIES];

	ram_init(&r, RAM_SIZE);
	CHECK_EQ(cpu_boot_write_tables(&r.mem, BOOT_ENTRY_LINUX64), 0);
	CHECK_EQ(guest_mem_read(&r.mem, LAYOUT_GDT, gdt, sizeof(gdt)), 0);
	free(r.buf);
	cpu_boot_sregs(&s, BOOT_ENTRY_LINUX64);

	CHECK_EQ(gdt[0], 0);
	CHECK_EQ(s.gdt.base, LAYOUT_GDT);
	CHECK_EQ(s.gdt.limit, sizeof(gdt) - 1);
	CHECK_EQ(s.cs.selector, BOOT_GDT_CODE);
	/* boot.rst, 64-bit boot protocol: CS = __BOOT_CS (0x10), DS/ES/SS = __BOOT_DS (0x18). */
	CHECK_EQ(s.cs.selector, 0x10);
	CHECK_EQ(s.ds.selector, 0x18);
	CHECK_EQ(s.es.selector, 0x18);
	CHECK_EQ(s.ss.selector, 0x18);
	CHECK_EQ(gdt[1], 0);
	CHECK_SEGMENT_EQ(s.cs, decode_descriptor(gdt[BOOT_GDT_CODE / 8], BOOT_GDT_CODE));
	CHECK_SEGMENT_EQ(s.ds, decode_descriptor(gdt[BOOT_GDT_DATA / 8], BOOT_GDT_DATA));
	/* 64-bit code: L=1 and D=0 (L=1, D=1 is reserved). */
	CHECK_EQ(s.cs.l, 1);
	CHECK_EQ(s.cs.db, 0);
	CHECK_FLAT(s.cs);
	CHECK_CODE_RX(s.cs);
	/* TR: a busy 32-bit TSS, a system segment. */
	CHECK_EQ(s.tr.selector, BOOT_GDT_TSS);
	CHECK_EQ(s.tr.type, 11);
	CHECK_EQ(s.tr.s, 0);
	CHECK_EQ(s.tr.present, 1);
	CHECK_EQ(s.tr.limit, 0x67); /* PVH ABI: TR limit 0x67, base 0 */
	CHECK_EQ(s.tr.base, 0);
	CHECK_EQ(decode_descriptor(gdt[BOOT_GDT_TSS / 8], BOOT_GDT_TSS).limit, 0x67);
	CHECK_EQ(decode_descriptor(gdt[BOOT_GDT_TSS / 8], BOOT_GDT_TSS).type, 11);
	CHECK_EQ(decode_descriptor(gdt[BOOT_GDT_TSS / 8], BOOT_GDT_TSS).s, 0);
}

UNIT_TEST(cpu_boot_data_segments_flat_rw)
{
	for (int mode = BOOT_ENTRY_LINUX64; mode <= BOOT_ENTRY_PVH32; mode++) {
		struct kvm_sregs s = kvm_default_sregs();
		const struct kvm_segment *segs[] = {&s.ds, &s.es, &s.ss, &s.fs, &s.gs};

		cpu_boot_sregs(&s, (enum boot_entry_mode)mode);
		for (unsigned i = 0; i < 5; i++) {
			CHECK_EQ(segs[i]->selector, BOOT_GDT_DATA);
			CHECK_FLAT(*segs[i]);
			CHECK_DATA_RW(*segs[i]);
			CHECK_EQ(segs[i]->db, 1);
			CHECK_EQ(segs[i]->l, 0);
		}
	}
}

UNIT_TEST(cpu_boot_linux64_sregs)
{
	struct kvm_sregs s = kvm_default_sregs();

	cpu_boot_sregs(&s, BOOT_ENTRY_LINUX64);
	CHECK_EQ(s.cr0 & (CR0_PE | CR0_PG | CR0_ET), CR0_PE | CR0_PG | CR0_ET);
	/* KVM's reset CR0 has caching disabled; the kernel must not start that way. */
	CHECK_EQ(s.cr0 & (CR0_CD | CR0_NW), 0);
	CHECK_EQ(s.cr3, LAYOUT_PML4);
	CHECK_EQ(s.cr4 & CR4_PAE, CR4_PAE);
	CHECK_EQ(s.efer & (EFER_LME | EFER_LMA), EFER_LME | EFER_LMA);
	CHECK_EQ(s.idt.base, LAYOUT_IDT);
	CHECK_EQ(s.idt.limit, 0);
	/* Fields cpu_boot does not own keep KVM's values. */
	CHECK_EQ(s.apic_base, 0xfee00900);
	CHECK_EQ(s.ldt.type, 2);
}

UNIT_TEST(cpu_boot_pvh_sregs)
{
	struct ram r;
	struct kvm_sregs s = kvm_default_sregs();
	uint64_t gdt[BOOT_GDT_ENTRIES];

	ram_init(&r, RAM_SIZE);
	CHECK_EQ(cpu_boot_write_tables(&r.mem, BOOT_ENTRY_PVH32), 0);
	CHECK_EQ(guest_mem_read(&r.mem, LAYOUT_GDT, gdt, sizeof(gdt)), 0);
	free(r.buf);
	cpu_boot_sregs(&s, BOOT_ENTRY_PVH32);

	/* CR0: PE, and ET which is read-only 1 on every CPU since the 486 DX. */
	CHECK_EQ(s.cr0 & ~CR0_ET, CR0_PE);
	CHECK_EQ(s.cr4, 0);
	CHECK_EQ(s.efer, 0);
	CHECK_EQ(s.cr3, 0);
	/* 32-bit code: D=1, L=0. */
	CHECK_EQ(s.cs.selector, BOOT_GDT_CODE);
	CHECK_EQ(s.cs.db, 1);
	CHECK_EQ(s.cs.l, 0);
	CHECK_FLAT(s.cs);
	CHECK_CODE_RX(s.cs);
	CHECK_SEGMENT_EQ(s.cs, decode_descriptor(gdt[BOOT_GDT_CODE / 8], BOOT_GDT_CODE));
	CHECK_SEGMENT_EQ(s.ss, decode_descriptor(gdt[BOOT_GDT_DATA / 8], BOOT_GDT_DATA));
	CHECK_EQ(s.tr.type, 11);
	CHECK_EQ(s.tr.s, 0);
	CHECK_EQ(s.tr.base, 0);
	CHECK_EQ(s.gdt.base, LAYOUT_GDT);
}

UNIT_TEST(cpu_boot_pvh_writes_no_page_tables)
{
	struct ram r;
	int rc;
	uint64_t pml4, pdpt, pd;

	ram_init(&r, RAM_SIZE);
	rc = cpu_boot_write_tables(&r.mem, BOOT_ENTRY_PVH32);
	pml4 = ram_u64(&r, LAYOUT_PML4);
	pdpt = ram_u64(&r, LAYOUT_PDPT);
	pd = ram_u64(&r, LAYOUT_PD);
	free(r.buf);
	CHECK_EQ(rc, 0);
	CHECK_EQ(pml4, 0);
	CHECK_EQ(pdpt, 0);
	CHECK_EQ(pd, 0);
}

UNIT_TEST(cpu_boot_tables_fail_when_ram_too_small)
{
	struct ram r;

	/* No room for the GDT. */
	ram_init(&r, LAYOUT_GDT + 16);
	CHECK_EQ(cpu_boot_write_tables(&r.mem, BOOT_ENTRY_PVH32), -1);
	CHECK_EQ(cpu_boot_write_tables(&r.mem, BOOT_ENTRY_LINUX64), -1);
	free(r.buf);
	/* GDT fits, page tables do not: only PVH works. */
	ram_init(&r, LAYOUT_PML4);
	CHECK_EQ(cpu_boot_write_tables(&r.mem, BOOT_ENTRY_PVH32), 0);
	CHECK_EQ(cpu_boot_write_tables(&r.mem, BOOT_ENTRY_LINUX64), -1);
	free(r.buf);
	/* The PD is cut short by one entry. */
	ram_init(&r, LAYOUT_PD + 4096 - 8);
	CHECK_EQ(cpu_boot_write_tables(&r.mem, BOOT_ENTRY_LINUX64), -1);
	free(r.buf);
	ram_init(&r, LAYOUT_PD + 4096);
	CHECK_EQ(cpu_boot_write_tables(&r.mem, BOOT_ENTRY_LINUX64), 0);
	free(r.buf);
}

UNIT_TEST(cpu_boot_linux64_regs)
{
	struct kvm_regs regs;

	memset(&regs, 0xff, sizeof(regs));
	cpu_boot_regs(&regs, BOOT_ENTRY_LINUX64, 0x1000000);
	CHECK_EQ(regs.rip, 0x1000000);
	CHECK_EQ(regs.rsi, LAYOUT_ZERO_PAGE);
	CHECK_EQ(regs.rflags & 0x2, 0x2);
	CHECK_EQ(regs.rflags & (RFLAGS_IF | RFLAGS_TF | RFLAGS_VM), 0);
	CHECK_EQ(regs.rflags, 0x2);
	/* A usable stack in RAM that no boot structure uses. */
	CHECK_EQ(regs.rsp, LAYOUT_BOOT_STACK);
	CHECK(regs.rsp > LAYOUT_ZERO_PAGE + 4096 && regs.rsp <= LAYOUT_PML4);
	CHECK_EQ(regs.rsp & 0xf, 0);
	CHECK_EQ(regs.rax, 0);
	CHECK_EQ(regs.rbx, 0);
	CHECK_EQ(regs.rdi, 0);
	CHECK_EQ(regs.r15, 0);
}

UNIT_TEST(cpu_boot_pvh_regs)
{
	struct kvm_regs regs;

	memset(&regs, 0xff, sizeof(regs));
	cpu_boot_regs(&regs, BOOT_ENTRY_PVH32, 0x1000140);
	CHECK_EQ(regs.rip, 0x1000140);
	CHECK_EQ(regs.rbx, LAYOUT_PVH_INFO);
	CHECK_EQ(regs.rsi, 0);
	CHECK_EQ(regs.rflags & (RFLAGS_IF | RFLAGS_TF | RFLAGS_VM), 0);
	CHECK_EQ(regs.rflags & 0x2, 0x2);
	/* Everything must fit 32-bit registers. */
	CHECK_EQ(regs.rip >> 32, 0);
	CHECK_EQ(regs.rsp >> 32, 0);
	CHECK_EQ(regs.rax, 0);
	CHECK_EQ(regs.r8, 0);
}

static const struct kvm_msr_entry *find_msr(const struct kvm_msr_entry *m, unsigned n,
                                            uint32_t index)
{
	for (unsigned i = 0; i < n; i++)
		if (m[i].index == index)
			return &m[i];
	return NULL;
}

UNIT_TEST(cpu_boot_msr_list)
{
	static const uint32_t zeroed[] = {
	    MSR_IA32_SYSENTER_CS,
	    MSR_IA32_SYSENTER_ESP,
	    MSR_IA32_SYSENTER_EIP,
	    MSR_STAR,
	    MSR_LSTAR,
	    MSR_CSTAR,
	    MSR_SYSCALL_MASK,
	    MSR_KERNEL_GS_BASE,
	    MSR_IA32_TSC,
	};
	struct kvm_msr_entry m[32];
	const struct kvm_msr_entry *e;
	unsigned n;

	memset(m, 0xaa, sizeof(m));
	n = cpu_boot_msrs(m, 32);
	CHECK(n >= 11 && n < 32);
	for (unsigned i = 0; i < sizeof(zeroed) / sizeof(zeroed[0]); i++) {
		e = find_msr(m, n, zeroed[i]);
		if (!e)
			UNIT_FAIL("MSR 0x%x missing", zeroed[i]);
		CHECK_EQ(e->data, 0);
	}
	e = find_msr(m, n, MSR_IA32_MISC_ENABLE);
	CHECK(e != NULL);
	CHECK_EQ(e->data & 1, 1); /* fast strings */
	e = find_msr(m, n, MSR_MTRR_DEF_TYPE);
	CHECK(e != NULL);
	CHECK_EQ(e->data & (1u << 11), 1u << 11); /* MTRRs enabled */
	CHECK_EQ(e->data & 0xff, 6);              /* default type write-back */
	/* Each MSR once; reserved fields zero (KVM_SET_MSRS wants them so). */
	for (unsigned i = 0; i < n; i++) {
		CHECK_EQ(m[i].reserved, 0);
		for (unsigned j = i + 1; j < n; j++)
			CHECK(m[i].index != m[j].index);
	}
	/* Nothing written past the count. */
	CHECK_EQ(m[n].index, 0xaaaaaaaa);
}

UNIT_TEST(cpu_boot_msr_list_truncated_to_max)
{
	struct kvm_msr_entry full[32], m[4];
	unsigned n_full, n;

	n_full = cpu_boot_msrs(full, 32);
	memset(m, 0xaa, sizeof(m));
	n = cpu_boot_msrs(m, 3);
	CHECK_EQ(n, 3);
	CHECK_EQ(memcmp(m, full, 3 * sizeof(m[0])), 0);
	CHECK_EQ(m[3].index, 0xaaaaaaaa);
	CHECK_EQ(cpu_boot_msrs(m, 0), 0);
	CHECK_EQ(cpu_boot_msrs(full, n_full), n_full);
}
